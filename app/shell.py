"""The dashboard's frame: page settings, the sidebar's switch and navigation, the page picked.

``main.py`` calls ``main()`` on every rerun; see there why it is not inline.
"""

from __future__ import annotations

import streamlit as st
from altair.utils import schemapi

from common import language_switch, store, t
from leaktrace import i18n
from leaktrace.store import StoreBusy
from leaktrace.store.connection import lock_timeout_from_env

# Altair checks a chart against the Vega-Lite schema when it is drawn; its debug mode
# checks every part again as it is built, which costs a chart page a few tenths of a
# second on every run.
schemapi.disable_debug_mode()


def run() -> None:
    """The sidebar's switch and navigation, then the page picked."""
    language_switch()
    pages = st.navigation(
        [
            st.Page("pages/overview.py", title=t("nav_overview"), default=True),
            st.Page("pages/sources.py", title=t("nav_sources")),
            st.Page("pages/messages.py", title=t("nav_messages")),
            st.Page("pages/templates.py", title=t("nav_templates")),
            st.Page("pages/leaks.py", title=t("nav_leaks")),
            st.Page("pages/evidence.py", title=t("nav_evidence")),
            st.Page("pages/alerts.py", title=t("nav_alerts")),
        ]
    )
    pages.run()


def main() -> None:
    """One run of the app."""
    st.set_page_config(page_title="leaktrace", page_icon="🕵", layout="wide")
    # One connection to the store for the whole run, not one per query (each opening of
    # a large store costs tens of milliseconds); it opens with the first query not
    # cached. Page actions give it back first (``common.writer``).
    try:
        with store().held():
            run()
    except StoreBusy:
        lang = st.session_state.get("lang") or i18n.language(st.query_params.get("lang")) or "en"
        st.error(i18n.text(lang, "store_busy", seconds=f"{lock_timeout_from_env():.0f}"))
