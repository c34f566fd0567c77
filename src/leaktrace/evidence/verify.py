"""Re-check the evidence: a store against its hash chain, a pack against its manifest.

Each problem names the record (message id) or file it is about, so a user can say
exactly which message was altered, which one is missing and which one was added.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from leaktrace.errors import LeaktraceError
from leaktrace.evidence.csvsafe import restore
from leaktrace.evidence.layout import CHAIN_CSV, MANIFEST, MESSAGE_FILES
from leaktrace.hashing import file_sha256
from leaktrace.store import Store
from leaktrace.store.chain import (
    GENESIS,
    RECORD_FIELDS,
    head,
    link,
    record_digest,
    record_digests,
)
from leaktrace.store.roster_chain import roster_problems


class PackError(LeaktraceError, ValueError):
    """The folder is not an evidence pack (no readable manifest)."""


@dataclass(frozen=True)
class Problem:
    """One thing that does not match: what, where, which record, in words."""

    kind: str  # altered | missing | added | chain | file altered | file missing | file added
    where: str  # "store" or a file of the pack
    record: int | None
    detail: str

    def __str__(self) -> str:
        record = "" if self.record is None else f" message {self.record}:"
        return f"{self.kind}: {self.where}:{record} {self.detail}"


@dataclass
class Verification:
    """The outcome of a check: how much was checked, the chain head, the problems found."""

    checked: int = 0
    head_id: int = 0
    head_sha256: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was altered, missing or added."""
        return not self.problems

    def as_dict(self) -> dict:
        """A plain object for ``--json``."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "chain_head": {"message_id": self.head_id, "chain_sha256": self.head_sha256},
            "problems": [
                {"kind": p.kind, "where": p.where, "message_id": p.record, "detail": p.detail}
                for p in self.problems
            ],
        }


def _compare(
    expected: dict[int, str], found: Iterable[tuple[int, str]], where: str
) -> Iterator[Problem]:
    """Altered, added (also: a second row for one id) and missing records of one file."""
    seen: Counter[int] = Counter()
    for message_id, digest in found:
        seen[message_id] += 1
        if message_id not in expected:
            yield Problem("added", where, message_id, "not in the hash chain")
        elif seen[message_id] > 1:
            yield Problem("added", where, message_id, "a second row with this id")
        elif digest != expected[message_id]:
            yield Problem("altered", where, message_id, "fields differ from the chained digest")
    for message_id in sorted(set(expected) - set(seen)):
        yield Problem("missing", where, message_id, "chained but not found")


def verify_store(store: Store) -> Verification:
    """Recompute every message's and roster row's digest and both chains; name what differs."""
    result = Verification()
    with store.connect() as con:
        result.head_id, result.head_sha256 = head(con)
        chain = con.execute(
            "SELECT message_id, record_sha256, chain_sha256 FROM message_chain ORDER BY message_id"
        ).fetchall()
        found = list(zip(*record_digests(con), strict=True))
        raw_altered = con.execute(
            "SELECT id FROM messages WHERE sha256(raw) <> raw_sha256 ORDER BY id"
        ).fetchall()
        roster = roster_problems(con)
    result.checked = len(found)
    expected = {message_id: record for message_id, record, _ in chain}
    result.problems += _compare(expected, found, "store")
    result.problems += [
        Problem("altered", "store", r[0], "raw record differs from its SHA-256")
        for r in raw_altered
    ]
    previous = [GENESIS] + [value for _, _, value in chain]
    result.problems += _broken_links(
        (message_id, before, record, value)
        for (message_id, record, value), before in zip(chain, previous, strict=False)
    )
    result.problems.sort(key=lambda p: (p.record or 0, p.kind))
    # The roster facts a verdict rests on: a plant's date and marker, a source's senders.
    result.problems += [
        Problem(kind, f"store: {what}", row_id, detail) for kind, what, row_id, detail in roster
    ]
    return result


def _follows(previous: str, record: str, value: str) -> bool:
    try:
        return link(previous, record) == value
    except ValueError:  # not hex: edited by hand
        return False


def _broken_links(rows: Iterable[tuple[int, str, str, str]], where: str = "store") -> list[Problem]:
    """Chain rows whose value does not follow from the previous value and their record."""
    return [
        Problem("chain", where, message_id, "chain value does not follow from the one before")
        for message_id, previous, record, value in rows
        if not _follows(previous, record, value)
    ]


def _chain_rows(path: Path) -> list[tuple[int, str, str, str]]:
    """(message id, previous chain value, record digest, chain value) of a pack's chain.csv."""
    chain = pd.read_csv(path, dtype=str, keep_default_na=False)
    return list(
        zip(
            chain["message_id"].astype(int),
            chain["previous_chain_sha256"],
            chain["record_sha256"],
            chain["chain_sha256"],
            strict=True,
        )
    )


_READ = (*RECORD_FIELDS, "raw")  # the columns a check reads; the others are analysis
_BATCH = 50_000


