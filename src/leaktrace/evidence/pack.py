"""Evidence packs: one source's report, data, chain and drafts in a folder with a manifest.

A pack (``leaktrace report``) and a study export (``leaktrace export``) share one
layout, so ``leaktrace verify --pack`` checks both:

    manifest.json   SHA-256 of every file, the store's chain head, how records are hashed
    chain.csv       message id, record digest, chain value and the chain value before it
    data/           messages, templates, campaigns and verdicts as CSV and Parquet
    report.html, report.pdf, verdict.json, draft-*.md   (packs only)
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from leaktrace.evidence.complaints import render_drafts
from leaktrace.evidence.data import ReportData, ReportError, gather, report_json, study_language
from leaktrace.evidence.exports import export_tables
from leaktrace.evidence.html import LANGUAGES, render_report
from leaktrace.evidence.layout import CHAIN_CSV, MANIFEST
from leaktrace.evidence.pdf import find_chromium, print_pdf
from leaktrace.evidence.verify import verify_store
from leaktrace.hashing import file_sha256
from leaktrace.store import Store
from leaktrace.store.chain import RECORD_FIELDS, head

FORMAT = "leaktrace-evidence-pack"
RECORD_DIGEST = (
    "SHA-256 of the UTF-8 JSON array (no spaces, non-ASCII kept) of the record fields;"
    " received_at as UTC YYYY-MM-DDTHH:MM:SS.ffffffZ, a missing subject as empty text"
)
PRINTED_MESSAGES = 1_000  # rows per message table in the PDF; the HTML holds every one
CHAIN_LINK = "chain_sha256 = SHA-256(bytes of previous_chain_sha256 + bytes of record_sha256)"


@dataclass(frozen=True)
class Pack:
    """What was written: the folder, its files and the manifest's own SHA-256."""

    folder: Path
    files: list[Path]
    manifest_sha256: str
    messages: int
    chain_head: tuple[int, str]


