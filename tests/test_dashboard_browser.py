"""The dashboard in a real browser: a Streamlit server and headless Debian chromium."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from tests.browser import CHROMIUM, CHROMIUM_ARGS, dashboard, settle

from leaktrace.sim.demo import find_sample_data

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
    ),
]


@pytest.fixture
def server(tmp_path: Path, analysed_store_file: Path):
    """``streamlit run`` on a free port against a copy of the analysed sample store.

    The store is named relative to the server's folder, so the sidebar (and the committed
    screenshots) show ``demo.duckdb``, not a temporary path."""
    db = tmp_path / "demo.duckdb"
    shutil.copyfile(analysed_store_file, db)
    log = tmp_path / "streamlit.log"
    with dashboard(Path(db.name), log, lang="en", cwd=tmp_path) as url:
        yield url, db


def go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    settle(page)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` by typing it."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    settle(page)


def test_plant_upload_and_drill_down_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    backup = sorted((find_sample_data() / "sms").glob("*.xml"))[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        settle(page)
        expect(page.get_by_text("Leaked and suspected sources")).to_be_visible(timeout=60_000)
        # The question as a picture comes first: its sentence, then the rates chart.
        expect(
            page.get_by_text("the loan messages per canary-week of controls after planting")
        ).to_be_visible()
        expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
        page.screenshot(path=tmp_path / "1-overview.png", full_page=True)

        go(page, "Sources & canaries")
        page.get_by_text("New canary", exact=True).click()
        page.get_by_label("Phone (E.164 or national)").fill("+8613800138123")
        page.get_by_role("button", name="Make canary").click()
        settle(page)
        expect(page.get_by_text("canary-131").first).to_be_visible(timeout=60_000)
        page.get_by_text("Plant", exact=True).click()
        choose(page, "Canary", "canary-131")
        page.get_by_role("button", name="Record plant").click()
        settle(page)
        expect(page.get_by_text("Planted canary-131")).to_be_visible(timeout=60_000)
        page.screenshot(path=tmp_path / "2-planted.png", full_page=True)

        go(page, "Messages")
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            files=[{"name": backup.name, "mimeType": "text/xml", "buffer": backup.read_bytes()}]
        )
        settle(page)
        page.get_by_role("textbox", name="Recipient (canary label or contact)").fill(backup.stem)
        page.keyboard.press("Enter")
        settle(page)
        page.get_by_role("button", name="Import").click()
        settle(page)
        expect(page.get_by_text(f"{backup.name}: 0 new")).to_be_visible(timeout=60_000)
        page.screenshot(path=tmp_path / "3-imported.png", full_page=True)

        go(page, "Leak sources")
        expect(page.get_by_text("Exposure: source × campaign")).to_be_visible(timeout=60_000)
        # The drill-down heading of the first source renders after the heatmap: wait for it.
        expect(page.get_by_test_id("stHeading").filter(has_text=": leaked").first).to_be_visible(
            timeout=60_000
        )
        expect(page.get_by_text("messages of c").first).to_be_visible(
            timeout=60_000
        )  # the drill-down caption
        page.screenshot(path=tmp_path / "4-leak-drill-down.png", full_page=True)

        go(page, "Evidence")
        page.get_by_role("button", name="Build the evidence pack").click()
        button = page.get_by_role("button", name="Download the evidence pack (zip)")
        expect(button).to_be_visible(timeout=120_000)  # HTML, PDF by Chromium, chain check
        with page.expect_download() as download:
            button.click()
        archive = tmp_path / "pack.zip"
        download.value.save_as(archive)
        page.screenshot(path=tmp_path / "5-evidence-pack.png", full_page=True)
        browser.close()
    names = zipfile.ZipFile(archive).namelist()
    assert any(n.endswith("/report.pdf") for n in names), names
    assert any(n.endswith("/draft-12321-report.zh.md") for n in names), names
    assert all(
        (tmp_path / f).stat().st_size > 10_000 for f in ("1-overview.png", "4-leak-drill-down.png")
    )


def test_the_overview_in_chinese_and_english_from_the_sidebar_switch(server, tmp_path):
    """Screenshots of the demo's Overview in both languages (paths printed)."""
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    shots = {lang: tmp_path / f"overview-{lang}.png" for lang in ("en", "zh")}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url)  # `leaktrace dashboard --lang en`
        settle(page)
        expect(page.get_by_text("Leaked and suspected sources")).to_be_visible(timeout=60_000)
        expect(
            page.get_by_text("the loan messages per canary-week of controls after planting")
        ).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_text("demo.duckdb")).to_be_visible()
        page.screenshot(path=shots["en"], full_page=True)

        page.get_by_test_id("stSidebar").get_by_text("中文", exact=True).click()
        settle(page)
        expect(page.get_by_text("已泄露和疑似泄露的来源")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("时间均为 Asia/Shanghai").first).to_be_visible()
        # The picture first, its sentence in Chinese.
        expect(page.get_by_text("每个金丝雀身份每周收到的骚扰消息：投放前")).to_be_visible()
        expect(page.get_by_text("投放后，收到的贷款类消息是对照身份的")).to_be_visible()
        expect(page.get_by_test_id("stSidebarNav").get_by_text("泄露来源")).to_be_visible()
        page.wait_for_function("location.search.includes('lang=zh')")
        page.screenshot(path=shots["zh"], full_page=True)

        go(page, "泄露来源")  # the choice holds on another page
        expect(page.get_by_test_id("stHeading").filter(has_text="：已泄露").first).to_be_visible(
            timeout=60_000
        )
        fresh = browser.new_page()  # a new tab with the URL opens in Chinese
        fresh.goto(page.url)
        settle(fresh)
        expect(fresh.get_by_text("到达情况：来源 × 营销活动")).to_be_visible(timeout=60_000)
        browser.close()
    for lang, shot in shots.items():
        print(f"Overview ({lang}): {shot}")
        assert shot.stat().st_size > 10_000
    if os.environ.get("LEAKTRACE_SCREENSHOTS"):  # e.g. docs/screenshots
        folder = Path(os.environ["LEAKTRACE_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        for shot in shots.values():
            shutil.copyfile(shot, folder / shot.name)
