"""Reading a big SMS backup on every core: one span per process, staged to Parquet.

A backup is cut at record starts into spans (see ``smsbackup.plan_spans``);
each worker process parses its span and writes Parquet chunks into the shared
scratch directory, with sequence numbers that keep the file's order. If a span
stops early (broken XML), the spans after it are dropped, exactly as a
sequential read would stop there.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leaktrace.cores import usable_cores
from leaktrace.ingest.formats.smsbackup import Span, plan_spans, stage_backup
from leaktrace.ingest.records import IngestError, ReadReport, in_few_words
from leaktrace.ingest.stage import Stage, gc_paused, lean_worker
from leaktrace.roster.recipients import RecipientBook

if TYPE_CHECKING:
    from leaktrace.ingest.importer import ImportOptions, Meter

PARALLEL_MIN_BYTES = 64 << 20  # below this, process start-up costs more than it saves
SEQ_STRIDE = 1 << 40


class _SpanMeter:
    """Publishes a worker's bytes read into a shared array slot."""

    def __init__(self, progress: Any, k: int) -> None:
        self.progress, self.k = progress, k

    def update(self, done: int, total: int | None = None) -> None:
        self.progress[self.k] = done


def _work(
    k: int,
    path: Path,
    span: Span,
    options: ImportOptions,
    book: RecipientBook,
    scratch: Path,
    progress: Any,
    results: Any,
) -> None:
    lean_worker()
    report = ReadReport()
    stage = Stage(scratch, book, name=f"part-{k:02d}", seq_base=k * SEQ_STRIDE, spill_rows=0)
    try:
        with gc_paused():
            stage_backup(
                path,
                report,
                stage,
                recipient=options.recipient,
                sub_ids=options.sub_ids,
                encoding="utf-8",
                meter=_SpanMeter(progress, k),  # type: ignore[arg-type]
                span=span,
            )
            stage.flush()
    except IngestError as exc:  # pickled with its key and values: said in either language
        results.put((k, None, exc, [], 0))
        return
    except Exception as exc:  # any other failure is told, not lost with the process
        failed = IngestError(
            key="err_import_reader_failed", file=path.name, reason=in_few_words(exc)
        )
        results.put((k, None, failed, [], 0))
        return
    results.put((k, report, None, stage.files, stage.count))


def stage_backup_in_parallel(
    path: Path,
    options: ImportOptions,
    book: RecipientBook,
    scratch: Path,
    report: ReadReport,
    meter: Meter,
) -> tuple[list[Path], int] | None:
    """Stage a big UTF-8 backup with one process per core: (Parquet files, messages).

    ``None`` when it does not pay (small file, one core, another encoding).
    """
    if usable_cores() < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        return None
    if options.encoding and options.encoding.replace("-", "").lower() not in ("utf8", "utf8sig"):
        return None
    spans = plan_spans(path, usable_cores())
    if len(spans) < 2:
        return None
    context = mp.get_context("spawn")  # never fork a process that has DuckDB threads
    progress = context.Array("q", len(spans), lock=False)
    results = context.Queue()
    procs = [
        context.Process(
            target=_work, args=(k, path, span, options, book, scratch, progress, results)
        )
        for k, span in enumerate(spans)
    ]
    for proc in procs:
        proc.start()
    outcomes: dict[int, tuple] = {}
    try:
        while len(outcomes) < len(procs):
            try:
                k, *outcome = results.get(timeout=0.25)
                outcomes[k] = tuple(outcome)
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead and results.empty():  # a worker that told its error is read first
                    raise IngestError(
                        key="err_import_reader_died", file=path.name, code=dead[0]
                    ) from None
            meter.update(sum(progress))
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
    return _merge(outcomes, report)


def _merge(outcomes: dict[int, tuple], report: ReadReport) -> tuple[list[Path], int]:
    files: list[Path] = []
    count = 0
    for k in sorted(outcomes):
        part, error, part_files, part_count = outcomes[k]
        if error is not None:
            raise IngestError.saying(error)
        report.skipped.update(part.skipped)
        report.problems.extend(part.problems)
        report.notes.extend(part.notes)
        report.repaired += part.repaired  # one note for the file, not one per span
        files.extend(part_files)
        count += part_count
        if part.stopped_at:
            report.stopped_at = part.stopped_at
            break
    return files, count
