"""Spam per canary-week: how much of each category a group of canaries receives, with its interval.

The picture the study was built for ("credit-inquiry canaries get N times the loan
SMS of controls after planting"), as rates a reader can check by hand. A canary's
time is cut into intervals, each counted in one group:

* **controls**: canaries never planted (reserved controls and canaries with no
  plant yet, as attribution counts them), from when their inbox is watched;
* **before planting**: a planted canary from when its inbox is watched until its
  first plant;
* **after planting at <category>**: from its first plant at a source of that
  category until it is planted at a source of another category (a second plant
  in the same category changes nothing);
* **after planting at several categories**: from then on. Spam reaching a canary
  two kinds of source had cannot be told apart, so that time is neither
  category's (attribution, likewise, counts such a canary for neither source).

"Watched" is attribution's definition (``exposure.CANARIES_SQL``, at the latest
from the first plant); every interval ends at the study's ``as_of`` (default:
its last plausible message). The messages counted are those to the canary inside
the interval, first-party ones left out as attribution leaves them out, by the
category of their template (``unclustered`` before clustering). For one source,
its canaries' time is cut at their plant there instead (before / after planting
here), against the same controls.

Intervals are exact Poisson (Garwood) intervals on the count, divided by the
canary-weeks; aggregation happens in DuckDB, so a million messages cost one scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from leaktrace import i18n
from leaktrace.attribution.exposure import CANARIES_SQL
from leaktrace.store import Store
from leaktrace.store.messages import plausible_time_sql

WEEK = 7 * 86_400.0
CONTROLS = "controls"
BEFORE = "before planting"
SEVERAL = "several categories"
BEFORE_HERE = "before planting here"
AFTER_HERE = "after planting here"
_GROUP_KEYS = {
    CONTROLS: "rates_group_controls",
    BEFORE: "rates_group_before",
    BEFORE_HERE: "rates_group_before_here",
    AFTER_HERE: "rates_group_after_here",
}
KINDS = ("before", "after", "control")  # the order groups are listed in

# The canaries as attribution sees them, and when each was first planted anywhere.
_WATCHED = f"""
as_of AS (
    SELECT coalesce(CAST($as_of AS TIMESTAMPTZ),
                    max(received_at) FILTER (WHERE {plausible_time_sql("received_at")})) AS t
    FROM messages
), roster AS ({CANARIES_SQL}
), first_plants AS (
    SELECT p.canary_id, min(p.planted_at) AS at
    FROM plants p, as_of WHERE p.planted_at <= as_of.t GROUP BY p.canary_id
), watched AS (
    SELECT c.id AS canary_id, c.is_control OR f.at IS NULL AS control,
           least(c.observed_from, f.at) AS since, f.at AS first_plant
    FROM roster c LEFT JOIN first_plants f ON f.canary_id = c.id
)"""

# Study-wide groups: before planting, after planting by source category, controls.
_STUDY_INTERVALS = f"""
WITH {_WATCHED}, categories AS (
    SELECT p.canary_id, s.category, min(p.planted_at) AS since
    FROM plants p JOIN sources s ON s.id = p.source_id, as_of
    WHERE p.planted_at <= as_of.t GROUP BY ALL
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY canary_id ORDER BY since, category) AS k
    FROM categories
), planted AS (
    SELECT canary_id, any_value(category) FILTER (WHERE k = 1) AS category,
           min(since) FILTER (WHERE k = 2) AS mixed_at
    FROM ranked GROUP BY canary_id
), intervals AS (
    SELECT w.canary_id, 'control' AS kind, '{CONTROLS}' AS grp, NULL AS source_category,
           w.since AS start, a.t AS stop
    FROM watched w, as_of a WHERE w.control
    UNION ALL
    SELECT w.canary_id, 'before', '{BEFORE}', NULL, w.since, w.first_plant
    FROM watched w WHERE NOT w.control
    UNION ALL
    SELECT w.canary_id, 'after', 'after planting at ' || p.category, p.category,
           w.first_plant, coalesce(p.mixed_at, a.t)
    FROM watched w JOIN planted p USING (canary_id), as_of a WHERE NOT w.control
    UNION ALL
    SELECT w.canary_id, 'after', 'after planting at {SEVERAL}', '{SEVERAL}', p.mixed_at, a.t
    FROM watched w JOIN planted p USING (canary_id), as_of a
    WHERE NOT w.control AND p.mixed_at IS NOT NULL
)"""

# A source's canaries (not controls) and when each was first planted there.
_HERE = """
here AS (
    SELECT p.canary_id, min(p.planted_at) AS at
    FROM plants p JOIN sources s ON s.id = p.source_id, as_of
    WHERE s.name = $source AND p.planted_at <= as_of.t GROUP BY p.canary_id
)"""

# One source's canaries: before and after their (first) plant there, and the controls.
_SOURCE_INTERVALS = f"""
WITH {_WATCHED}, {_HERE}, intervals AS (
    SELECT w.canary_id, 'control' AS kind, '{CONTROLS}' AS grp, NULL AS source_category,
           w.since AS start, a.t AS stop
    FROM watched w, as_of a WHERE w.control
    UNION ALL
    SELECT w.canary_id, 'before', '{BEFORE_HERE}', NULL, w.since, h.at
    FROM watched w JOIN here h USING (canary_id) WHERE NOT w.control
    UNION ALL
    SELECT w.canary_id, 'after', '{AFTER_HERE}', NULL, h.at, a.t
    FROM watched w JOIN here h USING (canary_id), as_of a WHERE NOT w.control
)"""

# The messages inside each interval; one ending at as_of includes it.
_INSIDE = """
FROM intervals i JOIN messages m ON m.canary_id = i.canary_id
     AND m.received_at >= i.start
     AND (m.received_at < i.stop OR (m.received_at = i.stop AND i.stop = (SELECT t FROM as_of)))
