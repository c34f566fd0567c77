"""Sources & canaries: add sources, make canaries, plant them, review first-party channels,
import and export the roster."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import streamlit as st

from common import changed, done, env_note, flash, md, query, store
from leaktrace import roster, views
from leaktrace.errors import LeaktraceError
from leaktrace.model import Field, Source, SourceCategory
from leaktrace.roster.csvfiles import export_roster, import_roster_files, roster_files

st.title("Sources & canaries")
env_note()
flash()

add_source, add_canary, add_plant, files = st.tabs(
    ["Add a source", "New canary", "Plant", "Roster files"]
)
with add_source, st.form("source", clear_on_submit=True):
    name = st.text_input("Name", placeholder="企查查", key="source-name")
    category = st.selectbox("Category", [c.value for c in SourceCategory])
    url = st.text_input("URL (optional)")
    sender_ids = st.text_input(
        "Sender IDs of its own messages",
        help="106 numbers, short codes, mail domains; spaces",
        key="source-senders",
    )
    signatures = st.text_input("Signatures", placeholder="【企查查】", key="source-signatures")
    if st.form_submit_button("Add source") and name:
        try:
            roster.add_source(
                store(),
                Source(
                    name=name.strip(),
                    category=SourceCategory(category),
                    url=url or None,
                    sender_ids=tuple(sender_ids.split()),
                    signatures=tuple(signatures.split()),
                ),
            )
            changed()
            st.success(f"Added source {md(name)}.")
        except LeaktraceError as exc:
            st.error(md(exc))

with add_canary, st.form("canary", clear_on_submit=True):
    st.caption(
        "Bind a Faker persona to a phone number or address **you control**; never plant a"
        " number made up by Faker, it may be someone's."
    )
    phone = st.text_input("Phone (E.164 or national)", key="canary-phone")
    email = st.text_input("or e-mail")
    c1, c2, c3 = st.columns(3)
    locale = c1.selectbox("Persona locale", ["zh_CN", "en_US"])
    seed = c2.number_input("Seed (optional)", min_value=0, value=0, step=1)
    control = c3.checkbox("Control (never planted)")
    if st.form_submit_button("Make canary"):
        try:
            canary = roster.new_canary(
                store(),
                phone=phone or None,
                email=email or None,
                locale=locale,
                seed=int(seed) or None,
                control=control,
            )
            changed()
            st.success(
                f"{md(canary.label)}: {md(canary.persona.name)}"
                f" ({md(canary.phone or canary.email)})"
            )
        except LeaktraceError as exc:
            st.error(md(exc))

with add_plant:
    canaries = query(views.canaries_table)
    sources = query(views.sources_table)
    plantable = canaries.loc[~canaries["control"], "label"].tolist()
    if not plantable or sources.empty:
        st.caption("Add a source and a canary first.")
    else:
        with st.form("plant"):
            c1, c2 = st.columns(2)
            canary_label = c1.selectbox("Canary", plantable)
            source_name = c2.selectbox("Source", sources["name"].tolist())
            c3, c4, c5 = st.columns(3)
            day = c3.date_input("Planted on", value=datetime.now(UTC).date())
            at = c4.time_input("at", value=time(10, 0))
            zone = c5.text_input("Time zone", value="Asia/Shanghai")
            fields = st.multiselect(
                "Fields given", [f.value for f in Field], default=["name", "phone"]
            )
            if st.form_submit_button("Record plant"):
                try:
                    when = datetime.combine(day, at, tzinfo=ZoneInfo(zone))
                    result = roster.plant(
                        store(), canary_label, source_name, when, tuple(Field(f) for f in fields)
                    )
                    changed()
                    st.success(
                        f"Planted {md(canary_label)} at {md(source_name)}; marker:"
                        f" {md(result.plant.marker or '—')}"
                    )
                    for warning in result.warnings:
                        st.warning(md(warning))
                except (LeaktraceError, KeyError, ValueError) as exc:
                    st.error(md(exc))

with files:
    uploads = st.file_uploader(
        "Import sources.csv, canaries.csv, plants.csv", type="csv", accept_multiple_files=True
    )
    if uploads and st.button("Import roster"):
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for upload in uploads:
                path = Path(tmp) / Path(upload.name).name
                path.write_bytes(upload.getvalue())
                paths.append(path)
            try:
                report = import_roster_files(
                    store(), roster_files(paths), ZoneInfo("Asia/Shanghai")
                )
                changed()
                st.success(f"Added {report.added}; unchanged {report.unchanged}.")
                for error in report.errors:
                    st.error(md(error))
            except LeaktraceError as exc:
                st.error(md(exc))
    with tempfile.TemporaryDirectory() as tmp:
        for path in export_roster(store(), Path(tmp)):
            st.download_button(f"Download {path.name}", path.read_bytes(), path.name, "text/csv")

st.subheader("Sources")
st.dataframe(query(views.sources_table), hide_index=True, width="stretch")


def first_party_channels() -> None:
    """The channels inferred from the messages, with the user's confirm or reject."""
    import pandas as pd

    from leaktrace.attribution.first_party import list_channels, review_channel

    st.subheader("First-party channels")
    st.caption(
        "Senders, signatures and domains found in messages that name a source a canary was"
        " planted at, or that sent a verification code minutes after a plant. Messages"
        " through them are the source's own and never evidence of a leak; reject one that"
        " is not the source's own."
    )
    channels = list_channels(store())
    if not channels:
        st.caption("No first-party channels found yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [(c.source, c.kind, c.value, c.status, c.reason) for c in channels],
            columns=["source", "kind", "value", "status", "why"],
        ),
        hide_index=True,
        width="stretch",
        column_config={"why": st.column_config.TextColumn("why", width="large")},
    )
    by_id = {c.id: c for c in channels}
    # Those not yet reviewed first; a reviewed one can be reviewed again.
    options = sorted(by_id, key=lambda i: by_id[i].status != "inferred")
    with st.form("first-party"):
        picked = st.selectbox(
            "Channel",
            options,
            format_func=lambda i: (
                f"{by_id[i].source}: {by_id[i].value} ({by_id[i].kind}, {by_id[i].status})"
            ),
            key="channel-pick",
        )
        c1, c2 = st.columns(2)
        confirm = c1.form_submit_button("Confirm", key="channel-confirm")
        reject = c2.form_submit_button("Reject", key="channel-reject")
    if (confirm or reject) and picked is not None:
        from leaktrace.pipeline import analyse

        status = "confirmed" if confirm else "rejected"
        try:
            channel, flagged = review_channel(store(), int(picked), status)
            analyse(store())
        except LeaktraceError as exc:
            st.error(md(exc))
        else:
            done(
                f"{status.capitalize()} {md(channel.value)} ({md(channel.kind)}) as"
                f" {'' if confirm else 'not '}{md(channel.source)}'s own;"
                f" {flagged:,} messages to its canaries are first-party now."
            )


first_party_channels()
st.subheader("Canaries and controls")
table = query(views.canaries_table)
search = st.text_input("Filter canaries", placeholder="label, name, phone or source")
if search:
    mask = table.astype(str).apply(lambda col: col.str.contains(search, case=False, regex=False))
    table = table[mask.any(axis=1)]
st.dataframe(table, hide_index=True, width="stretch")
