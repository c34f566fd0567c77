"""One e-mail through the email package's full parse (``policy.default``).

This is how every e-mail was read before the quick read of ``mail_parse.py``: the
reference that read must match, and the path for every message it declines (multipart,
html, unknown charsets, 8-bit headers, rejects).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To")
_PARSER = BytesParser(policy=policy.default)

# recipient, sender, received at, body, subject, own id, headers (JSON)
Fields = tuple[str, str, datetime, str, str | None, str | None, str]


def _message_address(message: EmailMessage, name: str) -> str | None:
    values = [str(v) for v in message.get_all(name, [])]
    for _, address in getaddresses(values):
        if "@" in address:
            return address.lower()
    return None


def read_date(value: str) -> datetime | None:
    """A date as mail writes it, aware (UTC when it names no zone); None when unreadable."""
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _received_at(message: EmailMessage, mbox_from: str | None) -> datetime:
    """When our server got it (the top Received header), else Date, else the mbox line."""
    for received in message.get_all("Received", [])[:1]:
        when = read_date(str(received).rpartition(";")[2])
        if when:
            return when
    if message["Date"] and (when := read_date(str(message["Date"]))):
        return when
    # "From sender@example.org Mon Jan  5 10:00:00 2026": the time follows the address.
    if mbox_from and (when := read_date(" ".join(mbox_from.split()[2:]))):
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
        import html_text  # loaded on use: worker processes reading plain mail never need it

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


def exact_fields(data: bytes, recipient: str | None, mbox_from: str | None = None) -> Fields:
    """One e-mail's fields through the email package's full parse (``policy.default``)."""
    message = _PARSER.parsebytes(data)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ValueError("not an e-mail message (no headers)")
    to = None
    for name in RECIPIENT_HEADERS:
        to = _message_address(message, name)
        if to:
            break
    to = to or recipient
    if not to:
        raise ValueError("no Delivered-To, X-Original-To or To address (give --recipient)")
    sender = parseaddr(str(message["From"] or ""))[1] or str(message["Return-Path"] or "")
    own_id = str(message["Message-ID"] or "").strip() or None
    return (
        to,
        sender.strip("<> "),
        _received_at(message, mbox_from),
        _text(message),
        str(message["Subject"] or "") or None,
        own_id,
        _headers(message),
    )
