"""Many files in one import: folders expanded, each file's recipient found before any write.

An SMS backup never names the phone it was taken from, so a folder of them needs
one recipient per file: from a mapping file (``file,recipient`` CSV), else the
``--recipient`` given, else the file's name, which may hold a canary label
(``canary-001.xml``) or a canary's phone number (``+8613800138000.xml``,
``13800138000_2026-11.xml``, ``138-0013-8000.xml``). A backup whose recipient is
missing, no canary's, ambiguous (two canaries in its name) or at odds with the
name is refused here, before anything is written. Other formats name their
recipients themselves; names are not guessed for them. Files inside a folder
that are no message file (a README, a Maildir's ``dovecot-uidlist``) are left
out with a note; a file named on the command line that is none is refused.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import phonenumbers

from leaktrace.ingest.detect import detect_format
from leaktrace.ingest.records import IngestError
from leaktrace.roster.recipients import RecipientBook

# Formats whose files never say which phone received them.
NEEDS_RECIPIENT = frozenset({"smsbackup"})
_SEPARATOR = "[-. ]?"  # between the digits of a phone number written in a name


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
    error: bool = True  # False: a stray file inside a folder, only noted


def expand(paths: list[Path], leave_out: tuple[Path, ...] = ()) -> list[tuple[Path, bool]]:
    """(file, found inside a folder): folders give every file under them.

    Hidden files, a Maildir's ``tmp/`` (mail still being delivered) and ``leave_out``
    (the mapping file) are left out.
    """
    skip = {p.resolve() for p in leave_out}
    found: list[tuple[Path, bool]] = []
    for path in paths:
        if not path.is_dir():
            found.append((path, False))
            continue
        for p in sorted(path.rglob("*")):
            parts = p.relative_to(path).parts
            if not p.is_file() or any(part.startswith(".") for part in parts):
                continue
            if "tmp" in parts[:-1] and (p.parent.parent / "cur").is_dir():
                continue
            if p.resolve() not in skip:
                found.append((p, True))
    first: dict[Path, bool] = {}
    for path, inside in found:  # a file given twice is imported once
        first.setdefault(path, inside)
    return list(first.items())


def read_mapping(path: Path) -> dict[str, str]:
    """A ``file,recipient`` CSV (header optional): file name or path → canary."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(key="err_recipients_file_unreadable", path=path, error=str(exc)) from exc
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in row]
        header = [c.lower() for c in cells[:2]] == ["file", "recipient"]
        if not any(cells) or (number == 1 and header):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise IngestError(key="err_recipients_file_bad_line", file=path.name, line=number)
        key = str(Path(cells[0]))  # ./a.xml and a.xml alike
        if mapping.get(key, cells[1]) != cells[1]:
            raise IngestError(
                key="err_recipients_file_mapped_twice", file=path.name, line=number, name=cells[0]
            )
        mapping[key] = cells[1]
    return mapping


class NameReader:
    """Finds the canaries a file name points to: labels and phone numbers in it."""

    def __init__(self, book: RecipientBook) -> None:
        self.book = book
        self.forms: dict[str, str] = {}  # digits as written → the canary's phone
        for phone in book.phones:
            self.forms[phone.lstrip("+")] = phone
            try:
                self.forms[str(phonenumbers.parse(phone).national_number)] = phone
            except phonenumbers.NumberParseException:
                continue

    # Built on first use: with a big roster they take a second to compile, which an
    # import that reads no file name (a CSV, an mbox) should not pay.
    @cached_property
    def labels(self) -> re.Pattern[str] | None:
        """Any canary label standing alone: canary-001 is not in canary-0010 or canary-001-b."""
        labels = sorted(self.book.labels, key=len, reverse=True)
        if not labels:
            return None
        return re.compile(
            "(?<![0-9a-z])(" + "|".join(map(re.escape, labels)) + ")(?![0-9a-z]|-[0-9a-z])"
        )

    @cached_property
    def phones(self) -> re.Pattern[str] | None:
        """Any canary phone number, in any of its forms, separators allowed between digits."""
        alternatives = sorted(self.forms, key=len, reverse=True)
        if not alternatives:
            return None
        return re.compile(
            r"(?<!\d)\+?(" + "|".join(_SEPARATOR.join(d) for d in alternatives) + r")(?!\d)"
        )

    def canaries(self, name: str) -> list[str]:
        """The labels and canary phones written in a file name, in the order found."""
        stem = Path(name).stem
        found: dict[str, None] = {}
        if self.labels is not None:
            found.update((m[1], None) for m in self.labels.finditer(stem.lower()))
        if self.phones is not None:
            found.update(
                (self.forms[re.sub(r"\D", "", m[1])], None) for m in self.phones.finditer(stem)
            )
        return list(found)

    def canary(self, token: str) -> int | None:
        """The canary a label, phone or e-mail given by the user is; None if nobody's."""
        for channel in ("sms", "email"):
            cid = self.book.resolve(channel, token)[1]
            if cid is not None:
                return cid
        return None

    def recipient(self, name: str) -> tuple[str | None, set[int | None]]:
        """(the first recipient in a file name or None, the canaries the name points to)."""
        found = self.canaries(name)
        return (found[0] if found else None), {self.canary(k) for k in found}


