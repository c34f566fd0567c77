"""The DuckDB store: one file, numbered migrations, short-lived connections."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from platformdirs import user_data_dir

from leaktrace.errors import LeaktraceError
from leaktrace.store.chain import extend_chain
from leaktrace.store.connection import (
    StoreBusy,
    lock_timeout_from_env,
    open_with_retry,
    transaction,
)
from leaktrace.store.migrations import current_version, migrate
from leaktrace.store.roster_chain import extend_roster_chain

__all__ = ["Store", "StoreBusy", "TransactionAborted", "default_db_path"]

CHAIN_MIGRATION = 9  # the hash chain: messages already imported are chained once
ROSTER_CHAIN_MIGRATION = 12  # the roster chain: sources, canaries, plants chained once


def default_db_path() -> Path:
    """The store path: ``LEAKTRACE_DB`` if set, else the user's data directory."""
    env = os.environ.get("LEAKTRACE_DB")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("leaktrace", appauthor=False)) / "leaktrace.duckdb"


class TransactionAborted(LeaktraceError):
    """A nested step failed and its error was caught: the whole transaction is rolled back."""


@dataclass
class _Open:
    """The transaction a thread has open: its connection and the work deferred to commit."""

    con: duckdb.DuckDBPyConnection
    failed: bool = False
    deferred: dict[str, tuple[Callable[[duckdb.DuckDBPyConnection, list], Any], list]] = field(
        default_factory=dict
    )


# A held block's connection before its first step opened it, and after release().
_NOT_YET = object()
_RELEASED = object()


class Store:
    """A leaktrace store on disk; every operation opens and closes its own connection.

    ``transaction()`` nests: an inner block joins the transaction its thread already
    has open (DuckDB has no savepoints), ``connect()`` inside it returns the same
    connection, so every library call in the block reads its own writes and commits
    or rolls back with the outermost block. A :class:`LeaktraceError` from an inner
    block is a refusal (library steps check before they write), so an outer block may
    catch it and go on, as roster imports do per row; any other error that leaves an
    inner block rolls the whole transaction back, even if an outer level catches it.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        lock_timeout: float | None = None,
        migrate_to: int | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path else default_db_path()
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            self._after_migrations(con, migrate(con, migrate_to))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the path and settings only (worker processes open their own connections)."""
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled store without an open transaction."""
        self.__dict__.update(state)
        self._local = threading.local()

    @property
    def _open(self) -> _Open | None:
        return getattr(self._local, "open", None)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the store for one short operation and close it afterwards.

        Inside ``transaction()`` this is the transaction's connection, left open.
        """
        if (active := self._open) is not None:
            yield active.con
            return
        held = getattr(self._local, "held", None)
        if held is _NOT_YET:  # the first step of a held block opens the store
            held = self._local.held = open_with_retry(self.path, lock_timeout=self.lock_timeout)
        if isinstance(held, duckdb.DuckDBPyConnection):
            yield held
            return
        con = open_with_retry(self.path, lock_timeout=self.lock_timeout)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep one connection open for the block; every step inside uses it.

        A run of short steps (an incremental analysis, a dashboard page's queries) opens
        the file once instead of once per step; other processes wait for the whole
        block, not between steps. The store is opened by the block's first step, so a
        block that finds everything cached opens nothing.
        """
        before = getattr(self._local, "held", None)
        if self._open is not None or before not in (None, _RELEASED):
            yield  # already held: this block joins the outer one
            return
        self._local.held = _NOT_YET
        try:
            yield
        finally:
            con = self._local.held
            self._local.held = before
            if isinstance(con, duckdb.DuckDBPyConnection):
                con.close()

    def release(self) -> None:
        """Give the store back to other processes for the rest of the held block.

        For a step that may take long or wait on the network (an import, an analysis
        that sends alerts) inside a block held only to save openings: from here on each
        step opens its own connection, and a ``held()`` inside holds for itself.
        Does nothing outside a held block or inside a transaction.
        """
        con = getattr(self._local, "held", None)
        if con is None or self._open is not None:
            return
        self._local.held = _RELEASED
        if isinstance(con, duckdb.DuckDBPyConnection):
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run the block in one transaction; a nested block joins the outer one."""
        if (active := self._open) is not None:
            try:
                yield active.con
            except LeaktraceError:
                raise  # a refusal: library steps check before they write
            except BaseException:
                active.failed = True
                raise
            return
        with self.connect() as con:
            active = _Open(con)
            self._local.open = active
            try:
                with transaction(con):
                    yield con
                    self._run_deferred(active)
                    if active.failed:
                        raise TransactionAborted(key="err_transaction_aborted")
            finally:
                self._local.open = None

    def defer(
        self, key: str, work: Callable[[duckdb.DuckDBPyConnection, list], Any], item: Any = None
    ) -> None:
        """Run ``work(con, items)`` once before the open transaction commits.

        Steps that each ask for the same follow-up (re-flag first-party messages,
        match the quarantine again) register it under one ``key``; their ``item``s
        are collected, and the work runs once for the whole transaction.
        """
        active = self._open
        if active is None:
            raise RuntimeError("Store.defer needs an open transaction")
        active.deferred.setdefault(key, (work, []))[1].append(item)

    @staticmethod
    def _run_deferred(active: _Open) -> None:
        while active.deferred:
            key = next(iter(active.deferred))
            work, items = active.deferred.pop(key)
            work(active.con, items)

    def schema_version(self) -> int:
        """The store's current schema version."""
        with self.connect() as con:
            return current_version(con)

    def table_counts(self) -> dict[str, int]:
        """How many rows the main tables hold (for summaries)."""
        with self.connect() as con:
            return {
                table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in (
                    "sources",
                    "canaries",
                    "controls",
                    "plants",
                    "import_batches",
                    "messages",
                    "quarantine",
                )
            }

    def upgrade(self) -> list[int]:
        """Apply any migrations not yet applied; return their numbers."""
        with self.connect() as con:
            applied = migrate(con)
            self._after_migrations(con, applied)
            return applied

    @staticmethod
    def _after_migrations(con: duckdb.DuckDBPyConnection, applied: list[int]) -> None:
        """Steps a migration cannot do in SQL: chaining messages imported before 009."""
        if CHAIN_MIGRATION in applied:
            with transaction(con):
                extend_chain(con)
        if ROSTER_CHAIN_MIGRATION in applied:
            with transaction(con):
                extend_roster_chain(con)  # every row there is: the store's roster so far
