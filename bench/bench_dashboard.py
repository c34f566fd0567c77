"""Dashboard render times on the 1M-message store, in headless chromium.

The analysed 1M store (bench_cluster's study, clustered, linked and attributed)
is served by ``streamlit run``; after one visit warms the server (imports, first
connection), each page is reached as a user reaches it — a click in the sidebar —
and timed until Streamlit reports the script done and no placeholder is left: its
first render, its queries not yet cached. Target: 2 s per page, in a new browser tab as
well: a tab of the same browser (its HTTP cache holds the app's scripts, as a user's
does) opening the page's URL, which starts a new Streamlit session. For comparison, a
cold browser (a new profile: every script downloaded and compiled again). Pages are
shown in English (``?lang=en``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from tests.browser import CHROMIUM, CHROMIUM_ARGS, dashboard, settle

from bench.bench_cluster import analysed_million_store

PAGES = {
    "Overview": "",
    "Sources & canaries": "sources",
    "Messages": "messages",
    "Templates & campaigns": "templates",
    "Leak sources": "leaks",
    "Evidence": "evidence",
    "Alerts": "alerts",
}
TARGET = 2.0


def run() -> None:
    """Print each page's first render time after a warm-up."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        print("  skipped: needs Debian's chromium (apt-get install chromium)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.duckdb"
        shutil.copyfile(analysed_million_store(), db)
        with dashboard(db, Path(tmp) / "streamlit.log") as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            viewport = {"width": 1400, "height": 1000}
            user = browser.new_context(viewport=viewport)  # one user's browser
            page = user.new_page()
            started = time.perf_counter()
            page.goto(f"{url}/?lang=en")
            settle(page, timeout_ms=300_000)
            warm = time.perf_counter() - started
            print(f"  warm-up (the server's first page and first queries): {warm:.1f} s")
            print(f"  {'page':24} {'sidebar click':>13} {'new tab':>8} {'cold browser':>13}")
            for title, path in PAGES.items():
                click = None
                if title != "Overview":  # the warm-up already rendered it
                    started = time.perf_counter()
                    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
                    page.wait_for_url(f"{url}/{path}*")
                    settle(page, timeout_ms=300_000)
                    click = time.perf_counter() - started
                tab = _open(user.new_page(), f"{url}/{path}?lang=en")
                cold_context = browser.new_context(viewport=viewport)
                cold = _open(cold_context.new_page(), f"{url}/{path}?lang=en")
                cold_context.close()
                worst = tab if click is None else max(click, tab)
                shown = "     (warm-up)" if click is None else f"{click:11.2f} s"
                verdict = "ok" if worst <= TARGET else f"over {TARGET:.0f} s"
                print(f"  {title:24} {shown} {tab:6.2f} s {cold:11.2f} s  {verdict}")
            browser.close()
        # The floor: Streamlit itself on the same machine and browser. An app with the same
        # sidebar (a language switch and seven pages) whose pages write one line, and the
        # same app showing a table of as many rows as the message list.
        bare = Path(tmp) / "bare"
        (bare / "pages").mkdir(parents=True)
        (bare / "main.py").write_text(BARE_MAIN)
        for name in "abcdefg":
            (bare / "pages" / f"{name}.py").write_text(BARE_PAGE)
        (bare / "pages" / "b.py").write_text(BARE_TABLE)
        floor = dashboard(db, Path(tmp) / "bare.log", app=bare / "main.py")
        with floor as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            user = browser.new_context(viewport=viewport)
            _open(user.new_page(), url)
            for title, path in (("Streamlit, one line", "a"), ("Streamlit, 5,000 rows", "b")):
                _open(user.new_page(), f"{url}/{path}")  # its first render
                tab = _open(user.new_page(), f"{url}/{path}")
                cold_context = browser.new_context(viewport=viewport)
                cold = _open(cold_context.new_page(), f"{url}/{path}")
                cold_context.close()
                print(f"  {title + ' (floor)':34} {'':3} {tab:6.2f} s {cold:11.2f} s")
            browser.close()


BARE_MAIN = """import streamlit as st

st.set_page_config(page_title="floor", layout="wide")
st.sidebar.radio("Language", ["zh", "en"], horizontal=True)
st.navigation([st.Page(f"pages/{n}.py", title=n.upper()) for n in "abcdefg"]).run()
"""
BARE_PAGE = 'import streamlit as st\n\nst.title("leaktrace")\n'
BARE_TABLE = """import pandas as pd
import streamlit as st

st.title("messages")
body = "您有30000元备用金额度将于今日到期,点击 t.cn/abc 立即领取,回T退订"
st.dataframe(pd.DataFrame({"id": range(5000), "body": [body] * 5000}), hide_index=True)
"""


def _open(page, url: str) -> float:
    """Seconds from opening ``url`` in ``page`` until it is drawn; the page is closed."""
    started = time.perf_counter()
    page.goto(url)
    settle(page, timeout_ms=300_000)
    took = time.perf_counter() - started
    page.close()
    return took
