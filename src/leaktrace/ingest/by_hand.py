"""Messages that arrive as bytes (a dashboard upload) or typed in by hand.

Both go through the same import as a file on disk: one batch, raw records kept,
duplicates skipped; the bytes are written to a scratch file under their own name
so that format detection sees the name too.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from leaktrace.ingest.importer import ImportOptions, ImportResult, Progress, import_file
from leaktrace.store import Store


def import_bytes(
    store: Store,
    name: str,
    data: bytes,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import an export received as bytes, named ``name`` (e.g. an upload)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).name or "upload")
        path.write_bytes(data)
        return import_file(store, path, options, progress=progress)


def import_typed(
    store: Store, *, recipient: str, sender: str, body: str, received_at: str
) -> ImportResult:
    """Import one message (``received_at`` in ISO 8601 with an offset) through the JSONL reader."""
    record = {"received_at": received_at, "recipient": recipient, "sender": sender, "body": body}
    line = json.dumps(record, ensure_ascii=False) + "\n"
    return import_bytes(store, "typed-by-hand.jsonl", line.encode("utf-8"))
