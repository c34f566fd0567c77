"""iOS ``sms.db`` and macOS ``chat.db``: the Messages database, WAL included.

The database is copied with its ``-wal`` and ``-shm`` files into a scratch
directory and read from the copy, so the original is never written to (SQLite
writes even when reading a WAL database) and messages still only in the WAL are
included. Recent iOS leaves ``text`` NULL and keeps the text in
``attributedBody``, an NSAttributedString in Apple's typedstream format, which
pytypedstream decodes.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typedstream

from leaktrace.ingest.records import Incoming, IngestError, ReadReport
from leaktrace.ingest.timestamps import from_epoch

if TYPE_CHECKING:
    from leaktrace.ingest.importer import Meter

APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
# Dates above this are nanoseconds (macOS 10.13 / iOS 11 on); below, seconds.
NANOSECOND_THRESHOLD = 10**14


def apple_time(value: int | float) -> datetime:
    """A Messages ``date`` (ns or s since 2001-01-01 UTC) as an aware datetime."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"date {str(value)[:24]!r} is not a number")
    seconds = value / 1e9 if abs(value) >= NANOSECOND_THRESHOLD else value
    return from_epoch(seconds, APPLE_EPOCH)


def _first_string(value: Any, depth: int = 0) -> str | None:
    if depth > 6 or value is None:
        return None
    if isinstance(value, str):
        return value
    inner = getattr(value, "value", None)
    if type(value).__name__ in ("NSString", "NSMutableString") and isinstance(inner, str):
        return inner
    for item in getattr(value, "contents", None) or []:
        found = _first_string(getattr(item, "value", item), depth + 1)
        if found is not None:
            return found
    return None


def attributed_text(blob: bytes) -> str:
    """The plain text of an ``attributedBody`` blob; ``ValueError`` if it holds none."""
    try:
        archived = typedstream.unarchive_from_data(blob)
    except Exception as exc:  # the decoder raises several types on damaged blobs
        raise ValueError(f"attributedBody is not a readable typedstream ({exc})") from None
    text = _first_string(archived)
    if text is None:
        raise ValueError("attributedBody holds no string")
    return text


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _copy(path: Path, scratch: Path) -> Path:
    target = scratch / path.name
    shutil.copy2(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            shutil.copy2(side, scratch / side.name)
    return target


def read_ios(
    path: Path,
    report: ReadReport,
    *,
    recipient: str | None = None,
    meter: Meter | None = None,
) -> Iterator[Incoming]:
    """Received messages of a Messages database (``is_from_me = 0``)."""
    with tempfile.TemporaryDirectory(prefix="leaktrace-ios-") as scratch:
        copy = _copy(path, Path(scratch))
        con = sqlite3.connect(copy)
        try:
            yield from _rows(con, path, report, recipient, meter)
        except sqlite3.DatabaseError as exc:
            raise IngestError(key="err_ios_unreadable", file=path.name, error=str(exc)) from None
        finally:
            con.close()


def _rows(
    con: sqlite3.Connection,
    path: Path,
    report: ReadReport,
    recipient: str | None,
    meter: Meter | None,
) -> Iterator[Incoming]:
    columns = _columns(con, "message")
    if not {"guid", "text", "date", "is_from_me", "handle_id"} <= columns:
        raise IngestError(key="err_ios_not_messages", file=path.name)
    optional = [c for c in ("attributedBody", "service", "destination_caller_id") if c in columns]
    names = ["ROWID", "guid", "text", "date", "is_from_me", *optional]
    select = ", ".join(f"m.{c}" for c in names)
    total = con.execute("SELECT count(*) FROM message").fetchone()[0]
    query = f"SELECT {select}, h.id FROM message m LEFT JOIN handle h ON h.ROWID = m.handle_id"
    for number, row in enumerate(con.execute(query + " ORDER BY m.ROWID"), start=1):
        record = dict(zip([*names, "handle"], row, strict=True))
        if meter is not None and number % 1000 == 0:
            meter.update(number, total)
        if record["is_from_me"]:
            report.skipped["sent"] += 1
            continue
        where = f"{path.name}:ROWID {record['ROWID']}"
        try:
            yield _message(record, recipient, where)
        except ValueError as exc:
            report.reject(where, str(exc))


def _message(record: dict[str, Any], recipient: str | None, where: str) -> Incoming:
    body = record["text"]
    blob = record.get("attributedBody")
    if body is None and blob:
        body = attributed_text(blob)
    if record["date"] is None:
        raise ValueError("no date")
    to = record.get("destination_caller_id") or recipient
    if not to:
        raise ValueError("the database does not name the receiving number; give --recipient")
    raw = {k: v for k, v in record.items() if k != "attributedBody"}
    if blob:
        raw["attributedBody"] = base64.b64encode(blob).decode("ascii")
    service = record.get("service") or "SMS"
    return Incoming(
        channel="sms",
        recipient=to,
        sender=record["handle"] or "",
        received_at=apple_time(record["date"]),
        body=body or "",
        raw=json.dumps(raw, ensure_ascii=False, sort_keys=True),
        position=where.rpartition(":")[2],
        own_id=record["guid"],
        headers=json.dumps({"service": service}),
    )
