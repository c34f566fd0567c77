"""Attribution's statistics on data the simulator does not make: level, family, controls.

The exposure tables are built by hand (``StudyFrames`` is attribution's whole input),
so each case isolates one rule; the null studies at the end go through a real store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.attribution.exposure import StudyFrames
from leaktrace.attribution.statistics import (
    NEVER,
    Settings,
    attribute,
    benjamini_hochberg,
    exposure_test,
    holm,
    tarone_family,
)
from leaktrace.sim.config import SimConfig
from leaktrace.sim.score import import_simulated, score, true_leaks
from leaktrace.sim.simulate import simulate
from leaktrace.store import Store

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def day(n: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(days=n))


def frames(
    sources: int,
    canaries: int,
    plants: list[tuple[int, int, float]],
    reaches: list[tuple[str, int, float]],
    *,
    flagged: tuple[int, ...] = (),
    emails: frozenset[int] = frozenset(),
    observed: dict[int, float] | None = None,
) -> StudyFrames:
    """Sources 1..sources, canaries 1..canaries, plants (canary, source, day), reaches
    (unit, canary, day); ``flagged`` canaries are reserved controls, ``emails`` have an
    address and no phone, ``observed`` gives the day a canary's messages start."""
    observed = observed or {}
    exposures = pd.DataFrame(
        [(u, c, day(d), day(d), 1, 0, int(c in emails)) for u, c, d in reaches],
        columns=["unit", "canary_id", "first_at", "last_at", "messages", "named", "by_email"],
    )
    units = sorted({u for u, _, _ in reaches})
    return StudyFrames(
        sources=pd.DataFrame(
            [(s, f"S{s}", "shop") for s in range(1, sources + 1)],
            columns=["id", "name", "category"],
        ),
        canaries=pd.DataFrame(
            [
                (
                    c,
                    f"c{c}",
                    c in flagged,
                    "email" if c in emails else "phone",
                    c not in emails,
                    c in emails,
                    day(observed[c]) if c in observed else pd.NaT,
                )
                for c in range(1, canaries + 1)
            ],
            columns=[
                "id",
                "label",
                "is_control",
                "contact",
                "has_phone",
                "has_email",
                "observed_from",
            ],
        ),
        plants=pd.DataFrame(
            [(c, s, day(d), ["phone"]) for c, s, d in plants],
            columns=["canary_id", "source_id", "planted_at", "fields"],
        ),
        exposures=exposures,
        units=pd.DataFrame(
            [(u, f"unit {u}", "loan") for u in units], columns=["unit", "label", "category"]
        ),
        markers=pd.DataFrame(
            columns=["message_id", "canary_id", "source_id", "received_at", "unit", "marker"]
        ),
        latest=(T0 + timedelta(days=90)),
    )


def verdicts(result) -> dict[str, str]:
    return {v.name: v.verdict for v in result.verdicts}


# --- the test itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_s", "n_c", "reaches", "staggered", "instants"),
    [
        (10, 20, 10, False, None),
        (5, 40, 6, False, None),
        (10, 30, 15, True, None),
        (6, 100, 4, True, None),
        # Blasts: many reaches at the same instant (a mail Date header, minute precision).
        (10, 20, 12, True, 3),
        (8, 30, 20, False, 2),
    ],
)
def test_p_values_hold_their_level_when_reaches_fall_at_random(
    n_s, n_c, reaches, staggered, instants
):
    rng = np.random.default_rng(n_s * 1000 + n_c)
    rejected = {0.01: 0, 0.05: 0}
    runs = 1500
    n = n_s + n_c
    for _ in range(runs):
        planted = rng.integers(0, 100_000, n_s) if staggered else np.zeros(n_s, dtype=np.int64)
        own = np.full((1, n), NEVER)
        own[0, :n_s] = planted
        who = rng.choice(n, reaches, replace=False)
        if instants:
            when = np.sort(rng.choice(np.arange(1, 200_000, 40_000), instants, replace=False))
            when = np.sort(rng.choice(when, reaches))
        else:
            when = np.sort(rng.integers(1, 200_000, reaches))
        # Half the others were planted at some other source: the two comparisons differ.
        elsewhere = np.full(n, NEVER)
        elsewhere[: n_s + n_c // 2] = 0
        elsewhere[:n_s] = planted
        pairs = exposure_test(
            when, who, own, np.full((1, n), NEVER), np.zeros(n, dtype=np.int64), 2,
            unplanted_until=elsewhere,
        )  # fmt: skip
        p = pairs.p_value[0]
        for alpha in rejected:
            rejected[alpha] += p <= alpha
    for alpha, count in rejected.items():
        # At or below the level, within three standard errors of the simulation.
        assert count / runs <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / runs), (alpha, count)


