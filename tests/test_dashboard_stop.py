"""Stopping ``leaktrace dashboard`` stops its Streamlit server: no process keeps the port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.browser import free_port

from leaktrace.store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def streamlit_pids(port: int) -> list[int]:
    """Live (not zombie) processes running ``streamlit`` on ``port``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if b"streamlit" in argv and str(port).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture
def dashboard(tmp_path: Path):
    """``python -m leaktrace.cli dashboard`` on a free port, serving; yields (process, port)."""
    db = tmp_path / "study.duckdb"
    Store(db)
    port = free_port()
    # The command imports the same leaktrace as these tests (a checkout or a worktree).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "leaktrace.cli", "--db", str(db), "dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # signals go to this process alone, as a service manager's do
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                health = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(health, timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            assert process.poll() is None, "the dashboard command ended"
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        yield process, port
    finally:
        for pid in [process.pid, *streamlit_pids(port)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name
)
def test_a_stop_signal_to_the_command_stops_the_server(dashboard, signum):
    process, port = dashboard
    assert len(streamlit_pids(port)) == 1
    os.kill(process.pid, signum)
    assert process.wait(15) == 0
    assert wait_until(lambda: port_free(port), 5), "the port is still bound"
    assert streamlit_pids(port) == []


def test_the_server_dies_with_a_killed_command(dashboard):
    process, port = dashboard
    (child,) = streamlit_pids(port)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert wait_until(lambda: not streamlit_pids(port) and port_free(port), 10), (
        f"streamlit {child} outlived its parent"
    )
