"""Leak sources: verdicts, exposure heatmap, a source's spam rates and plant-to-spam delays,
and the messages behind each."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from charts import first_spam_chart, weekly_chart
from common import (
    empty_store_guide,
    env_note,
    grid,
    label,
    md,
    picked_row,
    query,
    reason,
    spam_rates,
    t,
    unit_name,
)
from leaktrace import views

st.title(t("leaks_title"))
env_note()
if not empty_store_guide():
    reports = query(views.verdict_reports)
    if not reports:
        st.caption(t("no_attribution_hint"))
        st.stop()
    table = pd.DataFrame(
        [
            {
                "source": r["name"],
                "verdict": r["verdict"],
                "score": r["score"],
                "adjusted p": r["p_adjusted"],
                "hit / planted": f"{r['canaries_hit']}/{r['canaries_planted']}",
                "leak date (est.)": (r["estimated_leak_date"] or "")[:10],
                "fields leaked": t("list_separator").join(
                    label("fields", f) for f in r["fields_leaked"]
                ),
                "why": reason(r),
            }
            for r in reports
        ]
    )
    st.subheader(t("leaks_verdicts"))
    row = picked_row(
        table,
        "verdict-table",
        {
            "adjusted p": st.column_config.NumberColumn(format="%.1e"),
            "why": st.column_config.TextColumn(width="large"),
        },
    )
    exposure = query(views.exposure_matrix)
    st.subheader(t("leaks_exposure"))
    st.caption(t("leaks_exposure_help"))
    reached = exposure[exposure["hit"] > 0]
    if not reached.empty:
        base = alt.Chart(reached).encode(
            x=alt.X("unit:N", title=t("chart_campaign")),
            y=alt.Y("source:N", title=t("chart_source")),
            tooltip=[
                alt.Tooltip(c, title=label("col", c))
                for c in (
                    "source",
                    "label",
                    "hit",
                    "planted",
                    "others_hit",
                    "others",
                    "lift",
                    "p_adjusted",
                )
            ],
        )
        cell_pick = alt.selection_point(name="cell", fields=["source", "unit"])
        event = st.altair_chart(
            base.mark_rect()
            .encode(color=alt.Color("lift:Q", scale=alt.Scale(type="log"), title=t("chart_lift")))
            .add_params(cell_pick)
            + base.transform_filter("datum.significant").mark_text(text="●", color="white"),
            width="stretch",
            on_select="rerun",
            key="heatmap",
        )
        clicked = (event.selection.get("cell") or [None])[0] if event else None
    else:
        clicked = None
    names = table["source"].tolist()
    # A new click on a heatmap cell or a verdict row picks what the select boxes show.
    pick = (
        (clicked["source"], clicked["unit"])
        if clicked
        else (names[row], None)
        if row is not None
        else None
    )
    if pick and pick != st.session_state.get("leak-pick"):
        st.session_state["leak-pick"] = pick
        st.session_state["leak-source"] = pick[0]
        if pick[1]:
            st.session_state["leak-unit"] = pick[1]
    source = st.selectbox(t("leaks_source"), names, key="leak-source")
    report = next(r for r in reports if r["name"] == source)
    # Reasons quote campaign labels, which quote spam: plain text, never markdown.
    st.subheader(t("leaks_heading", source=md(source), verdict=label("verdict", report["verdict"])))
    st.text(reason(report))
    picture = query(views.source_picture, source)
    st.markdown(f"**{t('leaks_picture', source=md(source))}**")
    st.caption(t("leaks_picture_help"))
    if not picture.rates.empty:
        spam_rates(picture.rates, "source-rates", source)
    if not picture.weekly.empty:
        st.markdown(f"**{t('leaks_weekly')}**")
        st.altair_chart(weekly_chart(picture.weekly, picture.plants), width="stretch")
    if not picture.first_spam.empty:
        st.markdown(f"**{t('leaks_first_spam')}**")
        st.altair_chart(first_spam_chart(picture.first_spam), width="stretch")
    units = exposure.loc[(exposure["source"] == source) & (exposure["hit"] > 0)]
    units = units.sort_values(["p_adjusted", "hit"], ascending=[True, False])
    if st.session_state.get("leak-unit") not in set(units["unit"]):
        st.session_state.pop("leak-unit", None)
    if not units.empty:
        unit = st.selectbox(
            t("leaks_unit"),
            units["unit"].tolist(),
            key="leak-unit",
            format_func=lambda u: f"{u}: {units.loc[units['unit'] == u, 'label'].iat[0][:60]}",
        )
        cell = query(views.exposure_messages, source, unit)
        st.caption(t("leaks_cell", messages=len(cell), unit=unit_name(unit), source=md(source)))
        grid(cell, config={"body": st.column_config.TextColumn(width="large")})
