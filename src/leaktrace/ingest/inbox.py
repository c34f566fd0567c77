"""The receiver's durable inbox: JSON lines appended with fsync, drained into the store.

A message is on disk before the receiver answers 200, so neither a busy store
nor a crash can lose it. Appends and the drain's rename take the same file lock
(``flock``), so a line is either in the file being drained or in the next one.
Draining renames the inbox aside, imports it as one batch and deletes it only
after the commit; a crash in between leaves the file to be imported again,
which adds nothing because imports are idempotent.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

from leaktrace.ingest.importer import ImportOptions, ImportResult, import_file
from leaktrace.store import Store

INBOX = "inbox.jsonl"
PENDING = "pending-*.jsonl"


def inbox_dir(store_path: Path) -> Path:
    """Where a store's inbox lives: next to the store file."""
    return store_path.with_name(store_path.name + ".inbox")


class Inbox:
    """An append-only, fsync'd JSON-lines inbox in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / INBOX

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.directory / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, records: list[dict[str, Any]]) -> None:
        """Write records durably: they are on disk when this returns."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with self._locked():
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)

    def pending(self) -> list[Path]:
        """Inbox files set aside for import, oldest first."""
        return sorted(self.directory.glob(PENDING))

    def waiting(self) -> int:
        """How many received lines are not yet in the store."""
        files = [*self.pending(), self.path]
        return sum(_count_lines(f) for f in files if f.exists())

    def drain(self, store: Store) -> list[ImportResult]:
        """Import everything received so far into ``store``; return one result per file."""
        with self._locked():
            if self.path.exists() and self.path.stat().st_size:
                os.replace(self.path, self.directory / f"pending-{time.time_ns()}.jsonl")
                _fsync_dir(self.directory)
        results = []
        for path in self.pending():
            results.append(import_file(store, path, ImportOptions(format="jsonl", tz=UTC)))
            path.unlink()
        return results


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
