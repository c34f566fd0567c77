"""E-mail: mbox files and single ``.eml`` messages, with the headers that show origin.

An mbox is read as a stream of pieces (``mbox.py``) and each message parsed by
``mail_parse.py``. A big one is parsed and staged on every core by
``ingest.parallel_mail``, with the same per-piece steps as here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from leaktrace.ingest.formats.mail_parse import Parsed, mail_fields, parse_piece
from leaktrace.ingest.formats.mbox import mbox_blocks
from leaktrace.ingest.records import Incoming, IngestError, ReadReport

if TYPE_CHECKING:
    from leaktrace.ingest.importer import Meter


def mail_message(
    data: bytes, position: str, recipient: str | None, mbox_from: str | None = None
) -> Incoming:
    """One e-mail as an incoming message (``recipient`` when no header names one)."""
    to, sender, when, body, subject, own_id, headers = mail_fields(data, recipient, mbox_from)
    return Incoming(
        channel="email",
        recipient=to,
        sender=sender,
        received_at=when,
        body=body,
        raw=data.decode("utf-8", "backslashreplace"),
        position=position,
        subject=subject,
        own_id=own_id,
        headers=headers,
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
            raise IngestError(key="err_eml_unreadable", file=path.name, error=str(exc)) from None
        return
    number = 0
    for piece, done in mbox_blocks(path):
        parsed = parse_piece(piece, recipient)
        yield from piece_messages(parsed, number, report, path.name)
        number += len(parsed)
        if meter is not None:
            meter.update(done)
    if number == 0:
        raise IngestError(key="err_mbox_no_separator", file=path.name)


def piece_messages(
    parsed: list[Parsed | str], before: int, report: ReadReport, file_name: str
) -> Iterator[Incoming]:
    """The messages of a parsed piece whose first message is the file's ``before + 1``-th;
    the ones that could not be read are rejected with their number."""
    for number, item in enumerate(parsed, before + 1):
        if isinstance(item, str):
            report.reject(f"{file_name}:message {number}", item)
            continue
        to, sender, when, body, raw, subject, own_id, headers, signature, sha = item
        yield Incoming(
            "email",
            to,
            sender,
            when,
            body,
            raw,
            f"message {number}",
            subject,
            own_id,
            headers,
            (signature, sha),
        )
