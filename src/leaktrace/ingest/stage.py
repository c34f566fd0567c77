"""The stage: one file's messages, resolved and keyed, waiting for the commit.

Rows are buffered as Python lists (times as microseconds since 1970), turned into
Arrow chunks, and kept in memory for small files or written as Parquet chunks to a
scratch directory for big ones, so memory stays flat however large the file. The
commit reads either with DuckDB.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from leaktrace.cores import without_pandas
from leaktrace.hashing import sha256_text
from leaktrace.ingest.records import (
    Incoming,
    IngestError,
    content_key,
    in_few_words,
    message_key,
    micros,
    normalize_sender,
)
from leaktrace.model import MESSAGE_COLUMNS
from leaktrace.roster.recipients import RecipientBook
from leaktrace.text.signature import signature_text

if TYPE_CHECKING:  # workers that stage never load DuckDB
    import duckdb

CHUNK = 50_000
SPILL_ROWS = 200_000  # beyond this many messages the stage moves to Parquet files
# The same limits in characters of raw records, for formats whose records are long: a
# spam e-mail's raw message is ~750 characters against ~250 for an SMS record, and a
# staged e-mail takes ~2 KB of Python objects until its chunk is converted. Staging a
# 78 MB mbox (104k mails) peaked at 517 MB with the row limits alone, 332 MB with these
# spilling past 32 MB; spilling past one chunk, its reading peaks at 292 MB, not 345 MB.
CHUNK_CHARS = 8 << 20
SPILL_CHARS = CHUNK_CHARS  # a file past one chunk of raw text stages on disk from its first
_TYPES = {
    "seq": pa.int64(),
    "canary_id": pa.int64(),
    "received_at": pa.timestamp("us", tz="UTC"),
}


class Stage:
    """Messages of one file (or one part of it), converted in chunks."""

    def __init__(
        self,
        scratch: Path,
        book: RecipientBook,
        *,
        name: str = "part-0",
        seq_base: int = 0,
        spill_rows: int = SPILL_ROWS,
    ) -> None:
        self.scratch, self.book, self.name = scratch, book, name
        self.seq_base, self.spill_rows = seq_base, spill_rows
        self.tables: list[pa.Table] = []
        self.files: list[Path] = []
        self.count = 0
        self.buffered_chars = self.staged_chars = 0
        self.rows: dict[str, list] = {}
        self._senders: dict[str, str] = {}
        self._clear()

    def _clear(self) -> None:
        self.rows = {name: [] for name in ("seq", *MESSAGE_COLUMNS)}

    def add(self, m: Incoming) -> None:
        """Resolve, key and buffer one message."""
        recipient, canary_id = self.book.resolve(m.channel, m.recipient)
        sender = self._senders.get(m.sender)
        if sender is None:
            sender = self._senders[m.sender] = normalize_sender(m.sender)
            if len(self._senders) > 100_000:
                self._senders.clear()
        rows = self.rows
        rows["seq"].append(self.seq_base + self.count)
        rows["message_key"].append(
            message_key(m.channel, recipient, sender, m.received_at, m.body, m.own_id)
        )
        rows["channel"].append(m.channel)
        rows["recipient"].append(recipient)
        rows["canary_id"].append(canary_id)
        rows["sender"].append(sender)
        rows["received_at"].append(micros(m.received_at))
        rows["subject"].append(m.subject)
        rows["body"].append(m.body)
        signature, raw_sha256 = m.derived or (signature_text(m.body), sha256_text(m.raw))
        rows["signature"].append(signature)
        rows["own_id"].append(m.own_id)
        rows["headers"].append(m.headers)
        rows["position"].append(m.position)
        rows["raw"].append(m.raw)
        rows["raw_sha256"].append(raw_sha256)
        self.count += 1
        self.buffered_chars += len(m.raw)
        if len(rows["seq"]) >= CHUNK or self.buffered_chars >= CHUNK_CHARS:
            self.flush()

    def add_batch(
        self,
        channel: str,
        recipients: Sequence[str],
        senders: Sequence[str],
        millis: Sequence[int],
        bodies: Sequence[str],
        raws: Sequence[str],
        positions: Sequence[str],
    ) -> None:
        """Resolve, key and buffer messages given as columns, as :meth:`add` does each.

        For messages without subject, headers or an id of their own, timed in whole
        milliseconds since 1970 (as phone backups write them).
        """
        n = len(bodies)
        found = {token: self.book.resolve(channel, token) for token in set(recipients)}
        if len(self._senders) > 100_000:
            self._senders.clear()
        known = self._senders
        for sender in set(senders).difference(known):
            known[sender] = normalize_sender(sender)
        stored = [found[token][0] for token in recipients]
        normal = [known[sender] for sender in senders]
        rows = self.rows
        start = self.seq_base + self.count
        rows["seq"].extend(range(start, start + n))
        rows["message_key"].extend(map(content_key, [channel] * n, stored, normal, millis, bodies))
        rows["channel"].extend([channel] * n)
        rows["recipient"].extend(stored)
        rows["canary_id"].extend(found[token][1] for token in recipients)
        rows["sender"].extend(normal)
        rows["received_at"].extend(ms * 1000 for ms in millis)
        rows["body"].extend(bodies)
        rows["signature"].extend(map(signature_text, bodies))
        rows["position"].extend(positions)
        rows["raw"].extend(raws)
        rows["raw_sha256"].extend(map(sha256_text, raws))
        for name in ("subject", "own_id", "headers"):
            rows[name].extend([None] * n)
        self.count += n
        self.buffered_chars += sum(map(len, raws))
        if len(rows["seq"]) >= CHUNK or self.buffered_chars >= CHUNK_CHARS:
            self.flush()

    def flush(self) -> None:
        """Turn buffered rows into an Arrow chunk; past ``spill_rows`` write chunks to Parquet."""
        if self.rows["seq"]:
            self.tables.append(arrow_rows(self.rows))
            self._clear()
        self.staged_chars += self.buffered_chars
        self.buffered_chars = 0
        if self.count >= self.spill_rows or self.staged_chars >= SPILL_CHARS or self.files:
            for table in self.tables:
                path = self.scratch / f"{self.name}-{len(self.files):05d}.parquet"
                # Scratch, read once: LZ4 writes in about half zstd's time (200k SMS
                # rows: 0.27 s against 0.50 s at level 1) for 1.7 times the disk.
                pq.write_table(table, path, compression="lz4")
                self.files.append(path)
            self.tables = []


def lean_worker() -> None:
    """Set up a worker process that stages: no pandas, and Arrow on the system allocator.

    pyarrow's own allocator (mimalloc) keeps what each staged piece freed: mbox workers
    grew to 140–165 MB each, against 128–134 MB on the system allocator.
    """
    without_pandas()
    pa.set_memory_pool(pa.system_memory_pool())


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while staging.

    Staging allocates millions of short-lived objects and no reference cycles; the
    collector's repeated scans over them cost about half the staging time (measured
    on 117k SMS: 8.4 s with it, 5.6 s without).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def worker_staging(file_name: str) -> Iterator[None]:
    """Stage a part of ``file_name`` in a worker process, the collector paused.

    An IngestError goes back as it is (pickled with its key: said in either language);
    any other failure is told in a few words, not lost with the process.
    """
    try:
        with gc_paused():
            yield
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(
            key="err_import_reader_failed", file=file_name, reason=in_few_words(exc)
        ) from None


def arrow_rows(rows: dict[str, list]) -> pa.Table:
    """Column lists as an Arrow table of the stage's schema."""
    return pa.table(
        {
            name: pa.array(values, type=_TYPES.get(name, pa.string()))
            for name, values in rows.items()
        }
    )


@contextmanager
def staged(
    con: duckdb.DuckDBPyConnection, tables: list[pa.Table], files: list[Path]
) -> Iterator[str]:
    """Make staged rows visible to ``con``; yield a relation to select from."""
    if files:
        listing = ", ".join(f"'{f}'" for f in files)
        yield f"read_parquet([{listing}])"
        return
    empty = arrow_rows({name: [] for name in ("seq", *MESSAGE_COLUMNS)})
    con.register("incoming", pa.concat_tables(tables or [empty]))
    try:
        yield "incoming"
    except BaseException:
        # After a COMMIT that ran out of memory the open database is invalidated and
        # this fails too: the block's own error is the one told.
        with suppress(Exception):
            con.unregister("incoming")
        raise
    con.unregister("incoming")
