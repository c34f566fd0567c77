"""Masking many messages: each distinct text once, chunks of them on every core.

Spam repeats itself: the same body reaches many recipients (a third of a simulated
study's messages repeat an earlier body). A body is normalised once and masked once
per distinct set of the recipient's names that actually occur in it, which for most
bodies is none, so duplicates cost a dictionary lookup.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from leaktrace.cores import usable_cores
from leaktrace.text.normalize import normalize
from leaktrace.text.slots import Masked, mask_normalized, names_in

PARALLEL_MIN = 20_000  # distinct bodies; below this, starting processes costs more than it saves
CHUNK = 5_000

Work = list[tuple[str, tuple[tuple[str, ...], ...]]]  # body, the name sets it was sent to


def _mask_bodies(work: Work, platforms: tuple[str, ...]) -> list[list[Masked]]:
    out = []
    for body, name_sets in work:
        text = normalize(body)
        done: dict[tuple[str, ...], Masked] = {}
        row = []
        for names in name_sets:
            present = names_in(text, names)
            masked = done.get(present)
            if masked is None:
                masked = done[present] = mask_normalized(text, present, platforms)
            row.append(masked)
        out.append(row)
    return out


def mask_many(
    texts: Sequence[str], names: Sequence[tuple[str, ...]], platforms: tuple[str, ...] = ()
) -> list[Masked]:
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
    cores = usable_cores()
    if len(work) < PARALLEL_MIN or cores < 2:
        results = _mask_bodies(work, platforms)
    else:
        spans = range(0, len(work), CHUNK)
        # spawn, never fork: the caller may hold DuckDB threads.
        with ProcessPoolExecutor(cores, mp_context=mp.get_context("spawn")) as pool:
            parts = pool.map(
                _mask_bodies, [work[i : i + CHUNK] for i in spans], [platforms] * len(spans)
            )
            results = [row for part in parts for row in part]
    return [results[body][k] for body, k in refs]
