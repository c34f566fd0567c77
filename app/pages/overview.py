"""Overview: the study at a glance."""

from __future__ import annotations

import altair as alt
import streamlit as st

from charts import category_colour, named, verdict_colour
from common import (
    date_axis,
    empty_store_guide,
    env_note,
    grid,
    label,
    local_time,
    md,
    query,
    reason,
    sentence,
    spam_rates,
    t,
    words,
    zone,
)
from leaktrace import views

st.title(t("overview_title"))
env_note()
if not empty_store_guide():
    picture = query(views.spam_picture)
    st.subheader(t("overview_picture"))
    if picture.headline_key:
        st.markdown(f"**{md(sentence(picture.headline_key, picture.headline_args))}**")
    st.caption(t("overview_picture_help"))
    if picture.rates.empty:
        st.caption(t("overview_picture_empty"))
    else:
        spam_rates(picture.rates, "overview-rates")
    data = query(views.overview, zone().key)
    counts = data.counts
    cols = st.columns(5)
    cols[0].metric(t("overview_sources"), counts["sources"])
    cols[1].metric(t("overview_planted"), counts["planted canaries"])
    cols[2].metric(t("overview_controls"), counts["controls"])
    cols[3].metric(t("overview_messages"), f"{counts['messages']:,}")
    cols[4].metric(t("overview_quarantine"), counts["quarantine"])

    left, right = st.columns([1, 2])
    with left:
        st.subheader(t("overview_by_verdict"))
        if data.verdicts.empty:
            st.caption(t("no_attribution_hint"))
        else:
            st.altair_chart(
                alt.Chart(data.verdicts)
                .mark_bar()
                .encode(
                    x=alt.X("sources:Q", title=t("chart_sources")),
                    y=alt.Y(
                        "verdict:N",
                        sort="-x",
                        title=t("chart_verdict"),
                        axis=alt.Axis(labelExpr=named(words("verdict", data.verdicts["verdict"]))),
                    ),
                    color=verdict_colour(),
                ),
                width="stretch",
            )
    with right:
        st.subheader(t("overview_per_day"))
        if not data.per_day.empty:
            # Coloured by the stored category, so a colour means one category in any language.
            per_day = data.per_day.assign(
                category_name=data.per_day["category"].map(lambda c: label("category", c))
            )
            st.altair_chart(
                alt.Chart(per_day)
                .mark_bar()
                .encode(
                    x=alt.X("day:T", axis=date_axis()),
                    y=alt.Y("messages:Q", title=t("chart_messages")),
                    color=category_colour(per_day["category"]),
                    tooltip=[
                        alt.Tooltip("day:T", title=t("chart_day")),
                        alt.Tooltip("category_name:N", title=t("chart_category")),
                        alt.Tooltip("messages:Q", title=t("chart_messages")),
                    ],
                ),
                width="stretch",
            )
    st.subheader(t("overview_watch"))
    if data.watch.empty:
        st.caption(t("overview_watch_none"))
    else:
        reports = {r["name"]: r for r in query(views.verdict_reports)}
        watch = data.watch.assign(
            reason=[
                reason(reports[name]) if name in reports else why
                for name, why in zip(data.watch["source"], data.watch["reason"], strict=True)
            ]
        )
        grid(watch, config={"reason": st.column_config.TextColumn(width="large")})
    if data.last_import:
        last = data.last_import
        st.caption(
            t(
                "overview_last_import",
                file=last["file"],
                format=last["format"],
                when=f"{local_time(last['finished_at']):%Y-%m-%d %H:%M}",
                inserted=last["inserted"],
                duplicate=last["duplicate"],
                rejected=last["rejected"],
            )
        )
