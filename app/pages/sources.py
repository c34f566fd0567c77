"""Sources & canaries: add sources, make canaries, plant them, review first-party channels,
import and export the roster."""

from __future__ import annotations

import tempfile
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import streamlit as st

from common import (
    analyse,
    changed,
    done,
    env_note,
    flash,
    grid,
    label,
    language,
    md,
    query,
    said,
    store,
    t,
    words,
    writer,
    zone,
)
from leaktrace import roster, views
from leaktrace.errors import LeaktraceError
from leaktrace.model import Field, Source, SourceCategory
from leaktrace.roster.csvfiles import export_roster, import_roster_files, roster_files

st.title(t("sources_title"))
env_note()
flash()

add_source, add_canary, add_plant, files = st.tabs(
    [
        t("sources_tab_source"),
        t("sources_tab_canary"),
        t("sources_tab_plant"),
        t("sources_tab_files"),
    ]
)
with add_source, st.form("source", clear_on_submit=True):
    name = st.text_input(t("sources_name"), placeholder="企查查", key="source-name")
    categories = [c.value for c in SourceCategory]
    category = st.selectbox(
        t("sources_category"),
        categories,
        format_func=words("source_category", categories).get,
        key="source-category",
    )
    url = st.text_input(t("sources_url"), key="source-url")
    sender_ids = st.text_input(
        t("sources_sender_ids"),
        help=t("sources_sender_ids_help"),
        key="source-senders",
    )
    signatures = st.text_input(
        t("sources_signatures"), placeholder="【企查查】", key="source-signatures"
    )
    if st.form_submit_button(t("sources_add")) and name:
        try:
            roster.add_source(
                writer(),
                Source(
                    name=name.strip(),
                    category=SourceCategory(category),
                    url=url or None,
                    sender_ids=tuple(sender_ids.split()),
                    signatures=tuple(signatures.split()),
                ),
            )
            changed()
            st.success(t("sources_added", name=md(name)))
        except LeaktraceError as exc:
            st.error(md(said(exc)))

with add_canary, st.form("canary", clear_on_submit=True):
    st.caption(t("sources_canary_help"))
    phone = st.text_input(t("sources_phone"), key="canary-phone")
    email = st.text_input(t("sources_email"), key="canary-email")
    c1, c2, c3 = st.columns(3)
    locale = c1.selectbox(t("sources_locale"), ["zh_CN", "en_US"], key="canary-locale")
    seed = c2.number_input(t("sources_seed"), min_value=0, value=0, step=1, key="canary-seed")
    control = c3.checkbox(t("sources_control"), key="canary-control")
    if st.form_submit_button(t("sources_make_canary")):
        try:
            canary = roster.new_canary(
                writer(),
                phone=phone or None,
                email=email or None,
                locale=locale,
                seed=int(seed) or None,
                control=control,
            )
            changed()
            st.success(
                t(
                    "sources_made_canary",
                    label=md(canary.label),
                    name=md(canary.persona.name),
                    contact=md(canary.phone or canary.email),
                )
            )
        except LeaktraceError as exc:
            st.error(md(said(exc)))

with add_plant:
    canaries = query(views.canaries_table)
    sources = query(views.sources_table)
    plantable = canaries.loc[~canaries["control"], "label"].tolist()
    if not plantable or sources.empty:
        st.caption(t("sources_plant_first"))
    else:
        with st.form("plant"):
            c1, c2 = st.columns(2)
            canary_label = c1.selectbox(t("sources_canary"), plantable, key="plant-canary")
            source_name = c2.selectbox(
                t("sources_source"), sources["name"].tolist(), key="plant-source"
            )
            c3, c4, c5 = st.columns(3)
            day = c3.date_input(t("sources_planted_on"), value=datetime.now(zone()).date())
            at = c4.time_input(t("sources_planted_at"), value=time(10, 0))
            zone_name = c5.text_input(t("sources_zone"), value=zone().key)
            field_names = [f.value for f in Field]
            fields = st.multiselect(
                t("sources_fields"),
                field_names,
                default=["name", "phone"],
                format_func=words("fields", field_names).get,
            )
            if st.form_submit_button(t("sources_record_plant")):
                try:
                    when = datetime.combine(day, at, tzinfo=ZoneInfo(zone_name))
                    result = roster.plant(
                        writer(), canary_label, source_name, when, tuple(Field(f) for f in fields)
                    )
                    changed()
                    st.success(
                        t(
                            "sources_planted",
                            canary=md(canary_label),
                            source=md(source_name),
                            marker=md(result.plant.marker or "—"),
                        )
                    )
                    for warning in result.warnings:
                        st.warning(md(warning))
                except (LeaktraceError, KeyError, ValueError) as exc:
                    st.error(md(said(exc)))

