"""Template clustering against the simulator's true templates."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import pytest

from leaktrace.cluster import TemplateIndex, grouping_accuracy
from leaktrace.demo import find_sample_data
from leaktrace.text.slots import mask

SAMPLE = find_sample_data()


@pytest.fixture(scope="module")
def sample_skeletons() -> tuple[list[str], list[str]]:
    """(skeleton, true template) of every sample message, masked with what the store knows."""
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    names: dict[str, set[str]] = defaultdict(set)
    with (SAMPLE / "canaries.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names[row["label"]].add(row["name"])
    for plant in truth["plants"]:
        if plant.get("name_used"):
            names[plant["canary"]].add(plant["name_used"])
    platforms = tuple(s["name"] for s in truth["sources"])
    with (SAMPLE / "messages.csv").open(encoding="utf-8") as fh:
        bodies = [row["body"] for row in csv.DictReader(fh)]
    messages = truth["messages"]
    skeletons = [
        mask(body, tuple(sorted(names[m["canary"]])), platforms).skeleton
        for body, m in zip(bodies, messages, strict=True)
    ]
    return skeletons, [m["template"] for m in messages]


def test_grouping_accuracy_on_the_sample_study_is_at_least_095(sample_skeletons):
    skeletons, true = sample_skeletons
    predicted = TemplateIndex().assign_all(skeletons)
    assert grouping_accuracy(list(predicted), true) >= 0.95


def test_incremental_assignment_gives_the_partition_a_rebuild_gives(sample_skeletons):
    skeletons, _ = sample_skeletons
    half = len(skeletons) // 2
    incremental = TemplateIndex()
    first = incremental.assign_all(skeletons[:half])
    second = incremental.assign_all(skeletons[half:])
    rebuilt = TemplateIndex().assign_all(skeletons)
    together = [*first, *second]
    assert grouping_accuracy(together, list(rebuilt)) == 1.0


def test_grouping_accuracy_counts_a_message_only_when_its_whole_group_is_right():
    assert grouping_accuracy([1, 1, 2, 2], ["a", "a", "b", "b"]) == 1.0
    assert grouping_accuracy([1, 1, 1, 2], ["a", "a", "b", "b"]) == 0.0
    assert grouping_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"]) == 0.5
