"""Attribution accuracy over 20 simulated seeds per setting, null studies, and its speed.

Each study (30 sources, 10 canaries per source, 20 controls, 90 days) is simulated,
imported through the roster CSVs and messages.csv, clustered, linked, checked for
first-party channels, then attributed. Per setting: precision and recall of
``leaked`` against truth.json, clean sources called leaked (and in how many seeds),
the share of clean sources called suspected, and for the base setting the median
delay from each true leak to the first day its source is called leaked
(attribution replayed day by day). Beside the full method, the same studies with
name markers switched off: what the statistics alone achieve.

The settings after "base" are worlds the method was not tuned on: a roster with no
sender IDs, signatures or control flags (what a user who only signed up knows),
fewer canaries, heavier background, contacts planted twice with and without
markers, many small campaigns reaching 2-5 random contacts, sources whose own
marketing (from a channel the roster does not list) reaches all their canaries,
and leaks of only two canaries. Null studies have no leak at all: 50 seeds each,
where no source may be called leaked.

Speed: the cached 1M-message store (see bench_cluster) analysed once, then
``leaktrace attribute --json`` timed as a whole process and ``run_attribution``
in process.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.bench_cluster import analysed_million_store
from bench.measure import run_measured
from leaktrace.attribution.exposure import load_frames
from leaktrace.attribution.statistics import Settings, attribute
from leaktrace.attribution.verdicts import run_attribution
from leaktrace.sim.config import SimConfig
from leaktrace.sim.score import (
    detection_delays,
    import_simulated,
    median,
    score,
    shared_only_leaks,
    true_leaks,
)
from leaktrace.sim.simulate import simulate
from leaktrace.store import Store

SEEDS = range(1, 21)
NULL_SEEDS = range(1, 51)
BARE = {"roster_ids": False, "flag_controls": False}
SETTINGS = {
    "base": {},
    "no sender IDs, signatures, control flags": BARE,
    "half the canaries (5 per source)": {"canaries_per_source": 5},
    "double background rate": {"background_rate": 0.3},
    "30 % of contacts planted twice": {"double_plant_share": 0.3},
    "30 % planted twice, no markers": {"double_plant_share": 0.3, "markers": False},
    "200 small campaigns (2-5 contacts)": {"small_campaigns": 200},
    "20 % market to all their canaries": {"own_marketing_share": 0.2, **BARE},
    "every leak is 2 canaries": {"small_leak_share": 1.0},
    "all of these at once": {
        "small_campaigns": 200,
        "own_marketing_share": 0.2,
        "small_leak_share": 0.3,
        "double_plant_share": 0.3,
        "markers": False,
        "background_rate": 0.3,
        **BARE,
    },
}
NULLS = {
    "no leak": {},
    "no leak, 300 small campaigns": {"small_campaigns": 300},
    "no leak, heavy background, bare roster": {"background_rate": 0.6, **BARE},
}


def _study(seed: int, knobs: dict, delays: bool) -> tuple[tuple, tuple, int]:
    """(full score, statistics-alone score, clean sources called suspected) of one study."""
    knobs = {"canaries_per_source": 10, **knobs}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "study"
        simulate(SimConfig(seed=seed, sources=30, controls=20, days=90, **knobs), directory)
        store = Store(Path(tmp) / "s.duckdb")
        import_simulated(store, directory)
        leaks = true_leaks(directory)
        shared = shared_only_leaks(directory)
        frames = load_frames(store)
        full = attribute(frames).verdicts
        alone = attribute(frames, settings=Settings(use_markers=False)).verdicts
        waited = detection_delays(store, leaks) if delays else []
        suspected = sum(v.verdict == "suspected" and v.name not in leaks for v in full)
        return score(full, leaks, waited, shared), score(alone, leaks, (), shared), suspected


def _line(name: str, scores: list, suspected: int, sources: int) -> str:
    called = sum(s.called_leaked for s in scores)
    right = sum(s.right for s in scores)
    true = sum(s.true_leaks for s in scores)
    false_alarms = sum(s.clean_called_leaked for s in scores)
    bad_seeds = sum(s.clean_called_leaked > 0 for s in scores)
    clean = sources - true
    delay = median([d for s in scores for d in s.delays])
    shared = sum(s.shared_leaks for s in scores)
    own = true - shared
    right_own = right - sum(s.right_shared for s in scores)
    return (
        f"  {name:42} {right / called if called else 1:9.3f}"
        f" {right / true if true else 1:7.3f} {false_alarms:6} {bad_seeds:6}"
        f" {suspected / clean if clean else 0:10.3f} {'' if delay is None else f'{delay:6.1f}':>8}"
        f" {right_own / own if own else 1:8.3f} {shared:7}/{true}"
    )


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1))


def run() -> None:
    """Print the accuracy table, the null studies, then the speed on the 1M store."""
    print(f"  {len(SEEDS)} seeds per setting; 30 sources, 10 canaries each, 20 controls, 90 days")
    head = (
        f"{'precision':>9} {'recall':>7} {'clean→leaked':>6} {'seeds':>6}"
        f" {'suspected':>10} {'delay d':>8} {'recall*':>8} {'shared':>7}"
    )
    print(
        "  recall*: over the leaks that sold a canary planted at that source alone;"
        " shared: leaks whose every sold canary another source had too (of all leaks)"
    )
    print(f"  {'setting / method':42} {head}")
    with _pool() as pool:
        for name, knobs in SETTINGS.items():
            started = time.perf_counter()
            jobs = [pool.submit(_study, seed, knobs, name == "base") for seed in SEEDS]
            results = [job.result() for job in jobs]
            full = [r[0] for r in results]
            alone = [r[1] for r in results]
            suspected = sum(r[2] for r in results)
            sources = 30 * len(SEEDS)
            print(_line(name, full, suspected, sources))
            print(
                _line("  statistics alone", alone, 0, sources)
                + f"   ({time.perf_counter() - started:.0f} s)"
            )
        print(f"  null studies ({len(NULL_SEEDS)} seeds each, no source leaks)")
        for name, knobs in NULLS.items():
            started = time.perf_counter()
            jobs = [
                pool.submit(_study, seed, {"leak_share": 0.0, **knobs}, False)
                for seed in NULL_SEEDS
            ]
            results = [job.result() for job in jobs]
            leaked = sum(r[0].called_leaked for r in results)
            alone = sum(r[1].called_leaked for r in results)
            suspected = sum(r[2] for r in results) / (30 * len(NULL_SEEDS))
            print(
                f"  {name:42} sources called leaked: {leaked} (statistics alone {alone});"
                f" share called suspected {suspected:.3f}"
                f"   ({time.perf_counter() - started:.0f} s)"
            )
    _speed()


def _speed() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "s.duckdb"
        shutil.copyfile(analysed_million_store(), copy)
        store = Store(copy)
        started = time.perf_counter()
        run_attribution(store)
        inside = time.perf_counter() - started
        seconds, memory, _ = run_measured(
            [sys.executable, "-m", "leaktrace.cli", "--db", str(copy), "attribute", "--json"]
        )
        with store.connect() as con:
            messages = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    print(
        f"  speed on {messages:,} messages: run_attribution {inside:.1f} s in process;"
        f" `leaktrace attribute --json` {seconds:.1f} s wall (process start, the check that"
        f" nothing is left to cluster, attribution, the JSON), peak {memory / 1e6:,.0f} MB"
    )
