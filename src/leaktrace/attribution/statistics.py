"""Leak-source attribution: which sources' canaries a campaign reaches far more than chance.

The test is an exposure-time comparison, one per unit (campaign, or template outside
any campaign) and source S. A canary is *at risk* until the unit first reaches it,
and only from its first known message (or its plant) on: before that nobody was
reading its inbox. Each time the unit reaches someone, the canaries at risk that
have the contact the unit was sent to (phone or e-mail) fall in three groups: S's
side (planted at S, and at no other source yet), the comparison side (S does not
have them: controls, canaries never planted, every canary before its plant, and
canaries planted elsewhere), and out (planted at S and elsewhere: a shared contact
proves nothing about either source). A reach on S's side is a hit; under "the unit
reaches S's canaries no more than contacts S did not have", each reach on either
side falls on S's side with S's share of those at risk then (reaches at one
instant, a blast, all see the canaries at risk at that instant). The number of
hits is a sum of such chances (Poisson-binomial), and its exact upper tail is the
one-sided p-value; on simulated random reaches, ties included, its rejection rate
stays at or below the level (tests/test_attribution_validity.py). Other sources'
canaries reached because they leaked too only make the test of S more cautious.

Which pairs form the family the p-values are corrected over is decided from the
margins alone — when the unit reached someone, and S's plant schedule, not who was
reached: Tarone's rule gives each pair the smallest p-value it could reach (every
reach that could fall on S's side did) and keeps the pairs that could still be
significant; pairs that could not reach ``min_hits`` canaries are never in it.
Over that family, whose size each verdict reports, Holm's step-down adjustment bounds
the chance that a study calls any clean source leaked (family-wise, however many
sources really leaked); Benjamini–Hochberg's q over the same family, which loosens
as real leaks pile up, only makes a source suspected.
Units reaching at least ``background_rate`` of the controls (canaries never
planted) are background and not tested. A message addressing a canary by the name
spelling given only to one source, or delivered to the plus-tagged address given
only to one source (a marker), attributes that canary's exposure to that source:
decisive evidence, and the canary counts as someone else's for every other source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from leaktrace.attribution.exposure import StudyFrames
from leaktrace.attribution.model import (
    DEFAULTS,
    Attribution,
    Settings,
    SourceVerdict,
    Unit,
    UnitExposure,
)
from leaktrace.i18n import reason

__all__ = ["DEFAULTS", "Attribution", "Settings", "SourceVerdict", "UnitExposure", "attribute"]

DAY = 86_400.0


def _seconds(values: pd.Series) -> np.ndarray:
    """Seconds since the epoch of each timestamp (naive ones are UTC); NaN for none."""
    # In numpy, at the column's own unit: year 1 or 9999 fits in microseconds, not in pandas' ns.
    stamps = pd.to_datetime(values, utc=True).dt.tz_localize(None).to_numpy()
    return (stamps - np.datetime64(0, "s")) / np.timedelta64(1, "s")


@dataclass(frozen=True)
class _Pairs:
    """One unit against every source: the counts, the p-values, the smallest attainable p."""

    hit: np.ndarray  # per source: reaches that fell on its planted canaries
    expected: np.ndarray  # the same count expected under the null
    p_value: np.ndarray
    p_min: np.ndarray  # the smallest p the margins allow (Tarone); 1 when untestable
    hit_mask: np.ndarray  # sources × reaches: which reach hit which source
    control_hits: np.ndarray  # per source: reaches on the comparison side


# Times are integer milliseconds from the study's first instant; NEVER stands for "not
# (yet)", and each row of a count is shifted by _STRIDE so one sorted search serves all.
NEVER = np.int64(2**42)
_STRIDE = np.int64(2**43)


def _inside(starts: np.ndarray, ends: np.ndarray, times: np.ndarray) -> np.ndarray:
    """rows × times: how many intervals [start, end) of each row hold each time."""
    rows, width = starts.shape
    valid = starts < ends
    first = np.sort(np.where(valid, starts, NEVER), axis=1)
    last = np.sort(np.where(valid, ends, NEVER), axis=1)
    shift = (np.arange(rows, dtype=np.int64) * _STRIDE)[:, None]
    query = (times[None, :] + shift).ravel()
    base = (np.arange(rows, dtype=np.int64) * width)[:, None]
    opened = np.searchsorted((first + shift).ravel(), query, side="right").reshape(rows, -1)
    closed = np.searchsorted((last + shift).ravel(), query, side="right").reshape(rows, -1)
    return (opened - base) - (closed - base)


def exposure_test(
    reach_times: np.ndarray,
    reach_canaries: np.ndarray,
    own: np.ndarray,
    exclusive_until: np.ndarray,
    observed_from: np.ndarray,
    min_hits: int,
    margins: tuple[np.ndarray, np.ndarray] | None = None,
    unplanted_until: np.ndarray | None = None,
) -> _Pairs:
    """Test one unit's reaches (sorted by time) against each source's plant schedule.

    Canaries are columns, sources rows, times integer milliseconds (``NEVER``: not
    at all). ``own[s, c]`` is when canary c was planted at source s (``NEVER`` too
    where a marker gives the reach to another source), ``exclusive_until[s, c]``
    when it was planted at another source as well, ``observed_from[c]`` since when
    its messages are known. At a reach, a canary not yet reached is on S's side
    while planted at S alone, on the comparison side while its messages are known
    and S does not have it, and out otherwise (planted at S and elsewhere); reaches
    at one instant all see the canaries at risk at that instant. ``margins`` is the
    plant schedule before any marker claim, which alone decides testability.

    With ``unplanted_until`` (each canary's first plant anywhere) the test is run
    twice, against everyone S does not have and against contacts nobody had yet,
    and the smaller p-value is doubled (Bonferroni): the first is stronger when
    controls are few, the second when the unit reaches other leaked sources too.
    """
    reach = np.full(own.shape[1], NEVER)
    reach[reach_canaries] = reach_times
    gone = reach + 1  # no longer at risk once reached
    s_risk = _inside(own, np.minimum(exclusive_until, gone[None, :]), reach_times)
    hits = (own[:, reach_canaries] <= reach_times[None, :]) & (
        reach_times[None, :] < exclusive_until[:, reach_canaries]
    )
    observed = hits.sum(axis=1)
    seen = np.broadcast_to(observed_from, own.shape)
    margin_own, margin_exclusive = margins or (own, exclusive_until)
    ends = [own] if unplanted_until is None else [own, np.minimum(own, unplanted_until)]
    margin_ends = (
        [margin_own]
        if unplanted_until is None
        else [margin_own, np.minimum(margin_own, unplanted_until)]
    )
    tests = []
    for end, margin_end in zip(ends, margin_ends, strict=True):
        c_risk = _inside(seen, np.minimum(end, gone[None, :]), reach_times)
        compared = (observed_from[reach_canaries][None, :] <= reach_times[None, :]) & (
            reach_times[None, :] < end[:, reach_canaries]
        )
        chance = np.where(hits | compared, s_risk / np.maximum(s_risk + c_risk, 1), 0.0)
        p_min = _smallest_p(reach_times, margin_own, margin_exclusive, seen, margin_end)
        tests.append(
            (_upper_tail(chance, observed), chance.sum(axis=1), compared.sum(axis=1), p_min)
        )
    p_values = np.array([t[0] for t in tests])
    best = np.argmin(p_values, axis=0)
    pick = np.arange(own.shape[0])
    factor = len(tests)
    taken = np.array([t[3][1] for t in tests]).max(axis=0)
    p_min = np.minimum(1.0, factor * np.array([t[3][0] for t in tests]).min(axis=0))
    return _Pairs(
        hit=observed,
        expected=np.array([t[1] for t in tests])[best, pick],
        p_value=np.minimum(1.0, factor * p_values[best, pick]),
        p_min=np.where(taken >= min_hits, p_min, 1.0),
        hit_mask=hits,
        control_hits=np.array([t[2] for t in tests])[best, pick],
    )


def _upper_tail(chance: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Per row: P(X >= observed) for X a sum of Bernoulli(chance[row, j]) (Poisson-binomial)."""
    n_rows = chance.shape[0]
    top = int(observed.max(initial=0))
    below = np.zeros((n_rows, top + 1))  # below[r, m] = P(X = m) for every m below `top`
    below[:, 0] = 1.0
    for j in range(chance.shape[1]):
        q = chance[:, j : j + 1]
        below[:, 1:] = below[:, 1:] * (1 - q) + below[:, :-1] * q
        below[:, 0] *= 1 - q[:, 0]
    cdf = np.cumsum(below, axis=1)
    p_value = np.ones(n_rows)
    some = observed > 0
    p_value[some] = np.clip(1.0 - cdf[some, observed[some] - 1], 0.0, 1.0)
    return p_value


def _smallest_p(
    times: np.ndarray,
    own: np.ndarray,
    exclusive_until: np.ndarray,
    observed_from: np.ndarray,
    comparison_end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Tarone's bound per source from the margins alone, and the hits it assumes.

    The best case for S: every reach that can fall on S's side does (one canary of S
    per reach, while S has one free), none on the comparison side. Canaries taken
    stay subtracted even after their exclusive time ends, so this can overstate the
    smallest p a little: a pair is then left out of the family, which costs power,
    never validity.
    """
    n_sources = own.shape[0]
    planted = _inside(own, exclusive_until, times)
    others = _inside(observed_from, comparison_end, times)
    taken = np.zeros(n_sources, dtype=np.int64)
    log_p = np.zeros(n_sources)
    start, at_start = None, taken
    for j, t in enumerate(times):
        if t != start:
            start, at_start = t, taken.copy()
        free = planted[:, j] - at_start
        can = free - (taken - at_start) > 0
        log_p[can] += np.log(free[can] / (free[can] + others[can, j]))
        taken = taken + can
    return np.exp(log_p), taken


def _observed_from(canaries: pd.DataFrame) -> np.ndarray:
    """Seconds since which each canary's messages are known (-inf when not recorded)."""
    if "observed_from" not in canaries:
        return np.full(len(canaries), -np.inf)
    return np.nan_to_num(_seconds(canaries["observed_from"]), nan=-np.inf)


def _contacts(canaries: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which canaries have a phone, which an e-mail address."""
    kind = canaries["contact"].to_numpy()
    phone = canaries.get("has_phone", kind == "phone")
    email = canaries.get("has_email", kind == "email")
    return np.asarray(phone, dtype=bool), np.asarray(email, dtype=bool)


def _channels(
    exposures: pd.DataFrame, unit_index: dict[str, int], n_units: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: whether it was sent by e-mail, whether by SMS."""
    by_email = np.zeros(n_units, dtype=bool)
    by_phone = np.zeros(n_units, dtype=bool)
    if len(exposures):
        u = exposures["unit"].map(unit_index).to_numpy()
        mail = exposures["by_email"].to_numpy() if "by_email" in exposures else np.zeros(len(u))
        np.logical_or.at(by_email, u, mail > 0)
        np.logical_or.at(by_phone, u, exposures["messages"].to_numpy() > mail)
    return by_email, by_phone


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: the family-wise error rate each rejection allows."""
    p = np.nan_to_num(p, nan=1.0)
    order = np.argsort(p, kind="stable")
    steps = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (step-up), as scipy's ``false_discovery_control`` gives.

    Written out because importing ``scipy.stats`` costs every ``attribute`` 2.5 s.
    """
    p = np.nan_to_num(p, nan=1.0)  # a test that could not be computed rejects nothing
    order = np.argsort(p, kind="stable")
    steps = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(steps[::-1])[::-1], 1.0)
    return adjusted


def tarone_family(p_min: np.ndarray, alpha: float) -> np.ndarray:
    """The pairs Tarone's rule tests: the smallest k with at most k pairs able to reach alpha/k."""
    order = np.sort(p_min[p_min < 1.0])
    for k in range(1, len(order) + 1):
        if np.searchsorted(order, alpha / k, side="right") <= k:
            return p_min <= alpha / k
    return np.zeros_like(p_min, dtype=bool)


def attribute(
    frames: StudyFrames, as_of: datetime | None = None, settings: Settings = DEFAULTS
) -> Attribution:
    """Attribute leaks as the study stood at ``as_of`` (default: its last message)."""
    as_of = as_of or frames.latest
    now = as_of.timestamp() if as_of else float("inf")
    canaries = frames.canaries
    index = {cid: i for i, cid in enumerate(canaries["id"])}
    plants = (
        frames.plants[_seconds(frames.plants["planted_at"]) <= now]
        if len(frames.plants)
        else frames.plants
    )
    exposures = frames.exposures
    if len(exposures):
        exposures = exposures[_seconds(exposures["first_at"]) <= now]
    markers = frames.markers
    if len(markers):
        markers = markers[_seconds(markers["received_at"]) <= now]
    if not settings.use_markers:
        markers = markers.iloc[0:0]
    units = sorted(exposures["unit"].unique()) if len(exposures) else []
    unit_index = {u: i for i, u in enumerate(units)}
    n_units, n_canaries = len(units), len(canaries)
    first = np.full((n_units, n_canaries), np.nan)
    named = np.zeros((n_units, n_canaries), dtype=bool)
    if len(exposures):
        u = exposures["unit"].map(unit_index).to_numpy()
        c = exposures["canary_id"].map(index).to_numpy()
        first[u, c] = _seconds(exposures["first_at"])
        named[u, c] = exposures["named"].to_numpy() > 0
    reached = ~np.isnan(first)
    source_ids = sorted({int(s) for s in plants["source_id"]}) if len(plants) else []
    source_row = {s: i for i, s in enumerate(source_ids)}
    plant_times = np.full((len(source_ids), n_canaries), np.nan)
    if len(plants):
        rows = [source_row[int(s)] for s in plants["source_id"]]
        columns = [index[c] for c in plants["canary_id"]]
        plant_times[rows, columns] = _seconds(plants["planted_at"])
    # Controls: canaries never planted (reserved with is_control or not).
    controls = canaries["is_control"].to_numpy(dtype=bool) | np.isnan(plant_times).all(axis=0)
    n_controls = int(controls.sum())
    control_rate = reached[:, controls].sum(axis=1) / max(n_controls, 1)
    background = (control_rate >= settings.background_rate) & (n_controls >= settings.min_controls)
    # Exposures a marker gives to one source: (unit, canary) → source.
    claimed: dict[int, list[tuple[int, int]]] = {}
    for row in (
        markers[["unit", "canary_id", "source_id"]].drop_duplicates().itertuples(index=False)
    ):
        if row.unit in unit_index:
            claimed.setdefault(unit_index[row.unit], []).append(
                (index[row.canary_id], int(row.source_id))
            )
    # Integer milliseconds from the study's first instant (NEVER: not at all).
    origin = np.nanmin([np.nanmin(first, initial=np.inf), np.nanmin(plant_times, initial=np.inf)])
    origin = 0.0 if not np.isfinite(origin) else origin - 1.0

    def ms(seconds: np.ndarray) -> np.ndarray:
        finite = np.isfinite(seconds)
        out = np.round((np.where(finite, seconds, 0.0) - origin) * 1000)
        out = np.where(finite, out, np.where(seconds == -np.inf, 0, np.inf))
        return np.where(np.isfinite(out), np.clip(out, 0, NEVER - 1), NEVER).astype(np.int64)

    own_all = ms(plant_times)
    ordered = np.sort(own_all, axis=0)
    first_plant = ordered[0] if len(source_ids) else np.full(n_canaries, NEVER)
    second_plant = ordered[1] if len(source_ids) > 1 else np.full(n_canaries, NEVER)
    # Until when each canary is planted at s alone: its next plant elsewhere.
    exclusive_all = np.where(own_all <= first_plant, second_plant, first_plant)
    # A canary is compared only while its messages are known (see exposure.CANARIES_SQL),
    # and at the latest from its first plant.
    observed_all = np.minimum(ms(_observed_from(canaries)), first_plant)
    has_phone, has_email = _contacts(canaries)
    by_email, by_phone = _channels(exposures, unit_index, n_units)
    rows: list[dict] = []
    for u in np.flatnonzero(~background) if source_ids else ():
        cs = np.flatnonzero(reached[u])
        times = ms(first[u, cs])
        order = np.argsort(times, kind="stable")
        cs, times = cs[order], times[order]
        # At risk: the canaries with the contact the unit was sent to.
        kind = (has_email & by_email[u]) | (has_phone & by_phone[u])
        kind[cs] = True
        column = np.cumsum(kind) - 1  # canary index → column among those at risk
        own, exclusive = own_all[:, kind], exclusive_all[:, kind]
        margins = (own.copy(), exclusive.copy())
        for c, owner in claimed.get(u, ()):
            # The marker says whose copy reached the contact, even one planted twice.
            others = [r for s, r in source_row.items() if s != owner]
            own[others, column[c]] = NEVER
            if owner in source_row:
                exclusive[source_row[owner], column[c]] = NEVER
        seen = observed_all[kind]
        pairs = exposure_test(
            times,
            column[cs],
            own,
            exclusive,
            seen,
            settings.min_hits,
            margins,
            unplanted_until=first_plant[kind],
        )
        # S's canaries in the test: planted there alone at some time, not reached before.
        alone = own < exclusive
        reached_before = np.zeros_like(alone)
        reached_before[:, column[cs]] = own[:, column[cs]] > times[None, :]
        in_test = (alone & ~reached_before).sum(axis=1)
        comparison = ((seen[None, :] <= times[0]) & (own > times[0])).sum(axis=1)
        for s, source_id in enumerate(source_ids):
            # Kept whenever the margins make the pair testable, whoever was reached.
            if in_test[s] == 0 and pairs.p_min[s] >= 1.0:
                continue
            hit = pairs.hit_mask[s]
            rows.append(
                {
                    "unit": units[u],
                    "source_id": source_id,
                    "planted": int(in_test[s]),
                    "hit": int(pairs.hit[s]),
                    "expected": float(pairs.expected[s]),
                    "others": int(comparison[s]),
                    "others_hit": int(pairs.control_hits[s]),
                    "controls_hit": int(controls[cs].sum()),
                    "p_value": float(pairs.p_value[s]),
                    "p_min": float(pairs.p_min[s]),
                    "hit_canaries": tuple(int(canaries["id"].iat[i]) for i in cs[hit]),
                }
            )
    table = pd.DataFrame(rows)
    results: list[UnitExposure] = []
    family = 0
    if len(table):
        p = table["p_value"].to_numpy()
        a = table["hit"].to_numpy()
        tested = tarone_family(table["p_min"].to_numpy(), settings.alpha)
        family = int(tested.sum())
        familywise, q = np.ones_like(p), np.ones_like(p)
        if tested.any():
            familywise[tested] = holm(p[tested])
            q[tested] = benjamini_hochberg(p[tested])
        lift = a / np.maximum(table["expected"].to_numpy(), 1e-9)
        significant = tested & (familywise <= settings.alpha) & (a >= settings.min_hits)
        significant &= lift >= settings.min_lift
        for i, row in enumerate(table.itertuples(index=False)):
            results.append(
                UnitExposure(
                    unit=row.unit,
                    source_id=row.source_id,
                    planted=row.planted,
                    hit=row.hit,
                    others=row.others,
                    others_hit=row.others_hit,
                    controls_hit=row.controls_hit,
                    p_value=float(p[i]),
                    p_adjusted=float(familywise[i]),
                    q_value=float(q[i]),
                    lift=float(lift[i]),
                    significant=bool(significant[i]),
                    hit_canaries=row.hit_canaries,
                    expected=row.expected,
                    tested=bool(tested[i]),
                )
            )
    plant_time = {s: plant_times[source_row[s]] for s in source_ids}
    context = _Context(
        frames, settings, now, index, first, named, background, unit_index, n_controls, family
    )
    verdicts = [
        _verdict(context, source, plant_time.get(int(source.id)), results, markers)
        for source in frames.sources.itertuples(index=False)
    ]
    return Attribution(
        as_of=as_of,
        verdicts=verdicts,
        exposures=results,
        background=[units[u] for u in np.flatnonzero(background)],
        controls=n_controls,
        overlap=_overlap(results),
        family=family,
    )


@dataclass(frozen=True)
class _Context:
    frames: StudyFrames
    settings: Settings
    now: float
    index: dict[int, int]
    first: np.ndarray
    named: np.ndarray
    background: np.ndarray
    unit_index: dict[str, int]
    controls: int
    family: int  # (unit, source) pairs the adjustment is over


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds).astimezone()


