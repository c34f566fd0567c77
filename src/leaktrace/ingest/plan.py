"""Many files in one import: folders expanded, each file's recipient found before any write.

An SMS backup never names the phone it was taken from, so a folder of them needs
one recipient per file: from a mapping file (``file,recipient`` CSV), else the
``--recipient`` given, else the file's name, which may hold a canary label
(``canary-001.xml``) or a phone number (``+8613800138000.xml``,
``13800138000_2026-11.xml``). A file whose format needs a recipient and has none,
or whose recipient is no canary's, is refused here, before anything is written.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from leaktrace.ingest.detect import detect_format
from leaktrace.ingest.records import IngestError
from leaktrace.roster.contacts import InvalidContact, normalize_phone
from leaktrace.roster.recipients import RecipientBook

# Formats whose files never say which phone received them.
NEEDS_RECIPIENT = frozenset({"smsbackup"})
_PHONE_IN_NAME = re.compile(r"(?<![\d])\+?\d[\d-]{6,18}\d(?![\d])")


@dataclass(frozen=True)
class PlannedFile:
    """One file to import: its format, its recipient and where that came from."""

    path: Path
    format: str
    recipient: str | None
    recipient_from: str  # "mapping", "option", "file name" or "" (the file names its own)


@dataclass(frozen=True)
class Refused:
    """A file left out before anything was written, and why."""

    path: Path
    reason: str


def expand(paths: list[Path]) -> list[Path]:
    """The files to import: folders give every file under them (hidden ones left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def read_mapping(path: Path) -> dict[str, str]:
    """A ``file,recipient`` CSV (header optional): file name or path → canary."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"cannot read the recipients file {path}: {exc}") from exc
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or (
            number == 1 and [c.lower() for c in cells[:2]] == ["file", "recipient"]
        ):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise IngestError(f"{path.name} line {number}: expected file,recipient")
        mapping[cells[0]] = cells[1]
    return mapping


def recipient_in_name(name: str, book: RecipientBook) -> str | None:
    """A canary label or a canary's phone number written in a file name; None if neither."""
    stem = name.lower()
    for label in sorted(book.labels, key=len, reverse=True):  # canary-0010 before canary-001
        if re.search(rf"(?<![0-9a-z]){re.escape(label)}(?![0-9a-z])", stem):
            return label
    for match in _PHONE_IN_NAME.finditer(name):
        for region in ("CN", "GB", "US"):
            try:
                phone = normalize_phone(match[0], region)
            except InvalidContact:
                continue
            if phone in book.phones:
                return phone
    return None


def plan_files(
    paths: list[Path],
    book: RecipientBook,
    recipient: str | None = None,
    mapping: dict[str, str] | None = None,
    fmt: str | None = None,
    by_sim: bool = False,
) -> tuple[list[PlannedFile], list[Refused]]:
    """Each file's format and recipient; the files that cannot be imported, with why.

    ``by_sim``: recipients come from the SIM (``--sub-id``), so no file needs one.
    """
    mapping = mapping or {}
    planned: list[PlannedFile] = []
    refused: list[Refused] = []
    files = expand(paths)
    for path in files:
        if not path.exists():
            refused.append(Refused(path, "no such file"))
            continue
        try:
            kind = fmt or detect_format(path)
        except IngestError as exc:
            refused.append(Refused(path, str(exc)))
            continue
        mapped = next((mapping[k] for k in (str(path), path.name) if k in mapping), None)
        if mapped is not None:
            if book.resolve("sms", mapped)[1] is None and book.resolve("email", mapped)[1] is None:
                refused.append(Refused(path, f"the recipients file names {mapped!r}, no canary"))
                continue
            planned.append(PlannedFile(path, kind, mapped, "mapping"))
        elif recipient is not None:
            planned.append(PlannedFile(path, kind, recipient, "option"))
        elif (named := recipient_in_name(path.name, book)) is not None:
            planned.append(PlannedFile(path, kind, named, "file name"))
        elif kind in NEEDS_RECIPIENT and not by_sim:
            refused.append(
                Refused(
                    path,
                    "no recipient: name the file after a canary (canary-001.xml) or its phone,"
                    " map it with --recipients FILE, or give --recipient",
                )
            )
        else:
            planned.append(PlannedFile(path, kind, None, ""))
    return planned, refused