LEFT JOIN message_templates mt ON mt.message_id = m.id
LEFT JOIN templates tp ON tp.id = mt.template_id
WHERE NOT m.first_party
"""

_RATES = f"""
, exposure AS (
    SELECT kind, grp, source_category, count(DISTINCT canary_id) AS canaries,
           sum(epoch(stop) - epoch(start)) / {WEEK} AS canary_weeks
    FROM intervals WHERE start < stop  -- a canary not watched then is in no group
    GROUP BY ALL
), counts AS (
    SELECT i.grp, coalesce(tp.category, 'unclustered') AS category, count(*) AS messages
    {_INSIDE}
    GROUP BY ALL
), spam AS (SELECT DISTINCT category FROM counts)
SELECT e.grp AS "group", e.kind, e.source_category, s.category, e.canaries, e.canary_weeks,
       coalesce(n.messages, 0) AS messages
FROM exposure e CROSS JOIN spam s
LEFT JOIN counts n ON n.grp = e.grp AND n.category = s.category
ORDER BY list_position({list(KINDS)}, e.kind), e.grp, s.category
"""

_MESSAGES = f"""
SELECT m.id, m.received_at,
       (SELECT label FROM canaries c WHERE c.id = m.canary_id) AS recipient, m.sender, m.body,
       coalesce(tp.category, 'unclustered') AS category
{_INSIDE}
  AND i.grp = $group AND coalesce(tp.category, 'unclustered') = $category
ORDER BY m.received_at, m.id LIMIT $limit
"""


def garwood(counts: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) Poisson interval of each count: the mean counts the data cannot rule out."""
    # chi2.ppf(q, 2k) / 2 is gammaincinv(k, q): scipy.special gives the same numbers as
    # scipy.stats (tests check) without scipy.stats' 1.3 s import.
    from scipy.special import gammaincinv

    k = np.asarray(counts, dtype=float)
    tail = (1.0 - level) / 2
    low = np.where(k > 0, gammaincinv(np.maximum(k, 1e-300), tail), 0.0)
    high = gammaincinv(k + 1, 1.0 - tail)
    return low, high


