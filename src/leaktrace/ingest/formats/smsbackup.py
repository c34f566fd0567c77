"""Android *SMS Backup & Restore* XML, parsed streaming with emoji intact.

With its emoji option the app writes characters outside the BMP as two
surrogate character references (``&#55357;&#56846;``) that strict XML parsers
reject. The file is therefore read in 1 MiB blocks cut at line ends, decoded
(UTF-8 unless a UTF-16 BOM, the declaration or ``--encoding`` says otherwise),
surrogate pairs are joined into one reference, and the UTF-8 blocks feed lxml's
pull parser, which never holds more than the current element. A truncated file
yields every complete record and says where it stopped.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lxml import etree

from leaktrace.ingest.records import Incoming, IngestError, ReadReport

if TYPE_CHECKING:
    from leaktrace.ingest.importer import Meter

_PAIR = re.compile(r"&#(?:(\d{5})|[xX]([0-9a-fA-F]{4}));&#(?:(\d{5})|[xX]([0-9a-fA-F]{4}));")
_LONE = re.compile(r"&#(?:(5[5-7]\d{3})|[xX]([dD][89a-fA-F][0-9a-fA-F]{2}));")
_DECLARED = re.compile(r"""encoding=(["'])[^"']+\1""")
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
                out += self.tail[: size - len(out)]
                self.tail = self.tail[size - len(out) :]
        return out


def plan_spans(path: Path, parts: int) -> list[Span]:
    """Cut a UTF-8 backup into ``parts`` spans at record starts (one span if it cannot be cut)."""
    size = path.stat().st_size
    with path.open("rb") as raw:
        head = raw.read(1 << 16)
        opening = re.search(rb"<smses[^>]*>", head)
        if opening is None or head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return [Span(0, size, 1, b"", b"")]
        prefix = head[: opening.end()] + b"\n"
        cuts = [0]
        for k in range(1, parts):
            raw.seek(max(size * k // parts, cuts[-1] + 1))
            window = raw.read(1 << 20)
            found = _RECORD_START.search(window)
            if found is None:
                break
            cuts.append(raw.tell() - len(window) + found.start() + 1)
        cuts.append(size)
        lines = [1]
        raw.seek(0)
        for end in cuts[1:-1]:
            newlines = 0
            while raw.tell() < end:
                newlines += raw.read(min(BLOCK, end - raw.tell())).count(b"\n")
            lines.append(lines[-1] + newlines)
    count = len(cuts) - 1
    return [
        Span(
            cuts[k],
            cuts[k + 1],
            lines[k],
            prefix if k else b"",
            b"\n</smses>\n" if k < count - 1 else b"",
        )
        for k in range(count)
    ]


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
        raise SmsBackupError(f"the file declares an unknown encoding {name!r}") from None


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
                f"line {line} is not {name} text ({exc.reason}); "
                "give the right --encoding (e.g. gb18030, utf-16)"
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


def _ms(value: str | None) -> datetime:
    if value is None or not value.lstrip("-").isdigit():
        raise ValueError(f"date {value!r} is not milliseconds since 1970")
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _mms(el: etree._Element) -> tuple[str, str]:
    parts = [
        p.get("text") or ""
        for p in el.iterfind("parts/part")
        if (p.get("ct") or "").lower() == "text/plain"
    ]
    senders = [a.get("address") for a in el.iterfind("addrs/addr") if a.get("type") == "137"]
    return (senders[0] if senders else el.get("address") or ""), "\n".join(parts)


def read_backup(
    path: Path,
    report: ReadReport,
    encoding: str | None = None,
    on_read: Callable[[int], None] | None = None,
    span: Span | None = None,
) -> Iterator[BackupMessage]:
    """Yield the received messages of a backup (or one span of it); count the rest in ``report``."""
    shift = 0
    if span is not None:
        shift = span.first_line - 1 - span.prefix.count(b"\n")
    with path.open("rb") as file:
        raw = _Slice(file, span) if span is not None else file
        parser = etree.XMLPullParser(events=("end",), tag=("sms", "mms", "smses"))
        records, root_seen, error = 0, False, None
        blocks = clean_blocks(raw, encoding, on_read)
        source = _Lines()
        while error is None:
            block = next(blocks, None)
            try:
                if block is None:
                    parser.close()
                else:
                    source.add(*block)
                    parser.feed(join_surrogate_refs(block[1]).encode("utf-8"))
            except etree.XMLSyntaxError as exc:
                error = exc  # the records parsed before the error still count
            for _, el in parser.read_events():
                if el.tag == "smses":
                    root_seen = True
                    continue
                records += 1
                message = _take(el, path, report, shift, source)
                if message is not None:
                    yield message
            if block is None:
                break
        if error is not None:
            if records == 0:
                raise SmsBackupError(
                    f"{path.name} is not an SMS Backup & Restore XML file ({error.msg})"
                )
            line = (error.lineno or 0) + shift
            report.stopped_at = f"{path.name}:{line}: the file ends early ({error.msg})"
            return
        if not root_seen and span is None:
            raise SmsBackupError(
                f"{path.name} is not an SMS Backup & Restore XML file (no <smses> element)"
            )


class _Lines:
    """The text lines of the last two blocks fed, to keep each record exactly as written."""

    def __init__(self) -> None:
        self.first, self.lines = 1, []

    def add(self, first: int, text: str) -> None:
        keep = self.lines[-200:]  # a multi-line <mms> may start in the previous block
        self.first, self.lines = first - len(keep), keep + text.split("\n")[:-1]

    def record(self, el: etree._Element) -> str:
        """The record's own line when it sits on one line, else its serialisation."""
        index = (el.sourceline or 0) - self.first
        if 0 <= index < len(self.lines):
            line = self.lines[index].strip()
            # One record alone on its line: exactly one "<" (attribute values escape it).
            if line.startswith("<" + el.tag) and line.endswith("/>") and line.count("<") == 1:
                return line
        return etree.tostring(el, encoding="unicode", with_tail=False)


def _take(
    el: etree._Element, path: Path, report: ReadReport, shift: int, source: _Lines
) -> BackupMessage | None:
    """Read one record, count it if skipped, and free the parsed tree behind it."""
    message = None
    try:
        message = _record(el, shift, source)
    except ValueError as exc:
        report.reject(f"{path.name}:{(el.sourceline or 0) + shift}", str(exc))
    else:
        if message is None and el.tag == "sms":
            report.skipped[SMS_TYPES.get(el.get("type") or "", "other")] += 1
        elif message is None:
            report.skipped["mms not received"] += 1
    el.clear(keep_tail=False)
    while el.getprevious() is not None:
        del el.getparent()[0]
    return message


def _record(el: etree._Element, shift: int, source: _Lines) -> BackupMessage | None:
    if el.tag == "sms":
        if el.get("type") != "1":
            return None
        sender, body = el.get("address") or "", el.get("body") or ""
    else:
        if el.get("msg_box") != "1":
            return None
        sender, body = _mms(el)
    sub_id = el.get("sub_id")
    return BackupMessage(
        sender=sender,
        received_at=_ms(el.get("date")),
        body=body,
        sub_id=None if sub_id in (None, "", "-1", "null") else sub_id,
        kind=el.tag,
        line=(el.sourceline or 0) + shift,
        raw=source.record(el),
    )


def read_smsbackup(
    path: Path,
    report: ReadReport,
    *,
    recipient: str | None,
    sub_ids: dict[str, str],
    encoding: str | None = None,
    meter: Meter | None = None,
    span: Span | None = None,
) -> Iterator[Incoming]:
    """Received messages of a backup addressed to the canary the options name."""
    if recipient is None and not sub_ids:
        raise IngestError(
            f"{path.name}: an SMS Backup & Restore file does not say which phone received it; "
            "name the canary with --recipient LABEL_OR_PHONE (or --sub-id 1=LABEL,2=LABEL)"
        )
    on_read = meter.update if meter else None
    for m in read_backup(path, report, encoding, on_read, span):
        to = sub_ids.get(m.sub_id or "", recipient) if sub_ids else recipient
        yield Incoming(
            channel="sms",
            recipient=to or f"unknown SIM {m.sub_id or '?'} in {path.name}",
            sender=m.sender,
            received_at=m.received_at,
            body=m.body,
            raw=m.raw,
            position=f"line {m.line}",
        )
