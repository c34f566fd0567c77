"""E-mail: mbox files and single ``.eml`` messages, with the headers that show origin."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import html_text

from leaktrace.ingest.records import Incoming, IngestError, ReadReport

if TYPE_CHECKING:
    from leaktrace.ingest.importer import Meter

RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To")
_PARSER = BytesParser(policy=policy.default)


def _first_address(message: EmailMessage, name: str) -> str | None:
    values = [str(v) for v in message.get_all(name, [])]
    for _, address in getaddresses(values):
        if "@" in address:
            return address.lower()
    return None


def _date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _received_at(message: EmailMessage, mbox_from: str | None) -> datetime:
    """When our server got it (the top Received header), else Date, else the mbox line."""
    for received in message.get_all("Received", [])[:1]:
        when = _date(str(received).rpartition(";")[2])
        if when:
            return when
    if message["Date"] and (when := _date(str(message["Date"]))):
        return when
    # "From sender@example.org Mon Jan  5 10:00:00 2026": the time follows the address.
    if mbox_from and (when := _date(" ".join(mbox_from.split()[2:]))):
        return when
    raise ValueError("no Received, Date or mbox From line gives a readable time")


def _decode(payload: bytes, charset: str | None) -> str:
    """Bytes in a declared charset; an unknown one (x-gbk, unknown-8bit) falls back to
    the name without its "x-", then UTF-8, keeping what cannot be read as U+FFFD."""
    names = [charset, charset[2:] if charset and charset.lower().startswith("x-") else None]
    for name in (*names, "utf-8"):
        if not name:
            continue
        try:
            return payload.decode(name, "replace")
        except LookupError:
            continue
    return payload.decode("utf-8", "replace")


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True) or b""
        content = _decode(payload, part.get_content_charset())
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_text.extract_text(content, guess_layout=True)
    return content.strip()


def _headers(message: EmailMessage) -> str:
    kept = {
        "from": str(message["From"] or ""),
        "to": str(message["To"] or ""),
        "delivered_to": str(message["Delivered-To"] or ""),
        "return_path": str(message["Return-Path"] or ""),
        "message_id": str(message["Message-ID"] or ""),
        "authentication_results": [str(v) for v in message.get_all("Authentication-Results", [])],
    }
    return json.dumps({k: v for k, v in kept.items() if v}, ensure_ascii=False)


def mail_message(
    data: bytes, position: str, recipient: str | None, mbox_from: str | None = None
) -> Incoming:
    """One e-mail as an incoming message (``recipient`` when no header names one)."""
    message = _PARSER.parsebytes(data)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ValueError("not an e-mail message (no headers)")
    to = None
    for name in RECIPIENT_HEADERS:
        to = _first_address(message, name)
        if to:
            break
    to = to or recipient
    if not to:
        raise ValueError("no Delivered-To, X-Original-To or To address (give --recipient)")
    sender = parseaddr(str(message["From"] or ""))[1] or str(message["Return-Path"] or "")
    own_id = str(message["Message-ID"] or "").strip() or None
    return Incoming(
        channel="email",
        recipient=to,
        sender=sender.strip("<> "),
        received_at=_received_at(message, mbox_from),
        body=_text(message),
        raw=data.decode("utf-8", "backslashreplace"),
        position=position,
        subject=str(message["Subject"] or "") or None,
        own_id=own_id,
        headers=_headers(message),
    )


def read_mail(
    path: Path,
    report: ReadReport,
    fmt: str,
    *,
    recipient: str | None = None,
    meter: Meter | None = None,
) -> Iterator[Incoming]:
    """The messages of an mbox file, or the one message of an ``.eml`` file."""
    if fmt == "eml":
        try:
            yield mail_message(path.read_bytes(), "message 1", recipient)
        except ValueError as exc:
            raise IngestError(f"{path.name}: {exc}") from None
        return
    box = mailbox.mbox(path, create=False)
    try:
        keys = box.keys()
        if not keys:
            raise IngestError(f"{path.name} is not an mbox file (no 'From ' separator lines)")
        for number, key in enumerate(keys, start=1):
            where = f"message {number}"
            try:
                from_line, _, data = box.get_bytes(key, from_=True).partition(b"\n")
                yield mail_message(data, where, recipient, from_line.decode("latin-1"))
            except ValueError as exc:
                report.reject(f"{path.name}:{where}", str(exc))
            if meter is not None:
                meter.update(number, len(keys))
    finally:
        box.close()
