"""Template clustering: grouping accuracy and speed beside two baselines on the same messages.

Baselines (issue: template clustering): a naive rapidfuzz leader clustering
(digits and URLs masked, ``process.extractOne`` against every representative,
cutoff 85) and Drain3 with its default configuration. Corpora:
- ``study``: ``leaktrace simulate --messages 100000 --canaries 480 --controls 20
  --seed 11`` (102,450 messages, true templates from truth.json);
- ``long tail``: 50,000 of a simulated study plus 150,000 one-off texts from
  Faker (zh_CN and en_US sentences), each its own true group;
- ``1M``: ``leaktrace simulate --messages 1000000 --canaries 480 --controls 20
  --seed 11`` (1,034,028 messages).
Corpora are cached in ``bench/.data``. The naive baseline is skipped on the long
tail, where it compares every one-off with every earlier one (all pairs). Drain3 is
not run on 1M: it does not finish the 102k corpus within the time limit.

Last, the 1M study imported into a real store (cached) and ``leaktrace cluster
--rebuild`` run on a copy: masking, templates, categories, campaigns and the writes,
end to end, with the peak memory of its process tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.measure import run_measured

DATA = Path(__file__).parent / ".data"
STUDY = DATA / "cluster-100k"
TAIL = DATA / "cluster-longtail"
MILLION = DATA / "cluster-1m"
MILLION_STORE = DATA / "store-1m.duckdb"
MILLION_ANALYSED = DATA / "store-1m-analysed.duckdb"
LIMIT_S = 300  # a method still running after this is stopped and reported as such


def _simulate(directory: Path, *args: str) -> None:
    if not (directory / "truth.json").exists():
        shutil.rmtree(directory, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "leaktrace.cli", "simulate", str(directory), *args],
            check=True,
            capture_output=True,
        )


def _long_tail() -> None:
    if (TAIL / "one_offs.txt").exists():
        return
    _simulate(TAIL, "--messages", "50000", "--canaries", "480", "--controls", "20", "--seed", "5")
    from faker import Faker

    lines = set()
    for locale, seed in (("zh_CN", 1), ("en_US", 2)):
        fake = Faker(locale)
        fake.seed_instance(seed)
        while len(lines) < (75_000 if locale == "zh_CN" else 150_000):
            lines.add(fake.paragraph(nb_sentences=2).replace("\n", " "))
    (TAIL / "one_offs.txt").write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")


def _run(method: str, directory: Path) -> dict | None:
    try:
        _, memory, out = run_measured(
            [sys.executable, "-m", "bench.cluster_methods", method, str(directory)],
            timeout=LIMIT_S,
            cwd=Path(__file__).parent.parent,
        )
    except TimeoutError:
        return None
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = memory / 1e6
    return result


def run() -> None:
    """Print each method's messages/s and grouping accuracy per corpus."""
    _simulate(
        STUDY, "--messages", "100000", "--canaries", "480", "--controls", "20", "--seed", "11"
    )
    _long_tail()
    _simulate(
        MILLION, "--messages", "1000000", "--canaries", "480", "--controls", "20", "--seed", "11"
    )
    for name, directory, methods in (
        ("study", STUDY, ("ours", "naive", "drain3")),
        ("long tail", TAIL, ("ours", "drain3")),
        ("1M", MILLION, ("ours", "naive")),
    ):
        print(f"  corpus: {name}")
        head = f"{'messages':>9} {'seconds':>8} {'msg/s':>8} {'templates':>9} {'GA':>6} {'MB':>6}"
        print(f"  {'method':10} {head}")
        for method in methods:
            r = _run(method, directory)
            if r is None:
                print(f"  {method:10} stopped: still running after {LIMIT_S} s")
                continue
            print(
                f"  {method:10} {r['messages']:9,} {r['seconds']:8.1f} "
                f"{r['messages'] / r['seconds']:8,.0f} {r['templates']:9,} {r['accuracy']:6.3f}"
                f" {r['peak_mb']:6,.0f}"
            )
    _store_run()


def million_store() -> Path:
    """The 1M study imported into a store (built once, cached)."""
    _simulate(
        MILLION, "--messages", "1000000", "--canaries", "480", "--controls", "20", "--seed", "11"
    )
    if not MILLION_STORE.exists():
        subprocess.run(
            [sys.executable, "-m", "bench.build_store", str(MILLION), str(MILLION_STORE)],
            check=True,
            cwd=Path(__file__).parent.parent,
        )
    return MILLION_STORE


def analysed_million_store() -> Path:
    """The 1M store after clustering, campaigns and attribution (built once, cached)."""
    if not MILLION_ANALYSED.exists():
        from leaktrace.pipeline import analyse
        from leaktrace.store import Store

        partial = MILLION_ANALYSED.with_suffix(".partial")
        shutil.copyfile(million_store(), partial)
        analyse(Store(partial))
        partial.rename(MILLION_ANALYSED)
    return MILLION_ANALYSED


def _store_run() -> None:
    """``leaktrace cluster --rebuild`` on a copy of the 1M study's store."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "s.duckdb"
        shutil.copyfile(million_store(), copy)
        seconds, memory, out = run_measured(
            [sys.executable, "-m", "leaktrace.cli", "--db", str(copy), "cluster", "--rebuild"]
        )
    print("  store: the 1M study imported; leaktrace cluster --rebuild (templates + campaigns)")
    for line in out.strip().splitlines():
        print(f"    {line}")
    print(f"    {seconds:.1f} s wall, peak {memory / 1e6:,.0f} MB over the process tree")
