"""One clustering method over a study's messages, run in its own process by bench_cluster.

``python -m bench.cluster_methods METHOD DIR [--limit N] [--apart]`` prints one JSON
line: messages, seconds, templates, grouping accuracy, and with ``--apart`` (ours
only) the pairs of distinct skeletons scoring at or above the threshold that were
left in different templates.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import numpy as np

from leaktrace.sim.read import read_study_texts
from leaktrace.templates.index import (
    DEFAULT_THRESHOLD,
    LITERAL_THRESHOLD,
    TemplateIndex,
    grouping_accuracy,
    literal,
)
from leaktrace.text.batch import mask_many

_NAIVE_MASK = re.compile(r"https?://\S+|[\w.-]+\.test/\S*|\d+")
EXACT_UP_TO = 25_000  # distinct skeletons; above this, a sample is scored against all
SAMPLE = 1_000


def load(
    directory: Path, limit: int | None = None
) -> tuple[list[str], list[str], dict, tuple, list[str]]:
    """Bodies, true templates, names per canary, platforms, canaries (the first ``limit``)."""
    study = read_study_texts(directory)
    end = limit or len(study.bodies)
    return (
        study.bodies[:end],
        study.templates[:end],
        study.names,
        study.platforms,
        study.canaries[:end],
    )


def ours(bodies, names, platforms, canaries):
    """Masking on every core, then the template index: (ids, (the index, each skeleton))."""
    masked = mask_many(bodies, [names.get(c, ()) for c in canaries], platforms)
    index = TemplateIndex()
    return list(index.assign_all(masked.skeletons)), (index, masked.skeletons)


def naive(bodies, names, platforms, canaries):
    """Digits and links masked, each text against every representative (cutoff 85)."""
    from rapidfuzz import fuzz, process

    representatives: list[str] = []
    out = []
    for body in bodies:
        text = _NAIVE_MASK.sub("#", body)
        hit = process.extractOne(text, representatives, scorer=fuzz.ratio, score_cutoff=85)
        if hit is None:
            representatives.append(text)
            out.append(len(representatives) - 1)
        else:
            out.append(hit[2])
    return out, None


def drain(bodies, names, platforms, canaries):
    """Drain3 with its default configuration."""
    from drain3 import TemplateMiner

    miner = TemplateMiner()
    return [miner.add_log_message(body)["cluster_id"] for body in bodies], None


def left_apart(index: TemplateIndex, skeletons_of: list[str], true: list[str]) -> dict:
    """Pairs of distinct skeletons at or above the threshold in different templates.

    Exact up to ``EXACT_UP_TO`` skeletons, else ``SAMPLE`` of them against all. Also
    counts those whose words around the slots agree (the pairs the index could join),
    and those whose messages share a true template (the pairs it should join: the
    others are two true templates, and joining them would mix them).
    """
    from rapidfuzz import fuzz, process

    truths: dict[str, set[str]] = {}
    for skeleton, truth in zip(skeletons_of, true, strict=True):
        truths.setdefault(skeleton, set()).add(truth)

    skeletons = sorted(index.assigned)
    template = np.array([index.assigned[s] for s in skeletons])
    rows = range(len(skeletons))
    if len(skeletons) > EXACT_UP_TO:
        rows = sorted(random.Random(1).sample(rows, SAMPLE))
    apart = agree = same = same_agree = 0
    for start in range(0, len(rows), 1000):
        chunk = list(rows[start : start + 1000])
        scores = process.cdist(
            [skeletons[i] for i in chunk],
            skeletons,
            scorer=fuzz.ratio,
            score_cutoff=DEFAULT_THRESHOLD,
            dtype=np.uint8,
            workers=-1,
        )
        r, c = np.nonzero(scores)
        r = np.asarray(chunk)[r]
        keep = (r != c) & (template[r] != template[c])
        if len(rows) == len(skeletons):
            keep &= c > r  # each pair once
        for a, b in zip(r[keep].tolist(), c[keep].tolist(), strict=True):
            apart += 1
            words = fuzz.ratio(literal(skeletons[a]), literal(skeletons[b])) >= LITERAL_THRESHOLD
            together = bool(truths[skeletons[a]] & truths[skeletons[b]])
            agree += words
            same += together
            same_agree += words and together
    return {
        "skeletons": len(skeletons),
        "scored": len(rows),
        "apart": apart,
        "apart_words_agree": agree,
        "apart_same_template": same,
        "apart_same_template_words_agree": same_agree,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("method", choices=("ours", "naive", "drain3"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--apart", action="store_true")
    args = parser.parse_args()
    bodies, true, names, platforms, canaries = load(args.directory, args.limit)
    started = time.perf_counter()
    predicted, index = {"ours": ours, "naive": naive, "drain3": drain}[args.method](
        bodies, names, platforms, canaries
    )
    seconds = time.perf_counter() - started
    result = {
        "messages": len(bodies),
        "seconds": seconds,
        "templates": len(set(predicted)),
        "accuracy": grouping_accuracy(predicted, true),
    }
    if args.apart and index is not None:
        result |= left_apart(*index, true)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
