"""Masking many messages on every core: chunks of texts go to worker processes."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from leaktrace.cores import usable_cores
from leaktrace.text.slots import Masked, mask

PARALLEL_MIN = 20_000  # below this, starting processes costs more than it saves
CHUNK = 5_000


def _mask_chunk(
    texts: Sequence[str], names: Sequence[tuple[str, ...]], platforms: tuple[str, ...]
) -> list[Masked]:
    return [mask(t, n, platforms) for t, n in zip(texts, names, strict=True)]


def mask_many(
    texts: Sequence[str], names: Sequence[tuple[str, ...]], platforms: tuple[str, ...] = ()
) -> list[Masked]:
    """``mask`` over many texts (each with its recipient's names), in order."""
    cores = usable_cores()
    if len(texts) < PARALLEL_MIN or cores < 2:
        return _mask_chunk(texts, names, platforms)
    spans = range(0, len(texts), CHUNK)
    # spawn, never fork: the caller may hold DuckDB threads.
    with ProcessPoolExecutor(cores, mp_context=mp.get_context("spawn")) as pool:
        parts = pool.map(
            _mask_chunk,
            [texts[i : i + CHUNK] for i in spans],
            [names[i : i + CHUNK] for i in spans],
            [platforms] * len(spans),
        )
        return [m for part in parts for m in part]