with files:
    uploads = st.file_uploader(t("sources_roster_upload"), type="csv", accept_multiple_files=True)
    if uploads and st.button(t("sources_roster_import")):
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for upload in uploads:
                path = Path(tmp) / Path(upload.name).name
                path.write_bytes(upload.getvalue())
                paths.append(path)
            try:
                report = import_roster_files(writer(), roster_files(paths), zone())
                changed()
                st.success(
                    t("sources_roster_imported", added=report.added, unchanged=report.unchanged)
                )
                for error in report.errors:
                    st.error(md(error.said(language())))
            except LeaktraceError as exc:
                st.error(md(said(exc)))
    with tempfile.TemporaryDirectory() as tmp:
        for path in export_roster(store(), Path(tmp)):
            st.download_button(
                t("sources_download", file=path.name), path.read_bytes(), path.name, "text/csv"
            )

st.subheader(t("sources_sources"))
grid(query(views.sources_table), {"category": "source_category"})


def first_party_channels() -> None:
    """The channels inferred from the messages, with the user's confirm or reject."""
    import pandas as pd

    from leaktrace.attribution.first_party import list_channels, review_channel

    st.subheader(t("sources_channels"))
    st.caption(t("sources_channels_help"))
    channels = list_channels(store())
    if not channels:
        st.caption(t("sources_channels_none"))
        return
    grid(
        pd.DataFrame(
            [(c.source, c.kind, c.value, c.status, c.reason) for c in channels],
            columns=["source", "kind", "value", "status", "why"],
        ),
        {"kind": "channel_kind", "status": "channel_status"},
        {"why": st.column_config.TextColumn(width="large")},
    )
    by_id = {c.id: c for c in channels}
    # Those not yet reviewed first; a reviewed one can be reviewed again.
    options = sorted(by_id, key=lambda i: by_id[i].status != "inferred")
    with st.form("first-party"):
        picked = st.selectbox(
            t("sources_channel"),
            options,
            format_func={
                i: f"{c.source}: {c.value} ({label('channel_kind', c.kind)},"
                f" {label('channel_status', c.status)})"
                for i, c in by_id.items()
            }.get,
            key="channel-pick",
        )
        c1, c2 = st.columns(2)
        confirm = c1.form_submit_button(t("sources_confirm"), key="channel-confirm")
        reject = c2.form_submit_button(t("sources_reject"), key="channel-reject")
    if (confirm or reject) and picked is not None:
        status = "confirmed" if confirm else "rejected"
        try:
            channel, flagged = review_channel(writer(), int(picked), status)
            analyse()
        except LeaktraceError as exc:
            st.error(md(said(exc)))
        else:
            done(
                t(
                    f"sources_{status}",
                    value=md(channel.value),
                    kind=md(label("channel_kind", channel.kind)),
                    source=md(channel.source),
                    flagged=flagged,
                )
            )


first_party_channels()
st.subheader(t("sources_canaries"))
table = query(views.canaries_table)
search = st.text_input(
    t("sources_filter"), placeholder=t("sources_filter_placeholder"), key="canary-filter"
)
if search:
    mask = table.astype(str).apply(lambda col: col.str.contains(search, case=False, regex=False))
    table = table[mask.any(axis=1)]
grid(table)
