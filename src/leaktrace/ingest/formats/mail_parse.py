"""One e-mail's fields: plain messages read by hand, the email package's full parse for others.

``email.parser`` with ``policy.default`` costs about a millisecond a message (every
header becomes an object, the body is found by walking the MIME tree). Most spam is
one ``text/plain`` part with ASCII headers, so :func:`mail_fields` first reads such a
message by hand, taking from each header exactly the string ``policy.default`` would
show, and hands anything else to :func:`exact_fields`, the full parse (``mail_exact.py``).
The quick read declines (returns None) rather than guess:

- the header block is not ASCII, holds a CR, or has a line that is not a header
  (or there is no blank line before the body);
- the message is not ``text/plain`` (multipart, html), has a Content-Disposition, a
  charset outside ``_CHARSETS``, an unusual transfer encoding, or base64 that does not
  decode strictly;
- the message would be rejected (no recipient, no time): the full parse says why.

A header value it cannot show exactly by a simple rule (an address with a display
name, an encoded word other than UTF-8 base64, an unusual date) goes through the
same header class ``policy.default`` uses, for that header alone.

This module (and the two it uses) imports only the standard library, so worker processes
start fast.
"""

from __future__ import annotations

import binascii
import json
import quopri
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.utils import getaddresses, parseaddr

from leaktrace.hashing import sha256_text
from leaktrace.ingest.formats.mail_exact import Fields, exact_fields, read_date
from leaktrace.ingest.formats.mbox import mbox_messages
from leaktrace.text.signature import signature_text

_HEADER = policy.default.header_factory

# the fields with the raw message after the body
# to, sender, time, body, raw, subject, own id, headers, signature, SHA-256 of raw
Parsed = tuple[str, str, datetime, str, str, str | None, str | None, str, str | None, str]

# A header line as the email parser takes it (a name of its characters, a colon), with the
# folded lines after it: (name, value less the blanks after the colon).
_FIELD = re.compile(r"^([\x21-\x39\x3b-\x7e]+):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE)
_DOT_ATOM = r"[A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*"
_ADDRESS = re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}")  # shown as it stands
_MESSAGE_ID = re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>")
_UTF8_WORD = r"=\?(?i:utf-8)\?[bB]\?([A-Za-z0-9+/]*={0,2})\?="
_UTF8_WORDS = re.compile(rf"{_UTF8_WORD}(?:[ \t]+{_UTF8_WORD})*")
_WORD_TEXT = re.compile(_UTF8_WORD)
_TOKEN = r"[A-Za-z0-9_\-]+"
_PLAIN = re.compile(rf'(?i:text/plain)(?:;[ \t]*(?i:charset)=(?:"({_TOKEN})"|({_TOKEN})))?')
_CHARSETS = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "gbk"}
    | {"gb2312", "gb18030", "big5", "windows-1252", "cp1252", "euc-kr", "shift_jis"}
)
_ENCODING = "content-transfer-encoding"
_ENCODINGS = frozenset({"", "7bit", "8bit", "binary", "base64", "quoted-printable"})
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_DATE = re.compile(  # as email.utils.format_datetime writes it
    rf"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{{1,2}}) ({'|'.join(_MONTHS)}) ([12]\d{{3}})"
    r" ([01]\d|2[0-3]):([0-5]\d):([0-5]\d) ([+-])([01]\d|2[0-3])([0-5]\d)"
)
_ZONES: dict[int, timezone] = {}
_DECODED: dict[tuple[str, str], str] = {}
_DECODED_MAX = 20_000
_JSON_STRING = json.encoder.encode_basestring  # a JSON string, non-ASCII kept
_KEPT = (
    ("from", "from"),
    ("to", "to"),
    ("delivered_to", "delivered-to"),
    ("return_path", "return-path"),
    ("message_id", "message-id"),
)


