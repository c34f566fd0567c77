"""Writing a simulated study in the real import formats, streaming to disk."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TextIO

CHINA = timezone(timedelta(hours=8))
_FLUSH_LINES = 20_000


def epoch_ms(when: datetime) -> int:
    """Milliseconds since 1970, as Android stores message dates."""
    return int(when.timestamp() * 1000)


_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogate_refs(match: re.Match[str]) -> str:
    code = ord(match[0]) - 0x10000
    return f"&#{0xD800 + (code >> 10)};&#{0xDC00 + (code & 0x3FF)};"


def xml_attr(text: str, emoji_refs: bool) -> str:
    """Escape an attribute value the way SMS Backup & Restore writes it.

    With the app's emoji option, characters outside the BMP are written as two
    surrogate character references (``&#55357;&#56846;``), which strict XML
    parsers reject — exactly as real backups do.
    """
    text = text.translate(_ESCAPES)
    return _ASTRAL.sub(_surrogate_refs, text) if emoji_refs else text


def _readable(when: datetime) -> str:
    local = when.astimezone(CHINA)
    return f"{local:%b} {local.day}, {local:%Y %I:%M:%S %p}"


class SmsBackupWriter:
    """One SMS Backup & Restore XML file per phone, buffered with bounded memory."""

    def __init__(self, directory: Path, created: datetime) -> None:
        self.directory = directory
        self.created = created
        self.parts: dict[str, Path] = {}
        self.buffers: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.emoji_refs: dict[str, bool] = {}
        self.buffered = 0
        directory.mkdir(parents=True, exist_ok=True)

    def add_phone(self, label: str, emoji_refs: bool) -> None:
        """Register a phone whose backup file will be written (even if it stays empty)."""
        self.parts[label] = self.directory / f".{label}.part"
        self.parts[label].write_text("", encoding="utf-8")
        self.buffers[label] = []
        self.counts[label] = 0
        self.emoji_refs[label] = emoji_refs

    def sms(self, label: str, sender: str, when: datetime, body: str, kind: int = 1) -> None:
        """Append one ``<sms>`` (``kind`` 1 received, 2 sent)."""
        ms = epoch_ms(when)
        body_attr = xml_attr(body, self.emoji_refs[label])
        self._line(
            label,
            f'  <sms protocol="0" address="{xml_attr(sender, False)}" date="{ms}" '
            f'type="{kind}" subject="null" body="{body_attr}" toa="null" sc_toa="null" '
            f'service_center="{"null" if kind == 2 else "+447700900999"}" read="1" '
            f'status="-1" locked="0" date_sent="{ms - 2000 if kind == 1 else 0}" sub_id="1" '
            f'readable_date="{_readable(when)}" contact_name="(Unknown)" />',
        )

    def mms(self, label: str, sender: str, when: datetime, body: str) -> None:
        """Append one received ``<mms>`` holding a text part."""
        text = xml_attr(body, self.emoji_refs[label])
        self._line(
            label,
            f'  <mms date="{epoch_ms(when)}" ct_t="application/vnd.wap.multipart.related" '
            f'msg_box="1" address="{sender}" sub="null" read="1" m_type="132" sub_id="1" '
            f'text_only="1" readable_date="{_readable(when)}" contact_name="(Unknown)">\n'
            "    <parts>\n"
            '      <part seq="0" ct="text/plain" name="null" chset="106" cd="null" fn="null" '
            f'cid="&lt;text_0&gt;" cl="text_0.txt" ctt_s="null" ctt_t="null" text="{text}" />\n'
            "    </parts>\n"
            "    <addrs>\n"
            f'      <addr address="{sender}" type="137" charset="106" />\n'
            '      <addr address="insert-address-token" type="151" charset="106" />\n'
            "    </addrs>\n"
            "  </mms>",
        )

    def _line(self, label: str, line: str) -> None:
        self.buffers[label].append(line)
        self.counts[label] += 1
        self.buffered += 1
        if self.buffered >= _FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Append buffered lines to the per-phone part files."""
        for label, lines in self.buffers.items():
            if lines:
                with self.parts[label].open("a", encoding="utf-8") as fh:
                    fh.write("\n".join(lines) + "\n")
                lines.clear()
        self.buffered = 0

    def close(self) -> None:
        """Write each phone's final file: header with the count, the messages, the footer."""
        self.flush()
        stamp = f"{self.created:%d/%m/%Y %H:%M:%S}"
        for label, part in self.parts.items():
            with (self.directory / f"{label}.xml").open("w", encoding="utf-8") as out:
                out.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
                out.write(f"<!--File Created By SMS Backup & Restore v10.20.002 on {stamp}-->\n")
                out.write(
                    f'<smses count="{self.counts[label]}" backup_set="sim-{label}" '
                    f'backup_date="{epoch_ms(self.created)}" type="full">\n'
                )
                with part.open(encoding="utf-8") as fh:
                    shutil.copyfileobj(fh, out)
                out.write("</smses>\n")
            part.unlink()


class CsvWriter:
    """messages.csv: ``received_at,recipient,sender,body,channel,subject``."""

    def __init__(self, path: Path) -> None:
        self.fh = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(["received_at", "recipient", "sender", "body", "channel", "subject"])

    def row(
        self, when: datetime, recipient: str, sender: str, body: str, channel: str, subject: str
    ) -> None:
        """Write one message."""
        stamp = when.astimezone(CHINA).isoformat(timespec="milliseconds")
        self.writer.writerow([stamp, recipient, sender, body, channel, subject])

    def close(self) -> None:
        """Close the file."""
        self.fh.close()


class MboxWriter:
    """One mbox for the e-mail canaries, written message by message.

    Messages are composed as RFC 5322 text directly (RFC 2047 headers, base64
    UTF-8 bodies): the stdlib ``mailbox`` deep-copies every message and is a
    hundred times slower, which matters at a million messages.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = path.open("wb")
        self.count = 0

    def add(self, when: datetime, recipient: str, sender: str, subject: str, body: str) -> str:
        """Append one message; return its Message-ID."""
        self.count += 1
        domain = sender.split("@")[-1]
        message_id = f"<sim-{self.count}.{epoch_ms(when)}@{domain}>"
        utc = when.astimezone(UTC)
        encoded = base64.encodebytes(body.encode("utf-8")).decode("ascii")
        headers = [
            f"From bounce-{self.count}@{domain} {utc:%a %b %d %H:%M:%S %Y}",
            f"Return-Path: <bounce-{self.count}@{domain}>",
            f"Delivered-To: {recipient}",
            "Authentication-Results: mx.example.org;"
            f" spf=pass smtp.mailfrom={domain}; dkim=none; dmarc=none",
            f"From: {sender}",
            f"To: {recipient}",
            f"Subject: {Header(subject, 'utf-8').encode()}",
            f"Date: {format_datetime(when.astimezone(CHINA))}",
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
        ]
        self.fh.write(("\n".join(headers) + "\n\n" + encoded + "\n").encode("ascii"))
        return message_id

    def close(self) -> None:
        """Close the mbox."""
        self.fh.close()


class TruthWriter:
    """truth.json, with the per-message array streamed so large runs stay small in memory."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.fh: TextIO = path.open("w", encoding="utf-8")
        text = json.dumps(header, ensure_ascii=False, indent=1, sort_keys=True)
        self.fh.write(text[:-2] + ',\n "messages": [\n')
        self.first = True

    def message(self, record: dict[str, Any]) -> None:
        """Append one message's truth."""
        if not self.first:
            self.fh.write(",\n")
        self.first = False
        self.fh.write("  " + json.dumps(record, ensure_ascii=False, sort_keys=True))

    def close(self, footer: dict[str, Any]) -> None:
        """End the messages array, add the footer keys, close the file."""
        self.fh.write("\n ]")
        for key in sorted(footer):
            self.fh.write(f',\n "{key}": {json.dumps(footer[key], ensure_ascii=False)}')
        self.fh.write("\n}\n")
        self.fh.close()
