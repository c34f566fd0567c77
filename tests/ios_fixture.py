"""Build an iOS ``sms.db`` in the published schema, with typedstream ``attributedBody`` blobs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)

SCHEMA = """
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL,
    country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT,
    UNIQUE (id, service));
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0,
    subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0,
    type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, error INTEGER DEFAULT 0,
    date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0,
    is_finished INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
    cache_roomnames TEXT, destination_caller_id TEXT);
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    chat_identifier TEXT, service_name TEXT);
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
    PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE (chat_id, handle_id));
"""


def _length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else b"\x81" + n.to_bytes(2, "little")


def attributed_body(text: str) -> bytes:
    """An NSAttributedString archived as Messages stores it (typedstream, version 4)."""
    data = text.encode("utf-8")
    utf16_units = len(text.encode("utf-16-le")) // 2
    return (
        b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00"
        b"\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
        + _length(len(data))
        + data
        + b"\x86\x84\x02iI\x01"
        + _length(utf16_units)
        + b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96"
        b"\x1d__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00"
        b"\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86"
    )


def apple_ns(when: datetime) -> int:
    """Nanoseconds since 2001-01-01 UTC, as iOS 11+ stores ``date``."""
    return round((when - APPLE_EPOCH).total_seconds() * 1e9)


def open_sms_db(path: Path) -> sqlite3.Connection:
    """A new sms.db in WAL mode that keeps recent writes in the ``-wal`` file."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.executescript(SCHEMA)
    con.commit()
    return con


def add_message(
    con: sqlite3.Connection,
    guid: str,
    sender: str,
    when: datetime | int,
    *,
    text: str | None = None,
    attributed: str | None = None,
    from_me: bool = False,
    service: str = "SMS",
    destination: str | None = None,
) -> None:
    """Insert one message (and its handle and chat) the way Messages does."""
    row = con.execute("SELECT ROWID FROM handle WHERE id = ?", [sender]).fetchone()
    if row is None:
        con.execute("INSERT INTO handle (id, service) VALUES (?, ?)", [sender, service])
        row = con.execute("SELECT ROWID FROM handle WHERE id = ?", [sender]).fetchone()
    date = when if isinstance(when, int) else apple_ns(when)
    con.execute(
        "INSERT INTO message (guid, text, handle_id, attributedBody, service, date, is_from_me,"
        " destination_caller_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            guid,
            text,
            row[0],
            attributed_body(attributed) if attributed is not None else None,
            service,
            date,
            int(from_me),
            destination,
        ],
    )
    con.commit()
