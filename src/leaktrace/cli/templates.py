"""CLI commands for templates and campaigns: ``cluster``, ``templates``, ``campaigns``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leaktrace.cli.common import JsonOpt, UserError, store_from
from leaktrace.cli.output import print_json, print_table, say

if TYPE_CHECKING:
    from leaktrace.store import Store


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
    from leaktrace.campaigns.link import link_campaigns
    from leaktrace.templates.cluster import cluster_messages

    store = store_from(ctx)
    result = cluster_messages(store, rebuild=rebuild, threshold=threshold, lexicon=lexicon)
    what = "rebuilt" if result.rebuilt else "clustered"
    say(
        f"{what} {result.messages} messages: {result.templates} templates "
        f"({result.new_templates} new)"
    )
    linked = link_campaigns(store, max_templates)
    say(
        f"campaigns: {linked.campaigns} linking {linked.linked_messages} messages; "
        f"{linked.unlinked_messages} messages carry no specific indicator; "
        f"{linked.shared_indicators} indicators too widely shared to link"
    )


def templates_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many, biggest first.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """The templates, biggest first, with their masked text."""
    from leaktrace.templates.cluster import list_templates

    rows = list_templates(store_from(ctx), limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        "templates",
        ("id", "size", "category", "first seen", "last seen", "text"),
        (
            (
                r.id,
                r.size,
                f"{r.category} ({r.category_confidence:.2f})",
                f"{r.first_seen:%Y-%m-%d}",
                f"{r.last_seen:%Y-%m-%d}",
                r.text,
            )
            for r in rows
        ),
    )


def campaigns_command(
    ctx: typer.Context,
    show: Annotated[
        int | None, typer.Option(help="One campaign: its indicators and why they link.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, biggest first.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """The campaigns, biggest first, or one campaign's indicators with --show."""
    from leaktrace.campaigns.link import campaign_indicators, current_campaign_id, list_campaigns

    store = store_from(ctx)
    if show is not None:
        current = current_campaign_id(store, show)
        if current is None:
            raise UserError(f"no campaign {show}: list them with `leaktrace campaigns`")
        if current != show:
            say(f"campaign {show} was merged into campaign {current}: showing {current}")
            show = current
        indicators = campaign_indicators(store, show)
        if as_json:
            print_json(indicators)
            return
        print_table(
            f"campaign {show}: indicators (links = joins its messages)",
            ("kind", "value", "messages", "templates", "links"),
            ((i.kind, i.value, i.messages, i.templates, i.links) for i in indicators),
        )
        return
    campaigns = list_campaigns(store, limit)
    if as_json:
        print_json(campaigns)
        return
    print_table(
        "campaigns",
        ("id", "label", "messages", "templates", "category", "first seen", "last seen"),
        (
            (
                c.id,
                c.label,
                c.size,
                c.templates,
                c.category,
                f"{c.first_seen:%Y-%m-%d}",
                f"{c.last_seen:%Y-%m-%d}",
            )
            for c in campaigns
        ),
    )


def _reanalyse(store: Store) -> None:
    from leaktrace.pipeline import analyse

    say(analyse(store).summary())


def merge_command(
    ctx: typer.Context,
    source: Annotated[int, typer.Argument(help="The template to merge away.")],
    target: Annotated[int, typer.Argument(help="The template that absorbs it.")],
) -> None:
    """Merge one template into another by hand; later clustering runs respect it."""
    from leaktrace.templates.cluster import merge_templates

    store = store_from(ctx)
    moved = merge_templates(store, source, target)
    say(f"template {source} merged into {target}: {moved} messages moved")
    _reanalyse(store)


def split_command(
    ctx: typer.Context,
    message: Annotated[int, typer.Argument(help="A message whose wording gets its own template.")],
) -> None:
    """Split the exact skeleton of one message off into a template of its own."""
    from leaktrace.templates.cluster import split_template

    store = store_from(ctx)
    new, moved = split_template(store, message)
    say(f"new template {new} with {moved} messages")
    _reanalyse(store)