def with_intervals(frame: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """``frame`` (messages, canary_weeks) plus rate, low and high in messages per canary-week."""
    low, high = garwood(frame["messages"].to_numpy(), level)
    weeks = frame["canary_weeks"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(weeks > 0, 1.0 / weeks, np.nan)
    return frame.assign(
        rate=frame["messages"].to_numpy() * scale, low=low * scale, high=high * scale
    )


def spam_rates(
    store: Store, source: str | None = None, as_of: datetime | None = None
) -> pd.DataFrame:
    """Messages per canary-week by spam category × group, with 95 % exact intervals.

    Columns: group, kind (before | after | control), source_category, category,
    canaries, canary_weeks, messages, rate, low, high. With ``source``, the groups
    are that source's canaries before and after their plant there, and the controls.
    """
    sql = (_SOURCE_INTERVALS if source is not None else _STUDY_INTERVALS) + _RATES
    params: dict = {"as_of": as_of}
    if source is not None:
        params["source"] = source
    with store.connect() as con:
        frame = con.execute(sql, params).df()
    frame["canaries"] = frame["canaries"].astype("int64")
    frame["messages"] = frame["messages"].astype("int64")
    frame["source_category"] = frame["source_category"].astype(object)
    frame.loc[frame["source_category"].isna(), "source_category"] = None
    return with_intervals(frame)


def rate_messages(
    store: Store,
    group: str,
    category: str,
    source: str | None = None,
    as_of: datetime | None = None,
    limit: int = 5_000,
) -> pd.DataFrame:
    """The messages counted in one rate (a group and a spam category), in time order."""
    sql = (_SOURCE_INTERVALS if source is not None else _STUDY_INTERVALS) + _MESSAGES
    params: dict = {"as_of": as_of, "group": group, "category": category, "limit": limit}
    if source is not None:
        params["source"] = source
    with store.connect() as con:
        return con.execute(sql, params).df()


@dataclass(frozen=True)
class Comparison:
    """One group's rate of one category against the controls', and the exact test of it."""

    group: str
    source_category: str | None
    category: str
    rate: float
    messages: int
    canary_weeks: float
    control_rate: float | None  # None: no control time watched
    control_messages: int
    control_weeks: float
    p_value: float  # one-sided: the group's rate no higher than the controls'


def compare_with_controls(
    rates: pd.DataFrame, category: str, kind: str = "after"
) -> Comparison | None:
    """The ``kind`` group surest to have a high rate of ``category``, against the controls.

    Surest: the highest lower interval bound, so a group of one canary-week that got
    two messages does not speak for the study.

    The test conditions on the two groups' total count: under equal rates the
    group's share of it is binomial with its share of the canary-weeks.
    """
    from scipy.special import bdtrc

    rows = rates[(rates["category"] == category) & (rates["canary_weeks"] > 0)]
    groups = rows[rows["kind"] == kind]
    if groups.empty or not groups["messages"].any():
        return None
    best = groups.sort_values(["low", "rate"], ascending=False).iloc[0]
    controls = rows[rows["kind"] == "control"]
    k0 = int(controls["messages"].sum())
    w0 = float(controls["canary_weeks"].sum())
    k1, w1 = int(best["messages"]), float(best["canary_weeks"])
    p = float(bdtrc(k1 - 1, k1 + k0, w1 / (w1 + w0))) if w0 > 0 else 1.0
    return Comparison(
        group=best["group"],
        source_category=best["source_category"],
        category=category,
        rate=float(best["rate"]),
        messages=k1,
        canary_weeks=w1,
        control_rate=k0 / w0 if w0 > 0 else None,
        control_messages=k0,
        control_weeks=w0,
        p_value=p,
    )


def _p(p: float) -> str:
    return "p < 1e-6" if p < 1e-6 else f"p = {p:.2g}"


def headline_words(
    rates: pd.DataFrame, category: str = "loan", alpha: float = 0.05
) -> tuple[str, dict] | None:
    """The picture in one sentence, only as strong as the data, as a string-table key and
    its arguments (stored values, numbers): None without such messages."""
    c = compare_with_controls(rates, category)
    if c is None:
        return None
    args: dict = {
        "canaries_of": c.source_category,  # None: canaries of any source
        "spam": category,
        "rate": c.rate,
    }
    if c.control_rate is None:
        return "rates_headline_no_controls", args
    args["p"] = _p(c.p_value)
    if c.p_value > alpha:
        return "rates_headline_unclear", {**args, "control_rate": c.control_rate}
    if c.control_messages == 0:
        return "rates_headline_controls_none", {**args, "control_weeks": c.control_weeks}
    return "rates_headline", {
        **args,
        "ratio": c.rate / c.control_rate,
        "control_rate": c.control_rate,
    }


def headline(rates: pd.DataFrame, category: str = "loan", alpha: float = 0.05) -> str | None:
    """The picture in one sentence in English (:func:`headline_words` in words)."""
    words = headline_words(rates, category, alpha)
    return i18n.reason("en", *words) if words else None


def group_words(group: str, source_category: str | None) -> tuple[str, dict] | None:
    """A rate group's name as a string-table key and its arguments (stored names stay
    English); None for a group these rates do not make."""
    if source_category == SEVERAL:
        return "rates_group_after_several", {}
    if source_category is not None:
        return "rates_group_after_at", {"source_category": source_category}
    return (_GROUP_KEYS[group], {}) if group in _GROUP_KEYS else None


_FIRST_SPAM = f"""
WITH {_WATCHED}, {_HERE}, starts AS (
    SELECT h.canary_id, 'planted here' AS "group", h.at AS start
    FROM here h JOIN watched w USING (canary_id) WHERE NOT w.control
    UNION ALL
    -- Controls from the study's start: when the first inbox was watched.
    SELECT canary_id, 'control', (SELECT min(since) FROM watched) FROM watched WHERE control
)
SELECT c.label AS canary, s."group", s.start, min(m.received_at) AS first_spam_at,
       any_value(a.t) AS as_of
FROM starts s JOIN canaries c ON c.id = s.canary_id CROSS JOIN as_of a
LEFT JOIN messages m ON m.canary_id = s.canary_id AND NOT m.first_party
     AND m.received_at >= s.start AND m.received_at <= a.t
GROUP BY ALL ORDER BY s."group" DESC, s.start, c.label
"""


def first_spam(store: Store, source: str, as_of: datetime | None = None) -> pd.DataFrame:
    """Per canary planted at ``source``, and per control, the days from start to first spam.

    A planted canary starts at its (first) plant there, a control at the study's start
    (the first watched inbox: a control's own watch starts at its first message); spam
    is any message that is not first-party. Columns: canary, group (planted here |
    control), start, first_spam_at (NaT: none yet), days (to the first spam, or waited
    so far), waiting (no spam yet), label.
    """
    with store.connect() as con:
        frame = con.execute(_FIRST_SPAM, {"as_of": as_of, "source": source}).df()
    end = frame["first_spam_at"].fillna(frame["as_of"])
    days = ((end - frame["start"]).dt.total_seconds() / 86_400).clip(lower=0).round(1)
    waiting = frame["first_spam_at"].isna()
    label = [f"none in {d:g} d" if w else f"{d:g} d" for d, w in zip(days, waiting, strict=True)]
    return frame.drop(columns="as_of").assign(days=days, waiting=waiting, label=label)
