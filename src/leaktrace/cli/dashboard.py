"""CLI command ``dashboard``: start the Streamlit app on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from leaktrace.cli.common import store_from


def app_path() -> Path:
    """The dashboard's entry script: ``app/main.py``, shipped in the wheel as leaktrace.app."""
    return Path(str(resources.files("leaktrace.app"))) / "main.py"


def streamlit_command(db: Path, port: int, host: str) -> list[str]:
    """The ``streamlit run`` command line for a store, port and bind address."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--", "--db", str(db),
    ]  # fmt: skip


def dashboard_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to bind; the default serves this machine only.")
    ] = "127.0.0.1",
) -> None:
    """Start the dashboard (Streamlit) on http://HOST:PORT for the store."""
    store = store_from(ctx)
    typer.echo(f"dashboard for {store.path} on http://{host}:{port} (Ctrl-C stops it)")
    env = {**os.environ, "LEAKTRACE_DB": str(store.path)}
    try:
        raise typer.Exit(subprocess.call(streamlit_command(store.path, port, host), env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
