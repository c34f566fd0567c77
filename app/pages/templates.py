"""Templates & campaigns: masked texts, their messages with slot values, campaigns and why."""

from __future__ import annotations

import altair as alt
import streamlit as st

from common import empty_store_guide, env_note, query
from leaktrace import views

st.title("Templates & campaigns")
env_note()
if not empty_store_guide():
    templates_tab, campaigns_tab = st.tabs(["Templates", "Campaigns"])
    with templates_tab:
        table = query(views.templates_table)
        st.caption(f"{len(table):,} templates, biggest first. Select one to see its messages.")
        picked = st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key="template-table",
            column_config={"text": st.column_config.TextColumn("masked text", width="large")},
        )
        rows = picked.selection.rows if picked else []
        options = table["id"].tolist()
        chosen = (
            st.selectbox(
                "Template",
                options,
                index=rows[0] if rows else 0,
                format_func=lambda i: f"{i}: {table.loc[table['id'] == i, 'text'].iat[0][:80]}",
            )
            if options
            else None
        )
        if chosen is not None:
            timeline = query(views.template_timeline, int(chosen))
            st.altair_chart(
                alt.Chart(timeline).mark_bar().encode(x="day:T", y="messages:Q"),
                width="stretch",
            )
            st.dataframe(
                query(views.template_messages, int(chosen)),
                hide_index=True,
                width="stretch",
                column_config={
                    "body": st.column_config.TextColumn("text", width="large"),
                    "slots": st.column_config.TextColumn("slot values", width="medium"),
                },
            )
    with campaigns_tab:
        campaigns = query(views.campaigns_table)
        st.caption(
            "Messages linked through shared infrastructure (106 channel + signature, link"
            " domains, call-back numbers, WeChat/QQ). Indicators shared by many templates link"
            " nothing."
        )
        st.dataframe(campaigns, hide_index=True, width="stretch")
        if not campaigns.empty:
            campaign = st.selectbox(
                "Why is this one campaign?",
                campaigns["id"].tolist(),
                format_func=lambda i: f"{i}: {campaigns.loc[campaigns['id'] == i, 'label'].iat[0]}",
            )
            st.dataframe(query(views.campaign_reasons, int(campaign)), hide_index=True)
            st.dataframe(
                query(views.messages, views.MessageFilter(campaign=int(campaign))),
                hide_index=True,
                width="stretch",
            )
