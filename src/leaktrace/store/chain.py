"""The hash chain over messages: each message's record digest, linked in import order.

A record digest covers the fields that are evidence and never change after import:
id, message key, import batch, channel, sender, time received, subject, text and the
SHA-256 of the raw record. The canary a message belongs to, its recipient (rewritten
when a quarantined message is assigned) and its first-party flag are analysis and may
change, so they are not covered; the raw record, covered by its digest, keeps the
recipient as received.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

GENESIS = "0" * 64
# The fields of a record digest, in the order they are hashed.
RECORD_FIELDS = (
    "id",
    "message_key",
    "batch_id",
    "channel",
    "sender",
    "received_at",
    "subject",
    "body",
    "raw_sha256",
)
# The same fields as the store selects them (the key as decimal text).
RECORD_SQL = (
    "id, CAST(message_key AS VARCHAR) AS message_key, batch_id, channel, sender,"
    " received_at, subject, body, raw_sha256"
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_BATCH_ROWS = 50_000


def canonical_time(value: datetime | str) -> str:
    """A time as the digest writes it: UTC, microseconds, ``Z``; text is taken as written."""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def record_digest(row: Mapping[str, object]) -> str:
    """Hex SHA-256 of a message's evidence fields as a compact JSON array.

    Missing subjects count as empty text, so a CSV round trip keeps the digest.
    """
    values = [
        int(row["id"]),  # type: ignore[call-overload]
        str(row["message_key"]),
        int(row["batch_id"]),  # type: ignore[call-overload]
        str(row["channel"]),
        str(row["sender"]),
        canonical_time(row["received_at"]),  # type: ignore[arg-type]
        "" if row["subject"] is None else str(row["subject"]),
        str(row["body"]),
        str(row["raw_sha256"]),
    ]
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def link(previous: str, record: str) -> str:
    """The next chain value: SHA-256 over the previous chain value and the record digest."""
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(record)).hexdigest()


def chain_links(previous: str, records: Iterable[str]) -> Iterator[str]:
    """Chain values of ``records`` following ``previous``."""
    for record in records:
        previous = link(previous, record)
        yield previous


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """The last chained message id (0 when none) and its chain value (zeros when none)."""
    row = con.execute(
        "SELECT message_id, chain_sha256 FROM message_chain ORDER BY message_id DESC LIMIT 1"
    ).fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def record_rows(
    con: duckdb.DuckDBPyConnection, where: str = "true", params: list | None = None
) -> Iterator[dict]:
    """Messages' evidence fields in id order, as dicts, fetched in batches."""
    # execute(), not a relation: an import's earlier statements may have pending results.
    result = con.execute(
        f"SELECT {RECORD_SQL} FROM messages WHERE {where} ORDER BY id", params or []
    )
    while rows := result.fetchmany(_BATCH_ROWS):
        for row in rows:
            yield dict(zip(RECORD_FIELDS, row, strict=True))


def extend_chain(con: duckdb.DuckDBPyConnection) -> int:
    """Append every message imported after the chain's head; return how many were added."""
    last_id, previous = head(con)
    ids: list[int] = []
    records: list[str] = []
    chains: list[str] = []
    for row in record_rows(con, "id > ?", [last_id]):
        record = record_digest(row)
        previous = link(previous, record)
        ids.append(row["id"])
        records.append(record)
        chains.append(previous)
    if ids:
        con.register(
            "new_links",
            pa.table({"message_id": ids, "record_sha256": records, "chain_sha256": chains}),
        )
        try:
            con.execute("INSERT INTO message_chain SELECT * FROM new_links")
        finally:
            con.unregister("new_links")
    return len(ids)
