"""A built wheel carries the dashboard and the demo study: both run outside a checkout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, installed (without dependencies) into a bare folder."""
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("leaktrace-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-t", str(target), wheel],
        check=True,
    )
    return target


def command(target: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """``leaktrace ARGS`` from the installed wheel: the command line and its environment."""
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("LEAKTRACE_DB", None)
    return [sys.executable, "-m", "leaktrace.cli", *args], env


def test_the_wheel_ships_the_app_and_the_sample_study(installed):
    assert (installed / "leaktrace" / "app" / "main.py").is_file()
    assert len(list((installed / "leaktrace" / "app" / "pages").glob("*.py"))) >= 6
    sample = installed / "leaktrace" / "sample_data"
    assert (sample / "truth.json").is_file() and list((sample / "sms").glob("*.xml"))
    assert (installed / "leaktrace" / "store" / "migrations" / "001_roster.sql").is_file()
    assert (installed / "leaktrace" / "data" / "report" / "report.html.j2").is_file()


def test_demo_and_dashboard_run_from_the_installed_wheel(installed, tmp_path):
    argv, env = command(installed, "--db", "demo.duckdb", "demo")
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] > 1000
        assert con.execute("SELECT count(*) FROM source_verdicts").fetchone()[0] > 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv, env = command(installed, "--db", "demo.duckdb", "dashboard", "--port", str(port))
    server = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the dashboard command starts streamlit as its child
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(health, timeout=5) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, "the dashboard command ended"
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.3)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    imported = subprocess.run(
        [sys.executable, "-c", "import leaktrace; print(leaktrace.__file__)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.startswith(str(installed))
