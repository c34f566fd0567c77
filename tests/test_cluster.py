"""Template clustering against the simulator's true templates."""

from __future__ import annotations

import random

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
    import numpy as np

    from leaktrace.templates import index as cluster
    from leaktrace.templates.minhash import BANDS

    common = "【<SIG>】尊敬的<NAME>,您有<AMOUNT>备用金额度将于<DATE>到期,点击<URL>立即领取,<REPLY>"
    variant = "【<SIG>】尊敬的客户,您<AMOUNT>备用金頟度将于<DATE>到期,点击<URL>立即领取,<REPLY>"
    skeletons = [common] * 50 + [variant]
    assert len(set(TemplateIndex().assign_all(skeletons))) == 1
    # LSH offering nothing at all (every band key distinct): the scan of established
    # templates finds it; without that scan, a second template.
    rng = np.random.default_rng(1)
    monkeypatch.setattr(
        cluster,
        "band_keys",
        lambda signature: rng.integers(0, 2**63, (len(signature), BANDS), dtype=np.uint64),
    )
    monkeypatch.setattr(cluster, "BLOCK", 1)  # the common one is established before
    assert len(set(TemplateIndex().assign_all(skeletons))) == 1
    monkeypatch.setattr(cluster, "ESTABLISHED", 10**9)
    assert len(set(TemplateIndex().assign_all(skeletons))) == 2


# Real spam (a public English SMS corpus, and Chinese loan spam) repeats itself with
# retyped words: pairs scoring 85-90 that MinHash-LSH does not offer to each other.
NEAR_DUPLICATES = [
    (
        "Wanna get laid 2nite? Want real Dogging locations sent direct to ur mobile? Join the"
        " UK's largest Dogging Network. txt PARK to 69696. Nyt. ec2a. 3lp £1.50/msg",
        "wamma get laid?want real doggin locations sent direct to your mobile? join the UKs"
        " largest dogging network. txt dogs to 69696 now!nyt. ec2a. 3lp £1.50/msg.",
    ),
    (
        "【鑫享贷】您有30000元备用金额度待领取，请加微信wx8812345办理，回T退订",
        "【鑫享贷】您有30000元备用金额度待领取，请加微wx8812345办理，回T退订",
    ),
    (
        "Your free ringtone is waiting to be collected. Simply text the password MIX to 85069"
        " to verify. Get Usher and Britney. FML",
        "Your free ringtone is waiting 2 be collected. Simply txt the password MIX to 85069 to"
        " verify. Get Usher & Britney. FML",
    ),
]


@pytest.mark.parametrize(("first", "second"), NEAR_DUPLICATES)
def test_a_retyped_one_off_joins_the_one_off_it_repeats(first, second):
    # Each is a template of one message among 300 unrelated one-offs: no template is
    # established, so LSH alone must join them.
    rng = random.Random(7)
    filler = [
        "".join(rng.choices("abcdefghij klmnop歧义贷款额度", k=rng.randint(20, 140)))
        for _ in range(300)
    ]
    index = TemplateIndex()
    index.assign_all(filler)
    assert index.assign(mask(first).skeleton) == index.assign(mask(second).skeleton)


@pytest.mark.parametrize(
    "texts",
    [
        ["Win £1000 now", "Pay £1000 now", "Get £1000 now"],
        ["余额：5000元", "还款：5000元", "工资：5000元"],
        ["Call 07781482378 now", "Ring 07781482378 today", "Text 07781482378 pls"],
        ["Win 400-123-4567 now", "Pay 400-123-4567 now", "Get 400-123-4567 now"],
        ["Win 95588 now", "Pay 95588 now", "Get 95588 now"],
        ["验证码483920", "单号7738291033", "尾号1234"],
        ["http://t.cn/A6x7Yq 领取", "http://bit.ly/3xYz 退款", "www.abc.com 中奖"],
    ],
)
def test_short_texts_that_are_mostly_one_slot_are_not_glued(texts):
    # The words around the slot differ; the slot's own letters must not make them one.
    skeletons = [mask(t).skeleton for t in texts]
    assert len(set(TemplateIndex().assign_all(skeletons))) == len(texts), skeletons


def test_a_simulated_study_with_every_obfuscation_groups_as_it_was_sent(tmp_path):
    # Every spammer obfuscation the simulator knows, each with chance 0.7 per message:
    # broken and spelled-out link schemes, 。 in hosts, separators between Chinese
    # characters, Cyrillic look-alikes, phone digits as x, 卡 as 咔.
    from leaktrace.sim.config import SimConfig
    from leaktrace.sim.simulate import simulate

    simulate(SimConfig(seed=4, messages=3000, canaries=60, controls=10, obfuscation=0.7), tmp_path)
    study = read_study_texts(tmp_path)
    bodies = "".join(study.bodies)
    for obfuscated in ("h t t p://", "hxxp://", "http//", "。test/", "400-xxx-", "咔"):
        assert obfuscated in bodies
    skeletons = [
        mask(body, study.names.get(label, ()), study.platforms).skeleton
        for body, label in zip(study.bodies, study.canaries, strict=True)
    ]
    predicted = TemplateIndex().assign_all(skeletons)
    assert grouping_accuracy(list(predicted), study.templates) >= 0.98
