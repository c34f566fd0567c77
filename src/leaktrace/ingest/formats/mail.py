"""E-mail: mbox files and single ``.eml`` messages, with the headers that show origin.

An mbox is read as a stream of pieces (``mbox.py``) and each message parsed by
``mail_parse.py``; a big one is parsed on every core.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from leaktrace.cores import usable_cores
from leaktrace.ingest.formats.mail_parse import Parsed, mail_fields, parse_piece
from leaktrace.ingest.formats.mbox import mbox_blocks
from leaktrace.ingest.records import Incoming, IngestError, ReadReport

if TYPE_CHECKING:
    from leaktrace.ingest.importer import Meter

# Below this, starting processes costs more than it saves: a 7.7 MB mbox (10k spam mails)
# imported in 6.2 s in one process and 7.4 s with two workers, on a busy 2-core machine.
PARALLEL_MIN_BYTES = 16 << 20
PIECE_BYTES = 1 << 20  # work for one process at a time: about 1,400 spam messages
AHEAD_PER_CORE = 2  # pieces queued per process beyond the one being read


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
    for parsed, done in _parsed_pieces(path, recipient):
        for item in parsed:
            number += 1
            if isinstance(item, str):
                report.reject(f"{path.name}:message {number}", item)
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
        if meter is not None:
            meter.update(done)
    if number == 0:
        raise IngestError(key="err_mbox_no_separator", file=path.name)


def _parsed_pieces(path: Path, recipient: str | None) -> Iterator[tuple[list[Parsed | str], int]]:
    """Each piece of the mbox parsed, in file order, with the bytes read so far.

    A big file is parsed by one process per core, a few pieces ahead of the reader, so
    memory holds only those pieces however large the file.
    """
    cores = usable_cores()
    if cores < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        for piece, done in mbox_blocks(path):
            yield parse_piece(piece, recipient), done
        return
    # spawn, never fork: the caller may hold DuckDB threads.
    pool = ProcessPoolExecutor(cores, mp_context=mp.get_context("spawn"))
    ahead: deque[tuple[Future[list[Parsed | str]], int]] = deque()
    try:
        for piece, done in mbox_blocks(path, PIECE_BYTES):
            ahead.append((pool.submit(parse_piece, piece, recipient), done))
            if len(ahead) > AHEAD_PER_CORE * cores:
                future, read = ahead.popleft()
                yield future.result(), read
        while ahead:
            future, read = ahead.popleft()
            yield future.result(), read
    except BrokenProcessPool:
        raise IngestError(key="err_mbox_reader_died", file=path.name) from None
    finally:
        pool.shutdown(cancel_futures=True)