def mail_fields(data: bytes, recipient: str | None, mbox_from: str | None = None) -> Fields:
    """One e-mail's fields (``recipient`` when no header names one); ValueError when unusable."""
    fields = quick_fields(data, recipient, mbox_from)
    return fields if fields is not None else exact_fields(data, recipient, mbox_from)


def parse_piece(piece: bytes, recipient: str | None) -> list[Parsed | str]:
    """The messages of a piece of mbox (see ``mbox.mbox_blocks``), each as plain values, or
    the reason it cannot be read.

    Strings and times cross a process boundary far cheaper than objects (an ``Incoming``
    pickles with its class and field names): this runs in workers.
    """
    parsed: list[Parsed | str] = []
    for from_line, data in mbox_messages(piece):
        try:
            to, sender, when, body, subject, own_id, headers = mail_fields(
                data, recipient, from_line
            )
        except ValueError as exc:
            parsed.append(str(exc))
            continue
        raw = data.decode("utf-8", "backslashreplace")
        # Worked out here, in a worker, not by the importer's one process.
        derived = (signature_text(body), sha256_text(raw))
        parsed.append((to, sender, when, body, raw, subject, own_id, headers, *derived))
    return parsed


# --- the quick read ------------------------------------------------------------------------


def _shown(name: str, value: str) -> str:
    """``str()`` of the header ``policy.default`` makes of ``name: value`` (ASCII, unfolded)."""
    if name in ("from", "to"):
        if _ADDRESS.fullmatch(value):
            return value
    elif name == "message-id":
        if _MESSAGE_ID.fullmatch(value):
            return value
    elif "=?" not in value:  # unstructured: shown as it stands
        return value
    # Spam repeats its subjects and senders: decode each spelling once.
    key = (name, value)
    shown = _DECODED.get(key)
    if shown is None:
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        shown = _DECODED[key] = _decoded(name, value)
    return shown


def _decoded(name: str, value: str) -> str:
    if name not in ("from", "to", "message-id") and _UTF8_WORDS.fullmatch(value):
        # Adjacent encoded words join without the space between them, and their bytes
        # are read as one UTF-8 text (a character may straddle two words). Base64 that
        # is not strictly valid raises, and the full parse takes the message.
        return b"".join(
            binascii.a2b_base64(text, strict_mode=True) for text in _WORD_TEXT.findall(value)
        ).decode("utf-8", "replace")
    return str(_HEADER(name, value))


def _zone(minutes: int) -> timezone:
    zone = _ZONES.get(minutes)
    if zone is None:
        zone = _ZONES[minutes] = timezone(timedelta(minutes=minutes))
    return zone


def _when(value: str) -> datetime | None:
    """``read_date(str(Date header))``: canonical dates read directly, others via the header."""
    found = _DATE.fullmatch(value)
    if found is None:
        return read_date(str(_HEADER("date", value)))
    day, month, year, hour, minute, second, sign, zh, zm = found.groups()
    offset = int(zh) * 60 + int(zm)
    if sign == "-" and offset == 0:
        zone: timezone = UTC  # "-0000": the zone is unknown, read as UTC
    else:
        zone = _zone(-offset if sign == "-" else offset)
    try:
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:
        return None


def _first_address(values: list[str]) -> str | None:
    if len(values) == 1 and _ADDRESS.fullmatch(values[0]):
        return values[0].lower()
    for _, address in getaddresses(values):
        if "@" in address:
            return address.lower()
    return None


def quick_fields(data: bytes, recipient: str | None, mbox_from: str | None = None) -> Fields | None:
    """The fields of a plain message read by hand, identical to :func:`exact_fields`; None
    when the message is not plain (see the module docstring)."""
    try:
        return _quick(data, recipient, mbox_from)
    except Exception:  # anything unexpected: the full parse decides
        return None


