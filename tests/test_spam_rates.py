"""Spam per canary-week by group and category: exact answers on a hand-built study."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from exports import send
from leaktrace import roster, views
from leaktrace.attribution.rates import (
    first_spam,
    garwood,
    headline,
    rate_messages,
    spam_rates,
    with_intervals,
)
from leaktrace.model import Source, SourceCategory
from leaktrace.store import Store

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEK_DAYS = 7.0


def loan(day: float, label: str, n: int) -> tuple:
    return (
        T0 + day * DAY,
        label,
        f"10695555{n:03d}",
        f"【鑫享贷】有{n + 2}万元额度，点k4v6.test/{n}",
    )


def gambling(day: float, label: str, n: int) -> tuple:
    return (
        T0 + day * DAY,
        label,
        f"10657777{n:03d}",
        f"【博彩城】百家乐首充送{n}8元彩金，戳cy0h.test/{n}",
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Store:
    """A (credit_inquiry) gets a1 and a2 on day 10; a2 also goes to B (bank) on day 20.

    Two controls. Every inbox is watched from day 0 (the export's first message) to
    day 30 (its last). Expected, in canary-days: before 20 (a1, a2: 0-10), after
    credit_inquiry 30 (a1: 10-30, a2: 10-20), after several categories 10 (a2: 20-30),
    controls 60.
    """
    tmp = tmp_path_factory.mktemp("rates")
    store = Store(tmp / "s.duckdb")
    for name, category, sender, signature in (
        ("A", SourceCategory.CREDIT_INQUIRY, "10690001", "【甲查查】"),
        ("B", SourceCategory.BANK, "10690002", "【乙银行】"),
    ):
        roster.add_source(
            store,
            Source(name=name, category=category, sender_ids=(sender,), signatures=(signature,)),
        )
    for i, label in enumerate(("a1", "a2")):
        roster.new_canary(store, phone=f"+44770090010{i}", label=label, seed=i)
    for i, label in enumerate(("ctl1", "ctl2")):
        roster.new_canary(store, phone=f"+44770090020{i}", label=label, control=True, seed=i)
    roster.plant(store, "a1", "A", T0 + 10 * DAY)
    roster.plant(store, "a2", "A", T0 + 10 * DAY)
    roster.plant(store, "a2", "B", T0 + 20 * DAY)
    rows = [
        *(gambling(0, who, i) for i, who in enumerate(("a1", "a2", "ctl1", "ctl2"))),
        loan(5, "ctl1", 1),
        # A's own verification text: first-party, counted nowhere.
        (T0 + 10 * DAY + timedelta(minutes=5), "a1", "10690001001", "【甲查查】验证码1234"),
        loan(12, "a1", 2),
        loan(12, "a2", 3),
        loan(15, "a1", 4),
        loan(25, "a2", 5),
        loan(25, "a1", 6),
        gambling(30, "ctl2", 7),  # the study's last message: as_of, and counted
    ]
    send(store, tmp, rows)
    return store


def row(rates: pd.DataFrame, group: str, category: str) -> pd.Series:
    [match] = rates[(rates["group"] == group) & (rates["category"] == category)].index
    return rates.loc[match]


def test_groups_their_canary_weeks_and_counts_are_exact(study):
    rates = spam_rates(study)
    expected = {
        # group: (kind, canaries, canary-days, loan, gambling)
        "before planting": ("before", 2, 20, 0, 2),
        "after planting at credit_inquiry": ("after", 2, 30, 4, 0),
        "after planting at several categories": ("after", 1, 10, 1, 0),
        "controls": ("control", 2, 60, 1, 3),
    }
    assert list(dict.fromkeys(rates["group"])) == list(expected)  # before, after…, controls
    assert set(rates["category"]) == {"loan", "gambling"}  # first-party left out
    for group, (kind, canaries, days, loans, gamblings) in expected.items():
        for category, count in (("loan", loans), ("gambling", gamblings)):
            r = row(rates, group, category)
            assert (r["kind"], r["canaries"], r["messages"]) == (kind, canaries, count)
            assert r["canary_weeks"] == pytest.approx(days / WEEK_DAYS, abs=1e-6)
            assert r["rate"] == pytest.approx(count / (days / WEEK_DAYS), abs=1e-6)


def test_intervals_are_garwoods_exact_poisson_intervals():
    from scipy.stats import chi2

    counts = np.array([0, 1, 4, 25, 1000])
    low, high = garwood(counts)
    assert low[0] == 0.0
    assert np.allclose(low[1:], chi2.ppf(0.025, 2 * counts[1:]) / 2)
    assert np.allclose(high, chi2.ppf(0.975, 2 * counts + 2) / 2)
    assert high[0] == pytest.approx(3.6889, abs=1e-4)  # the textbook upper bound for 0


def test_a_rates_interval_is_the_counts_interval_over_its_canary_weeks(study):
    from scipy.stats import chi2

    r = row(spam_rates(study), "after planting at credit_inquiry", "loan")
    weeks = 30 / WEEK_DAYS
    assert r["low"] == pytest.approx(chi2.ppf(0.025, 8) / 2 / weeks)
    assert r["high"] == pytest.approx(chi2.ppf(0.975, 10) / 2 / weeks)


def test_the_sentence_compares_with_controls_by_an_exact_test(study):
    # 4 loan messages in 30 canary-days against 1 in 60: 8×; under equal rates the
    # group's share of the 5 is Binomial(5, 1/3): P(X >= 4) = 11/243.
    assert headline(spam_rates(study)) == (
        "credit inquiry canaries received 8.0× the loan messages per canary-week of controls"
        " after planting (0.93 against 0.12; p = 0.045)."
    )


def test_the_sentence_says_when_controls_received_none_or_there_are_none(study):
    rates = spam_rates(study)
    no_loans = rates.copy()
    no_loans.loc[no_loans["kind"] == "control", ["messages", "rate"]] = 0
    assert headline(no_loans) == (
        "credit inquiry canaries received 0.93 loan messages per canary-week after planting;"
        " controls received none in 9 canary-weeks (p = 0.012)."
    )
    no_controls = rates[rates["kind"] != "control"]
    assert headline(no_controls) == (
        "credit inquiry canaries received 0.93 loan messages per canary-week after planting;"
        " no controls were watched, so background spam cannot be measured."
    )
    assert headline(rates, category="fraud") is None


def test_a_weak_difference_is_called_so(study):
    rates = spam_rates(study)
    assert headline(rates, category="gambling") is None  # no planted canary got any after
    weak = rates.copy()
    weak.loc[(weak["kind"] == "control") & (weak["category"] == "loan"), "messages"] = 2
    assert headline(weak).endswith("not clearly more than background (p = 0.1).")


def test_a_study_without_controls_still_has_its_other_groups(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    roster.add_source(store, Source(name="A", category=SourceCategory.LOAN_PLATFORM))
    roster.new_canary(store, phone="+447700900100", label="a1", seed=1)
    roster.plant(store, "a1", "A", T0 + 10 * DAY)
    send(store, tmp_path, [gambling(0, "a1", 1), loan(14, "a1", 2), loan(17, "a1", 3)])
    rates = spam_rates(store)
    assert set(rates["group"]) == {"before planting", "after planting at loan_platform"}
    after = row(rates, "after planting at loan_platform", "loan")
    assert (after["messages"], after["canary_weeks"]) == (2, pytest.approx(1.0))
    assert headline(rates) == (
        "loan platform canaries received 2.00 loan messages per canary-week after planting;"
        " no controls were watched, so background spam cannot be measured."
    )


def test_an_empty_store_has_no_rates(tmp_path):
    rates = spam_rates(Store(tmp_path / "empty.duckdb"))
    assert rates.empty and headline(rates) is None


def test_a_sources_rates_cut_its_canaries_at_their_plant_there(study):
    rates = spam_rates(study, source="B")
    assert list(dict.fromkeys(rates["group"])) == [
        "before planting here",
        "after planting here",
        "controls",
    ]
    # a2 alone: watched from day 0, given to B on day 20, seen to day 30.
    before = row(rates, "before planting here", "loan")
    after = row(rates, "after planting here", "loan")
    assert (before["messages"], before["canary_weeks"]) == (1, pytest.approx(20 / WEEK_DAYS))
    assert (after["messages"], after["canary_weeks"]) == (1, pytest.approx(10 / WEEK_DAYS))
    assert row(rates, "before planting here", "gambling")["messages"] == 1


def test_the_messages_behind_a_bar_are_the_ones_it_counts(study):
    rates = spam_rates(study)
    for group, category in (
        ("after planting at credit_inquiry", "loan"),
        ("controls", "gambling"),
        ("before planting", "loan"),
    ):
        shown = rate_messages(study, group, category)
        assert len(shown) == row(rates, group, category)["messages"]
        assert (shown["category"] == category).all()
    behind = rate_messages(study, "after planting at several categories", "loan")
    assert list(behind["recipient"]) == ["a2"] and "额度" in behind["body"].iat[0]
    here = rate_messages(study, "after planting here", "loan", source="B")
    assert list(here["recipient"]) == ["a2"]


def test_first_spam_runs_from_each_plant_and_for_controls_from_the_study_start(study):
    frame = first_spam(study, "A")
    got = {r.canary: (r.group, r.days, r.label) for r in frame.itertuples()}
    assert got == {
        "a1": ("planted here", 2.0, "2 d"),  # the first-party text on day 10 is no spam
        "a2": ("planted here", 2.0, "2 d"),
        "ctl1": ("control", 0.0, "0 d"),
        "ctl2": ("control", 0.0, "0 d"),
    }
    assert list(frame["group"]) == ["planted here", "planted here", "control", "control"]


def test_first_spam_of_a_canary_still_waiting_says_how_long(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    roster.add_source(store, Source(name="A", category=SourceCategory.BANK))
    for i, label in enumerate(("a1", "a2")):
        roster.new_canary(store, phone=f"+44770090010{i}", label=label, seed=i)
    roster.plant(store, "a1", "A", T0 + 10 * DAY)
    roster.plant(store, "a2", "A", T0 + 10 * DAY)
    send(store, tmp_path, [gambling(0, "a2", 1), loan(120, "a2", 2)])
    frame = first_spam(store, "A").set_index("canary")
    assert frame.loc["a1", "waiting"] and frame.loc["a1", "label"] == "none in 110 d"
    assert not frame.loc["a2", "waiting"] and frame.loc["a2", "label"] == "110 d"


def test_the_source_picture_view_holds_rates_weeks_plants_and_first_spam(study):
    picture = views.source_picture(study, "A")
    assert set(picture.plants["canary"]) == {"a1", "a2"}
    assert picture.weekly["messages"].sum() == 7  # a1 and a2's non-first-party messages
    assert set(picture.first_spam["canary"]) == {"a1", "a2", "ctl1", "ctl2"}
    assert picture.rates["group"].iloc[0] == "before planting here"
    overview = views.spam_picture(study)
    assert overview.headline and overview.headline.startswith("credit inquiry canaries")


def test_a_canary_never_watched_adds_no_canary_and_no_time(study, tmp_path):
    import shutil

    shutil.copyfile(study.path, tmp_path / "s.duckdb")
    store = Store(tmp_path / "s.duckdb")
    # No message ever reached it: its inbox is known from when it joined the roster (today).
    roster.new_canary(store, phone="+447700900299", label="ctl3", control=True, seed=3)
    assert spam_rates(store).equals(spam_rates(study))


def test_a_tiny_p_value_is_printed_as_a_bound(study):
    rates = spam_rates(study)
    big = rates.assign(messages=rates["messages"] * 100, rate=rates["rate"] * 100)
    assert headline(big).endswith("(93.33 against 11.67; p < 1e-6).")


def test_the_sentence_speaks_for_the_surest_group_not_the_noisiest(study):
    rates = spam_rates(study)
    # One more group: 1 loan message in a single canary-day, a rate of 7 per week.
    lucky = row(rates, "after planting at several categories", "loan").copy()
    lucky[["group", "source_category", "messages", "canary_weeks"]] = ["x", "x", 1, 1 / 7]
    noisy = pd.concat([rates, lucky.to_frame().T], ignore_index=True)
    noisy = with_intervals(noisy.drop(columns=["rate", "low", "high"]))
    assert headline(noisy).startswith("credit inquiry canaries")


def test_the_sentence_is_a_key_and_arguments_said_in_either_language(study):
    from leaktrace import i18n
    from leaktrace.attribution.rates import headline_words

    key, args = headline_words(spam_rates(study))
    assert key == "rates_headline"
    assert (args["canaries_of"], args["spam"]) == ("credit_inquiry", "loan")  # stored values
    assert i18n.reason("en", key, args) == headline(spam_rates(study))
    assert i18n.reason("zh", key, args) == (
        "征信 / 企业信息查询来源的金丝雀身份投放后，收到的贷款类消息是对照身份的 8.0 倍"
        "（每个身份每周 0.93 条，对照身份 0.12 条；p = 0.045）。"
    )
    picture = views.spam_picture(study)
    assert (picture.headline_key, picture.headline_args) == (key, args)
    assert picture.headline == headline(spam_rates(study))


@pytest.mark.parametrize(
    ("group", "source_category", "en", "zh"),
    [
        ("controls", None, "controls", "对照身份"),
        ("before planting", None, "before planting", "投放前"),
        ("after planting at bank", "bank", "after planting at bank", "投放到银行来源后"),
        (
            "after planting at several categories",
            "several categories",
            "after planting at several categories",
            "投放到多种类别来源后",
        ),
        ("before planting here", None, "before planting here", "投放到本来源前"),
        ("after planting here", None, "after planting here", "投放到本来源后"),
    ],
)
def test_every_group_has_a_name_in_both_languages(group, source_category, en, zh):
    from leaktrace import i18n
    from leaktrace.attribution.rates import group_words

    words = group_words(group, source_category)
    assert (i18n.reason("en", *words), i18n.reason("zh", *words)) == (en, zh)
    assert group_words("x", None) is None  # not a group these rates make
