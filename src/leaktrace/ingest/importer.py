"""Importing one file: read it, stage it off the store, commit it in one transaction.

Reading and staging happen without touching the store, into a scratch DuckDB
file, so a multi-hundred-MB import holds the store's lock only for the final
``INSERT … SELECT`` and the dashboard or receiver are not kept waiting. That
insert, the batch row and the first-party flags commit together or not at all:
a file that fails half-way leaves the store as it was.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import duckdb
import pyarrow as pa

from leaktrace.hashing import file_sha256
from leaktrace.ingest.detect import FORMATS, detect_format
from leaktrace.ingest.parallel import stage_backup_in_parallel
from leaktrace.ingest.parallel_mail import stage_mbox_in_parallel
from leaktrace.ingest.records import (
    Incoming,
    IngestError,
    ReadReport,
    plausible,
)
from leaktrace.ingest.stage import Stage, gc_paused, staged
from leaktrace.roster.recipients import RecipientBook
from leaktrace.store import Store
from leaktrace.store.chain import extend_chain
from leaktrace.store.connection import memory_limited, texts_in_zstd, transaction
from leaktrace.store.messages import (
    commit_stage,
    next_batch_id,
    reflag_first_party,
)

# DuckDB's memory for the commit, its COMMIT's checkpoint included, given back after it
# or after a rollback. (Lifting it before the COMMIT let the checkpoint take the mbox
# import to 660 MB; DuckDB checkpoints within a limit by writing as it goes, and cannot
# be set below what it holds: 300k rows committed under 64 MB.) The rows
# stream into the table unsorted (see ``commit_stage``): what the commit holds is the
# key indexes and the check for duplicates, which grow with the rows. 1.1M SMS ran out
# of memory at 128 MB and committed at 256 MB; a 78 MB mbox (104k mails) committed at
# 128 MB with the process at 400 MB, against 716 MB under the 1 GB used before. Should
# a commit still run out (in a statement, or at the COMMIT: see ``out_of_memory``), it
# is done again with four times the memory, then with DuckDB's default. Big records
# need more than their count says: 1,149 MMS of 200 KB after 588,675 SMS ran out at
# 222 MB in every try and committed at 888 MB, so the raw text of staged chunks of big
# records (averaging ``BIG_RECORD`` or more a row: pictures, attachments) is added.
COMMIT_MEMORY_BASE = 128 << 20
COMMIT_MEMORY_PER_ROW = 160
BIG_RECORD = 16 << 10


def commit_memory(rows: int, big: int = 0) -> list[str | None]:
    """The memory limits to try a commit of ``rows`` staged messages with, in turn,
    ``big`` bytes of them in big records (see :func:`big_records`)."""
    limit = COMMIT_MEMORY_BASE + COMMIT_MEMORY_PER_ROW * rows + big
    return [f"{limit >> 20}MB", f"{4 * limit >> 20}MB", None]


def big_records(tables: list[pa.Table], files: list[Path]) -> int:
    """Bytes of raw text in the staged chunks whose records average ``BIG_RECORD`` or more."""
    import pyarrow.parquet as pq

    chunks = [(t.num_rows, t.column("raw").nbytes) for t in tables]
    for path in files:
        meta = pq.ParquetFile(path).metadata
        raw = meta.schema.names.index("raw")
        chunks += [
            (meta.row_group(g).num_rows, meta.row_group(g).column(raw).total_uncompressed_size)
            for g in range(meta.num_row_groups)
        ]
    return sum(size for rows, size in chunks if rows and size >= BIG_RECORD * rows)


Progress = Callable[[int, int], None]  # (done, total) in the reader's unit


def out_of_memory(exc: duckdb.Error) -> bool:
    """Whether DuckDB ran out of memory, in a statement or at the COMMIT.

    Out of memory at the COMMIT (its checkpoint writing big records) is raised as a
    failed commit quoting the memory error ("Failed to commit: failed to pin block …");
    the transaction is rolled back and the open database invalidated, so the next try
    opens the file afresh (see ``_commit``).
    """
    if isinstance(exc, duckdb.OutOfMemoryException):
        return True
    said = str(exc).lower()
    cause = said.partition("failed to commit: ")[2]
    return _MEMORY.match(cause) is not None


# How DuckDB's memory errors begin (lower-cased), quoted after "Failed to commit: ".
_MEMORY = re.compile(r"out of memory|failed to (?:pin|allocate|resize|offload)|could not allocate")


@dataclass
class ImportOptions:
    """How to read a file; every field is optional."""

    format: str | None = None
    recipient: str | None = None
    sub_ids: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    tz: tzinfo | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportResult:
    """What one file's import did, for the summary line and ``--json``."""

    file: str
    format: str
    batch_id: int
    inserted: int
    duplicate: int
    skipped: int
    rejected: int
    quarantined: int
    first_party: int
    skipped_by_reason: dict[str, int]
    problems: list[str]
    stopped_at: str | None
    notes: list[str]
    seconds: float

    def as_dict(self) -> dict:
        """Plain data for JSON output."""
        return asdict(self)