def test_tarone_keeps_the_pairs_that_could_reach_the_level_from_the_margins():
    p_min = np.array([1e-9, 1e-6, 3e-3, 3e-3, 3e-3, 0.3, 1.0])
    family = tarone_family(p_min, alpha=0.01)
    # k = 4 is the first k with at most k pairs able to reach 0.01 / k: two of them.
    assert family.tolist() == [True, True, False, False, False, False, False]
    assert not tarone_family(np.ones(4), 0.01).any()
    # With five able to reach 0.01 / 5 all five are tested.
    assert tarone_family(np.array([1e-9, 2e-3, 2e-3, 2e-3, 2e-3]), 0.01).all()


# --- controls ------------------------------------------------------------------------------


def test_canaries_never_planted_are_controls_without_a_flag():
    plants = [(c, (c - 1) // 5 + 1, 1) for c in range(1, 16)]  # 3 sources × 5 canaries
    reaches = [("c1", c, 30 + c) for c in (1, 2, 3, 4)]  # 4 of S1's 5, nobody else
    unflagged = attribute(frames(3, 35, plants, reaches))
    assert unflagged.controls == 20
    assert verdicts(unflagged) == {"S1": "leaked", "S2": "clean", "S3": "clean"}
    # The same study with the twenty flagged: the same verdicts.
    flagged = attribute(frames(3, 35, plants, reaches, flagged=tuple(range(16, 36))))
    assert flagged.controls == 20 and verdicts(flagged) == verdicts(unflagged)


def test_the_time_before_a_plant_is_control_time():
    # No reserved controls and nobody left unplanted: S2's canaries, planted on day 60,
    # are the controls for days 0-60, when the unit reached S1's canaries and no others.
    plants = [(c, 1, 1) for c in range(1, 6)] + [(c, 2, 60) for c in range(6, 21)]
    reaches = [("c1", c, 20 + c) for c in (1, 2, 3, 4)]
    result = attribute(frames(2, 20, plants, reaches), settings=Settings(min_controls=0))
    assert result.controls == 0
    assert verdicts(result)["S1"] == "leaked"
    # A unit reaching S2's canaries before their plant as much as S1's after theirs is
    # no leak of S1: its contacts were reached while nobody had them.
    spread = [("c1", c, 20 + c) for c in (1, 2, 3, 4)] + [("c1", c, 20 + c) for c in range(6, 18)]
    result = attribute(frames(2, 20, plants, spread), settings=Settings(min_controls=0))
    assert verdicts(result)["S1"] != "leaked"


def test_a_contact_given_to_two_sources_proves_nothing_about_either():
    # Canaries 1-4 were planted at S1 and S2 alike (no marker); 5-8 at S1 only, 9-12 at S2.
    plants = [(c, s, 1) for c in range(1, 5) for s in (1, 2)]
    plants += [(c, 1, 1) for c in range(5, 9)] + [(c, 2, 1) for c in range(9, 13)]
    shared_only = [("c1", c, 20 + c) for c in range(1, 5)]
    result = attribute(frames(2, 40, plants, shared_only))
    assert verdicts(result) == {"S1": "clean", "S2": "clean"}
    # S1's own canaries reached too: S1 leaked, S2 did not.
    result = attribute(frames(2, 40, plants, shared_only + [("c1", c, 30) for c in range(5, 9)]))
    assert verdicts(result) == {"S1": "leaked", "S2": "clean"}


def test_reaches_at_one_instant_all_see_the_canaries_at_risk_then():
    # One blast reaches S1's ten canaries and ten not yet planted (S2's, planted later)
    # in the same second: nothing singles out S1, whatever order the rows come in.
    plants = [(c, 1, 1) for c in range(1, 11)] + [(c, 2, 60) for c in range(11, 21)]
    blast = [("c1", c, 30) for c in range(1, 21)]
    for reaches in (blast, blast[::-1]):
        result = attribute(frames(2, 25, plants, reaches), settings=Settings(min_controls=0))
        assert verdicts(result)["S1"] == "clean", result.verdicts[0].reason


def test_a_canary_is_a_control_only_once_its_messages_are_known():
    # 100 canaries whose messages start on day 65 (SIMs bought late) were not watched
    # on days 10-14, when the unit reached 5 of S1's 10: against the 6 controls that
    # were, that is weak evidence.
    plants = [(c, 1, 0) for c in range(1, 11)] + [(c, 2, 70) for c in range(17, 117)]
    reaches = [("c1", c, 9 + c) for c in range(1, 6)]
    late = {c: 65 for c in range(17, 117)}
    result = attribute(frames(2, 116, plants, reaches, observed=late))
    assert verdicts(result)["S1"] != "leaked"
    # Watched from the start, the same 100 would make it a leak.
    assert verdicts(attribute(frames(2, 116, plants, reaches)))["S1"] == "leaked"


def test_an_email_campaign_is_compared_with_contacts_that_have_an_address():
    # S1's five canaries are e-mail addresses; 100 phone-only controls could never
    # get the mail, 3 e-mail controls could.
    emails = frozenset(range(1, 6)) | {106, 107, 108}
    plants = [(c, 1, 1) for c in range(1, 6)]
    reaches = [("c1", c, 30 + c) for c in (1, 2, 3)]
    result = attribute(frames(1, 108, plants, reaches, emails=emails))
    assert verdicts(result)["S1"] != "leaked"
    assert result.exposures[0].others == 3


# --- the family ----------------------------------------------------------------------------


def test_chance_pairs_among_many_small_campaigns_are_no_leak_and_a_real_one_still_is():
    # 30 sources × 5 canaries, 20 controls; 400 campaigns reach 2 random contacts each.
    rng = np.random.default_rng(3)
    plants = [(c, (c - 1) // 5 + 1, 1) for c in range(1, 151)]
    reaches = []
    same_source = 0
    for i in range(400):
        pair = rng.choice(170, 2, replace=False) + 1
        same_source += pair.max() <= 150 and (pair[0] - 1) // 5 == (pair[1] - 1) // 5
        reaches += [(f"t{i + 1}", int(c), 10 + i * 0.2 + j) for j, c in enumerate(pair)]
    assert same_source >= 3  # chance put both contacts of a few campaigns at one source
    result = attribute(frames(30, 170, plants, reaches))
    assert "leaked" not in verdicts(result).values()
    # Testability comes from the margins: no campaign of two can reach the level among
    # 400 × 30 pairs, so none is in the family, hits or not.
    assert result.family == 0
    # A campaign reaching S7's 5 canaries and nobody else is still found.
    leak = [("c1", c, 50 + c / 10) for c in range(31, 36)]
    result = attribute(frames(30, 170, plants, reaches + leak))
    found = {v.name: v for v in result.verdicts}
    assert [n for n, v in found.items() if v.verdict == "leaked"] == ["S7"]
    assert result.family == 30 and f"over {result.family} tested pairs" in found["S7"].reason


def test_many_real_leaks_do_not_loosen_the_bar_for_a_chance_pair():
    # 30 sources × 10 canaries, 20 controls, all planted on day 1. Sources 1-12 leak: a
    # campaign each reaches all their canaries. A 4-contact campaign reaches 3 of S20's
    # canaries and one control: p ~ 1e-4, as chance gives somewhere among ~200 small
    # campaigns. Benjamini–Hochberg, which loosens with every real leak, would call S20
    # leaked; the family-wise bar does not, and the pair makes S20 suspected instead.
    plants = [(c, (c - 1) // 10 + 1, 1) for c in range(1, 301)]
    reaches = [
        (f"c{s}", c, 20 + s + c / 100) for s in range(1, 13) for c in range(s * 10 - 9, s * 10 + 1)
    ]
    reaches += [("c99", c, 60 + i) for i, c in enumerate((191, 194, 198, 305))]
    result = attribute(frames(30, 320, plants, reaches))
    called = verdicts(result)
    assert [n for n, v in called.items() if v == "leaked"] == [f"S{s}" for s in range(1, 13)]
    chance = next(u for u in result.exposures if u.unit == "c99" and u.source_id == 20)
    assert chance.tested and chance.p_value < 1e-3 and chance.q_value <= Settings().alpha
    assert chance.p_adjusted > Settings().alpha and not chance.significant
    s20 = next(v for v in result.verdicts if v.name == "S20")
    assert s20.verdict == "suspected" and "false-discovery q" in s20.reason


def test_holm_adjusts_step_down_and_keeps_the_order():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # Sorted: 0.005×5, 0.01×4, 0.03×3, 0.04×2, 0.5×1, each at least the one before.
    assert np.allclose(holm(p), [0.04, 0.09, 0.09, 0.025, 0.5])
    assert np.allclose(holm(np.array([0.3, 0.6])), [0.6, 0.6])
    assert holm(np.array([])).size == 0


@given(st.lists(st.floats(0, 1), min_size=1, max_size=60))
def test_benjamini_hochberg_matches_scipy(p):
    from scipy.stats import false_discovery_control

    values = np.array(p)
    assert np.allclose(benjamini_hochberg(values), false_discovery_control(values, method="bh"))


# --- null studies through a real store -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_a_null_study_calls_no_source_leaked(tmp_path: Path, seed: int):
    # No leak at all; many small campaigns, heavy background, no sender IDs, no flags.
    config = SimConfig(
        seed=seed, sources=12, canaries_per_source=5, controls=10, days=60, leak_share=0.0,
        small_campaigns=80, background_rate=0.3, roster_ids=False, flag_controls=False,
        own_marketing_share=0.25,
    )  # fmt: skip
    simulate(config, tmp_path / "study")
    store = Store(tmp_path / "s.duckdb")
    import_simulated(store, tmp_path / "study")
    leaks = true_leaks(tmp_path / "study")
    assert leaks == {}
    result = attribute(load(store))
    assert score(result.verdicts, leaks).called_leaked == 0, [
        (v.name, v.reason) for v in result.verdicts if v.verdict == "leaked"
    ]
    assert result.controls == 10  # unflagged, never planted


def load(store: Store) -> StudyFrames:
    from leaktrace.attribution.exposure import load_frames

    return load_frames(store)
