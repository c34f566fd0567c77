"""A Streamlit server and headless Debian chromium, for the browser tests and the bench.

Imported as ``tests.browser`` by tests/test_dashboard_browser.py and by
bench/bench_dashboard.py (the checkout's root is on the path of both).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from leaktrace.cli.dashboard import streamlit_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(
    db: Path,
    log: Path,
    timeout: float = 60,
    lang: str | None = None,
    cwd: Path | None = None,
    app: Path | None = None,
) -> Iterator[str]:
    """``streamlit run`` the dashboard (or another ``app`` script) for ``db`` (relative: to
    ``cwd``) on a free port; yield its URL."""
    port = free_port()
    cmd = streamlit_command(db, port, "127.0.0.1", lang)
    if app is not None:
        cmd[cmd.index("run") + 1] = str(app)
    at = cmd.index("--")
    cmd[at:at] = ["--server.fileWatcherType", "none"]  # before the "--" of script args
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def settle(page, timeout_ms: int = 60_000) -> None:
    """Wait as Streamlit's own e2e helpers do; fail on any exception box."""
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout_ms
    )
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms
    )
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=timeout_ms,
    )
    if page.get_by_test_id("stException").count():
        raise AssertionError(page.get_by_test_id("stException").first.inner_text())
