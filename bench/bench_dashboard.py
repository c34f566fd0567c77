"""Dashboard render times on the 1M-message store, in headless chromium.

The analysed 1M store (bench_cluster's study, clustered, linked and attributed)
is served by ``streamlit run``; after one visit warms the server (imports, first
connection), each page is reached as a user reaches it — a click in the sidebar —
and timed until Streamlit reports the script done and no placeholder is left: its
first render, its queries not yet cached. Target: 3 s per page. For comparison,
the same page opened in a new browser tab (loading the app shell again).
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
}


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
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            started = time.perf_counter()
            page.goto(url)
            settle(page, timeout_ms=300_000)
            warm = time.perf_counter() - started
            print(f"  warm-up (the server's first page and first queries): {warm:.1f} s")
            print(f"  {'page':24} {'sidebar click':>13} {'new tab':>8}")
            for title, path in PAGES.items():
                click = None
                if title != "Overview":  # the warm-up already rendered it
                    started = time.perf_counter()
                    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
                    page.wait_for_url(f"{url}/{path}")
                    settle(page, timeout_ms=300_000)
                    click = time.perf_counter() - started
                fresh = browser.new_page(viewport={"width": 1400, "height": 1000})
                started = time.perf_counter()
                fresh.goto(f"{url}/{path}")
                settle(fresh, timeout_ms=300_000)
                tab = time.perf_counter() - started
                fresh.close()
                first = tab if click is None else click
                shown = "     (warm-up)" if click is None else f"{click:11.2f} s"
                verdict = "ok" if first <= 3 else "over 3 s"
                print(f"  {title:24} {shown} {tab:6.2f} s  {verdict}")
            browser.close()
