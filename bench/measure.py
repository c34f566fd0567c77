"""Run a command and measure its wall time and the peak memory of its whole process tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(cmd: list[str], timeout: float | None = None, **kwargs) -> tuple[float, int, str]:
    """(seconds, peak RSS summed over the process and its children in bytes, stdout).

    Past ``timeout`` seconds the process is killed and :class:`TimeoutError` raised.
    """
    # Output goes to files, not pipes: a command printing more than a pipe holds
    # (attribute --json on 1M messages) would block while we only poll.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **kwargs)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, sum(_rss(p) for p in _tree(proc.pid)))
            if timeout is not None and time.perf_counter() - started > timeout:
                proc.kill()
                proc.wait()
                raise TimeoutError(f"{cmd[:4]} still running after {timeout:.0f} s")
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]} failed: {err.read().decode()[-2000:]}")
        return seconds, peak, out.read().decode()


def simulated(directory: Path, *args: str) -> Path:
    """``leaktrace simulate directory *args``, once: the study is cached between runs."""
    if not (directory / "truth.json").exists():
        shutil.rmtree(directory, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "leaktrace.cli", "simulate", str(directory), *args],
            check=True,
            capture_output=True,
        )
    return directory
