"""Reading a simulated study back: each message's text with its truth, for tests and benches."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StudyTexts:
    """The messages of a simulated study in order, with what the store would know of them."""

    bodies: list[str]
    templates: list[str]  # the true template of each message
    canaries: list[str]  # the label of each message's recipient
    names: dict[str, tuple[str, ...]]  # label → persona name and planted name variants
    platforms: tuple[str, ...]  # the sources' names


def read_study_texts(directory: Path) -> StudyTexts:
    """``messages.csv`` joined with ``truth.json`` and the roster of a simulated study."""
    truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    names: dict[str, set[str]] = defaultdict(set)
    with (directory / "canaries.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names[row["label"]].add(row["name"])
    for plant in truth["plants"]:
        if plant.get("name_used"):
            names[plant["canary"]].add(plant["name_used"])
    with (directory / "messages.csv").open(encoding="utf-8") as fh:
        bodies = [row["body"] for row in csv.DictReader(fh)]
    messages = truth["messages"]
    if len(bodies) != len(messages):
        raise ValueError(f"{directory}: messages.csv and truth.json disagree on the count")
    return StudyTexts(
        bodies=bodies,
        templates=[m["template"] for m in messages],
        canaries=[m["canary"] for m in messages],
        names={label: tuple(sorted(n)) for label, n in names.items()},
        platforms=tuple(s["name"] for s in truth["sources"]),
    )
