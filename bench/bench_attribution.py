"""Attribution accuracy over 20 simulated seeds per setting, and its speed on 1M messages.

Each study (30 sources, 10 canaries per source, 20 controls, 90 days) is simulated,
imported through the roster CSVs and messages.csv, clustered and linked, then
attributed. Per setting: precision and recall of ``leaked`` against truth.json,
clean sources called leaked, and the median delay from each true leak to the first
day its source is called leaked (attribution replayed day by day). Beside the full
method, the same studies with name markers switched off: what the statistics
alone achieve. Harder settings: half the canaries per source, double the
background rate, 30 % of contacts planted at two sources.

Speed: the cached 1M-message store (see bench_cluster) clustered once, then
``leaktrace attribute --json`` timed as a whole process and ``run_attribution``
in process.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_cluster import analysed_million_store
from bench.measure import run_measured
from leaktrace.attribution.exposure import load_frames
from leaktrace.attribution.statistics import Settings, attribute
from leaktrace.attribution.verdicts import run_attribution
from leaktrace.sim.config import SimConfig
from leaktrace.sim.score import detection_delays, import_simulated, median, score, true_leaks
from leaktrace.sim.simulate import simulate
from leaktrace.store import Store

SEEDS = range(1, 21)
SETTINGS = {
    "base": {"canaries_per_source": 10},
    "half the canaries": {"canaries_per_source": 5},
    "double background": {"canaries_per_source": 10, "background_rate": 0.3},
    "30% planted twice": {"canaries_per_source": 10, "double_plant_share": 0.3},
}


def _study(seed: int, knobs: dict) -> tuple[list, list, list[float], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "study"
        simulate(SimConfig(seed=seed, sources=30, controls=20, days=90, **knobs), directory)
        store = Store(Path(tmp) / "s.duckdb")
        import_simulated(store, directory)
        leaks = true_leaks(directory)
        frames = load_frames(store)
        full = attribute(frames).verdicts
        alone = attribute(frames, settings=Settings(use_markers=False)).verdicts
        return full, alone, detection_delays(store, leaks), leaks


def _line(name: str, scores: list) -> str:
    called = sum(s.called_leaked for s in scores)
    right = sum(s.right for s in scores)
    true = sum(s.true_leaks for s in scores)
    false_alarms = sum(s.clean_called_leaked for s in scores)
    delays = [d for s in scores for d in s.delays]
    delay = median(delays)
    return (
        f"  {name:24} {right / called if called else 1:9.3f} {right / true:7.3f}"
        f" {false_alarms:11} {'' if delay is None else f'{delay:6.1f}':>8}"
    )


def run() -> None:
    """Print the accuracy table, then the speed on the 1M store."""
    print(f"  {len(SEEDS)} seeds per setting; 30 sources, 20 controls, 90 days")
    head = f"{'precision':>9} {'recall':>7} {'clean→leak':>11} {'delay d':>8}"
    print(f"  {'setting / method':24} {head}")
    for name, knobs in SETTINGS.items():
        full, alone = [], []
        started = time.perf_counter()
        for seed in SEEDS:
            verdicts, statistics_only, delays, leaks = _study(seed, knobs)
            full.append(score(verdicts, leaks, delays))
            alone.append(score(statistics_only, leaks))
        print(_line(f"{name}", full))
        print(_line("  statistics alone", alone) + f"   ({time.perf_counter() - started:.0f} s)")
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
