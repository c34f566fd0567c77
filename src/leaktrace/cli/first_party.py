"""CLI command group ``first-party``: a source's own channels, inferred from its messages."""

from __future__ import annotations

from typing import Annotated

import typer

from leaktrace.cli.common import JsonOpt, store_from
from leaktrace.cli.output import escape, print_json, print_table, say

first_party_app = typer.Typer(
    help="First-party channels: senders, signatures and domains a source uses for its own"
    " messages, found in the messages; confirm or reject what was inferred."
)

StatusOpt = Annotated[
    str | None,
    typer.Option("--status", help="Only channels that are inferred, confirmed or rejected."),
]


@first_party_app.command("list")
def first_party_list(
    ctx: typer.Context, status: StatusOpt = None, as_json: JsonOpt = False
) -> None:
    """List the inferred, confirmed and rejected first-party channels with their reasons."""
    from leaktrace.attribution.first_party import STATUSES, ChannelError, list_channels

    if status is not None and status not in STATUSES:
        raise ChannelError(f"--status takes {', '.join(STATUSES)}")
    channels = list_channels(store_from(ctx), status)
    if as_json:
        print_json(channels)
        return
    print_table(
        "first-party channels (messages through them are never evidence of a leak)",
        ("id", "source", "kind", "value", "status", "why"),
        ((c.id, c.source, c.kind, c.value, c.status, c.reason) for c in channels),
    )


def _review(ctx: typer.Context, channel_id: int, status: str) -> None:
    from leaktrace.attribution.first_party import review_channel
    from leaktrace.pipeline import analyse

    store = store_from(ctx)
    channel, flagged = review_channel(store, channel_id, status)
    say(
        f"{status} [bold]{escape(channel.value)}[/bold] ({channel.kind}) as"
        f" {escape(channel.source)}'s own; {flagged} messages to its canaries are first-party"
    )
    say(analyse(store).summary())


@first_party_app.command("confirm")
def first_party_confirm(
    ctx: typer.Context, channel_id: Annotated[int, typer.Argument(help="The channel's id.")]
) -> None:
    """Confirm an inferred channel: its messages stay first-party."""
    _review(ctx, channel_id, "confirmed")


@first_party_app.command("reject")
def first_party_reject(
    ctx: typer.Context, channel_id: Annotated[int, typer.Argument(help="The channel's id.")]
) -> None:
    """Reject an inferred channel: its messages count as evidence again; never inferred again."""
    _review(ctx, channel_id, "rejected")
