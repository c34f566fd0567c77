"""Campaigns in a real store: linking through shared indicators, reasons, aggregators."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from faker import Faker

from leaktrace import roster
from leaktrace.campaigns.link import (
    campaign_indicators,
    link_campaigns,
    list_campaigns,
)
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store
from leaktrace.templates.cluster import cluster_messages
from leaktrace.templates.index import grouping_accuracy
from leaktrace.text.domains import registrable_domain

SAMPLE = find_sample_data()


@pytest.fixture
def study(sample_copy: Store) -> Store:
    cluster_messages(sample_copy)
    return sample_copy


def campaign_of(store: Store) -> dict[tuple[str, int], int | None]:
    """(canary label, received second) → campaign id, for every message."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT c.label, epoch_ms(m.received_at) // 1000, mc.campaign_id FROM messages m"
            " JOIN canaries c ON c.id = m.canary_id"
            " LEFT JOIN message_campaigns mc ON mc.message_id = m.id"
        ).fetchall()
    return {(label, s): cid for label, s, cid in rows}


@pytest.mark.slow
def test_the_sample_studys_campaigns_are_found_as_the_simulator_ran_them(study):
    result = link_campaigns(study)
    assert result.linked_messages == 2970 and result.unlinked_messages == 0
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    # A source's own messages (first-party) are that source's campaign.
    true = {
        (m["canary"], m["received_at_ms"] // 1000): m["campaign"] or f"own-{m['source']}"
        for m in truth["messages"]
    }
    got = campaign_of(study)
    keys = sorted(true)
    assert grouping_accuracy([got[k] for k in keys], [true[k] for k in keys]) >= 0.95
    # Every campaign says why: at least one linking indicator, and two linking
    # indicators always come with the pair seen together.
    for campaign in list_campaigns(study, limit=1000):
        linking = [i for i in campaign_indicators(study, campaign.id) if i.links]
        assert linking, campaign
        with study.connect() as con:
            pairs = con.execute(
                "SELECT count(*) FROM campaign_links WHERE campaign_id = ?", [campaign.id]
            ).fetchone()[0]
        assert pairs >= 1 or len({(i.kind, i.value) for i in linking}) == 1


def test_a_campaign_lists_its_signature_and_reply_code_but_they_link_nothing(study):
    link_campaigns(study)
    biggest = list_campaigns(study, limit=1)[0]
    kinds = {i.kind: i for i in campaign_indicators(study, biggest.id)}
    assert biggest.label.startswith("【")
    assert not kinds["signature"].links and not kinds["reply"].links
    assert kinds["url_host"].links or kinds["channel"].links


def test_registrable_domains_join_a_link_host_and_a_mail_domain():
    assert registrable_domain("mail.5vsj.test") == "5vsj.test"
    assert registrable_domain("news.shop.com.cn") == "shop.com.cn"
    assert registrable_domain("alice.github.io") == "alice.github.io"  # private suffix
    assert registrable_domain("t.cn") == "t.cn"
    assert registrable_domain("10.0.0.1") == "10.0.0.1"


def write_aggregated_study(path: Path) -> None:
    """Two loan campaigns and twelve unrelated senders, all using one short-link host.

    Campaign 甲 sends from channel 10690001 + a random extension, campaign 乙 from
    10690002; each has its own call-back number and signature. The twelve others
    share an aggregator's channel 10659999, each with its own signature. Every
    message of all fourteen senders carries a dwz.cn link.
    """
    rng = random.Random(3)
    fake = Faker("zh_CN")
    fake.seed_instance(3)
    rows = []
    for day in range(1, 11):
        when = f"2026-03-{day:02d}T10:00:00+08:00"
        ext = rng.randrange(1000)
        rows.append(
            (
                when,
                f"10690001{ext:03d}",
                f"【甲贷】您有{rng.randrange(1, 9)}万元额度待领取，"
                f"点击dwz.cn/{rng.randrange(10**6)}，详询400-111-2222，回T退订",
            )
        )
        rows.append(
            (
                when,
                f"10690002{ext:03d}",
                f"【乙花】恭喜，经营贷{rng.randrange(1, 9)}万已预批，"
                f"戳dwz.cn/{rng.randrange(10**6)}，客服400-333-4444，拒收请回复R",
            )
        )
    for n in range(12):  # unrelated one-off senders, each its own wording
        rows.append(
            (
                f"2026-03-{n + 1:02d}T12:00:00+08:00",
                f"10659999{rng.randrange(1000):03d}",
                f"【{fake.company_prefix()}{n}】{fake.sentence(nb_words=8)}dwz.cn/{n}x",
            )
        )
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["received_at", "recipient", "sender", "body"])
        for when, sender, body in rows:
            writer.writerow([when, "+8613800138000", sender, body])


