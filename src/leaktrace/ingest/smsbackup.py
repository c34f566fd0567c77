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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from lxml import etree

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


class SmsBackupError(ValueError):
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


@dataclass
class BackupReport:
    """What reading a backup found besides received messages."""

    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stopped_at: str | None = None


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

    def __init__(self, raw: BinaryIO, encoding: str | None) -> None:
        head = raw.read(4)
        raw.seek(0)
        if encoding is None and head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16"
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
    path: Path, report: BackupReport, encoding: str | None = None
) -> Iterator[BackupMessage]:
    """Yield the received messages of a backup; count the rest in ``report``."""
    with path.open("rb") as raw:
        source = _CleanLines(raw, encoding)
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
    )
