"""The DuckDB store: one file, numbered migrations, short-lived connections."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from platformdirs import user_data_dir

from leaktrace.store.chain import extend_chain
from leaktrace.store.connection import (
    StoreBusy,
    lock_timeout_from_env,
    open_with_retry,
    transaction,
)
from leaktrace.store.migrations import current_version, migrate

__all__ = ["Store", "StoreBusy", "default_db_path"]

CHAIN_MIGRATION = 9  # the hash chain: messages already imported are chained once


def default_db_path() -> Path:
    """The store path: ``LEAKTRACE_DB`` if set, else the user's data directory."""
    env = os.environ.get("LEAKTRACE_DB")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("leaktrace", appauthor=False)) / "leaktrace.duckdb"


class Store:
    """A leaktrace store on disk; every operation opens and closes its own connection."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        lock_timeout: float | None = None,
        migrate_to: int | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path else default_db_path()
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            self._after_migrations(con, migrate(con, migrate_to))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the store for one short operation and close it afterwards."""
        con = open_with_retry(self.path, lock_timeout=self.lock_timeout)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the store and run the block in one transaction."""
        with self.connect() as con, transaction(con):
            yield con

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
