"""Evidence: a source's verdict with every message behind it, as a table and a CSV download."""

from __future__ import annotations

import json

import streamlit as st

from common import empty_store_guide, env_note, query, store
from leaktrace import views
from leaktrace.export_csv import safe_csv

st.title("Evidence")
env_note()
if not empty_store_guide():
    reports = query(views.verdict_reports)
    if not reports:
        st.caption("No attribution yet.")
        st.stop()
    source = st.selectbox("Source", [r["name"] for r in reports], key="evidence-source")
    report = next(r for r in reports if r["name"] == source)
    st.subheader(f"{report['verdict']} (score {report['score']:.2f})")
    st.text(report["reason"])  # quotes spam: plain text, never markdown
    shown = 1_000
    total = query(views.evidence_count, source)
    messages = query(views.evidence_messages, source, shown)
    st.caption(
        f"{total:,} messages"
        + (f"; the first {shown:,} are shown, the download holds all" if total > shown else "")
        + ". Texts are shown as received; the SHA-256 is of the raw imported record."
    )
    st.dataframe(
        messages,
        hide_index=True,
        width="stretch",
        column_config={"body": st.column_config.TextColumn("text", width="large")},
    )
    st.download_button(
        "Download the messages (CSV)",
        # Built when clicked, not on every render: thousands of rows on a big study.
        lambda: safe_csv(views.evidence_messages(store(), source)),
        f"evidence-{source}.csv",
        "text/csv",
    )
    st.download_button(
        "Download the attribution report (JSON)",
        json.dumps(report, ensure_ascii=False, indent=2),
        f"attribution-{source}.json",
        "application/json",
    )