def _header_values(head: bytes) -> tuple[dict[str, str], dict[str, list[str]]] | None:
    """Unfolded values by lowercased name, as the parser stores them: the first of each
    name, and all of them when some name comes more than once (else nothing)."""
    if not head.isascii() or b"\r" in head:
        return None
    text = head.decode("ascii")
    found = _FIELD.findall(text)
    # Every line a header or folded: one header per line that does not start with a blank.
    if len(found) != text.count("\n") + 1 - text.count("\n ") - text.count("\n\t"):
        return None
    first = {name.lower(): value.replace("\n", "") for name, value in reversed(found)}
    every: dict[str, list[str]] = {}
    if len(first) < len(found):
        for name, value in found:
            every.setdefault(name.lower(), []).append(value.replace("\n", ""))
    return first, every


def _quick(data: bytes, recipient: str | None, mbox_from: str | None) -> Fields | None:
    end = data.find(b"\n\n")
    values = _header_values(data[:end]) if end > 0 else None
    if values is None:
        return None
    first, every = values
    get = first.get
    if every and any(len(every.get(n, ())) > 1 for n in ("content-type", _ENCODING)):
        return None
    body = _plain_body(get, data[end + 2 :])
    if body is None:
        return None
    shown = {
        name: _shown(name, value)
        for name in ("from", "to", "delivered-to", "return-path", "message-id", "subject")
        if (value := get(name)) is not None
    }
    to = None
    for name in ("delivered-to", "x-original-to", "to"):
        if name in every:
            to = _first_address([_shown(name, v) for v in every[name]])
        elif (value := get(name)) is not None:
            to = _first_address([shown.get(name) or _shown(name, value)])
        if to:
            break
    to = to or recipient
    if not to:
        return None
    sender = shown.get("from", "")
    if not _ADDRESS.fullmatch(sender):
        sender = parseaddr(sender)[1]
    sender = sender or shown.get("return-path", "")
    when = None
    if (received := get("received")) is not None:
        when = read_date(_shown("received", received).rpartition(";")[2])
    if when is None and (date := get("date")):
        when = _when(date)
    if when is None and mbox_from:
        when = read_date(" ".join(mbox_from.split()[2:]))
    if when is None:
        return None
    results = every.get("authentication-results") or [get("authentication-results")]
    # The origin headers as JSON, written as json.dumps(..., ensure_ascii=False) writes them.
    kept = [f'"{key}": {_JSON_STRING(value)}' for key, name in _KEPT if (value := shown.get(name))]
    if results := [_shown("authentication-results", v) for v in results if v is not None]:
        listed = ", ".join(map(_JSON_STRING, results))
        kept.append(f'"authentication_results": [{listed}]')
    return (
        to,
        sender.strip("<> "),
        when,
        body,
        shown.get("subject") or None,
        shown.get("message-id", "").strip() or None,
        "{" + ", ".join(kept) + "}",
    )


def _plain_body(get: Callable[[str], str | None], payload: bytes) -> str | None:
    """The text of a lone ``text/plain`` part, as ``get_content().strip()`` gives it."""
    if get("content-disposition") is not None:
        return None
    kind = get("content-type")
    charset = "ASCII"
    if kind is not None:
        found = _PLAIN.fullmatch(kind)
        if found is None:
            return None
        charset = found[1] or found[2] or charset
        if charset.lower() not in _CHARSETS:
            return None
    encoding = get(_ENCODING)
    if encoding is None:
        encoding = ""
    elif not encoding:  # present but empty
        return None
    encoding = encoding.lower()
    if encoding not in _ENCODINGS:
        return None
    if encoding == "base64":
        joined = b"".join(payload.splitlines()) if b"\r" in payload else payload.replace(b"\n", b"")
        if len(joined) % 4:
            return None
        try:
            payload = binascii.a2b_base64(joined, strict_mode=True)
        except binascii.Error:
            return None
    elif encoding == "quoted-printable":
        payload = quopri.decodestring(payload)
    return payload.decode(charset, "replace").strip()