def _verdict(
    ctx: _Context,
    source: tuple,
    times: np.ndarray | None,
    results: list[UnitExposure],
    markers: pd.DataFrame,
) -> SourceVerdict:
    settings, canaries = ctx.settings, ctx.frames.canaries
    mine = [r for r in results if r.source_id == source.id]
    best = min(mine, key=lambda r: r.p_adjusted, default=None)
    leaking = sorted((r for r in mine if r.significant), key=lambda r: r.p_adjusted)
    marks = markers[markers["source_id"] == source.id] if len(markers) else markers
    planted = 0 if times is None else int((~np.isnan(times)).sum())
    hit_ids = sorted(
        {c for r in leaking for c in r.hit_canaries} | set(marks["canary_id"] if len(marks) else ())
    )
    verdict = SourceVerdict(
        source_id=int(source.id),
        name=source.name,
        category=source.category,
        verdict="clean",
        reason="",
        score=0.0 if best is None else max(0.0, 1.0 - best.p_adjusted),
        p_adjusted=None if best is None else best.p_adjusted,
        canaries_planted=planted,
        canaries_hit=len(hit_ids),
        controls_hit=max((r.controls_hit for r in leaking), default=0),
        first_leak_seen=None,
        estimated_leak_date=None,
        leak_window=None,
        leak_pattern=None,
        not_hit_after=0,
        fields_leaked=[],
        top_units=(leaking or sorted(mine, key=lambda r: (r.p_adjusted, r.q_value, r.p_value)))[:5],
        marker_messages=np.sort(marks["message_id"].to_numpy()).tolist() if len(marks) else [],
    )
    if times is not None:
        verdict.timeline = _timeline(ctx, times)
    if len(marks):
        verdict.verdict, verdict.score = "leaked", 1.0
        first = marks.sort_values(["received_at", "message_id", "marker"]).iloc[0]
        label = canaries.loc[canaries["id"] == first.canary_id, "label"].iat[0]
        n, k = len(marks), int(marks["canary_id"].nunique())
        key = "reason_marker_one" if n == 1 else "reason_marker_one_canary" if k == 1 else ""
        _say(
            verdict,
            key or "reason_marker",
            messages=n,
            canaries=k,
            canary=str(label),
            marker=str(first.marker),
        )
    elif leaking:
        top = leaking[0]
        verdict.verdict = "leaked"
        _say(
            verdict,
            "reason_leaked",
            **_unit_args(ctx, top.unit),
            hit=top.hit,
            planted=top.planted,
            others_hit=top.others_hit,
            others=top.others,
            expected=float(top.expected),
            p=float(top.p_adjusted),
            family=ctx.family,
            lift=float(top.lift),
        )
    elif (hint := min(mine, key=lambda r: r.q_value, default=None)) is not None and (
        hint.q_value <= settings.suspect_q and hint.hit >= 1
    ):
        verdict.verdict = "suspected"
        _say(
            verdict,
            "reason_suspected",
            **_unit_args(ctx, hint.unit),
            hit=hint.hit,
            planted=hint.planted,
            others_hit=hint.others_hit,
            others=hint.others,
            expected=float(hint.expected),
            q=float(hint.q_value),
            family=ctx.family,
        )
    else:
        verdict.verdict, key, args = _clean_or_insufficient(ctx, times, planted)
        _say(verdict, key, **args)
    if verdict.verdict == "leaked":
        _date_the_leak(ctx, verdict, times, leaking, marks)
    return verdict


