"""Simulator throughput and memory against the floor of just writing its CSV rows.

Baseline: ``csv.writer`` writing the simulator's own messages.csv rows again
(no world, no rendering, no XML/mbox/truth) — the cost of the I/O alone.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MESSAGES = 200_000
CMD = ["simulate", "--messages", str(MESSAGES), "--canaries", "480", "--controls", "20"]


def _ours(out: Path) -> tuple[float, float]:
    script = (
        "import resource, sys, time\n"
        "from leaktrace.cli import app\n"
        "t = time.perf_counter()\n"
        "try:\n"
        f"    app({[*CMD[:1], str(out), *CMD[1:]]!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    seconds, rss_kb = result.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(rss_kb) / 1024


def _baseline(source: Path, out: Path) -> float:
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    began = time.perf_counter()
    with out.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return time.perf_counter() - began


def run() -> None:
    """Print messages/s and peak memory of ours and of the baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "study"
        seconds, rss_mb = _ours(out)
        rows = sum(1 for _ in (out / "messages.csv").open(encoding="utf-8")) - 1
        floor = _baseline(out / "messages.csv", Path(tmp) / "copy.csv")
    print(f"messages: {rows}")
    print(
        f"leaktrace simulate (all formats + truth): {seconds:7.1f} s  {rows / seconds:9.0f} msg/s"
    )
    print(f"baseline csv.writer of the same rows:     {floor:7.1f} s  {rows / floor:9.0f} msg/s")
    print(f"ratio ours/baseline time: {seconds / floor:.1f}x; peak RSS of ours {rss_mb:.0f} MB")