def recipient_in_name(name: str, book: RecipientBook) -> str | None:
    """The one canary label or phone number written in a file name; None if none or two."""
    first, named = NameReader(book).recipient(name)
    return first if len(named) == 1 else None


def plan_files(
    paths: list[Path],
    book: RecipientBook,
    recipient: str | None = None,
    mapping: dict[str, str] | None = None,
    fmt: str | None = None,
    by_sim: bool = False,
    leave_out: tuple[Path, ...] = (),
) -> tuple[list[PlannedFile], list[Refused]]:
    """Each file's format and recipient; the files that cannot be imported, with why.

    ``by_sim``: recipients come from the SIM (``--sub-id``), so no file needs one, and
    only one backup may be given (one phone's SIMs).
    """
    mapping = mapping or {}
    names = NameReader(book)
    planned: list[PlannedFile] = []
    refused: list[Refused] = []
    for path, in_folder in expand(paths, leave_out):
        try:
            kind = fmt or detect_format(path)
        except (IngestError, OSError) as exc:
            reason = str(exc) if isinstance(exc, IngestError) else f"cannot read it: {exc}"
            refused.append(Refused(path, reason, error=not in_folder))
            continue
        if kind not in NEEDS_RECIPIENT:
            planned.append(PlannedFile(path, kind, recipient, "option" if recipient else ""))
            continue
        mapped = next((mapping[k] for k in (str(path), path.name) if k in mapping), None)
        first, named = names.recipient(path.name) if not by_sim else (None, set())
        if mapped is not None:
            if names.canary(mapped) is None:
                refused.append(Refused(path, f"the recipients file names {mapped!r}, no canary"))
            else:
                planned.append(PlannedFile(path, kind, mapped, "mapping"))
        elif by_sim:
            planned.append(PlannedFile(path, kind, recipient, "option" if recipient else ""))
        elif len(named) > 1:
            refused.append(
                Refused(path, f"its name points to {len(named)} canaries: map it with --recipients")
            )
        elif recipient is not None:
            if named and named != {names.canary(recipient)}:
                refused.append(
                    Refused(
                        path,
                        f"its name says {first}, --recipient says {recipient}:"
                        " map it with --recipients",
                    )
                )
            else:
                planned.append(PlannedFile(path, kind, recipient, "option"))
        elif first is not None:
            planned.append(PlannedFile(path, kind, first, "file name"))
        else:
            refused.append(
                Refused(
                    path,
                    "no recipient: name the file after a canary (canary-001.xml) or its phone,"
                    " map it with --recipients FILE, or give --recipient",
                )
            )
    backups = [p for p in planned if p.format in NEEDS_RECIPIENT]
    if by_sim and len(backups) > 1:  # --sub-id maps one phone's SIMs
        planned = [p for p in planned if p.format not in NEEDS_RECIPIENT]
        refused += [
            Refused(p.path, "--sub-id maps the SIMs of one phone: give its backups one at a time")
            for p in backups
        ]
    return planned, refused
