"""The leaktrace dashboard: ``leaktrace dashboard``, or ``streamlit run app/main.py -- --db X``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="leaktrace", page_icon="🕵", layout="wide")

pages = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", default=True),
        st.Page("pages/sources.py", title="Sources & canaries"),
        st.Page("pages/messages.py", title="Messages"),
        st.Page("pages/templates.py", title="Templates & campaigns"),
        st.Page("pages/leaks.py", title="Leak sources"),
        st.Page("pages/evidence.py", title="Evidence"),
        st.Page("pages/alerts.py", title="Alerts"),
    ]
)
pages.run()
