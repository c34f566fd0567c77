"""CLI command ``dashboard``: start the Streamlit app on this machine, and stop it with us.

Streamlit runs as a child process. Whatever stops this command stops the child too:
Ctrl-C, SIGTERM or SIGHUP to this process terminates the child and waits for it
(killing it after :data:`STOP_TIMEOUT_S`), and on Linux the child is told by the kernel
(``PR_SET_PDEATHSIG``) when this process dies without a chance to clean up (SIGKILL,
a crash), so no server is left holding the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from leaktrace.cli.common import store_from


class Language(StrEnum):
    """The dashboard's languages (leaktrace.i18n.LANGUAGES)."""

    zh = "zh"
    en = "en"


STOP_TIMEOUT_S = 10.0  # Streamlit stops in well under a second; then it is killed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # SIGINT arrives as KeyboardInterrupt


def app_path() -> Path:
    """The dashboard's entry script: ``app/main.py``, shipped in the wheel as leaktrace.app."""
    return Path(str(resources.files("leaktrace.app"))) / "main.py"


def streamlit_command(db: Path, port: int, host: str, lang: str | None = None) -> list[str]:
    """The ``streamlit run`` command line for a store, port, bind address and language."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--", "--db", str(db),
        *(["--lang", lang] if lang else []),
    ]  # fmt: skip


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux send the child SIGTERM when its parent dies.

    None elsewhere (or without a C library to call): there the signal handlers of
    :func:`serve` are what stops the child.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


class _Stop(Exception):
    """A stop signal arrived."""


@contextlib.contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise :class:`_Stop`, as SIGINT raises KeyboardInterrupt."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def stop(child: subprocess.Popen) -> int:
    """Terminate ``child`` and wait for it, killing it if it does not end in time."""
    if child.poll() is None:
        child.terminate()
    try:
        return child.wait(STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt, _Stop):
        child.kill()
        return child.wait()


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` until it ends or we are told to stop; then it is stopped too.

    Returns its exit code, or 0 when a signal stopped it.
    """
    with _stop_signals_raise():
        child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent())
        try:
            return child.wait()
        except (KeyboardInterrupt, _Stop):
            stop(child)
            return 0
        finally:
            if child.poll() is None:  # any other way out of the wait: never leave it running
                stop(child)


def dashboard_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to bind; the default serves this machine only.")
    ] = "127.0.0.1",
    lang: Annotated[
        Language | None,
        typer.Option(
            help="Language the dashboard opens in (zh or en); default: the browser's,"
            " else that of most personas. The sidebar switches it."
        ),
    ] = None,
) -> None:
    """Start the dashboard (Streamlit) on http://HOST:PORT for the store."""
    store = store_from(ctx)
    typer.echo(f"dashboard for {store.path} on http://{host}:{port} (Ctrl-C stops it)")
    env = {**os.environ, "LEAKTRACE_DB": str(store.path)}
    command = streamlit_command(store.path, port, host, lang.value if lang else None)
    raise typer.Exit(serve(command, env))
