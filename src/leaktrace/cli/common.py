"""What every CLI module shares: the store from ``--db``, shared options, zones, NAME=VALUE."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from leaktrace.errors import LeaktraceError

if TYPE_CHECKING:
    from leaktrace.store import Store

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TzOpt = Annotated[
    str | None,
    typer.Option("--tz", help="Time zone for times without an offset (default: this machine's)."),
]


class UserError(LeaktraceError):
    """An error to show as one line, without a traceback."""


def store_from(ctx: typer.Context) -> Store:
    """The store ``--db`` (or ``LEAKTRACE_DB``, or the default) names."""
    from leaktrace.store import Store, default_db_path

    db = ctx.obj.get("db") if ctx.obj else None
    return Store(db or default_db_path())


def parse_zone(name: str | None) -> tzinfo:
    """A named time zone, or this machine's when ``name`` is None."""
    if name is None:
        zone = datetime.now().astimezone().tzinfo
        assert zone is not None
        return zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {name!r}; use a name like Asia/Shanghai") from None


def parse_pairs(items: Iterable[str], option: str, example: str) -> dict[str, str]:
    """``KEY=VALUE`` items (comma-separated lists allowed) as a mapping."""
    mapping = {}
    for item in (part.strip() for text in items for part in text.split(",")):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise UserError(f"{option} wants KEY=VALUE pairs like {example}, not {item!r}")
        mapping[key.strip()] = value.strip()
    return mapping
