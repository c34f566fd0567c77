"""The dashboard's Altair charts: how views' tables are drawn, nothing computed here."""

from __future__ import annotations

import altair as alt
import pandas as pd

from leaktrace.attribution.model import VERDICT_COLOURS

HIGHLIGHT = "loan"  # the spam category the study asks about
KIND_COLOURS = {"before": "#94a3b8", "after": "#2563eb", "control": "#374151"}
RATE_PICK = "bar"  # the selection a click on a rate bar fills


def verdict_colour(field: str = "verdict", **kwargs) -> alt.Color:
    """Colour by verdict, the same everywhere: leaked red, suspected amber, clean green, grey."""
    scale = alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values()))
    return alt.Color(f"{field}:N", scale=scale, **kwargs)


def spam_categories(rates: pd.DataFrame) -> list[str]:
    """The spam categories of a rates table, the highlighted one first."""
    names = sorted(set(rates["category"]))
    return sorted(names, key=lambda c: c != HIGHLIGHT)


def rates_chart(rates: pd.DataFrame) -> alt.FacetChart:
    """Messages per canary-week with 95 % intervals: one panel per spam category, loan first."""
    groups = list(dict.fromkeys(rates["group"]))
    y = alt.Y("group:N", sort=groups, title=None, axis=alt.Axis(labelLimit=260))
    pick = alt.selection_point(name=RATE_PICK, fields=["group", "category"])
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("rate:Q", title="messages per canary-week"),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=list(KIND_COLOURS), range=list(KIND_COLOURS.values())),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            opacity=alt.condition(
                f"datum.category == '{HIGHLIGHT}'", alt.value(1.0), alt.value(0.4)
            ),
            tooltip=[
                "group:N",
                "category:N",
                "messages:Q",
                alt.Tooltip("canaries:Q", title="canaries"),
                alt.Tooltip("canary_weeks:Q", format=".1f", title="canary-weeks"),
                alt.Tooltip("rate:Q", format=".3f"),
                alt.Tooltip("low:Q", format=".3f", title="95% low"),
                alt.Tooltip("high:Q", format=".3f", title="95% high"),
            ],
        )
        .add_params(pick)
    )
    errors = alt.Chart().mark_rule(color="#111827").encode(y=y, x="low:Q", x2="high:Q")
    # Three panels a row fit the page whatever the number of categories.
    return (
        alt.layer(bars, errors, data=rates)
        .properties(width=260)
        .facet(
            facet=alt.Facet(
                "category:N",
                sort=spam_categories(rates),
                title=None,
                header=alt.Header(labelFontSize=13, labelFontWeight="bold"),
            ),
            columns=3,
        )
    )


def weekly_chart(weekly: pd.DataFrame, plants: pd.DataFrame) -> alt.LayerChart:
    """Spam per week to a source's canaries by category, with each plant date marked."""
    bars = (
        alt.Chart(weekly)
        .mark_bar()
        .encode(
            x=alt.X("week:T", timeUnit="yearweek", title="week"),
            y=alt.Y("messages:Q", title="messages"),
            color=alt.Color("category:N", sort=spam_categories(weekly), title="category"),
            tooltip=["week:T", "category:N", "messages:Q"],
        )
    )
    marks = (
        alt.Chart(plants)
        .mark_rule(color="#111827", strokeDash=[4, 3], strokeWidth=2)
        .encode(
            x="planted_at:T", tooltip=["canary:N", alt.Tooltip("planted_at:T", title="planted")]
        )
    )
    return alt.layer(bars, marks)


def first_spam_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """One row per canary: start (plant, or the study's start for controls) to first spam."""
    order = list(frame["canary"])
    y = alt.Y("canary:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False))
    colour = alt.Color(
        "group:N",
        scale=alt.Scale(domain=["planted here", "control"], range=["#2563eb", "#9ca3af"]),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    base = alt.Chart(frame.assign(zero=0.0))
    x = alt.X("zero:Q", title="days from plant to first spam (controls: from the study's start)")
    line = base.mark_rule(strokeWidth=2).encode(
        x=x,
        x2="days:Q",
        y=y,
        color=colour,
        strokeDash=alt.condition("datum.waiting", alt.value([4, 3]), alt.value([1, 0])),
    )
    start = base.mark_tick(thickness=2, size=12).encode(x=x, y=y, color=colour)
    spam = (
        base.transform_filter("!datum.waiting")
        .mark_point(filled=True, size=60)
        .encode(
            x="days:Q",
            y=y,
            color=colour,
            tooltip=["canary:N", "group:N", "start:T", "first_spam_at:T", "days:Q"],
        )
    )
    text = base.mark_text(align="left", dx=6, fontSize=11).encode(x="days:Q", y=y, text="label:N")
    return alt.layer(line, start, spam, text).properties(height=alt.Step(22))