class Meter:
    """Shared progress: readers set ``total`` and advance ``done`` in their own unit."""

    def __init__(self, total: int, callback: Progress | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def update(self, done: int, total: int | None = None) -> None:
        """Report progress (cheap enough to call per record)."""
        self.done = done
        if total is not None:
            self.total = total
        if self.callback is not None:
            self.callback(self.done, self.total)


def _reader(
    fmt: str, path: Path, report: ReadReport, options: ImportOptions, meter: Meter
) -> Iterator[Incoming]:
    # Imported here so that the CLI starts fast and each format's dependencies load on use.
    if fmt == "ios":
        from leaktrace.ingest.formats.ios import read_ios

        return read_ios(path, report, recipient=options.recipient, meter=meter)
    if fmt in ("mbox", "eml"):
        from leaktrace.ingest.formats.mail import read_mail

        return read_mail(path, report, fmt, recipient=options.recipient, meter=meter)
    if fmt in ("csv", "jsonl"):
        from leaktrace.ingest.formats.tabular import read_tabular

        return read_tabular(path, report, fmt, options, meter)
    raise IngestError(key="err_import_unknown_format", fmt=fmt, formats=", ".join(FORMATS))


def _stage_file(
    stage: Stage, fmt: str, path: Path, report: ReadReport, options: ImportOptions, meter: Meter
) -> None:
    """Read a file in its format into ``stage``."""
    if fmt == "smsbackup":  # staged a block at a time as columns
        from leaktrace.ingest.formats.smsbackup import stage_backup

        stage_backup(
            path,
            report,
            stage,
            recipient=options.recipient,
            sub_ids=options.sub_ids,
            encoding=options.encoding,
            meter=meter,
        )
        return
    for message in plausible(_reader(fmt, path, report, options, meter), report, path.name):
        stage.add(message)


def import_file(
    store: Store,
    path: Path,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    book: RecipientBook | None = None,
) -> ImportResult:
    """Import one file into ``store`` as one batch; nothing lands if it fails.

    ``book`` lets a caller importing many files load the canaries' contacts once.
    """
    options = options or ImportOptions()
    started = time.monotonic()
    started_at = datetime.now(UTC)
    fmt = options.format or detect_format(path)
    if fmt not in FORMATS:
        raise IngestError(key="err_import_unknown_format", fmt=fmt, formats=", ".join(FORMATS))
    size = path.stat().st_size
    if book is None:
        book = load_book(store)
    report = ReadReport()
    meter = Meter(size, progress)
    # The file's SHA-256 is worked out beside the reading (hashlib lets go of the GIL):
    # 0.35 s of a 477 MB backup's import otherwise spent before it.
    with (
        ThreadPoolExecutor(1) as hashing,
        tempfile.TemporaryDirectory(prefix="leaktrace-import-") as scratch_dir,
    ):
        digest = hashing.submit(file_sha256, path)
        scratch = Path(scratch_dir)
        tables: list[pa.Table] = []
        parallel = None
        if (fmt == "smsbackup" and options.recipient) or options.sub_ids:
            parallel = stage_backup_in_parallel(path, options, book, scratch, report, meter)
        elif fmt == "mbox":
            parallel = stage_mbox_in_parallel(path, options.recipient, book, scratch, report, meter)
        if parallel is not None:
            files, count = parallel
        else:
            stage = Stage(scratch, book)
            with gc_paused():
                _stage_file(stage, fmt, path, report, options, meter)
                stage.flush()
            tables, files, count = stage.tables, stage.files, stage.count
        if count == 0 and not report.skipped and not report.problems:
            raise IngestError(key="err_import_no_messages", file=path.name)
        sha = digest.result()
        result = _commit(
            store, tables, files, count, path, fmt, size, sha, options, report, started_at
        )
    result.seconds = round(time.monotonic() - started, 3)
    return result


def load_book(store: Store) -> RecipientBook:
    """The store's canary contacts, for :func:`import_file`."""
    with store.connect() as con:
        return RecipientBook.load(con)


def _commit(
    store: Store,
    tables: list[pa.Table],
    files: list[Path],
    count: int,
    path: Path,
    fmt: str,
    size: int,
    sha: str,
    options: ImportOptions,
    report: ReadReport,
    started_at: datetime,
) -> ImportResult:
    applied = {
        "recipient": options.recipient,
        "sub_ids": options.sub_ids or None,
        "encoding": options.encoding,
        "tz": str(options.tz) if options.tz else None,
        "columns": options.columns or None,
    }
    notes = report.all_notes()
    if report.stopped_at:
        notes.append(f"stopped early at {report.stopped_at}")
    batch = [
        fmt,
        path.name,
        size,
        sha,
        json.dumps({k: v for k, v in applied.items() if v}, ensure_ascii=False),
        started_at,
        started_at,
        sum(report.skipped.values()),
        len(report.problems),
        "; ".join(notes) or None,
    ]
    for limit in commit_memory(count, big_records(tables, files)):
        try:
            batch_id, total, inserted, quarantined, first_party = _commit_once(
                store, tables, files, batch, limit
            )
            break
        except (duckdb.OutOfMemoryException, duckdb.TransactionException) as exc:
            if limit is None or not out_of_memory(exc):
                raise
        except duckdb.FatalException:
            # The try before invalidated the open database, and another connection of
            # this process (a dashboard page) keeps it open: the file cannot be opened
            # afresh until that one closes. Nothing of this file was stored.
            raise IngestError(key="err_import_store_invalidated", file=path.name) from None
    return ImportResult(
        file=str(path),
        format=fmt,
        batch_id=batch_id,
        inserted=inserted,
        duplicate=total - inserted,
        skipped=sum(report.skipped.values()),
        rejected=len(report.problems),
        quarantined=quarantined,
        first_party=first_party,
        skipped_by_reason=dict(report.skipped),
        problems=report.problems,
        stopped_at=report.stopped_at,
        notes=notes,
        seconds=0.0,
    )


def _commit_once(
    store: Store, tables: list[pa.Table], files: list[Path], batch: list, limit: str | None
) -> tuple[int, int, int, int, int]:
    """One try at the commit's transaction: (batch, staged, inserted, quarantined, first-party).

    ``batch`` is the import batch's row, from its format to its notes.
    """
    # The limit holds through the COMMIT (its checkpoint spills within it) and is given
    # back after it or after the rollback: the transaction ends inside memory_limited.
    with (
        store.connect() as con,
        memory_limited(con, limit),
        texts_in_zstd(con),
        staged(con, tables, files) as incoming,
        transaction(con),
    ):
        batch_id = next_batch_id(con)
        con.execute(
            "INSERT INTO import_batches (id, format, file_name, file_size, file_sha256,"
            " options, started_at, finished_at, inserted, duplicate, skipped, rejected,"
            " quarantined, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, 0, ?)",
            [batch_id, *batch],
        )
        total, inserted, quarantined = commit_stage(con, incoming, batch_id)
        first_party = reflag_first_party(con, "batch_id = ?", [batch_id])
        extend_chain(con)
        con.execute(
            "UPDATE import_batches SET inserted = ?, duplicate = ?, quarantined = ?,"
            " finished_at = ? WHERE id = ?",
            [inserted, total - inserted, quarantined, datetime.now(UTC), batch_id],
        )
    return batch_id, total, inserted, quarantined, first_party
