"""Messages: upload exports, add one by hand, search, and sort out the quarantine."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from common import changed, env_note, md, query, store
from leaktrace import views
from leaktrace.errors import LeaktraceError
from leaktrace.ingest.by_hand import import_bytes, import_typed
from leaktrace.ingest.importer import ImportOptions
from leaktrace.ingest.quarantine import assign, list_quarantine
from leaktrace.pipeline import analyse

st.title("Messages")
env_note()
upload, by_hand, pending = st.tabs(["Upload exports", "Add by hand", "Quarantine"])

with upload:
    st.caption(
        "SMS Backup & Restore XML, iOS sms.db, mbox/.eml, CSV/TSV/JSONL — the same import as"
        " `leaktrace ingest`: each file lands whole or not at all, duplicates are skipped."
    )
    files = st.file_uploader("Export files", accept_multiple_files=True, key="exports")
    recipient = st.text_input(
        "Recipient (canary label or contact) for files that do not name one",
        key="upload-recipient",
        help="An SMS Backup file does not say whose phone it came from.",
    )
    if files and st.button("Import", type="primary"):
        for file in files:
            bar = st.progress(0.0, text=f"importing {file.name}")
            try:
                result = import_bytes(
                    store(),
                    file.name,
                    file.getvalue(),
                    ImportOptions(recipient=recipient or None),
                    progress=lambda done, total, bar=bar: bar.progress(
                        min(1.0, done / total) if total else 1.0
                    ),
                )
            except LeaktraceError as exc:
                bar.empty()
                st.error(f"{md(file.name)}: {md(exc)} (nothing from it was stored)")
                continue
            bar.progress(1.0, text=f"{file.name} imported")
            st.success(
                f"{md(file.name)}: {result.inserted} new, {result.duplicate} duplicates,"
                f" {result.rejected} rejected, {result.quarantined} in quarantine,"
                f" {result.first_party} first-party"
            )
            for problem in result.problems[:20]:
                st.warning(md(problem))
        with st.spinner("Clustering, linking campaigns, attributing…"):
            st.info(analyse(store()).summary())
        changed()

with by_hand, st.form("by-hand", clear_on_submit=True):
    canaries = query(views.canaries_table)
    c1, c2 = st.columns(2)
    label = c1.selectbox("Recipient", canaries["label"].tolist() or ["—"])
    sender = c2.text_input("Sender", placeholder="1069… or an address")
    body = st.text_area("Text, exactly as received")
    when = st.text_input(
        "Received at (ISO 8601 with offset)", value=datetime.now(UTC).isoformat(timespec="seconds")
    )
    if st.form_submit_button("Add message"):
        if canaries.empty or not (sender and body.strip()):
            st.error("A recipient, a sender and a text are needed.")
        else:
            try:
                result = import_typed(
                    store(), recipient=label, sender=sender, body=body, received_at=when
                )
                analyse(store())
                changed()
                st.success("Added." if result.inserted else "Already stored.")
            except LeaktraceError as exc:
                st.error(md(exc))

with pending:
    waiting = list_quarantine(store())
    if not waiting:
        st.caption("No messages for unknown recipients.")
    for item in waiting:
        with st.form(f"assign-{item.recipient}"):
            st.text(f"{item.recipient}: {item.messages} messages, last {item.last_seen:%Y-%m-%d}")
            canary = st.selectbox(
                "Assign to canary",
                query(views.canaries_table)["label"].tolist(),
                key=f"to-{item.recipient}",
            )
            if st.form_submit_button("Assign"):
                try:
                    moved = assign(store(), item.recipient, canary)
                    analyse(store())
                    changed()
                    st.success(f"{moved} messages now belong to {md(canary)}.")
                except LeaktraceError as exc:
                    st.error(md(exc))

st.subheader("Search")
c1, c2, c3, c4 = st.columns(4)
text = c1.text_input("Text contains", key="q-text")
recipient_filter = c2.text_input("Recipient", key="q-recipient")
source = c3.selectbox("Planted at source", ["", *query(views.sources_table)["name"].tolist()])
sender_filter = c4.text_input("Sender starts with")
c5, c6, c7, c8 = st.columns(4)
template = c5.number_input("Template", min_value=-1, value=-1, step=1, help="-1: any")
category = c6.selectbox("Category", ["", *query(views.categories)])
party = c7.selectbox("First-party", ["any", "only", "excluded"])
dates = c8.date_input("Received between", value=())
where = views.MessageFilter(
    text=text,
    recipient=recipient_filter,
    source=source,
    sender=sender_filter,
    template=None if template < 0 else int(template),
    category=category,
    first_party={"any": None, "only": True, "excluded": False}[party],
    since=dates[0] if len(dates) > 0 else None,
    until=dates[1] if len(dates) > 1 else None,
)
found = query(views.messages, where)
st.caption(f"{len(found):,} messages shown (at most {views.ROW_LIMIT:,}, newest first)")
st.dataframe(
    found,
    hide_index=True,
    width="stretch",
    column_config={
        "received_at": st.column_config.DatetimeColumn("received", format="YYYY-MM-DD HH:mm"),
        "body": st.column_config.TextColumn("text", width="large"),
        "first_party": st.column_config.CheckboxColumn("first-party"),
    },
)
