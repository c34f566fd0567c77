"""The dashboard's Altair charts: how views' tables are drawn, nothing computed here.

Charts encode stored values (verdicts, categories, groups: English), so a colour means
the same in every language; axes, legends and headers show them in the reader's words
through a label expression, and tooltips through a column of those words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import altair as alt
import pandas as pd

from common import date_axis, group_names, label, shown, t, words
from leaktrace.attribution.model import VERDICT_COLOURS
from leaktrace.text.categories import OTHER, builtin_lexicon

HIGHLIGHT = "loan"  # the spam category the study asks about
KIND_COLOURS = {"before": "#94a3b8", "after": "#2563eb", "control": "#374151"}
FIRST_SPAM_COLOURS = {"planted here": "#2563eb", "control": "#9ca3af"}
RATE_PICK = "bar"  # the selection a click on a rate bar fills
# One colour per spam category wherever it is drawn, in the lexicon's order (Tableau 10).
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#e45756",
    "#72b7b2",
    "#54a24b",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
)


def named(names: Mapping[str, str]) -> str:
    """A Vega expression that labels each stored value (an axis tick, a legend entry, a
    facet header) with its word in ``names``; any other value as it is."""
    expr = "datum.label"
    for value, name in names.items():
        literal = json.dumps(str(value), ensure_ascii=False)
        expr = f"datum.value === {literal} ? {json.dumps(name, ensure_ascii=False)} : ({expr})"
    return expr


def verdict_colour(field: str = "verdict", **kwargs) -> alt.Color:
    """Colour by verdict, the same everywhere: leaked red, suspected amber, clean green, grey.
    The field holds stored verdicts; the legend says them in the reader's words."""
    scale = alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values()))
    kwargs.setdefault("title", t("chart_verdict"))
    kwargs.setdefault("legend", alt.Legend(labelExpr=named(words("verdict", VERDICT_COLOURS))))
    return alt.Color(f"{field}:N", scale=scale, **kwargs)


def category_colour(categories: Iterable[str], field: str = "category", **kwargs) -> alt.Color:
    """Colour by spam category (stored names), one colour per category in every chart."""
    known = list(dict.fromkeys([*builtin_lexicon(), OTHER, "first-party", "unclustered"]))
    present = sorted(
        set(categories), key=lambda c: (c not in known, known.index(c) if c in known else 0, c)
    )
    extra = iter(range(len(known), len(known) + len(present)))
    colours = [
        PALETTE[(known.index(c) if c in known else next(extra)) % len(PALETTE)] for c in present
    ]
    kwargs.setdefault("title", t("chart_category"))
    kwargs.setdefault("legend", alt.Legend(labelExpr=named(words("category", present))))
    return alt.Color(f"{field}:N", scale=alt.Scale(domain=present, range=colours), **kwargs)


def spam_categories(rates: pd.DataFrame) -> list[str]:
    """The spam categories of a rates table, the highlighted one first."""
    names = sorted(set(rates["category"]))
    return sorted(names, key=lambda c: c != HIGHLIGHT)


def rates_chart(rates: pd.DataFrame) -> alt.FacetChart:
    """Messages per canary-week with 95 % intervals: one panel per spam category, loan first."""
    names = group_names(rates)
    categories = spam_categories(rates)
    data = rates.assign(
        group_name=rates["group"].map(names),
        category_name=rates["category"].map(lambda c: label("category", c)),
    )
    y = alt.Y(
        "group:N",
        sort=list(names),
        title=None,
        axis=alt.Axis(labelLimit=260, labelExpr=named(names)),
    )
    pick = alt.selection_point(name=RATE_PICK, fields=["group", "category"])
    kinds = {k: t(f"rates_kind_{k}") for k in KIND_COLOURS}
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("rate:Q", title=t("rates_axis")),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=list(KIND_COLOURS), range=list(KIND_COLOURS.values())),
                legend=alt.Legend(title=None, orient="bottom", labelExpr=named(kinds)),
            ),
            opacity=alt.condition(
                f"datum.category == '{HIGHLIGHT}'", alt.value(1.0), alt.value(0.4)
            ),
            tooltip=[
                alt.Tooltip("group_name:N", title=t("rates_tip_group")),
                alt.Tooltip("category_name:N", title=t("chart_category")),
                alt.Tooltip("messages:Q", title=t("chart_messages")),
                alt.Tooltip("canaries:Q", title=t("rates_tip_canaries")),
                alt.Tooltip("canary_weeks:Q", format=".1f", title=t("rates_tip_weeks")),
                alt.Tooltip("rate:Q", format=".3f", title=t("rates_tip_rate")),
                alt.Tooltip("low:Q", format=".3f", title=t("rates_tip_low")),
                alt.Tooltip("high:Q", format=".3f", title=t("rates_tip_high")),
            ],
        )
        .add_params(pick)
    )
    # Titled as the bars' axis: a layer's axis joins the different titles of its layers.
    errors = (
        alt.Chart()
        .mark_rule(color="#111827")
        .encode(y=y, x=alt.X("low:Q", title=t("rates_axis")), x2="high:Q")
    )
    # Three panels a row fit the page whatever the number of categories.
    return (
        alt.layer(bars, errors, data=data)
        .properties(width=260)
        .facet(
            facet=alt.Facet(
                "category:N",
                sort=categories,
                title=None,
                header=alt.Header(
                    labelFontSize=13,
                    labelFontWeight="bold",
                    labelExpr=named(words("category", categories)),
                ),
            ),
            columns=3,
        )
    )


