"""Each dashboard page's logic with Streamlit's AppTest, against real stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store

APP = Path(__file__).resolve().parent.parent / "app"
PAGES = ["sources", "messages", "templates", "leaks", "evidence"]


def open_app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("LEAKTRACE_DB", str(db))
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60).run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def demo(tmp_path: Path, analysed_store_file: Path) -> Path:
    shutil.copyfile(analysed_store_file, tmp_path / "demo.duckdb")
    return tmp_path / "demo.duckdb"


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_on_an_empty_store_guides_the_first_steps(tmp_path, monkeypatch, page):
    at = open_app(tmp_path / "empty.duckdb", monkeypatch, page)
    if page in (None, "templates", "leaks", "evidence"):
        assert any("Plant your first canary" in i.value for i in at.info)


def test_the_overview_shows_the_study(demo, monkeypatch):
    at = open_app(demo, monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sources"] == "30" and metrics["Messages"] == "2,970"
    assert metrics["Controls"] == "20" and metrics["Canaries planted"] == "130"
    watched = at.dataframe[0].value
    assert set(watched["verdict"]) <= {"leaked", "suspected"} and len(watched) >= 10


def test_leak_sources_lists_every_verdict_and_drills_down_to_messages(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "leaks")
    verdicts = at.dataframe[0].value
    assert len(verdicts) == 30 and verdicts["verdict"].iloc[0] == "leaked"
    leaked = verdicts["source"].iloc[0]
    assert at.selectbox(key="leak-source").value == leaked
    cell = at.dataframe[1].value
    assert len(cell) > 0 and {"recipient", "sender", "body"} <= set(cell.columns)
    assert at.text[0].value  # the reason, as plain text


def test_evidence_lists_the_messages_behind_a_verdict_with_downloads(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "evidence")
    assert len(at.dataframe[0].value) > 0
    assert len(at.get("download_button")) == 2


def test_evidence_page_checks_the_hash_chain_and_names_a_tampered_message(demo, monkeypatch):
    import duckdb

    at = open_app(demo, monkeypatch, "evidence")
    at.button(key="verify-store").click().run()
    assert "nothing altered" in at.success[0].value
    with duckdb.connect(str(demo)) as con:
        con.execute("UPDATE messages SET body = 'edited' WHERE id = 12")
    at.button(key="verify-store").click().run()
    assert "Problems found: 1." in at.error[0].value
    assert list(at.dataframe[-1].value["message_id"]) == [12]


def test_evidence_page_builds_the_pack_through_the_library(demo, monkeypatch):
    import io
    import zipfile

    at = open_app(demo, monkeypatch, "evidence")
    assert at.radio(key="pack-lang").value == "zh"  # the sample's personas are mostly Chinese
    at.radio(key="pack-lang").set_value("en")
    at.checkbox(key="pack-pdf").uncheck()
    at.button(key="pack-build").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    downloads = at.get("download_button")
    assert len(downloads) == 3
    source = at.selectbox(key="evidence-source").value
    data = at.session_state["pack"][2]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    prefix = f"evidence-{source}/"
    assert {prefix + "report.html", prefix + "manifest.json", prefix + "chain.csv"} <= set(names)
    assert prefix + "draft-gdpr-art15-request.en.md" in names
    assert at.code[0].value == at.session_state["pack"][3]


def test_message_search_filters_the_table(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "messages")
    everything = len(at.dataframe[0].value)
    at.text_input(key="q-text").set_value("验证码").run()
    found = at.dataframe[0].value
    assert 0 < len(found) < everything
    assert found["body"].str.contains("验证码").all()


def test_sources_page_adds_a_source_a_canary_and_a_plant(tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    at = open_app(db, monkeypatch, "sources")
    at.text_input(key="source-name").set_value("企查查")
    at.text_input(key="source-senders").set_value("10690123")
    at.text_input(key="source-signatures").set_value("【企查查】")
    at.button[0].click().run()  # the source form's submit
    assert any("Added source 企查查" in s.value for s in at.success)
    at.text_input(key="canary-phone").set_value("+8613800138000")
    at.button[1].click().run()
    assert any("canary-001" in s.value for s in at.success), [e.value for e in at.error]
    at.button[2].click().run()  # plant with the defaults: canary-001 at 企查查
    assert any("Planted canary-001 at 企查查" in s.value for s in at.success)
    with Store(db).connect() as con:
        assert con.execute("SELECT count(*) FROM plants").fetchone()[0] == 1


def test_messages_page_imports_an_uploaded_backup_and_reports_it(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "messages")
    sample = find_sample_data()
    backup = sorted((sample / "sms").glob("*.xml"))[0]
    at.file_uploader(key="exports").set_value((backup.name, backup.read_bytes(), "text/xml")).run()
    at.text_input(key="upload-recipient").set_value(backup.stem).run()
    at.button[0].click().run()
    assert not at.exception
    assert any("0 new" in s.value and "duplicates" in s.value for s in at.success)


def test_templates_can_be_merged_by_hand(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "templates")
    table = at.dataframe[0].value
    first, second = (int(i) for i in table["id"].iloc[:2])
    at.number_input(key="merge-from").set_value(first)
    at.number_input(key="merge-into").set_value(second)
    at.button[0].click().run()
    assert any(f"Template {first} merged into {second}" in s.value for s in at.success)
    assert first not in set(at.dataframe[0].value["id"])


def test_no_page_renders_message_text_as_html():
    for path in APP.rglob("*.py"):
        assert "unsafe_allow_html" not in path.read_text(encoding="utf-8"), path


def test_a_page_waits_out_an_import_holding_the_store_instead_of_failing(demo, monkeypatch):
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]);"
            " print('locked', flush=True); time.sleep(3)",
            str(demo),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    at = open_app(demo, monkeypatch, "leaks")  # no cached results for this store yet
    holder.wait(10)
    assert time.monotonic() - started >= 1.5
    assert len(at.dataframe[0].value) == 30


def test_csv_downloads_neutralise_cells_that_would_start_a_formula():
    import pandas as pd

    from leaktrace.evidence.csvsafe import safe_csv

    frame = pd.DataFrame(
        {
            "body": ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok 回T退订"],
            "n": range(7),
        }
    )
    text = safe_csv(frame).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "body,n"
    assert "'=HYPERLINK" in text and "'+1" in lines[2] and "'-2" in lines[3] and "'@SUM" in text
    assert "ok 回T退订,6" in text and "\n0," not in text
