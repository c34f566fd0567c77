"""Messages for recipients no canary has: listed, assigned by hand, or matched later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from leaktrace.errors import LeaktraceError
from leaktrace.roster.recipients import RecipientBook
from leaktrace.store import Store
from leaktrace.store.messages import reflag_first_party


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
            "SELECT recipient, channel, count(*), min(received_at), max(received_at)"
            " FROM quarantine GROUP BY ALL ORDER BY count(*) DESC, recipient"
        ).fetchall()
    return [QuarantinedRecipient(*row) for row in rows]


def _move(con: duckdb.DuckDBPyConnection, recipient: str, canary_id: int, contact: str) -> int:
    ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM quarantine WHERE recipient = ?", [recipient]
        ).fetchall()
    ]
    if not ids:
        return 0
    con.execute(
        "UPDATE messages SET canary_id = ?, recipient = ? WHERE list_contains(?, id)",
        [canary_id, contact, ids],
    )
    reflag_first_party(con, "list_contains(?, id)", [ids])
    return len(ids)


def assign(store: Store, recipient: str, canary_ref: str) -> int:
    """Give every quarantined message for ``recipient`` to a canary; return how many."""
    with store.transaction() as con:
        row = con.execute(
            "SELECT id, phone, email FROM canaries WHERE label = ? OR phone = ? OR email = ?",
            [canary_ref, canary_ref, canary_ref.lower()],
        ).fetchone()
        if row is None:
            raise QuarantineError(f"no canary {canary_ref!r}")
        canary_id, phone, email = row
        channel = con.execute(
            "SELECT any_value(channel) FROM quarantine WHERE recipient = ?", [recipient]
        ).fetchone()[0]
        if channel is None:
            raise QuarantineError(f"nothing in quarantine for {recipient!r}")
        contact = (email if channel == "email" else phone) or recipient
        return _move(con, recipient, canary_id, contact)


def rematch_in(con: duckdb.DuckDBPyConnection) -> int:
    """Match quarantined recipients against the canaries as they are now; return messages moved."""
    book = RecipientBook.load(con)
    moved = 0
    for recipient, channel in con.execute(
        "SELECT DISTINCT recipient, channel FROM quarantine"
    ).fetchall():
        contact, canary_id = book.resolve(channel, recipient)
        if canary_id is not None:
            moved += _move(con, recipient, canary_id, contact)
    return moved


def rematch(store: Store) -> int:
    """:func:`rematch_in` in its own transaction."""
    with store.transaction() as con:
        return rematch_in(con)
