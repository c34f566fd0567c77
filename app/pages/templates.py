"""Templates & campaigns: masked texts, their messages with slot values, campaigns and why."""

from __future__ import annotations

import altair as alt
import streamlit as st

from common import (
    analyse,
    date_axis,
    done,
    empty_store_guide,
    env_note,
    flash,
    grid,
    md,
    picked_row,
    query,
    said,
    t,
    writer,
    zone,
)
from leaktrace import views
from leaktrace.errors import LeaktraceError
from leaktrace.templates.cluster import merge_templates, split_template

st.title(t("templates_title"))
env_note()
flash()
if not empty_store_guide():
    templates_tab, campaigns_tab = st.tabs(
        [t("templates_tab_templates"), t("templates_tab_campaigns")]
    )
    with templates_tab:
        table = query(views.templates_table)
        st.caption(t("templates_caption", templates=len(table)))
        row = picked_row(
            table,
            "template-table",
            {"text": st.column_config.TextColumn(width="large")},
            {"category": "category"},
        )
        options = table["id"].tolist()
        chosen = (
            st.selectbox(
                t("templates_template"),
                options,
                index=row or 0,
                format_func=lambda i: f"{i}: {table.loc[table['id'] == i, 'text'].iat[0][:80]}",
            )
            if options
            else None
        )
        if chosen is not None:
            timeline = query(views.template_timeline, int(chosen), zone().key)
            st.altair_chart(
                alt.Chart(timeline)
                .mark_bar()
                .encode(
                    x=alt.X("day:T", axis=date_axis()),
                    y=alt.Y("messages:Q", title=t("chart_messages")),
                ),
                width="stretch",
            )
            grid(
                query(views.template_messages, int(chosen)),
                config={
                    "body": st.column_config.TextColumn(width="large"),
                    "slots": st.column_config.TextColumn(width="medium"),
                },
            )
        with st.expander(t("templates_edit")):
            st.caption(t("templates_edit_help"))
            with st.form("merge"):
                c1, c2 = st.columns(2)
                source = c1.number_input(
                    t("templates_merge_from"), min_value=0, step=1, key="merge-from"
                )
                target = c2.number_input(
                    t("templates_merge_into"), min_value=0, step=1, key="merge-into"
                )
                if st.form_submit_button(t("templates_merge")):
                    try:
                        moved = merge_templates(writer(), int(source), int(target))
                        analyse()
                    except LeaktraceError as exc:
                        st.error(md(said(exc)))
                    else:
                        done(t("templates_merged", source=source, target=target, moved=moved))
            with st.form("split"):
                message = st.number_input(
                    t("templates_split_message"), min_value=0, step=1, key="split-message"
                )
                if st.form_submit_button(t("templates_split")):
                    try:
                        new, moved = split_template(writer(), int(message))
                        analyse()
                    except LeaktraceError as exc:
                        st.error(md(said(exc)))
                    else:
                        done(t("templates_split_done", template=new, moved=moved))
    with campaigns_tab:
        campaigns = query(views.campaigns_table)
        st.caption(t("campaigns_caption"))
        grid(campaigns, {"category": "category"})
        if not campaigns.empty:
            campaign = st.selectbox(
                t("campaigns_why"),
                campaigns["id"].tolist(),
                format_func=lambda i: f"{i}: {campaigns.loc[campaigns['id'] == i, 'label'].iat[0]}",
            )
            grid(query(views.campaign_reasons, int(campaign)), width="content")
            grid(
                query(views.messages, views.MessageFilter(campaign=int(campaign))),
                {"category": "category"},
            )
