"""Opening the DuckDB store safely when several processes share it.

Choice: **short-lived connections with retry and backoff.**

DuckDB lets one process hold a file read-write, and while it does no other
process can open it at all, not even read-only. The CLI, the dashboard and the
receiver are separate processes that all need the store, so none of them keeps
a connection open: every operation opens the file, does its work in one
transaction and closes it again, which releases the file lock. When the file
is held by another process, opening fails with "Could not set lock"; we retry
with exponential backoff and jitter until ``lock_timeout`` seconds have passed
and only then raise :class:`StoreBusy` with a message a person can act on.

Retrying happens only around *opening*: once a connection is open the process
holds the lock, so a write either commits or is rolled back as a whole and is
never half-applied or silently dropped. Operations must therefore stay short
(bulk inserts go through DataFrames or the appender, never ``executemany``).

Inside one process DuckDB shares one database instance between connections to
the same path; in DuckDB 2.0 a single connection used from two threads raises
"connection is busy", so each caller asks for its own connection (or
``cursor()``), never shares one.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from leaktrace.errors import LeaktraceError

DEFAULT_LOCK_TIMEOUT = 60.0


class StoreBusy(LeaktraceError, RuntimeError):
    """The store stayed locked by another process for longer than the timeout."""


def is_lock_error(exc: BaseException) -> bool:
    """Tell whether a DuckDB error means another process holds the file lock."""
    text = str(exc)
    return isinstance(exc, duckdb.IOException) and (
        "Could not set lock" in text or "Conflicting lock" in text
    )


def lock_timeout_from_env() -> float:
    """Seconds to wait for a busy store, from ``LEAKTRACE_LOCK_TIMEOUT`` or the default."""
    value = os.environ.get("LEAKTRACE_LOCK_TIMEOUT")
    return float(value) if value else DEFAULT_LOCK_TIMEOUT


def open_with_retry(
    path: Path, *, lock_timeout: float, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open ``path``, retrying with backoff while another process holds its lock."""
    deadline = time.monotonic() + lock_timeout
    delay = 0.01
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreBusy(
                    key="err_store_busy", path=str(path), seconds=f"{lock_timeout:.0f}"
                ) from exc
            time.sleep(min(remaining, delay * (0.5 + random.random())))
            delay = min(delay * 2, 0.5)
            continue
        # DuckDB draws its own progress bar on long queries; ours (rich) is the one to show.
        try:
            con.execute("SET enable_progress_bar = false")
        except BaseException:  # an invalidated database: this connection must not keep it
            con.close()
            raise
        return con


@contextmanager
def memory_limited(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """DuckDB's memory limit set to ``limit`` (``None``: left as it is) for the block.

    Big work then spills to disk rather than grows.

    The limit is the database's, not the connection's, so it is reset afterwards (to
    DuckDB's default; leaktrace sets it only through here): what runs next on the same
    open database (an analysis after an import) has its usual memory.
    """
    if limit is None:  # DuckDB's own
        yield
        return
    with _set_for_block(con, "memory_limit", limit):
        yield


@contextmanager
def _set_for_block(con: duckdb.DuckDBPyConnection, name: str, value: str) -> Iterator[None]:
    """A database setting for the block, reset to DuckDB's own after it.

    After a failed block the reset is quiet, the block's error being the one told: a
    COMMIT that ran out of memory leaves the open database invalidated (every statement
    then fails with a FatalException) while the file keeps what it held before; the next
    connection, once this one is closed, opens it afresh.
    """
    con.execute(f"SET {name} = '{value}'")
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            con.execute(f"RESET {name}")
        raise
    con.execute(f"RESET {name}")


@contextmanager
def texts_in_zstd(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Texts written by the block's commit compressed with zstd, not DuckDB's own choice.

    For each text column DuckDB otherwise tries its dictionary and FSST methods on one
    core at COMMIT: on a 78 MB mbox (104k mails) that took 1.5–1.9 s of the COMMIT,
    against 1.0–1.1 s in zstd, and the store came out 79 MB against 45 MB. Reading them
    back took the same time (0.21–0.30 s for every body and raw text). The setting is
    the database's: other connections of this process that write meanwhile (the
    receiver's drainer) use it too, and it is reset to DuckDB's own afterwards (leaktrace
    sets it nowhere else). A commit too small to write the file goes to the WAL and is
    compressed at a later checkpoint, DuckDB's own way.
    """
    with _set_for_block(con, "force_compression", "zstd"):
        yield


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
