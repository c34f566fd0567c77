"""Telling an import file's format from its first bytes."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from leaktrace.ingest.records import IngestError

FORMATS = ("smsbackup", "ios", "mbox", "eml", "csv", "jsonl")
_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:", re.MULTILINE)
_MAIL_ONLY = ("received:", "message-id:", "delivered-to:", "return-path:")
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}


def _head_text(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", "ignore")
    return head.decode("utf-8-sig", "ignore")


def detect_format(path: Path) -> str:
    """The format of ``path``, or an :class:`IngestError` saying why it is none of them."""
    if not path.is_file():
        raise IngestError(key="err_import_not_a_file", path=path)
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise IngestError(key="err_import_empty", file=path.name)
    if head.startswith(b"SQLite format 3\x00"):
        return "ios"
    text = _head_text(head).lstrip()
    lower = text.lower()
    if lower.startswith("<?xml") or lower.startswith("<smses"):
        if "<smses" in lower:
            return "smsbackup"
        raise IngestError(key="err_import_xml_not_smsbackup", file=path.name)
    if text.startswith("From "):
        return "mbox"
    first_lines = lower.splitlines()[:40]
    if _HEADER.match(text) and any(line.startswith(_MAIL_ONLY) for line in first_lines):
        return "eml"
    # A CSV or JSON-lines file is told by a weak sign (a brace, a comma) that one broken
    # first row hides; its name says it better.
    if path.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[path.suffix.lower()]
    if text.startswith(("{", "[")):
        return "jsonl"
    first = text.splitlines()[0] if text else ""
    if "," in first or "\t" in first:
        return "csv"
    raise IngestError(key="err_import_unknown_kind", file=path.name, formats=", ".join(FORMATS))
