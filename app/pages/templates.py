"""Templates & campaigns: masked texts, their messages with slot values, campaigns and why."""

from __future__ import annotations

import altair as alt
import streamlit as st

from common import done, empty_store_guide, env_note, flash, md, picked_row, query, store
from leaktrace import views
from leaktrace.errors import LeaktraceError
from leaktrace.pipeline import analyse
from leaktrace.templates.cluster import merge_templates, split_template

st.title("Templates & campaigns")
env_note()
flash()
if not empty_store_guide():
    templates_tab, campaigns_tab = st.tabs(["Templates", "Campaigns"])
    with templates_tab:
        table = query(views.templates_table)
        st.caption(f"{len(table):,} templates, biggest first. Select one to see its messages.")
        row = picked_row(
            table,
            "template-table",
            {"text": st.column_config.TextColumn("masked text", width="large")},
        )
        options = table["id"].tolist()
        chosen = (
            st.selectbox(
                "Template",
                options,
                index=row or 0,
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
        with st.expander("Merge or split templates by hand"):
            st.caption(
                "Kept in the store: later messages follow your edit. Campaigns and verdicts"
                " are recomputed. `leaktrace cluster --rebuild` starts over without edits."
            )
            with st.form("merge"):
                c1, c2 = st.columns(2)
                source = c1.number_input("Merge template", min_value=0, step=1, key="merge-from")
                target = c2.number_input("into template", min_value=0, step=1, key="merge-into")
                if st.form_submit_button("Merge"):
                    try:
                        moved = merge_templates(store(), int(source), int(target))
                        analyse(store())
                    except LeaktraceError as exc:
                        st.error(md(exc))
                    else:
                        done(f"Template {source} merged into {target}: {moved} messages.")
            with st.form("split"):
                message = st.number_input(
                    "Give the wording of message", min_value=0, step=1, key="split-message"
                )
                if st.form_submit_button("Split into its own template"):
                    try:
                        new, moved = split_template(store(), int(message))
                        analyse(store())
                    except LeaktraceError as exc:
                        st.error(md(exc))
                    else:
                        done(f"New template {new} with {moved} messages.")
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
