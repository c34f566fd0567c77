"""What every command prints through: one console pair, one JSON printer, one table shape,
and the one handler that turns a :class:`~leaktrace.errors.LeaktraceError` into a red line.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leaktrace.errors import LeaktraceError

# Hashes, paths and spam text are never wrapped: a copied line must stay whole.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _plain(value: Any) -> Any:
    """What JSON cannot hold as is: dataclasses as objects, times in ISO 8601, enums by value.

    Called by ``json.dumps`` only for such values, so long lists of ids are not walked.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


__all__ = ["err", "escape", "handles_errors", "out", "print_json", "print_table", "say", "warn"]


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout, plain (no colours: it is for programs)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_plain) + "\n")
    sys.stdout.flush()


def print_table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Print a titled table; ``None`` cells are empty, every cell is text (never markup)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else escape(str(v)) for v in row))
    out.print(table)


def say(text: str) -> None:
    """One line on stdout, rich markup allowed, no highlighting of numbers and paths.

    Text from a file, a spammer or the user goes through :func:`escape` first: spam
    that says ``[/bold]`` or ``[link=…]`` is shown, not obeyed.
    """
    out.print(text, highlight=False)


def warn(text: str) -> None:
    """A yellow warning on stderr."""
    err.print(f"[yellow]warning:[/yellow] {escape(text)}", highlight=False)


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Show a :class:`LeaktraceError` as one red line and exit 1; bugs keep their traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeaktraceError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def guard_every_command(app: typer.Typer) -> None:
    """Wrap every command of ``app`` and of its sub-apps in :func:`handles_errors`, once."""
    for command in app.registered_commands:
        if command.callback is not None and not hasattr(command.callback, "__wrapped__"):
            command.callback = handles_errors(command.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_every_command(group.typer_instance)
