"""Template clustering: grouping accuracy and speed beside two baselines on the same messages.

Baselines (issue: template clustering): a naive rapidfuzz leader clustering
(digits and URLs masked, ``process.extractOne`` against every representative,
cutoff 85) and Drain3 with its default configuration. Corpora (cached in
``bench/.data``), each run in its own process with its peak memory:
- ``study``: ``leaktrace simulate --messages 100000 --canaries 480 --controls 20
  --seed 11`` (102,450 messages, true templates from truth.json);
- ``obfuscated``: the same at 30,000 messages with ``--obfuscation 1.0`` (every
  spammer obfuscation the simulator knows on every message it can touch);
- ``long tail``: ``--messages 1000000 --long-tail 0.9 --obfuscation 0.3``: 90 % of
  the messages are one-off texts (each its own true template), ours on its first
  100k, 200k, 500k and all messages, so the cost curve shows; the baselines on the
  first 100k;
- ``1M``: ``--messages 1000000 --seed 11`` (1,034,028 messages).
For ours, the pairs of distinct skeletons scoring at or above the threshold but
left in different templates are counted (exactly up to 25,000 skeletons, else for
a sample of 1,000 against all), and how many of them also agree on the words
around the slots (only those could the index have joined).

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

from bench.measure import run_measured, simulated

DATA = Path(__file__).parent / ".data"
STUDY = DATA / "cluster-100k"
OBFUSCATED = DATA / "cluster-obfuscated"
TAIL = DATA / "cluster-longtail-1m"
MILLION = DATA / "cluster-1m"
MILLION_STORE = DATA / "store-1m.duckdb"
MILLION_ANALYSED = DATA / "store-1m-analysed.duckdb"
LIMIT_S = 300  # a method still running after this is stopped and reported as such
COMMON = ("--canaries", "480", "--controls", "20", "--seed", "11")


def _run(method: str, directory: Path, *args: str) -> dict | None:
    try:
        _, memory, out = run_measured(
            [sys.executable, "-m", "bench.cluster_methods", method, str(directory), *args],
            timeout=LIMIT_S,
            cwd=Path(__file__).parent.parent,
        )
    except TimeoutError:
        return None
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = memory / 1e6
    return result


def _row(label: str, r: dict | None) -> None:
    if r is None:
        print(f"  {label:16} stopped: still running after {LIMIT_S} s")
        return
    line = (
        f"  {label:16} {r['messages']:9,} {r['seconds']:8.1f} {r['messages'] / r['seconds']:8,.0f}"
        f" {r['templates']:9,} {r['accuracy']:6.3f} {r['peak_mb']:6,.0f}"
    )
    if "apart" in r:
        line += (
            f"  apart {r['apart']:,} (words agree {r['apart_words_agree']:,};"
            f" one true template {r['apart_same_template']:,})"
            f" of {r['scored']:,}/{r['skeletons']:,} skeletons scored"
        )
    print(line)


def run() -> None:
    """Print each method's messages/s and grouping accuracy per corpus."""
    simulated(STUDY, "--messages", "100000", *COMMON)
    simulated(OBFUSCATED, "--messages", "30000", "--obfuscation", "1.0", *COMMON)
    simulated(TAIL, "--messages", "1000000", "--long-tail", "0.9", "--obfuscation", "0.3", *COMMON)
    simulated(MILLION, "--messages", "1000000", *COMMON)
    head = f"{'messages':>9} {'seconds':>8} {'msg/s':>8} {'templates':>9} {'GA':>6} {'MB':>6}"
    runs = [
        ("study", STUDY, [("ours", "--apart"), ("naive",), ("drain3",)]),
        ("obfuscated", OBFUSCATED, [("ours", "--apart"), ("naive",), ("drain3",)]),
        (
            "long tail",
            TAIL,
            [
                ("ours", "--limit", "100000", "--apart"),
                ("ours", "--limit", "200000"),
                ("ours", "--limit", "500000"),
                ("ours", "--apart"),
                ("naive", "--limit", "100000"),
                ("drain3", "--limit", "100000"),
            ],
        ),
        ("1M", MILLION, [("ours",), ("naive",)]),
    ]
    for name, directory, methods in runs:
        print(f"  corpus: {name}")
        print(f"  {'method':16} {head}")
        for method, *args in methods:
            _row(method, _run(method, directory, *args))
    _store_run()


def million_store() -> Path:
    """The 1M study imported into a store (built once, cached)."""
    simulated(
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
