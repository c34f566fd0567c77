"""CLI commands for templates and campaigns: ``cluster``, ``templates``, ``campaigns``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leaktrace.analysis import analyse
from leaktrace.campaigns import campaign_indicators, link_campaigns, list_campaigns
from leaktrace.cli_common import store_from
from leaktrace.store import Store
from leaktrace.templates import cluster_messages, list_templates, merge_templates, split_template

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
    max_templates: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="An indicator seen with more templates than this is shared infrastructure "
            "and links no campaign (default 8, then the last value used).",
        ),
    ] = None,
) -> None:
    """Group messages into templates (only new ones unless --rebuild), then link campaigns."""
    store = store_from(ctx)
    result = cluster_messages(store, rebuild=rebuild, threshold=threshold, lexicon=lexicon)
    what = "rebuilt" if result.rebuilt else "clustered"
    out.print(
        f"{what} {result.messages} messages: {result.templates} templates "
        f"({result.new_templates} new)",
        highlight=False,
    )
    linked = link_campaigns(store, max_templates)
    out.print(
        f"campaigns: {linked.campaigns} linking {linked.linked_messages} messages; "
        f"{linked.unlinked_messages} messages carry no specific indicator; "
        f"{linked.shared_indicators} indicators too widely shared to link",
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


def campaigns_command(
    ctx: typer.Context,
    show: Annotated[
        int | None, typer.Option(help="One campaign: its indicators and why they link.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, biggest first.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The campaigns, biggest first, or one campaign's indicators with --show."""
    store = store_from(ctx)
    if show is not None:
        rows = [dataclasses.asdict(i) for i in campaign_indicators(store, show)]
        if as_json:
            out.print_json(json.dumps(rows, ensure_ascii=False))
            return
        table = Table(title=f"campaign {show}: indicators (links = joins its messages)")
        for column in ("kind", "value", "messages", "templates", "links"):
            table.add_column(column)
        for r in rows:
            table.add_row(*(str(r[c]) for c in ("kind", "value", "messages", "templates", "links")))
        out.print(table)
        return
    campaigns = list_campaigns(store, limit)
    if as_json:
        data = [dataclasses.asdict(c) for c in campaigns]
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
        return
    table = Table(title="campaigns")
    for column in ("id", "label", "messages", "templates", "category", "first seen", "last seen"):
        table.add_column(column)
    for c in campaigns:
        table.add_row(
            str(c.id),
            c.label,
            str(c.size),
            str(c.templates),
            c.category or "",
            f"{c.first_seen:%Y-%m-%d}",
            f"{c.last_seen:%Y-%m-%d}",
        )
    out.print(table)


def _relink(store: Store) -> None:
    out.print(analyse(store, relink=True).summary(), highlight=False)


def merge_command(
    ctx: typer.Context,
    source: Annotated[int, typer.Argument(help="The template to merge away.")],
    target: Annotated[int, typer.Argument(help="The template that absorbs it.")],
) -> None:
    """Merge one template into another by hand; later clustering runs respect it."""
    store = store_from(ctx)
    moved = merge_templates(store, source, target)
    out.print(f"template {source} merged into {target}: {moved} messages moved", highlight=False)
    _relink(store)


def split_command(
    ctx: typer.Context,
    message: Annotated[int, typer.Argument(help="A message whose wording gets its own template.")],
) -> None:
    """Split the exact skeleton of one message off into a template of its own."""
    store = store_from(ctx)
    new, moved = split_template(store, message)
    out.print(f"new template {new} with {moved} messages", highlight=False)
    _relink(store)
