"""Evidence: a source's verdict, every message behind it, and its evidence pack to download."""

from __future__ import annotations

import json

import streamlit as st

from common import empty_store_guide, env_note, md, query, store
from leaktrace import views
from leaktrace.errors import LeaktraceError
from leaktrace.evidence.csvsafe import safe_csv
from leaktrace.evidence.pack import pack_zip, zip_folder_name
from leaktrace.evidence.pdf import find_chromium
from leaktrace.evidence.verify import verify_store

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
        f"{zip_folder_name(source)}.csv",
        "text/csv",
    )
    st.download_button(
        "Download the attribution report (JSON)",
        json.dumps(report, ensure_ascii=False, indent=2),
        f"attribution-{source}.json",
        "application/json",
    )

    st.subheader("Integrity")
    st.caption(
        "Every message is linked in import order in a SHA-256 hash chain. The check"
        " recomputes it and names any message altered, deleted or added outside leaktrace."
    )
    if st.button("Check the hash chain", key="verify-store"):
        with st.spinner("Recomputing every message's digest…"):
            result = verify_store(store())
        if result.ok:
            st.success(f"{result.checked:,} messages checked: nothing altered, missing or added.")
        else:
            st.error(f"Problems found: {len(result.problems):,}.")
            st.dataframe(result.as_dict()["problems"], hide_index=True, width="stretch")
        st.caption(f"Chain head: message {result.head_id}")
        st.code(result.head_sha256, language=None)

    st.subheader("Evidence pack")
    st.caption(
        "The report (HTML and PDF) with every message after planting, the statistics"
        " explained, CSV and Parquet data, the hash chain and its manifest, and complaint"
        " drafts (12321 and PIPL in Chinese; GDPR and CCPA in English). Check it later"
        " with `leaktrace verify --pack FOLDER`."
    )
    languages = ["zh", "en"]
    lang = st.radio(
        "Language",
        languages,
        index=languages.index(query(views.report_language)),
        format_func={"zh": "中文", "en": "English"}.get,
        horizontal=True,
        key="pack-lang",
    )
    has_chromium = find_chromium() is not None
    pdf = st.checkbox(
        "PDF too (printed by headless Chromium)",
        value=has_chromium,
        disabled=not has_chromium,
        help=None if has_chromium else "No Chromium found: install it or set LEAKTRACE_CHROMIUM.",
        key="pack-pdf",
    )
    if st.button("Build the evidence pack", key="pack-build"):
        with st.spinner("Checking the hash chain and writing the pack…"):
            try:
                data, pack = pack_zip(store(), source, lang, pdf)
            except LeaktraceError as exc:
                st.error(md(exc))
            else:
                st.session_state["pack"] = (source, lang, data, pack.manifest_sha256)
    built = st.session_state.get("pack")
    if built and built[:2] == (source, lang):
        st.download_button(
            "Download the evidence pack (zip)",
            built[2],
            f"{zip_folder_name(source)}-{lang}.zip",
            "application/zip",
            key="pack-download",
        )
        st.caption("Manifest SHA-256 (keep it apart from the pack):")
        st.code(built[3], language=None)
