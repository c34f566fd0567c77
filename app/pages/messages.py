"""Messages: upload exports, add one by hand, search, and sort out the quarantine."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from common import (
    analyse,
    analysis_summary,
    changed,
    env_note,
    grid,
    local_time,
    md,
    query,
    said,
    store,
    t,
    words,
    writer,
    zone,
)
from leaktrace import views
from leaktrace.errors import LeaktraceError
from leaktrace.ingest.by_hand import import_bytes, import_typed
from leaktrace.ingest.importer import ImportOptions
from leaktrace.ingest.quarantine import assign, list_quarantine

st.title(t("messages_title"))
env_note()
upload, by_hand, pending = st.tabs(
    [t("messages_tab_upload"), t("messages_tab_by_hand"), t("messages_tab_quarantine")]
)

with upload:
    st.caption(t("messages_upload_help"))
    files = st.file_uploader(t("messages_files"), accept_multiple_files=True, key="exports")
    recipient = st.text_input(
        t("messages_upload_recipient"),
        key="upload-recipient",
        help=t("messages_upload_recipient_help"),
    )
    if files and st.button(t("messages_import"), type="primary"):
        for file in files:
            bar = st.progress(0.0, text=t("messages_importing", file=file.name))
            try:
                result = import_bytes(
                    writer(),
                    file.name,
                    file.getvalue(),
                    ImportOptions(recipient=recipient or None),
                    progress=lambda done, total, bar=bar: bar.progress(
                        min(1.0, done / total) if total else 1.0
                    ),
                )
            except LeaktraceError as exc:
                bar.empty()
                st.error(t("messages_import_failed", file=md(file.name), error=md(said(exc))))
                continue
            bar.progress(1.0, text=t("messages_imported", file=file.name))
            st.success(
                t(
                    "messages_import_result",
                    file=md(file.name),
                    inserted=result.inserted,
                    duplicate=result.duplicate,
                    rejected=result.rejected,
                    quarantined=result.quarantined,
                    first_party=result.first_party,
                )
            )
            for problem in result.problems[:20]:
                st.warning(md(problem))
        with st.spinner(t("messages_analysing")):
            st.info(analysis_summary(analyse()))
        changed()

with by_hand, st.form("by-hand", clear_on_submit=True):
    canaries = query(views.canaries_table)
    c1, c2 = st.columns(2)
    label_ = c1.selectbox(t("messages_recipient"), canaries["label"].tolist() or ["—"])
    sender = c2.text_input(t("messages_sender"), placeholder=t("messages_sender_placeholder"))
    body = st.text_area(t("messages_text"))
    when = st.text_input(
        t("messages_received_at"),
        value=datetime.now(zone()).isoformat(timespec="seconds"),
    )
    if st.form_submit_button(t("messages_add")):
        if canaries.empty or not (sender and body.strip()):
            st.error(t("messages_add_missing"))
        else:
            try:
                result = import_typed(
                    writer(), recipient=label_, sender=sender, body=body, received_at=when
                )
                analyse()
                changed()
                st.success(t("messages_added") if result.inserted else t("messages_already"))
            except LeaktraceError as exc:
                st.error(md(said(exc)))

with pending:
    waiting = list_quarantine(store())
    if not waiting:
        st.caption(t("messages_quarantine_empty"))
    for item in waiting:
        with st.form(f"assign-{item.recipient}"):
            st.text(
                t(
                    "messages_quarantine_item",
                    recipient=item.recipient,
                    messages=item.messages,
                    last=f"{local_time(item.last_seen):%Y-%m-%d}",
                )
            )
            canary = st.selectbox(
                t("messages_assign_to"),
                query(views.canaries_table)["label"].tolist(),
                key=f"to-{item.recipient}",
            )
            if st.form_submit_button(t("messages_assign")):
                try:
                    moved = assign(writer(), item.recipient, canary)
                    analyse()
                    changed()
                    st.success(t("messages_assigned", messages=moved, canary=md(canary)))
                except LeaktraceError as exc:
                    st.error(md(said(exc)))

st.subheader(t("messages_search"))
c1, c2, c3, c4 = st.columns(4)
text = c1.text_input(t("messages_text_contains"), key="q-text")
recipient_filter = c2.text_input(t("messages_recipient"), key="q-recipient")
source = c3.selectbox(
    t("messages_planted_at"),
    ["", *query(views.sources_table)["name"].tolist()],
    key="q-source",
)
sender_filter = c4.text_input(t("messages_sender_starts"), key="q-sender")
c5, c6, c7, c8 = st.columns(4)
template = c5.number_input(
    t("messages_template"), min_value=-1, value=-1, step=1, help=t("messages_template_any")
)
category = c6.selectbox(
    t("messages_category"),
    ["", *query(views.categories)],
    format_func={"": "", **words("category", query(views.categories))}.get,
    key="q-category",
)
party = c7.selectbox(
    t("messages_first_party"),
    ["any", "only", "excluded"],
    # Words fixed when drawn: AppTest calls format functions outside the script run.
    format_func={p: t(f"messages_first_party_{p}") for p in ("any", "only", "excluded")}.get,
    key="q-party",
)
dates = c8.date_input(t("messages_between"), value=())
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
st.caption(t("messages_shown", shown=len(found), limit=views.ROW_LIMIT))
grid(
    found,
    {"category": "category"},
    {
        "received_at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "body": st.column_config.TextColumn(width="large"),
        "first_party": st.column_config.CheckboxColumn(),
    },
)
