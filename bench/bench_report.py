"""Evidence on the 1M-message store: chain, verify, report and export times.

The analysed 1M store (bench_cluster's study) was built before the hash chain, so
opening it chains its 1,034,028 messages once (the upgrade path). Then, each as a
separate command timed with its peak memory over the process tree:

- ``leaktrace verify``: recompute every record digest and the chain. Baseline: the
  least any re-check does, hashing every raw record once in DuckDB SQL.
- ``leaktrace report``: the leaked source with the most evidence messages, PDF
  included. For reference: Chromium printing the PDF copy alone.
- ``leaktrace export``: the whole study as CSV + Parquet with chain and manifest.
  Baseline: pandas (read the same messages, neutralise cells, to_csv + to_parquet).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench.bench_cluster import analysed_million_store
from bench.measure import run_measured


def _cli(db: Path, *args: str) -> tuple[float, int, str]:
    return run_measured([sys.executable, "-m", "leaktrace.cli", "--db", str(db), *args])


def _busiest_leaked_source(db: Path) -> tuple[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT s.name, len(v.evidence) FROM source_verdicts v JOIN sources s"
            " ON s.id = v.source_id WHERE v.verdict = 'leaked' ORDER BY len(v.evidence) DESC"
            " LIMIT 1"
        ).fetchone()


def _pandas_export(db: Path, out: Path) -> float:
    """The naive export: all messages through pandas, cells neutralised, CSV and Parquet."""
    from leaktrace.evidence.csvsafe import safe_csv

    started = time.perf_counter()
    with duckdb.connect(str(db), read_only=True) as con:
        frame = con.execute(
            "SELECT m.* REPLACE (lower(hex(m.message_key)) AS message_key) FROM messages m"
        ).df()
    (out / "messages.csv").write_bytes(safe_csv(frame))
    frame.to_parquet(out / "messages.parquet")
    return time.perf_counter() - started


def run() -> None:
    """Print chain, verify, report and export figures on the 1M store."""
    from leaktrace.evidence.pdf import find_chromium, print_pdf
    from leaktrace.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.duckdb"
        shutil.copyfile(analysed_million_store(), db)
        started = time.perf_counter()
        Store(db)
        chained = time.perf_counter() - started
        print(f"  chain the store's existing messages (upgrade): {chained:.1f} s")

        seconds, memory, _ = _cli(db, "verify")
        started = time.perf_counter()
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute("SELECT count(*) FROM messages WHERE sha256(raw) <> raw_sha256").fetchall()
        floor = time.perf_counter() - started
        print(f"  leaktrace verify: {seconds:.1f} s, peak {memory / 1e6:,.0f} MB")
        print(
            f"    baseline, SHA-256 of every raw record in SQL: {floor:.1f} s"
            f" (verify takes {seconds / floor:.1f}x)"
        )

        source, evidence = _busiest_leaked_source(db)
        pack = Path(tmp) / "pack"
        pdf = find_chromium() is not None
        seconds, memory, _ = _cli(
            db, "report", source, "--out", str(pack), *([] if pdf else ["--no-pdf"])
        )
        messages = sum(1 for _ in (pack / "chain.csv").open()) - 1
        html = (pack / "report.html").stat().st_size
        print(
            f"  leaktrace report (source with the most evidence: {evidence:,} evidence"
            f" messages, {messages:,} in the pack): {seconds:.1f} s, peak {memory / 1e6:,.0f} MB,"
            f" HTML {html / 1e6:.1f} MB"
        )
        if pdf:
            import pypdfium2

            from leaktrace.evidence.data import gather
            from leaktrace.evidence.html import render_report
            from leaktrace.evidence.pack import PRINTED_MESSAGES

            printable = Path(tmp) / "print.html"
            data = gather(Store(db), source)
            printable.write_text(render_report(data, "zh", [], PRINTED_MESSAGES), "utf-8")
            started = time.perf_counter()
            print_pdf(printable, Path(tmp) / "again.pdf")
            alone = time.perf_counter() - started
            pages = len(pypdfium2.PdfDocument(str(pack / "report.pdf")))
            print(
                f"    of which Chromium printing the PDF copy ({PRINTED_MESSAGES:,} messages per"
                f" table, {pages} pages): {alone:.1f} s"
            )

        seconds, memory, _ = _cli(db, "export", str(Path(tmp) / "export"))
        naive_dir = Path(tmp) / "naive"
        naive_dir.mkdir()
        naive = _pandas_export(db, naive_dir)
        print(
            f"  leaktrace export (4 tables, CSV + Parquet, chain, manifest): {seconds:.1f} s,"
            f" peak {memory / 1e6:,.0f} MB"
        )
        print(
            f"    baseline, pandas messages only (CSV + Parquet): {naive:.1f} s"
            f" (ours {naive / seconds:.1f}x as fast)"
        )
