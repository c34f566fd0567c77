"""Android *SMS Backup & Restore* XML, parsed streaming with emoji intact.

The app writes one ``<sms>`` or ``<mms>`` per line and, with its emoji option,
writes characters outside the BMP as two surrogate character references
(``&#55357;&#56846;``) that strict XML parsers reject. The file is therefore
read line by line, decoded (UTF-8 unless told otherwise; a UTF-16 BOM is
honoured), surrogate pairs are joined into one reference, and the re-encoded
UTF-8 lines feed lxml's ``iterparse``, which never holds more than the current
element. A truncated file yields every complete record and says where it stopped.
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


@dataclass(frozen=True)
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


class _CleanLines:
    """A file-like object giving iterparse UTF-8 bytes with surrogate pairs joined."""

    def __init__(
        self, raw: BinaryIO, encoding: str | None, on_read: Callable[[int], None] | None
    ) -> None:
        self.raw, self.on_read = raw, on_read
        head = raw.read(4)
        raw.seek(0)
        if encoding is None and head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16"
        elif encoding is None:
            declared = _DECLARED.search(raw.read(200).decode("ascii", "replace"))
            raw.seek(0)
            name = declared[0].split("=", 1)[1].strip("\"'") if declared else "utf-8"
            if codecs.lookup(name).name != "utf-8":
                encoding = name
        self.encoding = encoding or "utf-8-sig"
        self.lines = codecs.getreader(self.encoding)(raw)
        self.first = True
        self.pending = bytearray()
        self.line = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.pending) < size:
            try:
                text = self.lines.readline()
            except UnicodeDecodeError as exc:
                raise SmsBackupError(
                    f"line {self.line + 1} is not {self.encoding} text ({exc.reason}); "
                    "give the right --encoding (e.g. gb18030, utf-16)"
                ) from None
            if not text:
                break
            self.line += 1
            if self.first:
                text = _DECLARED.sub('encoding="UTF-8"', text, count=1)
                self.first = False
            self.pending += join_surrogate_refs(text).encode("utf-8")
        if self.on_read is not None:
            self.on_read(self.raw.tell())
        size = len(self.pending) if size < 0 else size
        out = bytes(self.pending[:size])
        del self.pending[:size]
        return out


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
) -> Iterator[BackupMessage]:
    """Yield the received messages of a backup; count the rest in ``report``."""
    with path.open("rb") as raw:
        source = _CleanLines(raw, encoding, on_read)
        parser = etree.iterparse(source, events=("end",), tag=("sms", "mms", "smses"))
        records, root_seen = 0, False
        try:
            for _, el in parser:
                if el.tag == "smses":
                    root_seen = True
                    continue
                records += 1
                try:
                    message = _record(el)
                except ValueError as exc:
                    report.problems.append(f"{path.name}:{el.sourceline}: {exc}")
                else:
                    if message is not None:
                        yield message
                    elif el.tag == "sms":
                        report.skipped[SMS_TYPES.get(el.get("type") or "", "other")] += 1
                    else:
                        report.skipped["mms not received"] += 1
                el.clear(keep_tail=False)
                while el.getprevious() is not None:
                    del el.getparent()[0]
        except etree.XMLSyntaxError as exc:
            if records == 0:
                raise SmsBackupError(
                    f"{path.name} is not an SMS Backup & Restore XML file ({exc.msg})"
                ) from None
            report.stopped_at = f"{path.name}:{exc.lineno}: the file ends early ({exc.msg})"
            return
        if not root_seen:
            raise SmsBackupError(
                f"{path.name} is not an SMS Backup & Restore XML file (no <smses> element)"
            )


def _record(el: etree._Element) -> BackupMessage | None:
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
        line=el.sourceline or 0,
        raw=etree.tostring(el, encoding="unicode", with_tail=False),
    )


def parse_sub_ids(text: str) -> dict[str, str]:
    """``1=canary-001,2=+8613800138000`` as a mapping from SIM sub_id to recipient."""
    mapping = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        sub_id, eq, recipient = item.partition("=")
        if not eq or not sub_id.strip() or not recipient.strip():
            raise IngestError(f"--sub-id wants SUB=RECIPIENT pairs like 1=canary-001, not {item!r}")
        mapping[sub_id.strip()] = recipient.strip()
    return mapping


def read_smsbackup(
    path: Path,
    report: ReadReport,
    *,
    recipient: str | None,
    sub_ids: dict[str, str],
    encoding: str | None = None,
    meter: Meter | None = None,
) -> Iterator[Incoming]:
    """Received messages of a backup addressed to the canary the options name."""
    if recipient is None and not sub_ids:
        raise IngestError(
            f"{path.name}: an SMS Backup & Restore file does not say which phone received it; "
            "name the canary with --recipient LABEL_OR_PHONE (or --sub-id 1=LABEL,2=LABEL)"
        )
    for m in read_backup(path, report, encoding, meter.update if meter else None):
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
