"""Template clustering against the simulator's true templates."""

from __future__ import annotations

import pytest

from leaktrace.sim.demo import find_sample_data
from leaktrace.sim.read import read_study_texts
from leaktrace.templates.index import TemplateIndex, grouping_accuracy
from leaktrace.text.slots import mask

SAMPLE = find_sample_data()


@pytest.fixture(scope="module")
def sample_skeletons() -> tuple[list[str], list[str]]:
    """(skeleton, true template) of every sample message, masked with what the store knows."""
    study = read_study_texts(SAMPLE)
    skeletons = [
        mask(body, study.names.get(label, ()), study.platforms).skeleton
        for body, label in zip(study.bodies, study.canaries, strict=True)
    ]
    return skeletons, study.templates


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


def test_a_variant_minhash_misses_still_joins_an_established_template(monkeypatch):
    from leaktrace.templates import index as cluster

    common = "【<SIG>】尊敬的<NAME>,您有<AMOUNT>备用金额度将于<DATE>到期,点击<URL>立即领取,<REPLY>"
    variant = "【<SIG>】尊敬的客户,您<AMOUNT>备用金頟度将于<DATE>到期,点击<URL>立即领取,<REPLY>"
    skeletons = [common] * 50 + [variant]
    ids = TemplateIndex().assign_all(skeletons)
    assert len(set(ids)) == 1
    # Without the scan of established templates, LSH alone founds a second template.
    monkeypatch.setattr(cluster, "ESTABLISHED", 10**9)
    assert len(set(TemplateIndex().assign_all(skeletons))) == 2
