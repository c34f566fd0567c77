"""First-party inference on real stores: each rule, the review, and given IDs winning."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exports import send
from leaktrace import roster
from leaktrace.attribution.first_party import (
    ChannelError,
    is_verification,
    list_channels,
    name_forms,
    names_source,
    review_channel,
)
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.model import Source, SourceCategory
from leaktrace.pipeline import analyse
from leaktrace.store import Store

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def study(tmp_path: Path, *sources: Source, canaries: int = 3) -> Store:
    """Each source with ``canaries`` canaries planted at T0 (labels s<i>-<j>), two controls."""
    store = Store(tmp_path / "s.duckdb")
    for i, source in enumerate(sources):
        roster.add_source(store, source)
        for j in range(canaries):
            label = f"s{i}-{j}"
            roster.new_canary(store, phone=f"+447700900{i * 10 + j:03d}", label=label, seed=j)
            roster.plant(store, label, source.name, T0)
    for j in range(2):
        roster.new_canary(store, phone=f"+447700900{900 + j}", label=f"ctl-{j}", control=True)
    return store


def shop(name: str, url: str | None = None, **kw) -> Source:
    return Source(name=name, category=SourceCategory.ECOMMERCE, url=url, **kw)


def first_party(store: Store) -> dict[str, bool]:
    with store.connect() as con:
        return dict(con.execute("SELECT body, first_party FROM messages").fetchall())


def test_source_names_are_matched_in_their_spellings():
    forms = name_forms("融中房产", "https://www.rzfc.com.cn/login")
    assert names_source("【融中房产3】", forms) and names_source("融中房产", forms)
    assert names_source("RongZhongFangChan", forms) and names_source("RZFC", forms)
    assert not names_source("【鑫享贷】", forms) and not names_source("房", forms)
    assert names_source("Lendly-Alerts", name_forms("Lendly (UK)", None))
    assert is_verification("【融中房产】您的验证码是482913，5分钟内有效")
    assert is_verification("Your Lendly verification code is 4821")
    assert not is_verification("【鑫享贷】您有30000元备用金额度，回T退订")


def test_a_signature_naming_the_source_is_its_channel_until_rejected(tmp_path):
    store = study(tmp_path, shop("融中房产"), shop("乙商城"))
    day = T0 + timedelta(days=3)
    own = [
        (day + timedelta(minutes=i), f"s0-{i}", "1069555500", f"【融中房产3】新盘开售{i}")
        for i in range(3)
    ]
    send(store, tmp_path, own)
    [channel] = list_channels(store)
    assert (channel.source, channel.kind, channel.value, channel.status, channel.rule) == (
        "融中房产", "signature", "【融中房产3】", "inferred", "signature",
    )  # fmt: skip
    assert "names 融中房产" in channel.reason
    assert all(first_party(store).values())
    # A message signed with it to a canary planted elsewhere is not first-party there.
    send(
        store,
        tmp_path,
        [(day + timedelta(hours=1), "s1-0", "1069555500", "【融中房产3】新盘开售9")],
    )
    assert first_party(store)["【融中房产3】新盘开售9"] is False
    # Rejected: its messages count again, and no later analysis infers it again.
    channel, flagged = review_channel(store, channel.id, "rejected")
    assert channel.status == "rejected" and flagged == 0
    analyse(store)
    assert [c.status for c in list_channels(store)] == ["rejected"]
    assert not any(first_party(store).values())
    channel, flagged = review_channel(store, channel.id, "confirmed")
    assert channel.status == "confirmed" and flagged == 3


def test_a_sender_and_a_mail_domain_naming_the_source(tmp_path):
    store = study(tmp_path, shop("Lendly", "https://www.lendly.co.uk"), shop("ShopA"))
    day = T0 + timedelta(days=2)
    send(
        store,
        tmp_path,
        [
            (day, "s0-0", "LENDLY", "Your statement is ready"),
            (day, "s0-1", "news@mail.lendly.co.uk", "Spring offers for you"),
            (day, "s0-2", "offers@cheap-loans.test", "Spring offers for you too"),
        ],
    )
    found = {(c.kind, c.value, c.rule) for c in list_channels(store)}
    assert found == {("sender", "lendly", "sender"), ("domain", "lendly.co.uk", "mail-domain")}
    flags = first_party(store)
    assert flags["Your statement is ready"] and flags["Spring offers for you"]
    assert flags["Spring offers for you too"] is False


def test_a_link_into_the_sources_domain(tmp_path):
    store = study(tmp_path, shop("好借钱包", "https://m.haojie.cn/app"), shop("ShopA"))
    day = T0 + timedelta(days=4)
    body = "您的账单已出，详情见 https://bill.haojie.cn/x7 回T退订"
    other = "您的账单已出，详情见 https://haojie.cn.k4v6.test/x7 回T退订"
    send(store, tmp_path, [(day, "s0-0", "10691234", body), (day, "s0-1", "10691234", other)])
    [channel] = list_channels(store)
    assert (channel.kind, channel.value, channel.rule) == ("link", "haojie.cn", "link-domain")
    flags = first_party(store)
    assert flags[body] is True and flags[other] is False  # a look-alike host is not its domain


def test_a_verification_code_just_after_a_plant_names_its_sender(tmp_path):
    store = study(tmp_path, shop("易信贷"), shop("乙商城"))
    code = "您的验证码是482913，5分钟内有效"
    late = "验证码 771204，请勿泄露"
    send(
        store,
        tmp_path,
        [
            (T0 + timedelta(seconds=40), "s0-0", "106900881234", code),
            # The same sender later: first-party through the channel the code showed.
            (T0 + timedelta(days=9), "s0-1", "106900881234", "您的借款额度已更新"),
            # A code two hours after a plant is not taken as the site's sender.
            (T0 + timedelta(hours=2), "s1-0", "106955550000", late),
        ],
    )
    [channel] = list_channels(store)
    assert (channel.source, channel.kind, channel.value, channel.rule) == (
        "易信贷", "sender", "106900881234", "verification",
    )  # fmt: skip
    assert "min after a canary was planted at 易信贷" in channel.reason
    flags = first_party(store)
    assert flags[code] and flags["您的借款额度已更新"] and flags[late] is False


def test_sender_ids_a_user_gave_win_over_inference(tmp_path):
    given = shop("甲商城", sender_ids=("106900881234",))
    store = study(tmp_path, given, shop("易信贷"))
    # 易信贷's canary gets a code from 甲商城's sender right after its plant: the user
    # said whose sender that is, so it is not inferred as 易信贷's.
    send(store, tmp_path, [(T0 + timedelta(seconds=30), "s1-0", "106900881234", "验证码 482913")])
    assert list_channels(store) == []
    assert first_party(store)["验证码 482913"] is False


def test_an_own_campaign_is_no_leak_once_inferred(tmp_path):
    # The held-out failure: a source with no sender IDs texts all its canaries in its
    # own name, the first 20 seconds after planting; it must not be called leaked.
    store = study(tmp_path, shop("融中房产"), shop("乙商城"), canaries=4)
    rows = [
        (T0 + timedelta(seconds=20 + i), f"s0-{i}", "1069888800", f"【融中房产3】欢迎注册{i}")
        for i in range(4)
    ]
    rows += [
        (T0 + timedelta(days=20, minutes=i), f"s0-{i}", "1069888800", f"【融中房产3】限时优惠{i}")
        for i in range(4)
    ]
    send(store, tmp_path, rows)
    with store.connect() as con:
        report = json.loads(
            con.execute(
                "SELECT report FROM source_verdicts v JOIN sources s ON s.id = v.source_id"
                " WHERE s.name = '融中房产'"
            ).fetchall()[0][0]
        )
    assert report["verdict"] != "leaked"
    assert all(first_party(store).values())


def test_reviewing_what_does_not_exist_is_refused(tmp_path, cli, monkeypatch):
    store = study(tmp_path, shop("融中房产"))
    with pytest.raises(ChannelError, match="no first-party channel 9"):
        review_channel(store, 9, "confirmed")
    with pytest.raises(ChannelError, match="confirmed or rejected"):
        review_channel(store, 1, "maybe")
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    send(store, tmp_path, [(T0 + timedelta(days=1), "s0-0", "10690001", "【融中房产】新盘开售")])
    code, out = cli("first-party", "list", "--json")
    [listed] = json.loads(out)
    assert code == 0 and listed["status"] == "inferred" and listed["source"] == "融中房产"
    code, out = cli("first-party", "reject", str(listed["id"]))
    assert code == 0 and "rejected" in out and "0 messages" in out
    code, out = cli("first-party", "list", "--status", "maybe")
    assert code != 0 and "--status takes inferred, confirmed, rejected" in out


def test_names_need_more_than_a_qualifier_or_a_shared_domain():
    forms = name_forms("平安银行(深圳)", None)
    assert names_source("【平安银行】", forms) and not names_source("【深圳】", forms)
    assert not names_source("【银行】", forms)  # two Han characters inside a longer name
    # A shop on a platform cannot claim the platform: taobao.com names no source.
    assert "taobao" not in name_forms("小王的店", "https://shop123.taobao.com")


def test_a_channel_that_reaches_contacts_the_source_does_not_have_is_not_its_own(tmp_path):
    # Signed with S's name, but also sent to a control: phishing or a list, not S.
    store = study(tmp_path, shop("融中房产"), shop("乙商城"))
    day = T0 + timedelta(days=5)
    rows = [(day, f"s0-{i}", "1069555500", f"【融中房产】贷款优惠{i}") for i in range(3)]
    rows.append((day, "ctl-0", "1069555500", "【融中房产】贷款优惠9"))
    send(store, tmp_path, rows)
    assert list_channels(store) == []
    assert not any(first_party(store).values())


def test_codes_near_two_plants_or_just_before_one(tmp_path):
    store = study(tmp_path, shop("易信贷"), shop("乙商城"), canaries=2)
    # s0-1 is planted at 乙商城 too, in the same sitting: whose code is unclear.
    roster.plant(store, "s0-1", "乙商城", T0 + timedelta(minutes=5))
    send(
        store,
        tmp_path,
        [
            # Two minutes before the recorded plant: `plant --at` is rarely exact.
            (T0 - timedelta(minutes=2), "s0-0", "106900881234", "验证码 482913"),
            (T0 + timedelta(minutes=1), "s0-1", "106900889999", "验证码 771204"),
        ],
    )
    [channel] = list_channels(store)
    assert channel.value == "106900881234" and "2 min before" in channel.reason


def test_messages_given_to_a_canary_later_are_looked_at(tmp_path):
    from leaktrace.ingest import quarantine

    store = study(tmp_path, shop("融中房产"), shop("乙商城"))
    # The canary's second number (a forwarding line) is not in the roster.
    roster.new_canary(store, phone="+447700900777", label="late", seed=9)
    roster.plant(store, "late", "融中房产", T0)
    stranger = "+447700900555"
    path = tmp_path / "late.csv"
    path.write_text(
        "received_at,recipient,sender,body\n"
        f"{(T0 + timedelta(days=1)).isoformat()},{stranger},10690001,【融中房产3】欢迎\n",
        encoding="utf-8",
    )
    import_file(store, path, ImportOptions())
    analyse(store)
    assert list_channels(store) == []  # quarantined: nobody's canary yet
    # The roster is unchanged; the message, already looked at, now belongs to a canary.
    quarantine.assign(store, stranger, "late")
    analyse(store)
    assert [c.value for c in list_channels(store)] == ["【融中房产3】"]
