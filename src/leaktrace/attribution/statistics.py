"""Leak-source attribution: which sources' canaries a campaign reaches far more than chance.

For every unit (campaign, or template outside any campaign) and source S:
- S's canaries are those planted at S by the time of the analysis; one is *hit* when
  it first received the unit after its plant date (a canary that had the unit
  before planting got it elsewhere and is left out of the test);
- the comparison is every other canary (planted elsewhere) and every control, hit
  when it received the unit after S's first plant — the same window;
- a one-sided hypergeometric test (Fisher's exact test, scipy) gives the chance of
  S's hits under "the unit reaches S's canaries no more than the others"; p-values
  of all pairs that could show a leak (at least ``min_hits`` hits: Tarone's rule for
  discrete tests) are adjusted together with Benjamini–Hochberg; the lift is S's
  hit rate over the others' (smoothed).
Units reaching at least ``background_rate`` of the controls are background (they
reach everyone) and are not tested. A message addressing a canary by the name
spelling given only to one source, or delivered to the plus-tagged address given
only to one source (a marker), attributes that canary's exposure to that source:
decisive evidence, and the exposure no longer counts for any other
source the canary was planted at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from leaktrace.attribution.exposure import StudyFrames
from leaktrace.attribution.model import (
    DEFAULTS,
    Attribution,
    Settings,
    SourceVerdict,
    Unit,
    UnitExposure,
)

__all__ = ["DEFAULTS", "Attribution", "Settings", "SourceVerdict", "UnitExposure", "attribute"]

DAY = 86_400.0


def _seconds(values: pd.Series) -> np.ndarray:
    return values.map(lambda t: t.timestamp()).to_numpy(dtype=float)


def attribute(
    frames: StudyFrames, as_of: datetime | None = None, settings: Settings = DEFAULTS
) -> Attribution:
    """Attribute leaks as the study stood at ``as_of`` (default: its last message)."""
    as_of = as_of or frames.latest
    now = as_of.timestamp() if as_of else float("inf")
    canaries = frames.canaries
    index = {cid: i for i, cid in enumerate(canaries["id"])}
    controls = canaries["is_control"].to_numpy(dtype=bool)
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
    last = np.full((n_units, n_canaries), np.nan)
    named = np.zeros((n_units, n_canaries), dtype=bool)
    if len(exposures):
        u = exposures["unit"].map(unit_index).to_numpy()
        c = exposures["canary_id"].map(index).to_numpy()
        first[u, c] = _seconds(exposures["first_at"])
        last[u, c] = np.minimum(_seconds(exposures["last_at"]), now)
        named[u, c] = exposures["named"].to_numpy() > 0
    reached = ~np.isnan(first)
    n_controls = int(controls.sum())
    control_rate = reached[:, controls].sum(axis=1) / max(n_controls, 1)
    background = (control_rate >= settings.background_rate) & (n_controls >= settings.min_controls)
    # Exposures a name marker gives to one source: (unit, canary) → source.
    claimed: dict[tuple[int, int], int] = {}
    for row in markers.itertuples(index=False):
        if row.unit in unit_index:
            claimed[(unit_index[row.unit], index[row.canary_id])] = int(row.source_id)
    planted_any = np.zeros(n_canaries, dtype=bool)
    plant_time: dict[int, np.ndarray] = {}
    for row in plants.itertuples(index=False):
        times = plant_time.setdefault(int(row.source_id), np.full(n_canaries, np.nan))
        times[index[row.canary_id]] = row.planted_at.timestamp()
        planted_any[index[row.canary_id]] = True
    tested = ~background
    rows: list[dict] = []
    for source_id, times in plant_time.items():
        mine = ~np.isnan(times)
        window = np.nanmin(times)
        before = reached & (first < times)  # had it before planting: got it elsewhere
        hit = reached & (first >= times) & mine
        for (u, c), owner in claimed.items():
            if owner != source_id:
                hit[u, c] = False
                before[u, c] = True
        in_test = mine & ~before
        others = ~mine & (planted_any | controls)
        other_hit = reached & (last >= window) & others
        for u in np.flatnonzero(tested):
            n_s = int(in_test[u].sum())
            if n_s == 0:
                continue
            rows.append(
                {
                    "unit": units[u],
                    "source_id": source_id,
                    "planted": n_s,
                    "hit": int(hit[u].sum()),
                    "others": int(others.sum()),
                    "others_hit": int(other_hit[u].sum()),
                    "controls_hit": int((other_hit[u] & controls).sum()),
                    "hit_canaries": tuple(
                        int(canaries["id"].iat[i]) for i in np.flatnonzero(hit[u])
                    ),
                }
            )
    table = pd.DataFrame(rows)
    results: list[UnitExposure] = []
    if len(table):
        a, n_s = table["hit"].to_numpy(), table["planted"].to_numpy()
        k = a + table["others_hit"].to_numpy()
        total = n_s + table["others"].to_numpy()
        p = np.where(a > 0, hypergeom.sf(a - 1, total, k, n_s), 1.0)
        # Tarone: a pair with fewer hits than min_hits can never show a leak, so it
        # is not part of the family the adjustment divides the error rate over.
        testable = a >= settings.min_hits
        q = np.ones_like(p)
        if testable.any():
            q[testable] = false_discovery_control(p[testable], method="bh")
        rate_others = (table["others_hit"] + 0.5) / (table["others"] + 1.0)
        lift = (a / n_s) / rate_others.to_numpy()
        significant = (q <= settings.alpha) & (a >= settings.min_hits) & (lift >= settings.min_lift)
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
                    p_adjusted=float(q[i]),
                    lift=float(lift[i]),
                    significant=bool(significant[i]),
                    hit_canaries=row.hit_canaries,
                )
            )
    context = _Context(
        frames, settings, now, index, first, named, background, unit_index, n_controls
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
        top_units=(leaking or sorted(mine, key=lambda r: r.p_adjusted))[:5],
        marker_messages=sorted(int(m) for m in marks["message_id"]) if len(marks) else [],
    )
    if times is not None:
        verdict.timeline = _timeline(ctx, times)
    if len(marks):
        verdict.verdict, verdict.score = "leaked", 1.0
        first = marks.sort_values("received_at").iloc[0]
        label = canaries.loc[canaries["id"] == first.canary_id, "label"].iat[0]
        n, k = len(marks), marks["canary_id"].nunique()
        verdict.reason = (
            f"{n} message{'s' * (n > 1)} addressed {k} {'canaries' if k > 1 else 'canary'} by"
            f" the name spelling or plus-tagged address given only to this source (first:"
            f" {label} as {first.marker!r})."
        )
    elif leaking:
        top = leaking[0]
        verdict.verdict = "leaked"
        verdict.reason = (
            f"{_label(ctx, top.unit)} reached {top.hit} of {top.planted} canaries after planting"
            f" against {top.others_hit} of {top.others} other contacts"
            f" (adjusted p = {top.p_adjusted:.1e}, lift {top.lift:.1f})."
        )
    elif best is not None and best.p_adjusted <= settings.suspect_alpha and best.hit >= 1:
        verdict.verdict = "suspected"
        verdict.reason = (
            f"{_label(ctx, best.unit)} reached {best.hit} of {best.planted} canaries after planting"
            f" against {best.others_hit} of {best.others} others"
            f" (adjusted p = {best.p_adjusted:.2f}): more than chance, not yet conclusive."
        )
    else:
        verdict.verdict, verdict.reason = _clean_or_insufficient(ctx, times, planted)
    if verdict.verdict == "leaked":
        _date_the_leak(ctx, verdict, times, leaking, marks)
    return verdict


def _label(ctx: _Context, unit: str) -> str:
    units = ctx.frames.units
    match = units.loc[units["unit"] == unit, "label"]
    name = str(Unit.from_key(unit))
    return f"{name} ({match.iat[0]})" if len(match) else name


def _clean_or_insufficient(
    ctx: _Context, times: np.ndarray | None, planted: int
) -> tuple[str, str]:
    settings = ctx.settings
    if planted < settings.min_canaries:
        return (
            "insufficient data",
            f"Only {planted} canaries planted here (at least {settings.min_canaries} needed).",
        )
    days = np.nanmedian((ctx.now - times[~np.isnan(times)]) / DAY)
    if days < settings.min_days:
        return "insufficient data", (
            f"Canaries were planted a median {days:.0f} days ago; leaks show after weeks"
            f" (at least {settings.min_days:.0f} days needed)."
        )
    if ctx.controls < settings.min_controls:
        return "insufficient data", (
            f"Only {ctx.controls} controls: background spam cannot be told apart"
            f" (at least {settings.min_controls} needed)."
        )
    return "clean", (
        f"No campaign reached its {planted} canaries more than it reached everyone else"
        f" over a median {days:.0f} days since planting."
    )


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
    for row in marks.itertuples(index=False):
        c = index[row.canary_id]
        firsts[c] = min(firsts.get(c, np.inf), row.received_at.timestamp())
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
