"""Masking many messages: each distinct text once, chunks of them on every core.

Spam repeats itself: the same body reaches many recipients (on a simulated study of
a million messages 580k bodies are distinct). A body is normalised once and masked
once per distinct set of the recipient's names that actually occur in it, which for
most bodies is none, so duplicates cost a dictionary lookup. Workers send back plain
strings (skeleton, signature, slots as JSON), which cross the process boundary far
cheaper than objects.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from leaktrace.cores import usable_cores
from leaktrace.text.normalize import normalize
from leaktrace.text.slots import mask_normalized, names_in

if TYPE_CHECKING:  # numpy and pyarrow load in the caller, not in every masking worker
    import numpy as np
    import pyarrow as pa

PARALLEL_MIN = 20_000  # distinct bodies; below this, starting processes costs more than it saves
CHUNK = 10_000

Work = list[tuple[str, tuple[tuple[str, ...], ...]]]  # body, the name sets it was sent to
Row = tuple[str, str | None, str]  # skeleton, signature, slots JSON


@dataclass(frozen=True)
class MaskedBatch:
    """``mask`` of many texts as columns, in the texts' order."""

    skeletons: list[str]
    signatures: list[str | None]
    slots: list[str]  # JSON [[kind, value], …] per text


def _mask_bodies(work: Work, platforms: tuple[str, ...]) -> list[Row]:
    """One row per (body, name set), in order."""
    out: list[Row] = []
    # Many bodies share a skeleton: one string object each, which pickle sends once.
    shared: dict[str | None, str | None] = {}
    for body, name_sets in work:
        text = normalize(body)
        done: dict[tuple[str, ...], Row] = {}
        for names in name_sets:
            present = names_in(text, names)
            row = done.get(present)
            if row is None:
                masked = mask_normalized(text, present, platforms)
                row = done[present] = (
                    shared.setdefault(masked.skeleton, masked.skeleton),
                    shared.setdefault(masked.signature, masked.signature),
                    masked.slots_json,
                )
            out.append(row)
    return out


def mask_many(
    texts: Sequence[str], names: Sequence[tuple[str, ...]], platforms: tuple[str, ...] = ()
) -> MaskedBatch:
    """``mask`` over many texts (each with its recipient's names), in order."""
    bodies: dict[str, int] = {}
    name_sets: list[dict[tuple[str, ...], int]] = []
    refs = []
    for text, recipient_names in zip(texts, names, strict=True):
        body = bodies.setdefault(text, len(bodies))
        if body == len(name_sets):
            name_sets.append({})
        sets = name_sets[body]
        refs.append((body, sets.setdefault(recipient_names, len(sets))))
    work: Work = [(text, tuple(sets)) for text, sets in zip(bodies, name_sets, strict=True)]
    first = [0, *accumulate(len(sets) for _, sets in work)]  # each body's first row
    rows = _masked_rows(work, platforms)
    picked = [rows[first[body] + k] for body, k in refs]
    return MaskedBatch(
        skeletons=[r[0] for r in picked],
        signatures=[r[1] for r in picked],
        slots=[r[2] for r in picked],
    )


def mask_column(
    texts: pa.Array | pa.ChunkedArray,
    name_codes: np.ndarray,
    name_sets: Sequence[tuple[str, ...]],
    platforms: tuple[str, ...] = (),
) -> MaskedBatch:
    """``mask`` over an Arrow column of texts; text i went to ``name_sets[name_codes[i]]``.

    The distinct texts are found by Arrow and the distinct (text, names) pairs by numpy,
    so a column read from the store is never turned into a million Python strings.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(texts) == 0:
        return MaskedBatch([], [], [])
    if isinstance(texts, pa.ChunkedArray):
        # One array first: encoding chunk by chunk and unifying the dictionaries after
        # took 2.2 s for a million texts, against 0.8 s. Large offsets: past 2 GB of text
        # one string array cannot hold them all.
        texts = texts.cast(pa.large_string()).combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(texts, ""))
    body = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    distinct = encoded.dictionary.to_pylist()
    width = max(len(name_sets), 1)
    pairs, picked = np.unique(body * width + np.asarray(name_codes), return_inverse=True)
    pair_body, pair_names = np.divmod(pairs, width)
    # pairs are sorted by body: each body's name sets are one run
    starts = np.flatnonzero(np.diff(pair_body, prepend=-1))
    ends = [*starts[1:].tolist(), len(pairs)]
    sets = [name_sets[k] for k in pair_names.tolist()] if name_sets else [()] * len(pairs)
    work: Work = [
        (distinct[b], tuple(sets[a:e]))
        for b, a, e in zip(pair_body[starts].tolist(), starts.tolist(), ends, strict=True)
    ]
    rows = _masked_rows(work, platforms)
    columns = [np.empty(len(rows), dtype=object) for _ in range(3)]
    for k, column in enumerate(columns):
        column[:] = [row[k] for row in rows]
    return MaskedBatch(*(column[picked].tolist() for column in columns))


def _masked_rows(work: Work, platforms: tuple[str, ...]) -> list[Row]:
    """``_mask_bodies`` over all the work, in chunks on every core when it pays."""
    cores = usable_cores()
    if len(work) < PARALLEL_MIN or cores < 2:
        return _mask_bodies(work, platforms)
    spans = range(0, len(work), CHUNK)
    # spawn, never fork: the caller may hold DuckDB threads.
    with ProcessPoolExecutor(cores, mp_context=mp.get_context("spawn")) as pool:
        parts = pool.map(
            _mask_bodies, [work[i : i + CHUNK] for i in spans], [platforms] * len(spans)
        )
        return [row for part in parts for row in part]
