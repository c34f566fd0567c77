"""The report's charts: Altair specs rendered to SVG offline by vl-convert.

Charts go into the HTML as ``data:`` images, so the report needs no script and no
network, and an SVG loaded as an image cannot run anything.
"""

from __future__ import annotations

import base64

import altair as alt
import pandas as pd
import vl_convert

ROLE_COLOURS = {"evidence": "#c0392b", "other": "#9ca3af", "first-party": "#2563eb"}


def svg_data_uri(chart: alt.TopLevelMixin) -> str:
    """A chart as an SVG ``data:`` URI."""
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def timeline_chart(
    plants: pd.DataFrame, messages: pd.DataFrame, words: dict[str, str], roles: dict[str, str]
) -> alt.LayerChart:
    """Each canary given to the source: when it was given and the messages after it, by day.

    One mark per canary, day and kind of message (a big study sends tens of thousands).
    """
    given = plants.assign(kind=words["chart_planted"])[["canary", "planted_at", "kind"]]
    received = (
        messages.assign(
            kind=messages["role"].map(roles),
            received_at=messages["received_at"].dt.tz_convert("UTC").dt.floor("D"),
        )
        .groupby(["canary", "received_at", "kind"], as_index=False)
        .size()
    )
    order = list(plants["canary"])
    y = alt.Y("canary:N", sort=order, title=words["chart_canary"])
    colour = alt.Color(
        "kind:N",
        title=words["chart_role"],
        scale=alt.Scale(
            domain=[words["chart_planted"], *(roles[r] for r in ROLE_COLOURS)],
            range=["#111827", *ROLE_COLOURS.values()],
        ),
    )
    marks = (
        alt.Chart(received)
        .mark_tick(thickness=2, size=14)
        .encode(
            x=alt.X(
                "received_at:T",
                title=words["chart_time"],
                axis=alt.Axis(format="%Y-%m-%d", labelAngle=-30),
            ),
            y=y,
            color=colour,
        )
    )
    dots = (
        alt.Chart(given)
        .mark_point(filled=True, size=70, shape="circle")
        .encode(x="planted_at:T", y=y, color=colour)
    )
    height = max(60, 26 * len(order))
    return alt.layer(marks, dots).properties(width=620, height=height)


def controls_chart(units: pd.DataFrame, words: dict[str, str]) -> alt.Chart:
    """Per campaign: the share reached of this source's canaries, everyone else, the controls."""
    series = [words["chart_this"], words["chart_others"], words["chart_controls"]]
    return (
        alt.Chart(units)
        .mark_bar()
        .encode(
            y=alt.Y("group:N", sort=series, title=None, axis=None),
            x=alt.X("share:Q", title=words["chart_share"], axis=alt.Axis(format="%")),
            color=alt.Color("group:N", sort=series, title=None),
            row=alt.Row(
                "campaign:N",
                title=None,
                sort=list(dict.fromkeys(units["campaign"])),
                header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=260),
            ),
        )
        .properties(width=380, height=36)
    )