def _say(verdict: SourceVerdict, key: str, **args: object) -> None:
    """Set the reason: its string-table key and arguments, and its English sentence."""
    verdict.reason_key, verdict.reason_args = key, args
    verdict.reason = reason("en", key, args)


def _unit_args(ctx: _Context, unit: str) -> dict:
    """The unit a reason names: kind, number and label (spam text: any language)."""
    units = ctx.frames.units
    match = units.loc[units["unit"] == unit, "label"]
    parsed = Unit.from_key(unit)
    return {
        "unit_kind": parsed.kind,
        "unit_id": parsed.id,
        "unit_label": str(match.iat[0]) if len(match) else None,
    }


def _clean_or_insufficient(
    ctx: _Context, times: np.ndarray | None, planted: int
) -> tuple[str, str, dict]:
    """The verdict, its reason key and the reason's arguments, for a source nothing leaked."""
    settings = ctx.settings
    if planted < settings.min_canaries:
        return (
            "insufficient data",
            "reason_few_canaries",
            {"planted": planted, "needed": settings.min_canaries},
        )
    days = float(np.nanmedian((ctx.now - times[~np.isnan(times)]) / DAY))
    if days < settings.min_days:
        return (
            "insufficient data",
            "reason_too_recent",
            {"days": days, "needed": float(settings.min_days)},
        )
    if ctx.controls < settings.min_controls:
        return (
            "insufficient data",
            "reason_few_controls",
            {"controls": ctx.controls, "needed": settings.min_controls},
        )
    return "clean", "reason_clean", {"planted": planted, "days": days}


