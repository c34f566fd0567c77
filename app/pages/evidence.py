"""Evidence: a source's verdict, every message behind it, and its evidence pack to download."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from common import (
    empty_store_guide,
    env_note,
    grid,
    label,
    md,
    query,
    reason,
    said,
    store,
    t,
    writer,
)
from leaktrace import views
from leaktrace.errors import LeaktraceError
from leaktrace.evidence.csvsafe import safe_csv
from leaktrace.evidence.pack import pack_zip, zip_folder_name
from leaktrace.evidence.pdf import find_chromium
from leaktrace.evidence.verify import verify_store
from leaktrace.i18n import LANGUAGE_NAMES, LANGUAGES

st.title(t("evidence_title"))
env_note()
if not empty_store_guide():
    reports = query(views.verdict_reports)
    if not reports:
        st.caption(t("no_attribution"))
        st.stop()
    source = st.selectbox(t("evidence_source"), [r["name"] for r in reports], key="evidence-source")
    report = next(r for r in reports if r["name"] == source)
    st.subheader(
        t("evidence_verdict", verdict=label("verdict", report["verdict"]), score=report["score"])
    )
    st.text(reason(report))  # quotes spam: plain text, never markdown
    shown = 1_000
    total = query(views.evidence_count, source)
    messages = query(views.evidence_messages, source, shown)
    st.caption(
        t("evidence_count", total=total)
        + (t("evidence_count_first", shown=shown) if total > shown else "")
        + t("evidence_count_note")
    )
    grid(messages, config={"body": st.column_config.TextColumn(width="large")})
    st.download_button(
        t("evidence_download_csv"),
        # Built when clicked, not on every render: thousands of rows on a big study.
        lambda: safe_csv(views.evidence_messages(store(), source)),
        f"{zip_folder_name(source)}.csv",
        "text/csv",
    )
    st.download_button(
        t("evidence_download_json"),
        json.dumps(report, ensure_ascii=False, indent=2),
        f"attribution-{source}.json",
        "application/json",
    )

    st.subheader(t("evidence_integrity"))
    st.caption(t("evidence_integrity_help"))
    if st.button(t("evidence_verify"), key="verify-store"):
        with st.spinner(t("evidence_verifying")):
            result = verify_store(writer())
        if result.ok:
            st.success(t("evidence_verified", checked=result.checked))
        else:
            st.error(t("evidence_problems", problems=len(result.problems)))
            grid(pd.DataFrame(result.as_dict()["problems"]))
        st.caption(t("evidence_chain_head", id=result.head_id))
        st.code(result.head_sha256, language=None)

    st.subheader(t("evidence_pack"))
    st.caption(t("evidence_pack_help"))
    if "pack-lang" not in st.session_state:
        st.session_state["pack-lang"] = query(views.report_language)
    lang = st.radio(
        t("evidence_pack_language"),
        LANGUAGES,
        format_func=LANGUAGE_NAMES.get,
        horizontal=True,
        key="pack-lang",
    )
    has_chromium = find_chromium() is not None
    pdf = st.checkbox(
        t("evidence_pdf"),
        value=has_chromium,
        disabled=not has_chromium,
        help=None if has_chromium else t("evidence_no_chromium"),
        key="pack-pdf",
    )
    if st.button(t("evidence_build"), key="pack-build"):
        with st.spinner(t("evidence_building")):
            try:
                data, pack = pack_zip(writer(), source, lang, pdf)
            except LeaktraceError as exc:
                st.error(md(said(exc)))
            else:
                st.session_state["pack"] = (source, lang, data, pack.manifest_sha256)
    built = st.session_state.get("pack")
    if built and built[:2] == (source, lang):
        st.download_button(
            t("evidence_download_pack"),
            built[2],
            f"{zip_folder_name(source)}-{lang}.zip",
            "application/zip",
            key="pack-download",
        )
        st.caption(t("evidence_manifest"))
        st.code(built[3], language=None)
