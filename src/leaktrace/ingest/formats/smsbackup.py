"""Android *SMS Backup & Restore* XML, parsed streaming with emoji intact.

With its emoji option the app writes characters outside the BMP as two
surrogate character references (``&#55357;&#56846;``) that strict XML parsers
reject. The file is therefore read in 1 MiB blocks cut at line ends, decoded
(UTF-8 unless a UTF-16 BOM, the declaration or ``--encoding`` says otherwise),
surrogate pairs are joined into one reference, and the UTF-8 blocks feed lxml's
pull parser, which never holds more than the current element. A truncated file
yields every complete record and says where it stopped.

Phone apps write what the spammer sent, and XML 1.0 cannot hold all of it: a
control character (raw or as ``&#27;``), an HTML entity (``&nbsp;``) or a bare
``&`` in one body would stop a strict parser at that record. Such characters are
repaired before parsing (a control character or an undefined entity becomes
U+FFFD, an HTML entity its character, a bare ``&`` itself) and counted in a note;
a record that is still not XML is rejected with its line, and parsing resumes at
the next record, so one bad record never loses the ones after it.

Nearly every record is one ``<sms … />`` on its own line, in the layout the app
writes, with nothing to repair. Such a line is read with a regex and a split instead
of the parser, and staged with its block as columns (a record read and staged in
19.5 µs against 28.6 µs, on one core); the parser gets the rest of the block, the
taken lines left blank so its line numbers stay the file's. A line is taken only if
XML reads it exactly so (see ``_PLAIN_SMS``); anything else, and everything once a
comment, CDATA section, processing instruction or the end tag appears among the
records, goes to the parser. Tests read hostile files both ways and compare.
"""

from __future__ import annotations

import bisect
import codecs
import html.entities
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lxml import etree

from leaktrace.ingest.records import (
    IngestError,
    ReadReport,
    implausible_time,
    plausible_window,
    where,
)
from leaktrace.ingest.timestamps import epoch_number, from_epoch_ms

if TYPE_CHECKING:
    from leaktrace.ingest.importer import Meter
    from leaktrace.ingest.stage import Stage

