"""Campaigns kept up to date: new messages extend them, ids stay, merges are recorded.

Linking step by step (after each group of imported files) must give what linking
everything at once gives, campaign ids aside; an id names the same campaign from run
to run, and an id merged away leads to the campaign that absorbed it.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leaktrace import roster
from leaktrace.campaigns.link import (
    campaign_indicators,
    current_campaign_id,
    link_campaigns,
)
from leaktrace.ingest.importer import ImportOptions, import_file, load_book
from leaktrace.roster.csvfiles import import_roster
from leaktrace.sim.demo import find_sample_data, sample_message_files
from leaktrace.store import Store
from leaktrace.templates.cluster import cluster_messages, merge_templates

SAMPLE = find_sample_data()


def campaign_state(store: Store) -> dict:
    """Everything linking wrote, with each campaign named by its set of message ids."""
    with store.connect() as con:
        members: dict[int, set[int]] = {}
        for message, campaign in con.execute("SELECT * FROM message_campaigns").fetchall():
            members.setdefault(campaign, set()).add(message)
        name = {c: frozenset(m) for c, m in members.items()}

        def rows(sql: str) -> list[tuple]:
            return sorted((tuple(sorted(name[r[0]])), *r[1:]) for r in con.execute(sql).fetchall())

        nodes = con.execute(
            "SELECT ns, key, node, first_message, templates, links, campaign_id"
            " FROM indicator_nodes ORDER BY node"
        ).fetchall()
        return {
            "partition": sorted(tuple(sorted(m)) for m in members.values()),
            "campaigns": rows(
                "SELECT id, label, size, templates, first_seen, last_seen, category FROM campaigns"
            ),
            "indicators": rows("SELECT * FROM campaign_indicators"),
            "links": rows("SELECT * FROM campaign_links"),
            "nodes": [(*n[:6], None if n[6] is None else tuple(sorted(name[n[6]]))) for n in nodes],
            "message_indicators": sorted(
                con.execute("SELECT * FROM message_indicators").fetchall()
            ),
            "campaign_templates": rows("SELECT * FROM campaign_templates"),
            "node_templates": sorted(con.execute("SELECT * FROM node_templates").fetchall()),
        }


def members(store: Store) -> dict[int, set[int]]:
    """Campaign id → its message ids."""
    out: dict[int, set[int]] = {}
    with store.connect() as con:
        for message, campaign in con.execute("SELECT * FROM message_campaigns").fetchall():
            out.setdefault(campaign, set()).add(message)
    return out


def follow(store: Store, campaign: int) -> int:
    with store.connect() as con:
        row = con.execute("SELECT into_id FROM campaign_merges WHERE id = ?", [campaign])
        found = row.fetchone()
    return campaign if found is None else found[0]


@pytest.mark.slow
@pytest.mark.parametrize("limit", [8, 2])
def test_linking_step_by_step_gives_what_linking_at_once_gives(tmp_path: Path, limit: int):
    store = Store(tmp_path / "steps.duckdb")
    import_roster(store, SAMPLE, ZoneInfo("Asia/Shanghai"))
    book = load_book(store)
    files = sample_message_files(SAMPLE)
    steps = [files[:40], files[40:41], files[41:90], files[90:91], files[91:]]
    assert sum(map(len, steps)) == len(files)
    extended = 0
    before: dict[int, set[int]] = {}
    for group in steps:
        for path, options in group:
            import_file(store, path, options, book=book)
        cluster_messages(store)
        result = link_campaigns(store, limit)
        extended += not result.relinked
        after = members(store)
        # Every id stays with (or leads to) the campaign holding most of its messages,
        # or nowhere when none of them links any more (an indicator grew too common).
        for campaign, messages in before.items():
            now = follow(store, campaign)
            shares = {c: len(messages & m) for c, m in after.items()}
            most = max(shares.values(), default=0)
            assert shares.get(now, 0) == most and (most > 0 or campaign not in after)
        before = after
    assert extended >= 2  # the steps did extend, not only relink
    at_once = tmp_path / "at-once.duckdb"
    shutil.copyfile(store.path, at_once)
    relinked = link_campaigns(Store(at_once), limit, relink=True)
    assert relinked.relinked
    assert campaign_state(store) == campaign_state(Store(at_once))
    # Linking from scratch on the same messages keeps every id.
    assert members(Store(at_once)) == members(store)


@pytest.mark.slow
def test_nothing_new_changes_nothing_and_a_template_merged_by_hand_relinks(sample_copy):
    cluster_messages(sample_copy)
    first = link_campaigns(sample_copy)
    assert first.relinked  # never linked before
    state = campaign_state(sample_copy)
    again = link_campaigns(sample_copy)
    assert not again.relinked and again == replace(first, relinked=False)
    assert campaign_state(sample_copy) == state
    with sample_copy.connect() as con:
        a, b = con.execute(
            "SELECT template_id FROM message_templates GROUP BY template_id"
            " ORDER BY count(*) DESC LIMIT 2"
        ).fetchall()
    merge_templates(sample_copy, b[0], a[0])
    assert link_campaigns(sample_copy).relinked


def _bridge_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "bridge.duckdb")
    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    return store


def _import_rows(store: Store, path: Path, rows: list[tuple[str, str, str]]) -> None:
    lines = ["received_at,recipient,sender,body"]
    lines += [f"{when},+8613800138000,{sender},{body}" for when, sender, body in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(store, path, ImportOptions())
    cluster_messages(store)


def _two_campaigns(days: int) -> list[tuple[str, str, str]]:
    """甲贷 (a link host) and 乙花 (a call-back number): ``days`` messages each."""
    return [
        (f"2026-03-0{d}T10:00:00+08:00", "1069000111", f"【甲贷】额度{d}万，点击jiadai.cn/a{d}")
        for d in range(1, days + 1)
    ] + [
        (f"2026-03-0{d}T11:00:00+08:00", "1069000222", f"【乙花】预批{d}万，详询400-333-4444")
        for d in range(1, days + 1)
    ]


def test_a_message_bridging_two_campaigns_merges_them_into_the_older_id(tmp_path, cli):
    store = _bridge_store(tmp_path)
    first = _two_campaigns(3)
    _import_rows(store, tmp_path / "1.csv", first)
    link_campaigns(store)
    old = members(store)
    assert len(old) == 2
    jia, yi = sorted(old)
    # A new wording that carries both: the link host of one and the call-back of the other.
    bridge = [("2026-03-05T09:00:00+08:00", "1069000999", "点击jiadai.cn/x 或致电400-333-4444")]
    _import_rows(store, tmp_path / "2.csv", bridge)
    result = link_campaigns(store)
    assert not result.relinked and result.campaigns == 1
    now = members(store)
    assert set(now) == {jia} and now[jia] == old[jia] | old[yi] | {max(now[jia])}
    assert current_campaign_id(store, yi) == jia and current_campaign_id(store, jia) == jia
    assert current_campaign_id(store, 999) is None
    kinds = {(i.kind, i.value) for i in campaign_indicators(store, jia)}
    assert {("url_host", "jiadai.cn"), ("callback", "4003334444")} <= kinds
    assert campaign_indicators(store, yi) == []  # the merged id holds nothing itself
    code, out = cli("--db", str(store.path), "campaigns", "--show", str(yi))
    assert code == 0 and f"merged into campaign {jia}" in out and "jiadai.cn" in out
    code, out = cli("--db", str(store.path), "campaigns", "--show", "999")
    assert code == 1 and "no campaign 999" in out
    # A later run from scratch keeps the surviving id and the merge.
    assert link_campaigns(store, relink=True).campaigns == 1
    assert set(members(store)) == {jia} and current_campaign_id(store, yi) == jia


def test_a_new_campaign_gets_a_fresh_id_never_one_given_before(tmp_path):
    store = _bridge_store(tmp_path)
    rows = _two_campaigns(2)
    _import_rows(store, tmp_path / "1.csv", rows)
    link_campaigns(store)
    _import_rows(
        store,
        tmp_path / "2.csv",
        [("2026-03-05T09:00:00+08:00", "1069000999", "点击jiadai.cn/x 或致电400-333-4444")],
    )
    link_campaigns(store)  # campaign 2 merged into 1
    _import_rows(
        store,
        tmp_path / "3.csv",
        [("2026-03-06T09:00:00+08:00", "1069000777", "【丙金】秒批，加微信dk88888888")],
    )
    assert not link_campaigns(store).relinked
    assert sorted(members(store)) == [1, 3]  # 2 was merged away: never given again


def test_a_campaign_whose_link_grew_too_common_splits_and_its_id_stays_with_the_most(tmp_path):
    store = _bridge_store(tmp_path)
    rows = [
        (
            f"2026-03-0{d}T10:00:00+08:00",
            f"106900011{d}",
            f"【甲贷】额度{d}万，点击x.cn/a{d}，详询400-111-2222",
        )
        for d in range(1, 4)
    ] + [
        (
            f"2026-03-0{d}T11:00:00+08:00",
            f"106900022{d}",
            f"【乙花】恭喜经营贷预批{d}万已到账请戳x.cn/b{d}咨询400-999-8888",
        )
        for d in range(1, 3)
    ]
    _import_rows(store, tmp_path / "1.csv", rows)
    link_campaigns(store, 2)
    (old,) = members(store)  # x.cn, seen with two templates, joins both senders
    _import_rows(
        store,
        tmp_path / "2.csv",
        [
            (
                "2026-03-05T09:00:00+08:00",
                "1069000333",
                "您的快递因地址不详无法派送请点击x.cn/c更新地址",
            )
        ],
    )
    result = link_campaigns(store, 2)  # x.cn now has three templates: it links nothing
    assert not result.relinked
    now = members(store)
    assert sorted(len(m) for m in now.values()) == [1, 2, 3]
    jia = next(c for c, m in now.items() if len(m) == 3)
    assert jia == old and current_campaign_id(store, old) == old  # the bigger part keeps it
    assert {c for c, m in now.items() if len(m) < 3} == {old + 1, old + 2}
    with store.connect() as con:
        assert con.execute(
            "SELECT links FROM indicator_nodes WHERE ns = 'domain' AND key = 'x.cn'"
        ).fetchone() == (False,)
    shared = {(i.kind, i.value, i.links) for i in campaign_indicators(store, old)}
    assert ("url_host", "x.cn", False) in shared
    assert campaign_state(store) == campaign_state(_relinked_copy(store, tmp_path, 2))


def _relinked_copy(store: Store, tmp_path: Path, limit: int) -> Store:
    copy = Store(tmp_path / "relinked.duckdb")
    shutil.copyfile(store.path, copy.path)
    link_campaigns(copy, limit, relink=True)
    return copy


def test_new_messages_reaching_a_campaign_apart_from_a_bridge_follow_the_merge(tmp_path):
    store = _bridge_store(tmp_path)
    rows = _two_campaigns(3)
    _import_rows(store, tmp_path / "1.csv", rows)
    link_campaigns(store)
    jia, yi = sorted(members(store))
    # One batch: a message bridging both, and one reaching 乙花 only through its channel.
    batch = [
        ("2026-03-05T09:00:00+08:00", "1069000999", "点击jiadai.cn/x 或致电400-333-4444"),
        ("2026-03-05T10:00:00+08:00", "1069000222", "【乙花】您好"),
    ]
    _import_rows(store, tmp_path / "2.csv", batch)
    assert not link_campaigns(store).relinked
    assert list(members(store)) == [jia] and len(members(store)[jia]) == 8
    assert current_campaign_id(store, yi) == jia
    assert campaign_state(store) == campaign_state(_relinked_copy(store, tmp_path, 8))


def test_old_messages_trading_templates_are_seen_and_relinked(tmp_path):
    store = _bridge_store(tmp_path)
    rows = [
        (f"2026-03-0{d}T10:00:00+08:00", "1069000111", f"【甲贷】额度{d}万，点击jiadai.cn/a{d}")
        for d in range(1, 3)
    ] + [
        (f"2026-03-0{d}T11:00:00+08:00", "1069000111", f"【甲贷】恭喜预批成功请戳jiadai.cn/b{d}")
        for d in range(1, 3)
    ]
    _import_rows(store, tmp_path / "1.csv", rows)
    link_campaigns(store)
    with store.connect() as con:  # two messages swap templates: every sum stays the same
        (a, ta), (b, tb) = con.execute(
            "SELECT min(message_id), template_id FROM message_templates GROUP BY template_id"
        ).fetchall()
        con.execute("UPDATE message_templates SET template_id = ? WHERE message_id = ?", [tb, a])
        con.execute("UPDATE message_templates SET template_id = ? WHERE message_id = ?", [ta, b])
    assert link_campaigns(store).relinked


def test_a_link_or_number_a_text_repeats_is_one_indicator_of_the_message(tmp_path):
    # Both ways of linking: the first run from scratch, the next extending it.
    store = _bridge_store(tmp_path)
    twice = "【甲贷】点击jiadai.cn/a 或jiadai.cn/a，致电400-333-4444 / 400-333-4444，回T退订回T退订"
    _import_rows(store, tmp_path / "1.csv", [("2026-03-01T10:00:00+08:00", "1069000111", twice)])
    link_campaigns(store, relink=True)
    _import_rows(store, tmp_path / "2.csv", [("2026-03-02T10:00:00+08:00", "1069000111", twice)])
    assert not link_campaigns(store).relinked
    with store.connect() as con:
        rows = con.execute(
            "SELECT message_id, kind, value, count(*) FROM message_indicators GROUP BY ALL"
        ).fetchall()
    assert {(kind, value) for _, kind, value, _ in rows} >= {
        ("url_host", "jiadai.cn"),
        ("callback", "4003334444"),
    }
    assert len({m for m, *_ in rows}) == 2 and all(n == 1 for *_, n in rows)
