"""Overview: the study at a glance."""

from __future__ import annotations

import altair as alt
import streamlit as st

from charts import verdict_colour
from common import empty_store_guide, env_note, md, query, spam_rates
from leaktrace import views

st.title("Overview")
env_note()
if not empty_store_guide():
    picture = query(views.spam_picture)
    st.subheader("Spam per canary-week: before planting, after planting, controls")
    if picture.headline:
        st.markdown(f"**{md(picture.headline)}**")
    st.caption(
        "Messages per canary-week by spam category (first-party messages left out), with"
        " 95% exact intervals: canaries before their first plant, after planting by the"
        " kind of source (a canary planted at two kinds counts as several categories"
        " from its second), and the controls, never planted."
        " Click a bar for the messages behind it."
    )
    if picture.rates.empty:
        st.caption("No messages to canaries yet.")
    else:
        spam_rates(picture.rates, "overview-rates")
    data = query(views.overview)
    counts = data.counts
    cols = st.columns(5)
    cols[0].metric("Sources", counts["sources"])
    cols[1].metric("Canaries planted", counts["planted canaries"])
    cols[2].metric("Controls", counts["controls"])
    cols[3].metric("Messages", f"{counts['messages']:,}")
    cols[4].metric("In quarantine", counts["quarantine"])

    left, right = st.columns([1, 2])
    with left:
        st.subheader("Sources by verdict")
        if data.verdicts.empty:
            st.caption("No attribution yet: import messages or run `leaktrace attribute`.")
        else:
            st.altair_chart(
                alt.Chart(data.verdicts)
                .mark_bar()
                .encode(x="sources:Q", y=alt.Y("verdict:N", sort="-x"), color=verdict_colour()),
                width="stretch",
            )
    with right:
        st.subheader("Messages per day by category")
        if not data.per_day.empty:
            st.altair_chart(
                alt.Chart(data.per_day)
                .mark_bar()
                .encode(
                    x="day:T",
                    y="messages:Q",
                    color="category:N",
                    tooltip=["day:T", "category:N", "messages:Q"],
                ),
                width="stretch",
            )
    st.subheader("Leaked and suspected sources")
    if data.watch.empty:
        st.caption("None so far.")
    else:
        st.dataframe(data.watch, hide_index=True, width="stretch")
    if data.last_import:
        last = data.last_import
        st.caption(
            f"Last import: {last['file']} ({last['format']})"
            f" at {last['finished_at']:%Y-%m-%d %H:%M} — {last['inserted']} new,"
            f" {last['duplicate']} duplicates, {last['rejected']} rejected."
        )
