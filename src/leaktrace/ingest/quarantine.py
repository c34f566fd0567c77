"""Messages for recipients no canary has: listed, assigned by hand, or matched later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leaktrace.errors import LeaktraceError
from leaktrace.roster import find_canary
from leaktrace.roster.recipients import rematch_quarantine
from leaktrace.store import Store
from leaktrace.store.messages import move_quarantined, plausible_time_sql


class QuarantineError(LeaktraceError, ValueError):
    """An assignment that cannot be made."""


@dataclass(frozen=True)
class QuarantinedRecipient:
    """One unknown recipient and how many messages wait for it."""

    recipient: str
    channel: str
    messages: int
    first_seen: datetime
    last_seen: datetime


def list_quarantine(store: Store) -> list[QuarantinedRecipient]:
    """Unknown recipients with their message counts, busiest first."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT recipient, channel, count(*),"
            f" min(received_at) FILTER (WHERE {plausible_time_sql()}),"
            f" max(received_at) FILTER (WHERE {plausible_time_sql()})"
            " FROM quarantine GROUP BY ALL ORDER BY count(*) DESC, recipient"
        ).fetchall()
    return [QuarantinedRecipient(*row) for row in rows]


def assign(store: Store, recipient: str, canary_ref: str) -> int:
    """Give every quarantined message for ``recipient`` to a canary; return how many."""
    canary = find_canary(store, canary_ref)
    with store.transaction() as con:
        channel = con.execute(
            "SELECT any_value(channel) FROM quarantine WHERE recipient = ?", [recipient]
        ).fetchone()[0]
        if channel is None:
            raise QuarantineError(key="err_quarantine_nothing_for", recipient=recipient)
        contact = (canary.email if channel == "email" else canary.phone) or recipient
        return move_quarantined(con, recipient, canary.id, contact)


def rematch(store: Store) -> int:
    """Match quarantined recipients against the canaries as they are now; return how many."""
    with store.transaction() as con:
        return rematch_quarantine(con)