def _timeline(ctx: _Context, times: np.ndarray) -> list[dict]:
    """Per canary planted here: days from plant to its first non-background message after it."""
    out = []
    canaries = ctx.frames.canaries
    foreground = ~ctx.background
    for c in np.flatnonzero(~np.isnan(times)):
        after = ctx.first[foreground, c]
        after = after[after >= times[c]]
        first = float(after.min()) if len(after) else None
        out.append(
            {
                "canary": canaries["label"].iat[c],
                "planted_at": _when(times[c]),
                "first_spam_at": None if first is None else _when(first),
                "days": None if first is None else round((first - times[c]) / DAY, 1),
            }
        )
    return out


def _date_the_leak(
    ctx: _Context,
    verdict: SourceVerdict,
    times: np.ndarray | None,
    leaking: list[UnitExposure],
    marks: pd.DataFrame,
) -> None:
    """First leak seen, the window the leak happened in, batch or continuous."""
    index, canaries = ctx.index, ctx.frames.canaries
    firsts: dict[int, float] = {}
    for r in leaking:
        u = ctx.unit_index[r.unit]
        for cid in r.hit_canaries:
            c = index[cid]
            firsts[c] = min(firsts.get(c, np.inf), ctx.first[u, c])
    if len(marks):
        earliest = pd.Series(_seconds(marks["received_at"])).groupby(marks["canary_id"].to_numpy())
        for cid, when in earliest.min().items():
            c = index[cid]
            firsts[c] = min(firsts.get(c, np.inf), when)
    if not firsts or times is None:
        return
    seen = min(firsts.values())
    latest_plant = max(times[c] for c in firsts)
    verdict.first_leak_seen = _when(seen)
    if latest_plant <= seen:
        # One copy taken between the last hit canary's plant and the first spam; canaries
        # planted after it that had as long to be reached and were not are the proof.
        delay = np.median([f - times[c] for c, f in firsts.items()])
        later = [
            c
            for c in np.flatnonzero(~np.isnan(times))
            if c not in firsts and times[c] > latest_plant and ctx.now - times[c] >= delay
        ]
        upper = min([seen, *(times[c] for c in later)])
        verdict.leak_pattern = "batch" if later else None
        verdict.not_hit_after = len(later)
        verdict.leak_window = (_when(latest_plant), _when(upper))
        verdict.estimated_leak_date = _when(_estimate(latest_plant, upper, seen, ctx.settings))
    else:
        earliest = min(firsts, key=firsts.get)
        verdict.leak_pattern = "continuous"
        verdict.leak_window = (_when(times[earliest]), _when(seen))
        verdict.estimated_leak_date = _when(_estimate(times[earliest], seen, seen, ctx.settings))
    contacts = set(canaries["contact"].iloc[list(firsts)])
    named = any(
        ctx.named[ctx.unit_index[r.unit], index[c]] for r in leaking for c in r.hit_canaries
    )
    verdict.fields_leaked = sorted(contacts | ({"name"} if named or len(marks) else set()))


def _estimate(low: float, high: float, seen: float, settings: Settings) -> float:
    """The usual lag before the first spam, kept inside the window [low, high]."""
    return min(high, max(low, seen - settings.leak_lag_days * DAY))


def _overlap(results: list[UnitExposure]) -> list[tuple[int, int, list[str]]]:
    """Pairs of sources whose canaries the same significant units reach: a shared buyer."""
    by_unit: dict[str, list[int]] = {}
    for r in results:
        if r.significant:
            by_unit.setdefault(r.unit, []).append(r.source_id)
    pairs: dict[tuple[int, int], list[str]] = {}
    for unit, sources in by_unit.items():
        for i, a in enumerate(sorted(sources)):
            for b in sorted(sources)[i + 1 :]:
                pairs.setdefault((a, b), []).append(unit)
    return [(a, b, sorted(units)) for (a, b), units in sorted(pairs.items())]
