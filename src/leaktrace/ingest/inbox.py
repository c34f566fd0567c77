"""The receiver's durable inbox: JSON lines appended with fsync, drained into the store.

A message is on disk before the receiver answers 200, so neither a busy store
nor a crash can lose it. Appends and the drain's rename take the same file lock
(``flock``), so a line is either in the file being drained or in the next one.
Draining renames the inbox aside, imports it as one batch and deletes it only
after the commit; a crash in between leaves the file to be imported again,
which adds nothing because imports are idempotent. A line the import rejects,
or a whole file it cannot read, goes to the dead-letter file with the reason
(``dead-letter.jsonl``): nothing acknowledged is ever thrown away.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

from leaktrace.ingest.importer import ImportOptions, ImportResult, import_file
from leaktrace.ingest.records import IngestError
from leaktrace.store import Store

INBOX = "inbox.jsonl"
PENDING = "pending-*.jsonl"
DEAD_LETTER = "dead-letter.jsonl"
NONCES = "nonces.json"


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
    def _locked(self, name: str = ".lock") -> Iterator[None]:
        with (self.directory / name).open("a") as lock:
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
        """Import everything received so far into ``store``; return one result per file.

        One drain at a time (the receiver's and ``ingest --inbox`` may meet): a second
        one waits, then finds what the first left.
        """
        with self._locked(".drain-lock"):
            return self._drain(store)

    def _drain(self, store: Store) -> list[ImportResult]:
        with self._locked():
            if self.path.exists() and self.path.stat().st_size:
                os.replace(self.path, self.directory / f"pending-{time.time_ns()}.jsonl")
                _fsync_dir(self.directory)
        results = []
        for path in self.pending():
            try:
                result = import_file(store, path, ImportOptions(format="jsonl", tz=UTC))
            except IngestError as exc:  # the whole file: keep every line, with the reason
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                self._dead(path, {n: str(exc) for n in range(1, len(lines) + 1)})
                path.unlink()
                continue
            rejected = _rejected_lines(path.name, result.problems)
            if rejected:
                self._dead(path, rejected)
                result.notes.append(
                    f"{len(rejected)} rejected lines kept in {self.directory / DEAD_LETTER}"
                )
            results.append(result)
            path.unlink()
        return results

    def _dead(self, path: Path, reasons: dict[int, str]) -> None:
        """Append the lines of ``path`` numbered in ``reasons`` to the dead-letter file."""
        entries = []
        with path.open(encoding="utf-8", errors="surrogateescape") as fh:
            for number, line in enumerate(fh, start=1):
                if number in reasons:
                    text = line.rstrip("\n").encode("utf-8", "surrogateescape")
                    entries.append(
                        {
                            "reason": reasons[number],
                            "file": path.name,
                            "line": number,
                            "record": text.decode("utf-8", "replace"),
                        }
                    )
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        fd = os.open(self.directory / DEAD_LETTER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def dead_letters(self) -> list[dict[str, Any]]:
        """What the drain could not import, with the reasons, oldest first."""
        path = self.directory / DEAD_LETTER
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def first_use(self, key: str, window: float, now: float | None = None) -> bool:
        """Remember ``key`` for ``window`` seconds; False when it was seen in that time.

        The receiver refuses a replayed SmsForwarder post with it: the app signs only
        the timestamp, so a captured timestamp/sign pair must be good for one post.
        """
        now = time.time() if now is None else now
        path = self.directory / NONCES
        with self._locked():
            try:
                seen = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                seen = {}
            seen = {
                k: t for k, t in seen.items() if isinstance(t, int | float) and now - t < window
            }
            if key in seen:
                return False
            seen[key] = now
            scratch = path.with_suffix(".tmp")
            scratch.write_text(json.dumps(seen), encoding="utf-8")
            os.replace(scratch, path)
            return True


def _rejected_lines(name: str, problems: list[str]) -> dict[int, str]:
    """Line numbers of a drained file that its import rejected, with the reasons."""
    pattern = re.compile(rf"^{re.escape(name)}:(\d+): (.*)$", re.S)
    found = {}
    for problem in problems:
        if m := pattern.match(problem):
            found[int(m[1])] = m[2]
    return found


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