_PAIR = re.compile(r"&#(?:(\d{5})|[xX]([0-9a-fA-F]{4}));&#(?:(\d{5})|[xX]([0-9a-fA-F]{4}));")
_LONE = re.compile(r"&#(?:(5[5-7]\d{3})|[xX]([dD][89a-fA-F][0-9a-fA-F]{2}));")
_DECLARED = re.compile(r"""encoding=(["'])[^"']+\1""")
# Where XML 1.0 may fail: every "&" (checked with the reference it starts) and every
# character it cannot hold. One character set, so plain text is skipped at C speed.
_TRIGGER = re.compile(r"[&\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_REF = re.compile(r"&(?:#([0-9]{1,12})|#[xX]([0-9a-fA-F]{1,10})|([A-Za-z][A-Za-z0-9]{0,31}));")
_XML_REFS = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}
_RECORD_LINE = re.compile(r"^[ \t]*<(?:sms|mms)[ \t/>]", re.M)
_RESUME_AT = re.compile(r"^[ \t]*<(?:sms|mms)[ \t/>]|</smses", re.M)
# One <sms> record alone on its line as the app writes it: attributes separated by one
# space, double-quoted values holding no character XML would change or refuse (markup,
# controls, tabs and line ends, which XML turns into spaces) and no reference but the
# five XML entities and numeric ones (checked to be XML characters when read).
_CHARS = r'[^"<&\x00-\x1f\ufffe\uffff]'
_REFERENCE = r"&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|amp|lt|gt|quot|apos);"
_VALUE = f"{_CHARS}*+(?:{_REFERENCE}{_CHARS}*+)*+"
_PLAIN_SMS = re.compile(
    r'^[ \t]*+<sms((?: [A-Za-z_][A-Za-z0-9_.-]*+="' + _VALUE + r'")++) ?/>[ \t\r]*+$', re.M
)
_NOT_RECORDS = re.compile(r"</smses|<[!?]")
_VALUE_REF = re.compile(r"&(?:#([0-9]+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
SMS_TYPES = {
    "1": "received",
    "2": "sent",
    "3": "draft",
    "4": "outbox",
    "5": "failed",
    "6": "queued",
}


class SmsBackupError(IngestError):
    """A file that cannot be read as an SMS Backup & Restore export."""


@dataclass(slots=True)
class BackupMessage:
    """One received message from a backup, with where it stood in the file."""

    sender: str
    received_at: datetime
    body: str
    sub_id: str | None
    kind: str  # "sms" | "mms"
    line: int
    raw: str


def _code(decimal: str | None, hexadecimal: str | None) -> int:
    return int(decimal) if decimal else int(hexadecimal, 16)


def join_surrogate_refs(text: str) -> str:
    """Replace pairs of surrogate references by one reference to the real character."""

    def pair(m: re.Match[str]) -> str:
        high, low = _code(m[1], m[2]), _code(m[3], m[4])
        if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
            return f"&#{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)};"
        return m[0]

    def lone(m: re.Match[str]) -> str:
        code = _code(m[1], m[2])
        return "&#65533;" if 0xD800 <= code <= 0xDFFF else m[0]

    return _LONE.sub(lone, _PAIR.sub(pair, text))


def _fit(code: int) -> bool:
    """Whether XML 1.0 allows the character ``code``."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _replacement(text: str, at: int) -> tuple[str | None, int]:
    """(what to write instead, where the unfit part ends) at ``at``; None keeps it."""
    if text[at] != "&":
        return "\ufffd", at + 1
    ref = _REF.match(text, at)
    if ref is None:
        return "&amp;", at + 1  # a bare "&", as in AT&T
    if ref[0] in _XML_REFS:
        return None, at
    decimal, hexadecimal, name = ref.groups()
    if name is not None:
        known = html.entities.html5.get(name + ";")
        if not known:
            return "&#65533;", ref.end()
        return "".join(f"&#{ord(ch)};" for ch in known), ref.end()
    return (None, at) if _fit(_code(decimal, hexadecimal)) else ("&#65533;", ref.end())


def repair_xml_text(text: str) -> tuple[str, int]:
    """Make ``text`` well-formed where a phone app wrote what XML cannot hold; count repairs."""
    text = join_surrogate_refs(text)
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    for m in _TRIGGER.finditer(text):
        at = m.start()
        if at < done:
            continue
        instead, end = _replacement(text, at)
        if instead is not None:
            pieces += (text[done:at], instead)
            done = end
    if not pieces:
        return text, 0
    pieces.append(text[done:])
    return "".join(pieces), (len(pieces) - 1) // 2


BLOCK = 1 << 20
_RECORD_START = re.compile(rb"\n[ \t]*<(?:sms|mms)[ \t>]")


@dataclass(frozen=True)
class Span:
    """A byte range of a backup that starts and ends at record boundaries."""

    start: int
    end: int
    first_line: int  # the file's line number at ``start``
    prefix: bytes  # the XML declaration and <smses> opening, for all spans but the first
    suffix: bytes  # the closing </smses>, for all spans but the last


class _Slice:
    """A span read as if it were a whole backup file."""

    def __init__(self, raw: BinaryIO, span: Span) -> None:
        self.raw, self.span = raw, span
        self.seek(0)

    def seek(self, offset: int) -> None:
        assert offset == 0
        self.raw.seek(self.span.start)
        self.head, self.tail = self.span.prefix, self.span.suffix

    def tell(self) -> int:
        return self.raw.tell() - self.span.start

    def read(self, size: int) -> bytes:
        out = self.head[:size]
        self.head = self.head[len(out) :]
        left = size - len(out)
        if left > 0:
            out += self.raw.read(min(left, self.span.end - self.raw.tell()))
            if len(out) < size:
                more = self.tail[: size - len(out)]
                self.tail = self.tail[len(more) :]
                out += more
        return out


def spans_of(path: Path, parts: int) -> Iterator[Span]:
    """A UTF-8 backup cut into ``parts`` spans at record starts (one span if it cannot be
    cut), each given as soon as its first line is known.

    The cuts are found first (a short read at each); the lines before a span are counted
    only after the span before it was given, so a reader can start on the first spans
    while the file's later lines are still being counted.
    """
    size = path.stat().st_size
    with path.open("rb") as raw:
        head = raw.read(1 << 16)
        opening = re.search(rb"<smses[^>]*>", head)
        if opening is None or head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            yield Span(0, size, 1, b"", b"")
            return
        prefix = head[: opening.end()] + b"\n"
        cuts = [0]
        for k in range(1, parts):
            cut = _record_start_after(raw, max(size * k // parts, cuts[-1] + 1))
            if cut is None:  # no record starts after it: the rest is one span
                break
            cuts.append(cut)
        cuts.append(size)
        count = len(cuts) - 1
        line = 1
        for k in range(count):
            yield Span(
                cuts[k],
                cuts[k + 1],
                line,
                prefix if k else b"",
                b"\n</smses>\n" if k < count - 1 else b"",
            )
            raw.seek(cuts[k])
            while k + 1 < count and raw.tell() < cuts[k + 1]:
                line += raw.read(min(BLOCK, cuts[k + 1] - raw.tell())).count(b"\n")


def _record_start_after(raw: BinaryIO, at: int) -> int | None:
    """Where the first record line at or after byte ``at`` starts; None if no record does.

    It reads on past lines of any length: an MMS picture is megabytes on one line.
    """
    while True:
        raw.seek(at)
        window = raw.read(BLOCK)
        found = _RECORD_START.search(window)
        if found is not None:
            return at + found.start() + 1
        if len(window) < BLOCK:
            return None
        at += BLOCK - 64  # a start cut by the window's end is whole in the next one


def _encoding(raw: BinaryIO, encoding: str | None) -> str:
    """The encoding to read with: the one given, a UTF-16 BOM, the declared one, else UTF-8."""
    head = raw.read(200)
    raw.seek(0)
    if encoding:
        return encoding
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    declared = _DECLARED.search(head.decode("ascii", "replace"))
    name = declared[0].split("=", 1)[1].strip("\"'") if declared else "utf-8"
    try:
        return "utf-8-sig" if codecs.lookup(name).name == "utf-8" else name
    except LookupError:
        raise SmsBackupError(key="err_smsbackup_unknown_encoding", name=name) from None


def clean_blocks(
    raw: BinaryIO, encoding: str | None, on_read: Callable[[int], None] | None = None
) -> Iterator[tuple[int, str]]:
    """The file as decoded text blocks cut at line ends, each with its first line number."""
    name = _encoding(raw, encoding)
    decoder = codecs.getincrementaldecoder(name)()
    carry, lines, first = "", 0, True
    while True:
        block = raw.read(BLOCK)
        try:
            text = carry + decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            line = lines + carry.count("\n") + block[: exc.start].count(b"\n") + 1
            raise SmsBackupError(
                key="err_smsbackup_not_encoding", line=line, name=name, reason=exc.reason
            ) from None
        if first:
            text = _DECLARED.sub('encoding="UTF-8"', text, count=1)
            first = False
        cut = text.rfind("\n") + 1 if block else len(text)
        text, carry = text[:cut], text[cut:]
        if text:
            yield lines + 1, text
        lines += text.count("\n")
        if on_read is not None:
            on_read(raw.tell())
        if not block:
            return


def _ms(value: str | None) -> int:
    """A record's ``date``: milliseconds since 1970 that a calendar holds, else a ValueError."""
    if value is None or not value.lstrip("-").isdigit():
        raise ValueError(f"date {value!r} is not milliseconds since 1970")
    ms = epoch_number(value)
    from_epoch_ms(ms)
    return ms


def _mms(el: etree._Element) -> tuple[str, str]:
    parts = [
        p.get("text") or ""
        for p in el.iterfind("parts/part")
        if (p.get("ct") or "").lower() == "text/plain"
    ]
    senders = [a.get("address") for a in el.iterfind("addrs/addr") if a.get("type") == "137"]
    return (senders[0] if senders else el.get("address") or ""), "\n".join(parts)


# A received record as the reader yields it, in batches: (file line, "sms" | "mms",
# sender, milliseconds since 1970, body, SIM sub id or None, the record as written).
Row = tuple[int, str, str, int, str, "str | None", str]


def backup_rows(
    path: Path,
    report: ReadReport,
    encoding: str | None = None,
    on_read: Callable[[int], None] | None = None,
    span: Span | None = None,
) -> Iterator[list[Row]]:
    """The received records of a backup (or one span of it) in file order, a block at a time.

    Records that are not received messages are counted in ``report``.
    """
    shift = 0  # file line = slice line + shift
    if span is not None:
        shift = span.first_line - 1 - span.prefix.count(b"\n")
    with path.open("rb") as file:
        raw = _Slice(file, span) if span is not None else file
        reader = _Resuming(path, report, shift)
        for first, text in clean_blocks(raw, encoding, on_read):
            rows = reader.feed(first, text)
            if rows:
                yield rows
        rows = reader.close()
        if rows:
            yield rows


def read_backup(
    path: Path,
    report: ReadReport,
    encoding: str | None = None,
    on_read: Callable[[int], None] | None = None,
    span: Span | None = None,
) -> Iterator[BackupMessage]:
    """Yield the received messages of a backup (or one span of it); count the rest in ``report``."""
    for rows in backup_rows(path, report, encoding, on_read, span):
        for line, kind, sender, ms, body, sub_id, raw in rows:
            yield BackupMessage(sender, from_epoch_ms(ms), body, sub_id, kind, line, raw)


class _Resuming:
    """A pull parser over a backup's blocks that rejects a broken record and resumes after it."""

    def __init__(self, path: Path, report: ReadReport, shift: int) -> None:
        self.path, self.report, self.shift = path, report, shift
        self.source = _Lines()
        self.opened = False  # the <smses> element started
        self.records = self.repairs = 0
        self.ended = False
        self.skipping_to: int | None = None  # after an error: resume at a record after this line
        self.plain = True  # plain record lines are still read without the parser
        # The attribute names of the last plain line, and where the ones read stand.
        self.layout: tuple[list[str], itemgetter | None] = ([], None)
        self.taken_lines: list[int] = []  # slice lines of the plain lines taken from the block
        self._new_parser(offset=0)

    def _new_parser(self, offset: int) -> None:
        self.parser = etree.XMLPullParser(events=("end",), tag=("sms", "mms", "smses"))
        self.offset = offset  # slice line = parser line + offset
        # Slice line of the last record finished: a fresh parser starts on line offset + 2.
        self.last_line = offset + 1
        self.open_starts: list[int] = []  # record starts fed and not yet finished

    def feed(self, first: int, text: str) -> list[Row]:
        """Read one block of whole lines that starts at slice line ``first``."""
        plain: list[Row] = []
        self.taken_lines = []
        if self.plain:
            text, plain = self._plain_lines(first, text)
        parsed = list(self._parse(first, text))
        if plain and parsed:  # a record the parser finished only now may come first
            return sorted(plain + parsed, key=itemgetter(0))
        return plain or parsed

    def _plain_lines(self, first: int, text: str) -> tuple[str, list[Row]]:
        """Take the block's plain record lines: (the block with them blank, their rows)."""
        start = 0
        if not self.opened:
            at = text.find("<smses")
            head = text if at < 0 else text[:at]
            tag = text[at : text.find(">", at) + 1] if at >= 0 else ""
            if (
                "<!DOCTYPE" in head  # a DTD may change what attributes say
                or head.rfind("<!--") > head.rfind("-->")  # the root named in a comment
                or "xmlns" in tag  # records in a namespace are no <sms> to the parser
                or tag.endswith("/>")  # an empty root: records after it are outside
            ):
                self.plain = False
            if at < 0 or not self.plain:
                return text, []
            start = text.find("\n", at) + 1
        end = len(text)
        found = _NOT_RECORDS.search(text, start)  # the end, a comment, CDATA, an instruction
        if found is not None:
            self.plain = False  # from there on, all goes to the parser
            end = text.rfind("\n", 0, found.start()) + 1
        if end <= start:
            return text, []
        pieces: list[str] = []
        rows: list[Row] = []
        taken = self.taken_lines  # emptied by feed for each block
        done = at = 0
        line = first
        for m in _PLAIN_SMS.finditer(text, start, end):
            row = self._plain_row(m)
            if row is None:
                continue  # not plain after all: the parser reads it
            self.records += 1
            line += text.count("\n", at, m.start())
            at = m.start()
            taken.append(line)
            if row is not _SKIPPED:
                rows.append((line + self.shift, *row, m[0].strip()))  # type: ignore[arg-type]
            pieces.append(text[done:at])
            done = m.end()
        if not pieces:
            return text, rows
        pieces.append(text[done:])
        return "".join(pieces), rows

    def _plain_row(self, m: re.Match[str]) -> tuple | None:
        """A plain line's (kind, sender, ms, body, sub id); ``_SKIPPED`` if not received."""
        line = m[1]
        parts = line.split('"')
        # A backup writes every record with the same attributes in the same order: the
        # places of the ones read are worked out once per layout (a dict of each line's
        # attributes took 40 % of this function's time).
        names = parts[::2]
        if names != self.layout[0]:
            self.layout = (names, _places(names))
        values = self.layout[1]
        if values is None or " xmlns" in line:
            return None  # an attribute given twice is not XML; a namespace: the parser's
        if "&#" in line and not _fit_references(line):
            return None  # the parser's repair replaces it and counts it
        parts.append(None)  # the value of an attribute the line does not have
        kind, date, address, body, sub_id = values(parts)
        kind = _xml_value(kind)
        if kind != "1":
            self.report.skipped[SMS_TYPES.get(kind or "", "other")] += 1
            return _SKIPPED
        if date is None or len(date) > 14 or not (date.isascii() and date.isdigit()):
            return None  # no plain date (a sign, a reference, too long): the parser checks it
        return (
            "sms",
            _xml_value(address) or "",
            int(date),
            _xml_value(body) or "",
            _sim(_xml_value(sub_id)),
        )

    def _parse(self, first: int, text: str) -> Iterator[Row]:
        """Parse one block of whole lines that starts at slice line ``first``."""
        self.source.add(first, text)
        opening = not self.opened and "<smses" in text
        self.opened = self.opened or opening
        self.ended = "</smses>" in text  # the last block of a whole file ends with it
        counted = False
        while True:
            if self.skipping_to is not None:
                text, first = self._resume_point(first, text)
                if not text:
                    return
            fixed, repairs = repair_xml_text(text)
            if not counted:  # after a broken record the rest is fed again: counted once
                if opening:  # the prolog holds no record, only "SMS Backup & Restore"
                    root = text.find(">", text.find("<smses")) + 1
                    repairs = repair_xml_text(text[root:])[1]
                self.repairs += repairs
                counted = True
            try:
                self.parser.feed(fixed.encode("utf-8"))
            except etree.XMLSyntaxError as exc:
                yield from self._events()
                self._broken(exc, first, text)  # then go on after the broken record
                continue
            yield from self._events()
            stalled = self._stalled(first, text)
            if stalled is None:
                return
            # libxml2 waits for the end of a tag with an unbalanced quote instead of
            # failing: a record followed by another one that never ended is broken.
            self.report.reject(
                f"{self.path.name}:{stalled + self.shift}",
                "not XML: the record never ends (an unescaped quote or <?)",
            )
            self.skipping_to = stalled

    @staticmethod
    def _starts(first: int, text: str) -> list[int]:
        """The slice lines of the record starts in ``text`` (which starts at line ``first``)."""
        starts, line, at = [], first, 0
        for m in _RECORD_LINE.finditer(text):
            line += text.count("\n", at, m.start())
            at = m.start()
            starts.append(line)
        return starts

    def _stalled(self, first: int, text: str) -> int | None:
        """The first record start the parser should have finished and did not."""
        # Records do not nest: one followed by another start was fed whole. The last two
        # starts of the block tell whether anything is unfinished; only then is the whole
        # block searched for the first unfinished one.
        tail = [first + text.count("\n", 0, at) for at in _last_record_starts(text, 2)]
        unfinished = [s for s in (*self.open_starts, *tail) if s > self.last_line]
        if len(unfinished) > 1:
            starts = self._starts(first, text)
            unfinished = [s for s in (*self.open_starts, *starts) if s > self.last_line]
        self.open_starts = sorted(set(unfinished))
        if len(self.open_starts) > 1:
            return self.open_starts[0]
        # A plain line taken after it is a record start that followed it, too.
        if self.open_starts and self.taken_lines and self.taken_lines[-1] > self.open_starts[0]:
            return self.open_starts[0]
        return None

    def _resume_point(self, first: int, text: str) -> tuple[str, int]:
        """The text from the first record start (or the end tag) after the broken line; its line.

        A plain line taken from the block counts as the record start it was, so the
        parser resumes where it would have without them. Resuming at the end tag rather
        than a record past it keeps what follows the document's end outside it.
        """
        assert self.skipping_to is not None
        skip = max(0, self.skipping_to - first + 1)  # lines of this block to pass over
        start = 0
        for _ in range(skip):
            start = text.find("\n", start) + 1
            if start == 0:
                return "", first
        found = _RESUME_AT.search(text, start)
        at = found.start() if found else -1
        taken = bisect.bisect_right(self.taken_lines, self.skipping_to)
        if taken < len(self.taken_lines):
            plain = start
            for _ in range(self.taken_lines[taken] - first - skip):
                plain = text.find("\n", plain) + 1
            at = plain if at < 0 else min(at, plain)
        if at < 0:
            return "", first
        line = first + text.count("\n", 0, at)
        self.skipping_to = None
        # A fresh parser sees "<smses>" on its line 1 and the resumed record on line 2.
        self._new_parser(offset=line - 2)
        self.parser.feed(b"<smses>\n")
        return text[at:], line

    def _broken(self, exc: etree.XMLSyntaxError, fed_from: int, text: str) -> None:
        """Reject the record where parsing failed and skip to the next one.

        libxml2 names the line where it noticed the error, often the next record's; the
        broken record is the first one that started after the last one finished.
        """
        noticed = (exc.lineno or 1) + self.offset
        starts = self._starts(fed_from, text)
        unfinished = [s for s in (*self.open_starts, *starts) if self.last_line < s <= noticed]
        line = min(unfinished) if unfinished else max(noticed, fed_from)
        if not self.opened or (self.records == 0 and line <= 2):
            raise SmsBackupError(key="err_smsbackup_not_xml", file=self.path.name, error=exc.msg)
        self.report.reject(f"{self.path.name}:{line + self.shift}", f"not XML: {_reason(exc)}")
        self.skipping_to = line

    def _events(self) -> Iterator[Row]:
        for _, el in self.parser.read_events():
            if el.tag == "smses":
                continue
            self.records += 1
            line = (el.sourceline or 0) + self.offset
            self.last_line = max(self.last_line, line)
            row = _take(el, self.path, self.report, line, self.shift, self.source)
            if row is not None:
                yield row

    def close(self) -> list[Row]:
        """The end of the file: what is left, and where a truncated file stopped."""
        return list(self._close())

    def _close(self) -> Iterator[Row]:
        if self.skipping_to is None:
            try:
                self.parser.close()
            except etree.XMLSyntaxError as exc:
                yield from self._events()
                if not self.opened or self.records == 0:
                    raise SmsBackupError(
                        key="err_smsbackup_not_xml", file=self.path.name, error=exc.msg
                    ) from None
                line = (exc.lineno or 0) + self.offset + self.shift
                if self.ended and self.open_starts:  # whole file, its last record broken
                    where = f"{self.path.name}:{self.open_starts[0] + self.shift}"
                    self.report.reject(where, f"not XML: {_reason(exc)}")
                else:
                    self.report.stopped_at = (
                        f"{self.path.name}:{line}: the file ends early ({_reason(exc)})"
                    )
            else:
                yield from self._events()
        if not self.opened:
            raise SmsBackupError(key="err_smsbackup_no_smses", file=self.path.name)
        self.report.repaired += self.repairs


def _last_record_starts(text: str, count: int) -> list[int]:
    """Offsets of the last ``count`` record tags (<sms, <mms) that open a line."""
    found: list[int] = []
    end = len(text)
    while len(found) < count:
        at = max(text.rfind("<sms", 0, end), text.rfind("<mms", 0, end))
        if at < 0:
            break
        end = at
        line_start = text.rfind("\n", 0, at) + 1
        if not text.startswith("<smses", at) and not text[line_start:at].strip(" \t"):
            found.append(at)
    return found


def _reason(exc: etree.XMLSyntaxError) -> str:
    """libxml2's reason without its lines (they count those of a span or a resumed parser):
    its position, and the line a tag opened on ("… in tag parts line 750")."""
    reason = re.sub(r",? line \d+, column \d+$", "", exc.msg or "syntax error")
    return re.sub(r" line \d+$", "", reason)


class _Lines:
    """The text lines of the last two blocks fed, to keep each record exactly as written."""

    def __init__(self) -> None:
        self.first, self.lines = 1, []

    def add(self, first: int, text: str) -> None:
        keep = self.lines[-200:]  # a multi-line <mms> may start in the previous block
        self.first, self.lines = first - len(keep), keep + text.split("\n")[:-1]

    def record(self, el: etree._Element, line: int) -> str:
        """The record's own line when it sits on one line, else its serialisation."""
        index = line - self.first
        if 0 <= index < len(self.lines):
            line = self.lines[index].strip()
            # One record alone on its line: exactly one "<" (attribute values escape it).
            if line.startswith("<" + el.tag) and line.endswith("/>") and line.count("<") == 1:
                return line
        return etree.tostring(el, encoding="unicode", with_tail=False)


def _take(
    el: etree._Element, path: Path, report: ReadReport, line: int, shift: int, source: _Lines
) -> Row | None:
    """Read one record (at slice ``line``), count it if skipped, free the tree behind it."""
    row = None
    try:
        row = _record(el, line, shift, source)
    except ValueError as exc:
        report.reject(f"{path.name}:{line + shift}", str(exc))
    else:
        if row is None and el.tag == "sms":
            report.skipped[SMS_TYPES.get(el.get("type") or "", "other")] += 1
        elif row is None:
            report.skipped["mms not received"] += 1
    el.clear(keep_tail=False)
    while el.getprevious() is not None:
        del el.getparent()[0]
    return row


def _record(el: etree._Element, line: int, shift: int, source: _Lines) -> Row | None:
    if el.tag == "sms":
        if el.get("type") != "1":
            return None
        sender, body = el.get("address") or "", el.get("body") or ""
    else:
        if el.get("msg_box") != "1":
            return None
        sender, body = _mms(el)
    sub_id = el.get("sub_id")
    ms = _ms(el.get("date"))
    return (line + shift, el.tag, sender, ms, body, _sim(sub_id), source.record(el, line))


def _sim(sub_id: str | None) -> str | None:
    """The SIM a record's ``sub_id`` names; None where the app wrote none."""
    return None if sub_id in (None, "", "-1", "null") else sub_id


_SKIPPED = ("skipped",)  # a plain line's record that is not a received message
_READ = (" type=", " date=", " address=", " body=", " sub_id=")  # the attributes a row takes


def _places(names: list[str]) -> itemgetter | None:
    """The values of ``_READ`` from a plain line split at its quotes (``names`` being its
    even parts) and given one more part, None, for those it lacks; None when an
    attribute is given twice."""
    if len(set(names)) < len(names):
        return None
    at = {name: 2 * k + 1 for k, name in enumerate(names)}
    return itemgetter(*(at.get(name, -1) for name in _READ))


def _xml_value(value: str | None) -> str | None:
    """A plain attribute value as XML reads it: its references replaced."""
    if value is None or "&" not in value:
        return value
    return _VALUE_REF.sub(_referenced, value)


def _referenced(m: re.Match[str]) -> str:
    return _NAMED[m[3]] if m[3] else chr(_code(m[1], m[2]))


def _fit_references(text: str) -> bool:
    """Whether every numeric reference in ``text`` is a character XML allows."""
    return all(
        _fit(_code(decimal, hexadecimal))
        for decimal, hexadecimal, named in _VALUE_REF.findall(text)
        if not named
    )


def stage_backup(
    path: Path,
    report: ReadReport,
    stage: Stage,
    *,
    recipient: str | None,
    sub_ids: dict[str, str],
    encoding: str | None = None,
    meter: Meter | None = None,
    span: Span | None = None,
) -> None:
    """Stage the received messages of a backup (or a span of it) for the canary the options name.

    Records are staged a block at a time as columns; one whose time cannot be real is
    rejected with its line, as :func:`leaktrace.ingest.records.plausible` does.
    """
    if recipient is None and not sub_ids:
        raise IngestError(key="err_smsbackup_no_recipient", file=path.name)
    on_read = meter.update if meter else None
    now = datetime.now(UTC)
    earliest, latest = plausible_window(now)
    for rows in backup_rows(path, report, encoding, on_read, span):
        kept = [row for row in rows if earliest <= row[3] * 1000 <= latest]
        if len(kept) < len(rows):
            for row in rows:
                if not earliest <= row[3] * 1000 <= latest:
                    why = implausible_time(from_epoch_ms(row[3]), now)
                    report.reject(where(path.name, f"line {row[0]}"), str(why))
            if not kept:
                continue
        lines, _, senders, millis, bodies, subs, raws = zip(*kept, strict=True)
        if sub_ids:
            tokens = [
                sub_ids.get(sub or "", recipient) or f"unknown SIM {sub or '?'} in {path.name}"
                for sub in subs
            ]
        else:
            tokens = [recipient] * len(kept)  # type: ignore[list-item]
        stage.add_batch(
            "sms", tokens, senders, millis, bodies, raws, [f"line {line}" for line in lines]
        )
