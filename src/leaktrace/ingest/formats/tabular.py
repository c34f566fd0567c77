"""CSV and JSON-lines message files with mappable columns, encodings and time zones."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from leaktrace.ingest.records import Incoming, IngestError, ReadReport, implausible_time
from leaktrace.ingest.timestamps import parse_time

if TYPE_CHECKING:
    from leaktrace.ingest.importer import ImportOptions, Meter

REQUIRED = ("received_at", "recipient", "sender", "body")
OPTIONAL = ("channel", "subject", "id")
MAX_CELL = 64 << 20
SNIFF_BYTES = 1 << 20
CHANNELS = {"mms": "sms", "text": "sms", "rcs": "sms", "imessage": "sms", "mail": "email"}


def sniff_encoding(path: Path) -> tuple[str, str | None]:
    """(encoding, note): a BOM decides, else UTF-8 if the first MiB decodes, else GB18030."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "read as UTF-16 (byte-order mark)"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030", "not UTF-8; read as GB18030 (GBK)"
    return "utf-8", None


class _Counted(io.RawIOBase):
    """A binary file that reports how far it has been read."""

    def __init__(self, raw: BinaryIO, meter: Meter | None) -> None:
        self.raw, self.meter, self.pos = raw, meter, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.pos += n or 0
        if self.meter is not None:
            self.meter.update(self.pos)
        return n


def _columns(options: ImportOptions) -> dict[str, str]:
    unknown = set(options.columns) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise IngestError(
            key="err_tabular_unknown_column",
            names=", ".join(sorted(unknown)),
            fields=", ".join(REQUIRED + OPTIONAL),
        )
    return {name: options.columns.get(name, name) for name in REQUIRED + OPTIONAL}


def _records(
    path: Path, fmt: str, text: io.TextIOBase, columns: dict[str, str], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any] | None, str, str | None]]:
    """(line, record, raw, problem) for each row of the file."""
    if fmt == "jsonl":
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, line, f"not JSON ({exc.msg})"
                continue
            except RecursionError:
                yield number, None, line[:200], "JSON nested too deep"
                continue
            if not isinstance(record, dict):
                yield number, None, line, "not a JSON object"
                continue
            yield number, _without_surrogates(record), line.rstrip("\r\n"), None
        return
    # The csv module refuses cells over 128 KiB; a long mail body exported to CSV is
    # bigger. Cells up to MAX_CELL read (analysis reads only a body's start).
    csv.field_size_limit(MAX_CELL)
    header_line = text.readline()
    delimiter = "\t" if "\t" in header_line and "," not in header_line else ","
    reader = csv.DictReader(itertools.chain([header_line], text), delimiter=delimiter)
    header = reader.fieldnames or []
    missing = [
        f"{ours} (as {columns[ours]!r})" if ours != columns[ours] else ours
        for ours in required
        if columns[ours] not in header
    ]
    if missing:
        if not ", ".join(header):
            raise IngestError(
                key="err_tabular_no_column_no_header", file=path.name, missing=", ".join(missing)
            )
        raise IngestError(
            key="err_tabular_no_column",
            file=path.name,
            missing=", ".join(missing),
            columns=", ".join(header),
        )
    for row in reader:
        raw = json.dumps(row, ensure_ascii=False)
        if None in row:
            yield reader.line_num, None, raw, "more cells than the header has columns"
            continue
        yield reader.line_num, row, raw, None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """A JSON value with lone surrogates (``"\\ud800"``) kept as U+FFFD: no text holds them."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value


def read_tabular(
    path: Path, report: ReadReport, fmt: str, options: ImportOptions, meter: Meter | None = None
) -> Iterator[Incoming]:
    """Messages of a CSV or JSON-lines file, one per row."""
    columns = _columns(options)
    encoding, note = (options.encoding, None) if options.encoding else sniff_encoding(path)
    if note:
        report.notes.append(note)
    tz = options.tz or datetime.now().astimezone().tzinfo
    zone_applied = False
    with path.open("rb") as fh:
        text = io.TextIOWrapper(
            io.BufferedReader(_Counted(fh, meter)), encoding=encoding, newline=""
        )
        try:
            required = tuple(c for c in REQUIRED if c != "recipient" or not options.recipient)
            for line, record, raw, problem in _records(path, fmt, text, columns, required):
                where = f"{path.name}:{line}"
                if problem:
                    report.reject(where, problem)
                    continue
                try:
                    message, applied = _message(record, raw, columns, options, tz, line)
                except ValueError as exc:
                    report.reject(where, str(exc))
                    continue
                zone_applied |= applied
                yield message
        except UnicodeDecodeError as exc:
            raise IngestError(
                key="err_tabular_not_encoding", file=path.name, encoding=encoding, reason=exc.reason
            ) from None
        except csv.Error as exc:
            raise IngestError(
                key="err_tabular_unreadable", file=path.name, error=str(exc)
            ) from None
    if zone_applied:
        report.notes.append(f"times without an offset were read in {tz}")


def _message(
    record: dict[str, Any],
    raw: str,
    columns: dict[str, str],
    options: ImportOptions,
    tz: Any,
    line: int,
) -> tuple[Incoming, bool]:
    def get(name: str) -> str:
        value = record.get(columns[name])
        return "" if value is None else str(value)

    recipient = get("recipient").strip() or (options.recipient or "")
    if not recipient:
        raise ValueError("no recipient (give the column or --recipient)")
    received_at, applied = parse_time(get("received_at"), tz)
    channel = get("channel").strip().lower() or ("email" if "@" in recipient else "sms")
    channel = CHANNELS.get(channel, channel)
    if channel not in ("sms", "email"):
        raise ValueError(f"channel {channel!r} is not sms or email")
    return (
        Incoming(
            channel=channel,
            recipient=recipient,
            sender=get("sender"),
            received_at=received_at,
            body=get("body"),
            raw=raw,
            position=f"line {line}",
            subject=get("subject") or None,
            own_id=get("id") or None,
        ),
        applied,
    )


def check_record(record: dict[str, Any]) -> str | None:
    """Why a receiver record would be rejected at import (None: it would land).

    The receiver asks before it answers, so a message it acknowledges is one the drain
    can import: the same conversion as a JSON-lines row, and the same time check.
    """
    from leaktrace.ingest.importer import ImportOptions

    columns = {name: name for name in REQUIRED + OPTIONAL}
    try:
        message, _ = _message(record, "", columns, ImportOptions(format="jsonl"), UTC, 0)
    except ValueError as exc:
        return str(exc)
    return implausible_time(message.received_at)
