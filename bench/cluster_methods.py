"""One clustering method over a study's messages, run in its own process by bench_cluster.

Prints one JSON line: messages, seconds, templates, grouping accuracy (when true
templates are known).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from leaktrace.sim.read import read_study_texts
from leaktrace.templates.index import TemplateIndex, grouping_accuracy
from leaktrace.text.batch import mask_many

_NAIVE_MASK = re.compile(r"https?://\S+|[\w.-]+\.test/\S*|\d+")


def load(directory: Path) -> tuple[list[str], list[str | None], dict, tuple, list[str]]:
    """Bodies, true templates (None for one-offs), names per canary, platforms, canaries."""
    study = read_study_texts(directory)
    bodies, canaries = list(study.bodies), list(study.canaries)
    true: list[str | None] = list(study.templates)
    extra = directory / "one_offs.txt"
    if extra.exists():
        for line in extra.read_text(encoding="utf-8").splitlines():
            bodies.append(line)
            true.append(None)
            canaries.append("")
    return bodies, true, study.names, study.platforms, canaries


def ours(bodies, names, platforms, canaries):
    masked = mask_many(bodies, [names.get(c, ()) for c in canaries], platforms)
    return list(TemplateIndex().assign_all(masked.skeletons))


def naive(bodies, names, platforms, canaries):
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
    return out


def drain(bodies, names, platforms, canaries):
    from drain3 import TemplateMiner

    miner = TemplateMiner()
    return [miner.add_log_message(body)["cluster_id"] for body in bodies]


def main() -> None:
    method, directory = sys.argv[1], Path(sys.argv[2])
    bodies, true, names, platforms, canaries = load(directory)
    started = time.perf_counter()
    predicted = {"ours": ours, "naive": naive, "drain3": drain}[method](
        bodies, names, platforms, canaries
    )
    seconds = time.perf_counter() - started
    # One-offs are their own true group each.
    labels = [t if t is not None else f"one-off-{i}" for i, t in enumerate(true)]
    print(
        json.dumps(
            {
                "messages": len(bodies),
                "seconds": seconds,
                "templates": len(set(predicted)),
                "accuracy": grouping_accuracy(predicted, labels),
            }
        )
    )


if __name__ == "__main__":
    main()
