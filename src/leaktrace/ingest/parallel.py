"""Reading a big SMS backup on every core: spans handed out in order, staged to Parquet.

A backup is cut at record starts into spans of about ``SPAN_BYTES`` (see
``smsbackup.spans_of``), more spans than processes, and a pool of one process per
core takes them in file order: a file whose records are not spread evenly (its last
half MMS with pictures, a few bytes a record elsewhere) keeps every core busy, where
one span per core left one process reading every SMS while the other read pictures.
Each span is parsed and written as Parquet chunks into the shared scratch directory,
with sequence numbers that keep the file's order. If a span stops early (broken XML),
the spans after it are dropped, exactly as a sequential read would stop there.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as Waiting
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leaktrace.cores import usable_cores
from leaktrace.ingest.formats.smsbackup import Span, spans_of, stage_backup
from leaktrace.ingest.records import IngestError, ReadReport
from leaktrace.ingest.stage import Stage, lean_worker, worker_staging
from leaktrace.roster.recipients import RecipientBook

if TYPE_CHECKING:
    from leaktrace.ingest.importer import ImportOptions, Meter

PARALLEL_MIN_BYTES = 64 << 20  # below this, process start-up costs more than it saves
SPAN_BYTES = 24 << 20  # work for one process at a time: about 60,000 SMS
SEQ_STRIDE = 1 << 40


class _SpanMeter:
    """Publishes a span's bytes read into its slot of a shared array."""

    def __init__(self, progress: Any, k: int) -> None:
        self.progress, self.k = progress, k

    def update(self, done: int, total: int | None = None) -> None:
        self.progress[self.k] = done


class _Worker:
    """What every span a worker stages shares, set once when the worker starts."""

    path: Path
    options: ImportOptions
    book: RecipientBook
    scratch: Path
    progress: Any


def _start(
    path: Path, options: ImportOptions, book: RecipientBook, scratch: Path, progress: Any
) -> None:
    lean_worker()
    _Worker.path, _Worker.options, _Worker.book = path, options, book
    _Worker.scratch, _Worker.progress = scratch, progress


def _stage_span(k: int, span: Span) -> tuple[ReadReport, list[Path], int]:
    """Stage the ``k``-th span: (what reading it found, its Parquet files, messages staged)."""
    report = ReadReport()
    path = _Worker.path
    stage = Stage(
        _Worker.scratch, _Worker.book, name=f"part-{k:05d}", seq_base=k * SEQ_STRIDE, spill_rows=0
    )
    with worker_staging(path.name):
        stage_backup(
            path,
            report,
            stage,
            recipient=_Worker.options.recipient,
            sub_ids=_Worker.options.sub_ids,
            encoding="utf-8",
            meter=_SpanMeter(_Worker.progress, k),  # type: ignore[arg-type]
            span=span,
        )
        stage.flush()
    return report, stage.files, stage.count


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
    cores = usable_cores()
    size = path.stat().st_size
    if cores < 2 or size < PARALLEL_MIN_BYTES:
        return None
    if options.encoding and options.encoding.replace("-", "").lower() not in ("utf8", "utf8sig"):
        return None
    # A multiple of the processes, so that spans of an even file end together.
    parts = cores * -(-size // (SPAN_BYTES * cores))
    spans = spans_of(path, parts)  # closed below, however this ends
    first = next(spans)
    if first.end == size:  # it could not be cut
        spans.close()
        return None
    context = mp.get_context("spawn")  # never fork a process that has DuckDB threads
    progress = context.Array("q", parts, lock=False)
    pool = ProcessPoolExecutor(
        cores,
        mp_context=context,
        initializer=_start,
        initargs=(path, options, book, scratch, progress),
    )
    try:
        # Every span is handed out at once (the lines before each are counted meanwhile):
        # the pool takes them in order, and a span holds only its place in the file.
        futures = [pool.submit(_stage_span, 0, first)]
        for k, span in enumerate(spans, start=1):
            futures.append(pool.submit(_stage_span, k, span))
            meter.update(sum(progress))
        return _merge(futures, report, lambda: meter.update(sum(progress)))
    except BrokenProcessPool:
        raise IngestError(key="err_reader_process_died", file=path.name) from None
    finally:
        spans.close()
        pool.shutdown(cancel_futures=True)


def _merge(
    futures: list[Future[tuple[ReadReport, list[Path], int]]],
    report: ReadReport,
    waiting: Callable[[], None],
) -> tuple[list[Path], int]:
    """The spans' files and counts in file order, up to the first span that stopped early."""
    files: list[Path] = []
    count = 0
    for future in futures:
        while True:
            try:
                part, part_files, part_count = future.result(timeout=0.25)
                break
            except Waiting:
                waiting()
        report.skipped.update(part.skipped)
        report.problems.extend(part.problems)
        report.notes.extend(part.notes)
        report.repaired += part.repaired  # one note for the file, not one per span
        files.extend(part_files)
        count += part_count
        if part.stopped_at:  # the spans after it are dropped, as a sequential read stops
            report.stopped_at = part.stopped_at
            break
    return files, count
