"""CLI commands for templates: ``cluster`` and ``templates``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leaktrace.cli_common import store_from
from leaktrace.templates import cluster_messages, list_templates

out = Console()


def cluster_command(
    ctx: typer.Context,
    rebuild: Annotated[bool, typer.Option(help="Re-cluster every message from scratch.")] = False,
    threshold: Annotated[
        float | None,
        typer.Option(help="rapidfuzz ratio (0-100) to join a template; a change rebuilds."),
    ] = None,
    lexicon: Annotated[
        Path | None,
        typer.Option(help="A categories.toml of your own keywords, added to the shipped ones."),
    ] = None,
) -> None:
    """Group messages into templates; only messages not yet clustered unless --rebuild."""
    result = cluster_messages(
        store_from(ctx), rebuild=rebuild, threshold=threshold, lexicon=lexicon
    )
    what = "rebuilt" if result.rebuilt else "clustered"
    out.print(
        f"{what} {result.messages} messages: {result.templates} templates "
        f"({result.new_templates} new)",
        highlight=False,
    )


def templates_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many, biggest first.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The templates, biggest first, with their masked text."""
    rows = list_templates(store_from(ctx), limit)
    if as_json:
        data = [dataclasses.asdict(r) for r in rows]
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
        return
    table = Table(title="templates")
    for column in ("id", "size", "category", "first seen", "last seen", "text"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.size),
            f"{r.category} ({r.category_confidence:.2f})",
            f"{r.first_seen:%Y-%m-%d}",
            f"{r.last_seen:%Y-%m-%d}",
            r.text,
        )
    out.print(table)