def weekly_chart(weekly: pd.DataFrame, plants: pd.DataFrame) -> alt.LayerChart:
    """Spam per week to a source's canaries by category, with each plant date marked."""
    categories = spam_categories(weekly)
    data = weekly.assign(category_name=weekly["category"].map(lambda c: label("category", c)))
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("week:T", timeUnit="yearweek", axis=date_axis("rates_week")),
            y=alt.Y("messages:Q", title=t("chart_messages")),
            color=category_colour(categories, sort=categories),
            tooltip=[
                alt.Tooltip("week:T", title=t("rates_week"), format=t("chart_date_format")),
                alt.Tooltip("category_name:N", title=t("chart_category")),
                alt.Tooltip("messages:Q", title=t("chart_messages")),
            ],
        )
    )
    marks = (
        alt.Chart(shown(plants))  # plant times in the study's zone
        .mark_rule(color="#111827", strokeDash=[4, 3], strokeWidth=2)
        .encode(
            x=alt.X("planted_at:T", title=t("rates_week")),  # one axis, one title
            tooltip=[
                alt.Tooltip("canary:N", title=t("chart_canary")),
                alt.Tooltip("planted_at:T", title=t("chart_plant"), format="%Y-%m-%d %H:%M"),
            ],
        )
    )
    return alt.layer(bars, marks)


def first_spam_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """One row per canary: start (plant, or the study's start for controls) to first spam."""
    order = list(frame["canary"])
    groups = {g: t(f"first_spam_{g.replace(' ', '_')}") for g in FIRST_SPAM_COLOURS}
    said = [
        t("first_spam_none_in", days=d) if w else t("first_spam_after", days=d)
        for d, w in zip(frame["days"], frame["waiting"], strict=True)
    ]
    data = shown(frame).assign(
        zero=0.0, group_name=frame["group"].map(lambda g: groups.get(g, g)), said=said
    )
    y = alt.Y("canary:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False))
    colour = alt.Color(
        "group:N",
        scale=alt.Scale(domain=list(FIRST_SPAM_COLOURS), range=list(FIRST_SPAM_COLOURS.values())),
        legend=alt.Legend(title=None, orient="bottom", labelExpr=named(groups)),
    )
    base = alt.Chart(data)
    x = alt.X("zero:Q", title=t("first_spam_axis"))
    to = alt.X("days:Q", title=t("first_spam_axis"))  # layers sharing an axis, one title
    line = base.mark_rule(strokeWidth=2).encode(
        x=x,
        x2="days:Q",
        y=y,
        color=colour,
        strokeDash=alt.condition("datum.waiting", alt.value([4, 3]), alt.value([1, 0])),
    )
    start = base.mark_tick(thickness=2, size=12).encode(x=x, y=y, color=colour)
    when = "%Y-%m-%d %H:%M"
    spam = (
        base.transform_filter("!datum.waiting")
        .mark_point(filled=True, size=60)
        .encode(
            x=to,
            y=y,
            color=colour,
            tooltip=[
                alt.Tooltip("canary:N", title=t("chart_canary")),
                alt.Tooltip("group_name:N", title=t("rates_tip_group")),
                alt.Tooltip("start:T", title=t("first_spam_start"), format=when),
                alt.Tooltip("first_spam_at:T", title=t("chart_first_spam"), format=when),
                alt.Tooltip("days:Q", title=t("chart_days")),
            ],
        )
    )
    text = base.mark_text(align="left", dx=6, fontSize=11).encode(x=to, y=y, text="said:N")
    return alt.layer(line, start, spam, text).properties(height=alt.Step(22))
