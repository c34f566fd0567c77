"""The receiver under 1,000 concurrent posts: acknowledged rate and time until all stored.

Ours: ``leaktrace receive`` (every post checked as the drain will, fsync'd to the inbox
before the 200, drained into the store in the background). Baseline in the same run: a
bare Starlette app on the same uvicorn that answers every post with 200 and keeps
nothing (the HTTP floor). 1,000 posts of /messages from 100 client threads; every
acknowledged message must be in the store exactly once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

POSTS, THREADS, SECRET = 1_000, 100, "bench-secret"
FLOOR = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def ok(request):
    await request.body()
    return JSONResponse({"accepted": 1})
async def health(request):
    return JSONResponse({"ok": True})
app = Starlette(routes=[Route("/messages", ok, methods=["POST"]), Route("/health", health)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


def _post(base: str, n: int) -> int:
    record = {
        "recipient": "+8613800138000",
        "sender": f"1069{n % 97:04d}",
        "body": f"【安易花】您有{n}元备用金额度，回T退订",
        "received_at": f"2026-01-05T10:{n // 60 % 60:02d}:{n % 60:02d}+08:00",
        "id": f"bench-{n}",
    }
    request = urllib.request.Request(
        base + "/messages",
        data=json.dumps(record).encode(),
        headers={"Content-Type": "application/json", "X-Leaktrace-Secret": SECRET},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def _fire(base: str) -> tuple[float, int]:
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(pool.map(lambda n: _post(base, n), range(POSTS)))
    return time.perf_counter() - started, sum(code == 200 for code in codes)


def run() -> None:
    """Print ours and the floor, acknowledged posts per second, and the drain's catch-up."""
    with tempfile.TemporaryDirectory(prefix="leaktrace-bench-") as tmp:
        db = Path(tmp) / "s.duckdb"
        subprocess.run(
            [sys.executable, "-m", "leaktrace.cli", "--db", str(db), "canary", "new",
             "--phone", "+8613800138000", "--seed", "1"],
            check=True, capture_output=True,
        )  # fmt: skip
        port = _port()
        ours = subprocess.Popen(
            [sys.executable, "-m", "leaktrace.cli", "--db", str(db), "receive", "--port",
             str(port), "--secret", SECRET, "--drain-every", "0.5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "LEAKTRACE_LOCK_TIMEOUT": "120"},
        )  # fmt: skip
        floor_port = _port()
        floor = subprocess.Popen(
            [sys.executable, "-c", FLOOR, str(floor_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"http://127.0.0.1:{port}")
            _wait(f"http://127.0.0.1:{floor_port}")
            floor_s, floor_ok = _fire(f"http://127.0.0.1:{floor_port}")
            ours_s, ours_ok = _fire(f"http://127.0.0.1:{port}")
            began = time.perf_counter()
            stored = 0
            while time.perf_counter() - began < 120:
                probe = subprocess.run(
                    [sys.executable, "-c",
                     "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True);"
                     "print(*c.execute('SELECT count(*), count(DISTINCT own_id) FROM messages')"
                     ".fetchone())", str(db)],
                    capture_output=True, text=True,
                )  # fmt: skip
                if probe.returncode == 0:
                    stored, distinct = map(int, probe.stdout.split())
                    if stored >= ours_ok:
                        break
                time.sleep(0.5)
            drained_s = time.perf_counter() - began
        finally:
            for proc in (ours, floor):
                proc.terminate()
                proc.wait(20)
    print(f"posts: {POSTS:,} from {THREADS} threads")
    print(f"baseline bare Starlette 200:   {floor_s:6.2f} s  {floor_ok / floor_s:7.0f} posts/s")
    print(f"leaktrace receive (fsync'd):   {ours_s:6.2f} s  {ours_ok / ours_s:7.0f} posts/s")
    print(f"ratio ours/baseline time: {ours_s / floor_s:.2f}x; acknowledged {ours_ok:,}")
    print(f"stored {stored:,} ({distinct:,} distinct) {drained_s:.1f} s after the last answer")


if __name__ == "__main__":
    run()