@pytest.fixture
def aggregated(tmp_path: Path) -> Store:
    store = Store(tmp_path / "agg.duckdb")
    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    write_aggregated_study(tmp_path / "sms.csv")
    result = import_file(store, tmp_path / "sms.csv", ImportOptions())
    assert result.inserted == 32
    cluster_messages(store)
    return store


def campaigns_by_signature(store: Store) -> dict[str, set[int]]:
    with store.connect() as con:
        rows = con.execute(
            "SELECT t.signature, mc.campaign_id FROM message_templates t"
            " JOIN message_campaigns mc USING (message_id)"
        ).fetchall()
    out: dict[str, set[int]] = {}
    for signature, campaign in rows:
        out.setdefault(signature, set()).add(campaign)
    return out


def test_an_aggregators_short_link_host_does_not_glue_unrelated_senders(aggregated):
    result = link_campaigns(aggregated)
    found = campaigns_by_signature(aggregated)
    assert len(found["甲贷"]) == 1 and len(found["乙花"]) == 1
    assert found["甲贷"] != found["乙花"]
    assert result.shared_indicators >= 1
    (jia,) = found["甲贷"]
    indicators = {(i.kind, i.value): i for i in campaign_indicators(aggregated, jia)}
    host = indicators[("url_host", "dwz.cn")]
    assert not host.links and host.templates >= 12
    # The random extensions fold into one channel, and one channel bound to the signature.
    channels = sorted(
        (i.kind, i.value, i.messages) for i in indicators.values() if "channel" in i.kind
    )
    assert channels == [
        ("channel", "10690001…", 10),
        ("channel_signature", "10690001…【甲贷】", 10),
    ]
    with aggregated.connect() as con:
        reasons = con.execute(
            "SELECT kind_a, value_a, kind_b, value_b, messages FROM campaign_links"
            " WHERE campaign_id = ?",
            [jia],
        ).fetchall()
    assert {frozenset([(a, va), (b, vb)]) for a, va, b, vb, _ in reasons} == {
        frozenset([("channel", "10690001…"), ("channel_signature", "10690001…【甲贷】")]),
        frozenset([("channel", "10690001…"), ("phone", "4001112222")]),
    }
    assert {r[4] for r in reasons} == {10}
    # The aggregator's channel joins nothing; each of its clients stays apart.
    others = [v for k, v in found.items() if k not in ("甲贷", "乙花")]
    assert len(others) == 12 and len(set().union(*others)) == 12


def test_without_the_specificity_limit_the_aggregator_glues_everything(aggregated):
    link_campaigns(aggregated, max_templates=1000)
    found = campaigns_by_signature(aggregated)
    assert len(set().union(*found.values())) == 1
    # The limit used is remembered for the next run.
    link_campaigns(aggregated)
    assert len(set().union(*campaigns_by_signature(aggregated).values())) == 1


def test_cluster_links_campaigns_and_campaigns_lists_and_explains_them(study, cli, monkeypatch):
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    code, out = cli("cluster")
    assert code == 0 and "campaigns:" in out
    code, out = cli("campaigns", "--json", "--limit", "3")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 3 and listed[0]["size"] >= listed[1]["size"]
    code, out = cli("campaigns", "--show", str(listed[0]["id"]), "--json")
    shown = json.loads(out)
    assert code == 0 and any(i["links"] for i in shown)