def _prepare(out: Path) -> bool:
    """Make ``out`` an empty folder to write into; True when it did not exist.

    A folder that is not empty is replaced only when it provably holds an earlier pack
    of this tool: its manifest.json carries our format marker and lists every file in
    it. Then exactly the files it lists are removed; anything else means a refusal.
    """
    if out.exists() and not out.is_dir():
        raise ReportError(key="err_pack_out_is_file", out=out)
    if not out.exists():
        out.mkdir(parents=True)
        return True
    # A link counts as a file (never followed): one the manifest does not list stops us.
    present = sorted(p for p in out.rglob("*") if p.is_symlink() or not p.is_dir())
    if not present:
        return False
    listed = _earlier_pack_files(out)
    unlisted = [p for p in present if p not in listed]
    if unlisted:
        raise ReportError(
            key="err_pack_out_unlisted", out=out, file=unlisted[0].relative_to(out).as_posix()
        )
    for path in present:
        path.unlink()
    for folder in sorted(
        (p for p in out.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True
    ):
        if not any(folder.iterdir()):
            folder.rmdir()
    return False


def _earlier_pack_files(out: Path) -> set[Path]:
    """The files an earlier pack's manifest in ``out`` lists (itself included)."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise ReportError(key="err_pack_out_not_a_pack", out=out)
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        entries = [str(f["path"]) for f in data["files"]] if data.get("format") == FORMAT else None
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        entries = None
    if entries is None:
        raise ReportError(key="err_pack_out_not_a_pack", out=out)
    root = out.resolve()
    files = {manifest}
    for entry in entries:
        path = out / entry
        if root not in path.resolve().parents:  # "../x" or "/etc/x": never ours to delete
            raise ReportError(key="err_pack_entry_outside", manifest=manifest, entry=entry)
        files.add(path)
    return files


def _clear(out: Path, created: bool) -> None:
    """Remove what a failed pack wrote: everything in ``out`` (it was empty), and ``out``."""
    for path in sorted(out.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    if created:
        out.rmdir()


def _check_store(store: Store) -> int:
    """Refuse to export from a store that fails its own check; return messages checked."""
    result = verify_store(store)
    if not result.ok:
        first = "; ".join(str(p) for p in result.problems[:3])
        raise ReportError(
            key="err_pack_store_unverified", problems=len(result.problems), first=first
        )
    return result.checked


def _manifest(out: Path, files: list[Path], meta: dict, chain_head: tuple[int, str]) -> str:
    """Write manifest.json listing ``files``; return its SHA-256."""
    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "generator": f"leaktrace {version('leaktrace')}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
        "chain": {
            "head_message_id": chain_head[0],
            "head_chain_sha256": chain_head[1],
            "record_fields": list(RECORD_FIELDS),
            "record_digest": RECORD_DIGEST,
            "link": CHAIN_LINK,
            "first_previous": "64 zeros",
        },
        "files": [
            {
                "path": f.relative_to(out).as_posix(),
                "sha256": file_sha256(f),
                "bytes": f.stat().st_size,
            }
            for f in sorted(files)
        ],
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return file_sha256(path)


def _write_report(data: ReportData, out: Path, lang: str, pdf: bool) -> list[Path]:
    """The drafts, the verdict JSON, the HTML page and (unless ``pdf`` is off) its PDF."""
    written = []
    drafts = render_drafts(data, lang)
    for name, text in drafts.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    verdict = out / "verdict.json"
    verdict.write_text(report_json(data) + "\n", encoding="utf-8")
    html = out / "report.html"
    html.write_text(render_report(data, lang, list(drafts)), encoding="utf-8")
    written += [verdict, html]
    if pdf:
        # The printed copy lists at most PRINTED_MESSAGES per table and says so.
        printable = out / ".report-print.html"
        printable.write_text(
            render_report(data, lang, list(drafts), PRINTED_MESSAGES), encoding="utf-8"
        )
        try:
            written.append(print_pdf(printable, out / "report.pdf"))
        finally:
            printable.unlink()
    return written


def build_pack(
    store: Store, source: str, out: Path, lang: str | None = None, pdf: bool = True
) -> Pack:
    """Write one source's evidence pack into ``out``; ``ReportError`` when it cannot."""
    lang = lang or study_language(store)
    if lang not in LANGUAGES:
        raise ReportError(key="err_report_language", lang=lang, languages=", ".join(LANGUAGES))
    if pdf and find_chromium() is None:
        raise ReportError(key="err_pdf_no_chromium")
    checked = _check_store(store)
    data = gather(store, source)
    created = _prepare(out)
    roles = list(zip(data.messages["id"].astype(int), data.messages["role"], strict=True))
    try:
        with store.connect() as con:
            files = export_tables(con, out / "data", out / CHAIN_CSV, roles, source)
        files += _write_report(data, out, lang, pdf)
    except BaseException:
        _clear(out, created)  # no half pack left to be mistaken for one
        raise
    meta = {
        "source": source,
        "language": lang,
        "verdict": data.verdict["verdict"],
        "messages": len(data.messages),
        "evidence_messages": len(data.evidence),
        "store_checked": {"messages": checked, "ok": True},
    }
    digest = _manifest(out, files, meta, data.chain_head)
    return Pack(out, files, digest, len(data.messages), data.chain_head)


def export_study(store: Store, out: Path) -> Pack:
    """Export the whole study (CSV, Parquet, chain, manifest) into ``out``."""
    checked = _check_store(store)
    created = _prepare(out)
    try:
        with store.connect() as con:
            files = export_tables(con, out / "data", out / CHAIN_CSV)
            chain_head = head(con)
    except BaseException:
        _clear(out, created)
        raise
    meta = {"source": None, "messages": checked, "store_checked": {"messages": checked, "ok": True}}
    digest = _manifest(out, files, meta, chain_head)
    return Pack(out, files, digest, checked, chain_head)


def zip_folder_name(source: str) -> str:
    """The top folder of a pack's zip: the source's name made safe as one path part."""
    safe = re.sub(r"[^\w\-]+", "_", source, flags=re.UNICODE).strip("._") or "source"
    return f"evidence-{safe[:80]}"


def pack_zip(
    store: Store, source: str, lang: str | None = None, pdf: bool = True
) -> tuple[bytes, Pack]:
    """One source's evidence pack as a zip archive (for a download), and what it holds."""
    with tempfile.TemporaryDirectory(prefix="leaktrace-pack-") as scratch:
        folder = Path(scratch) / "evidence"
        pack = build_pack(store, source, folder, lang, pdf)
        top = zip_folder_name(source)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                archive.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue(), pack