def _message_rows(path: Path) -> Iterator[dict]:
    """The rows of an exported message table, streamed: Parquet as typed, CSV restored."""
    if path.suffix == ".parquet":
        file = pq.ParquetFile(path)
        columns = [c for c in _READ if c in file.schema_arrow.names]
        batches = (b.to_pydict() for b in file.iter_batches(_BATCH, columns=columns))
    else:
        frames = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            encoding_errors="replace",
            usecols=lambda column: column in _READ,
            chunksize=_BATCH,
        )
        batches = ({c: [restore(v) for v in f[c]] for c in f.columns} for f in frames)
    for batch in batches:
        missing = set(RECORD_FIELDS) - set(batch)
        if missing:
            raise ValueError(f"no column {', '.join(sorted(missing))}")
        names = list(batch)
        for values in zip(*batch.values(), strict=True):
            yield dict(zip(names, values, strict=True))


def _file_digests(rows: Iterable[dict], where: str) -> tuple[list[tuple[int, str]], list[Problem]]:
    found, problems = [], []
    for number, row in enumerate(rows, start=1):
        try:
            message_id = int(row["id"])
            found.append((message_id, record_digest(row)))
        except (TypeError, ValueError) as exc:
            problems.append(Problem("altered", where, None, f"row {number} unreadable ({exc})"))
            continue
        raw = row.get("raw")
        if raw is not None and hashlib.sha256(
            str(raw).encode("utf-8", "surrogatepass")
        ).hexdigest() != str(row["raw_sha256"]):
            problems.append(
                Problem("altered", where, message_id, "raw record differs from its SHA-256")
            )
    return found, problems


def verify_pack(pack: Path, head: str | None = None) -> Verification:
    """Check a pack's files against its manifest and its message tables against its chain.

    ``head`` is the chain head printed when the pack was made (``ID:SHA256``, or the
    SHA-256 alone), kept apart from the pack: without it, a pack whose last messages
    were dropped and whose manifest was rewritten is consistent again.
    """
    manifest_path = pack / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        result = Verification(
            head_id=int(manifest["chain"]["head_message_id"]),
            head_sha256=str(manifest["chain"]["head_chain_sha256"]),
        )
        listed = {str(entry["path"]): entry for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PackError(
            key="err_pack_manifest_unreadable", manifest=manifest_path, error=repr(exc)
        ) from exc
    if head is not None:
        result.problems += head_problems(head, result.head_id, result.head_sha256)
    declared = manifest.get("messages")
    for name, entry in listed.items():
        path = pack / name
        if not path.is_file():
            result.problems.append(Problem("file missing", name, None, "listed in the manifest"))
        elif file_sha256(path) != entry["sha256"]:
            result.problems.append(
                Problem("file altered", name, None, "SHA-256 differs from the manifest")
            )
    for path in sorted(p for p in pack.rglob("*") if p.is_file()):
        name = path.relative_to(pack).as_posix()
        if name != MANIFEST and name not in listed:
            result.problems.append(Problem("file added", name, None, "not in the manifest"))
    try:
        rows = _chain_rows(pack / CHAIN_CSV)
    except FileNotFoundError:
        if CHAIN_CSV not in listed:
            result.problems.append(Problem("file missing", CHAIN_CSV, None, "the pack's chain"))
        return result
    except (ValueError, KeyError) as exc:
        result.problems.append(Problem("altered", CHAIN_CSV, None, f"unreadable ({exc})"))
        return result
    result.problems += _broken_links(rows, CHAIN_CSV)
    last = (int(rows[-1][0]), rows[-1][3]) if rows else (0, GENESIS)
    if rows and last != (result.head_id, result.head_sha256):
        result.problems.append(
            Problem("chain", CHAIN_CSV, last[0], "its last link is not the manifest's head")
        )
    counts = [(CHAIN_CSV, len(rows))]
    expected = {int(message_id): record for message_id, _, record, _ in rows}
    for name in MESSAGE_FILES:
        path = pack / name
        if not path.is_file():
            continue  # reported above when the manifest lists it
        try:
            found, problems = _file_digests(_message_rows(path), name)
        except Exception as exc:  # a truncated or mangled file: say so, check the rest
            result.problems.append(Problem("altered", name, None, f"unreadable ({exc})"))
            continue
        result.checked = max(result.checked, len(found))
        result.problems += problems
        result.problems += _compare(expected, found, name)
        counts.append((name, len(found)))
    if isinstance(declared, int) and not isinstance(declared, bool):
        result.problems += [
            Problem("count", name, None, f"{n:,} messages, the manifest says {declared:,}")
            for name, n in counts
            if n != declared
        ]
    return result


def head_problems(given: str, head_id: int, head_sha256: str) -> list[Problem]:
    """A chain head found against the one kept apart (``ID:SHA256`` or ``SHA256``)."""
    message, _, digest = given.strip().rpartition(":")
    if digest.lower() == head_sha256 and (not message or message == str(head_id)):
        return []
    return [
        Problem(
            "chain", "head", head_id,
            f"the chain head {head_id}:{head_sha256} is not the one kept ({given.strip()})",
        )
    ]  # fmt: skip
