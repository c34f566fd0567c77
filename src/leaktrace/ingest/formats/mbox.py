"""Splitting an mbox file into messages as it is read, the way ``mailbox.mbox`` does.

``mailbox.mbox`` first reads the whole file line by line for a table of contents,
then seeks to each message; on a 78 MB mailbox that alone took minutes. Here the
file is read in large blocks and cut where a line begins with ``From `` (at the start
of the file or after a newline), with ``mailbox.mbox``'s rules, so every message's
bytes are the same as ``mbox.get_bytes(key, from_=True)`` gives:

- anything before the first ``From `` line belongs to no message;
- a message ends before the next ``From `` line, less one blank line (a line that
  is exactly ``\\n``) if one precedes it, and the last one at the end of the file
  (less one final blank line), however it ends;
- nothing is un-escaped: a body line ``>From `` stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

BLOCK = 4 << 20  # bytes read at a time; a block is cut at its last "From " line
SEPARATOR = b"\nFrom "


def mbox_blocks(path: Path, block: int = BLOCK) -> Iterator[tuple[bytes, int]]:
    """Whole messages in file order, as (bytes starting at a ``From `` line, bytes read so far).

    Each piece holds one or more messages; split it with :func:`mbox_messages`. A file
    without any ``From `` line gives nothing.
    """
    with path.open("rb") as fh:
        pending = b"\n"  # the start of the file counts as the end of a line
        started = False
        done = 0
        while True:
            data = fh.read(block)
            done += len(data)
            pending += data
            if not started:
                first = pending.find(SEPARATOR)
                if first < 0:
                    if not data:
                        return
                    pending = pending[-(len(SEPARATOR) - 1) :]  # a separator may straddle reads
                    continue
                pending, started = pending[first + 1 :], True
            if not data:
                if pending:
                    yield pending, done
                return
            cut = pending.rfind(SEPARATOR)
            if cut >= 0:
                yield pending[: cut + 1], done
                pending = pending[cut + 1 :]


def mbox_messages(piece: bytes) -> list[tuple[str, bytes]]:
    """The messages of a piece from :func:`mbox_blocks`: (From line, message after it)."""
    messages = []
    start, size = 0, len(piece)
    while start < size:
        following = piece.find(SEPARATOR, start)
        stop = size if following < 0 else following + 1
        end = stop - 1 if piece.endswith(b"\n\n", start, stop) else stop
        newline = piece.find(b"\n", start, end)
        if newline < 0:
            messages.append((piece[start:end].decode("latin-1"), b""))
        else:
            messages.append((piece[start:newline].decode("latin-1"), piece[newline + 1 : end]))
        start = stop
    return messages


def count_messages(piece: bytes) -> int:
    """How many messages a piece from :func:`mbox_blocks` holds."""
    return piece.count(SEPARATOR) + 1
