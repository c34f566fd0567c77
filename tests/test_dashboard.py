"""Each dashboard page's logic with Streamlit's AppTest, against real stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import store_worker
from leaktrace import views
from leaktrace.attribution.model import VERDICT_COLOURS, Unit
from leaktrace.attribution.verdicts import evidence_ids, source_reports
from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store

APP = Path(__file__).resolve().parent.parent / "app"
GUIDE = "This store is empty. Plant your first canary: add a source on **Sources & canaries**"


def open_app(
    db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, lang: str = "en"
) -> AppTest:
    monkeypatch.setenv("LEAKTRACE_DB", str(db))
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def demo(tmp_path: Path, analysed_store_file: Path) -> Path:
    shutil.copyfile(analysed_store_file, tmp_path / "demo.duckdb")
    return tmp_path / "demo.duckdb"


@pytest.mark.parametrize(
    ("page", "title"),
    [
        (None, "Overview"),
        ("templates", "Templates & campaigns"),
        ("leaks", "Leak sources"),
        ("evidence", "Evidence"),
    ],
)
def test_every_page_that_reads_a_study_guides_the_first_steps_on_an_empty_store(
    tmp_path, monkeypatch, page, title
):
    at = open_app(tmp_path / "empty.duckdb", monkeypatch, page)
    assert [t.value for t in at.title] == [title]
    assert len(at.info) == 1 and at.info[0].value.startswith(GUIDE)
    assert len(at.dataframe) == 0 and len(at.metric) == 0


def test_the_sources_page_on_an_empty_store_offers_its_forms_and_empty_tables(
    tmp_path, monkeypatch
):
    at = open_app(tmp_path / "empty.duckdb", monkeypatch, "sources")
    assert [t.value for t in at.title] == ["Sources & canaries"]
    assert len(at.info) == 0  # the page where the first steps are taken needs no guide
    assert [s.value for s in at.subheader] == [
        "Sources",
        "First-party channels",
        "Canaries and controls",
    ]
    assert [len(d.value) for d in at.dataframe] == [0, 0]
    captions = [c.value for c in at.caption]
    assert "Add a source and a canary first." in captions
    assert "No first-party channels found yet." in captions


def test_the_messages_page_on_an_empty_store_shows_an_empty_search(tmp_path, monkeypatch):
    at = open_app(tmp_path / "empty.duckdb", monkeypatch, "messages")
    assert [t.value for t in at.title] == ["Messages"]
    assert len(at.info) == 0
    captions = [c.value for c in at.caption]
    assert "No messages for unknown recipients." in captions
    assert "0 messages shown (at most 5,000, newest first)" in captions
    assert [len(d.value) for d in at.dataframe] == [0]


def test_the_overview_shows_the_study(demo, monkeypatch):
    at = open_app(demo, monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sources"] == "30" and metrics["Messages"] == "2,970"
    assert metrics["Controls"] == "20" and metrics["Canaries planted"] == "130"
    assert metrics["In quarantine"] == "0"
    watched = at.dataframe[0].value
    reports = source_reports(Store(demo), evidence=False)
    expected = [r for r in reports if r["verdict"] in ("leaked", "suspected")]
    assert len(expected) == 12  # the sample study: 12 leaked sources, 18 clean
    assert list(watched["source"]) == [r["name"] for r in expected]
    assert list(watched["verdict"]) == [r["verdict"] for r in expected]
    assert list(watched["reason"]) == [r["reason"] for r in expected]
    [last] = [c.value for c in at.caption if c.value.startswith("Last import: ")]
    assert last.startswith("Last import: canaries.mbox (mbox) at ")
    assert last.endswith(" — 291 new, 0 duplicates, 0 rejected.")


def charts(at: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's Altair charts, in page order."""
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_the_overview_opens_with_spam_per_canary_week_and_its_sentence(demo, monkeypatch):
    at = open_app(demo, monkeypatch)
    picture = views.spam_picture(Store(demo))
    assert picture.headline and "the loan messages per canary-week of controls" in (
        picture.headline
    )
    # The picture and its sentence come first, before the counts.
    main = list(at._tree.children[0].children.values())
    kinds = [getattr(e, "type", None) for e in main[:5]]
    assert kinds == ["title", "subheader", "markdown", "caption", "vega_lite_chart"]
    assert at.markdown[0].value.replace("\\", "") == f"**{picture.headline}**"
    rates = charts(at)[0]
    assert rates["facet"]["field"] == "category"
    assert rates["facet"]["sort"][0] == "loan"  # loan first, highlighted
    assert [p["name"] for p in rates["params"]] == ["bar"]  # a click picks a bar
    groups = set(picture.rates["group"])
    assert {"before planting", "controls"} <= groups
    assert "after planting at credit_inquiry" in groups


def test_the_overview_of_a_study_with_no_messages_yet_says_so(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from leaktrace import roster
    from leaktrace.model import Source, SourceCategory

    store = Store(tmp_path / "s.duckdb")
    roster.add_source(store, Source(name="A", category=SourceCategory.CREDIT_INQUIRY))
    roster.new_canary(store, phone="+447700900100", label="a1", seed=1)
    roster.plant(store, "a1", "A", datetime(2026, 1, 5, tzinfo=UTC))
    at = open_app(store.path, monkeypatch)
    assert "No messages to canaries yet." in [c.value for c in at.caption]
    assert not at.markdown or "canary-week of controls" not in at.markdown[0].value


def test_a_bar_of_the_overview_lists_the_messages_behind_it(demo, monkeypatch):
    at = open_app(demo, monkeypatch)
    at.selectbox(key="overview-rates-group").set_value("controls")
    at.selectbox(key="overview-rates-category").set_value("loan").run()
    rates = views.spam_picture(Store(demo)).rates
    count = rates.loc[(rates["group"] == "controls") & (rates["category"] == "loan"), "messages"]
    shown = at.dataframe[0].value
    assert len(shown) == int(count.iat[0]) > 0
    assert set(shown["recipient"]).issubset({f"control-{i:03d}" for i in range(1, 21)})
    assert f"controls · loan / credit: {len(shown):,} messages" in [c.value for c in at.caption]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_chart_coloured_by_verdict_uses_the_one_verdict_palette(demo, monkeypatch, lang):
    import pyarrow as pa

    from leaktrace import i18n

    at = open_app(demo, monkeypatch, lang=lang)
    by_verdict = [
        (c, json.loads(c.proto.spec)["encoding"]["color"])
        for c in at.get("vega_lite_chart")
        if json.loads(c.proto.spec).get("encoding", {}).get("color", {}).get("field") == "verdict"
    ]
    assert by_verdict and all(
        c["scale"] == {"domain": list(VERDICT_COLOURS), "range": list(VERDICT_COLOURS.values())}
        for _, c in by_verdict
    )
    for chart, colour in by_verdict:
        # The coloured column holds stored verdicts, so each meets its colour in any
        # language; the legend says them in the reader's words.
        [data] = chart.proto.datasets
        values = set(pa.ipc.open_stream(data.data.data).read_pandas()["verdict"])
        assert values and values <= set(VERDICT_COLOURS)
        for verdict in VERDICT_COLOURS:
            assert (
                json.dumps(i18n.label(lang, "verdict", verdict), ensure_ascii=False)
                in (colour["legend"]["labelExpr"])
            )
    assert VERDICT_COLOURS == {
        "leaked": "#dc2626",  # red
        "suspected": "#d97706",  # amber
        "clean": "#16a34a",  # green
        "insufficient data": "#6b7280",  # grey
    }


def test_spam_categories_keep_their_colour_in_either_language(demo, monkeypatch):
    def colours(lang: str) -> dict:
        at = open_app(demo, monkeypatch, lang=lang)
        per_day = json.loads(at.get("vega_lite_chart")[2].proto.spec)["encoding"]["color"]
        assert per_day["field"] == "category"
        return dict(zip(per_day["scale"]["domain"], per_day["scale"]["range"], strict=True))

    en = colours("en")
    assert "loan" in en and en == colours("zh")  # stored names, one colour each


def test_a_source_shows_its_rates_plant_dates_and_first_spam_per_canary(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "leaks")
    source = at.selectbox(key="leak-source").value
    picture = views.source_picture(Store(demo), source)
    specs = charts(at)
    rates, weekly, first = specs[1], specs[2], specs[3]  # after the heatmap
    assert rates["facet"]["field"] == "category"
    assert list(dict.fromkeys(picture.rates["group"])) == [
        "before planting here",
        "after planting here",
        "controls",
    ]
    assert weekly["layer"][1]["mark"]["type"] == "rule"  # the plant dates
    assert first["layer"][0]["encoding"]["y"]["sort"] == list(picture.first_spam["canary"])
    assert {"planted here", "control"} == set(picture.first_spam["group"])
    assert picture.first_spam["label"].str.endswith(" d").all()
    at.selectbox(key="source-rates-group").set_value("after planting here")
    at.selectbox(key="source-rates-category").set_value("loan").run()
    rows = picture.rates
    count = rows.loc[
        (rows["group"] == "after planting here") & (rows["category"] == "loan"), "messages"
    ]
    behind = at.dataframe[1].value
    assert len(behind) == int(count.iat[0]) > 0
    planted = set(picture.plants["canary"])
    assert set(behind["recipient"]) <= planted


def test_leak_sources_lists_every_verdict_and_drills_down_to_messages(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "leaks")
    store = Store(demo)
    reports = source_reports(store, evidence=False)
    verdicts = at.dataframe[0].value
    assert list(verdicts["source"]) == [r["name"] for r in reports]
    assert list(verdicts["verdict"]) == [r["verdict"] for r in reports]
    assert (verdicts["verdict"] == "leaked").sum() == 12 and len(verdicts) == 30
    leaked = verdicts["source"].iloc[0]
    assert at.selectbox(key="leak-source").value == leaked
    assert f"{leaked}: leaked" in [s.value for s in at.subheader]
    assert [t.value for t in at.text] == [reports[0]["reason"]]  # the reason, as plain text
    unit = at.selectbox(key="leak-unit").value
    cell = at.dataframe[1].value
    assert {"recipient", "sender", "body"} <= set(cell.columns) and len(cell) > 0
    named = str(Unit.from_key(unit))  # c31: Campaign 31
    caption = f"{len(cell)} messages of {named} to {leaked}'s canaries after planting"
    assert caption in [c.value for c in at.caption]
    with store.connect() as con:
        planted_here = {
            label
            for (label,) in con.execute(
                "SELECT c.label FROM plants p JOIN canaries c ON c.id = p.canary_id"
                " JOIN sources s ON s.id = p.source_id WHERE s.name = ?",
                [leaked],
            ).fetchall()
        }
    assert set(cell["recipient"]) <= planted_here


def test_evidence_lists_the_messages_behind_a_verdict_with_downloads(demo, monkeypatch):
    at = open_app(demo, monkeypatch, "evidence")
    store = Store(demo)
    source = at.selectbox(key="evidence-source").value
    report = source_reports(store, evidence=False, source=source)[0]
    assert source == source_reports(store, evidence=False)[0]["name"]  # the first leaked one
    assert at.subheader[0].value == f"leaked (score {report['score']:.2f})"
    assert at.text[0].value == report["reason"]
    ids = evidence_ids(store, source)
    assert len(ids) > 0
    assert sorted(at.dataframe[0].value["id"]) == sorted(ids)
    assert any(c.value.startswith(f"{len(ids):,} messages. ") for c in at.caption)
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


def test_sources_page_lists_an_inferred_first_party_channel_and_rejects_it(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from exports import send
    from leaktrace import roster
    from leaktrace.attribution.first_party import list_channels
    from leaktrace.model import Source, SourceCategory

    db = tmp_path / "s.duckdb"
    store = Store(db)
    planted = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    roster.add_source(store, Source(name="融中房产", category=SourceCategory.REAL_ESTATE))
    for i in range(2):
        roster.new_canary(store, phone=f"+44770090{i:04d}", label=f"rz-{i}", seed=i)
        roster.plant(store, f"rz-{i}", "融中房产", planted)
    rows = [
        (planted + timedelta(days=3 + i), f"rz-{i}", "1069012345", "【融中房产3】新盘开售,回T退订")
        for i in range(2)
    ]
    send(store, tmp_path, rows)
    first_party = "SELECT count(*) FROM messages WHERE first_party"
    with store.connect() as con:
        assert con.execute(first_party).fetchone()[0] == 2

    at = open_app(db, monkeypatch, "sources")
    assert "First-party channels" in [s.value for s in at.subheader]
    channels = at.dataframe[1].value
    assert list(channels.columns) == ["source", "kind", "value", "status", "why"]
    assert channels[["source", "kind", "value", "status"]].values.tolist() == [
        ["融中房产", "signature", "【融中房产3】", "inferred"]
    ]
    assert "names 融中房产" in channels["why"].iat[0]
    at.button(key="channel-reject").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Rejected" in s.value and "0 messages" in s.value for s in at.success)
    [channel] = list_channels(store)
    assert channel.status == "rejected"
    assert at.dataframe[1].value["status"].tolist() == ["rejected"]
    with store.connect() as con:
        assert con.execute(first_party).fetchone()[0] == 0


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
    """Ordering, not durations: the page finds the store held, waits, and draws once let in."""
    from leaktrace.store import connection

    events = []
    is_lock_error = connection.is_lock_error

    def release_on_first_lock(exc: BaseException) -> bool:
        locked = is_lock_error(exc)
        if locked and not events:
            events.append("page found the store locked")
            store_worker.release(holder)
            events.append("holder released it")
        return locked

    holder = store_worker.start_holding(demo)
    try:
        monkeypatch.setattr(connection, "is_lock_error", release_on_first_lock)
        at = open_app(demo, monkeypatch, "leaks")  # no cached results for this store yet
    finally:
        holder.kill()
        holder.wait()
    assert events == ["page found the store locked", "holder released it"]
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


_VIEW_EVERY_PAGE = """
import json, os, sys
from streamlit.testing.v1 import AppTest
os.environ["LEAKTRACE_DB"] = sys.argv[1]
at = AppTest.from_file(sys.argv[2], default_timeout=60)
at.query_params["lang"] = "en"
at.run()
for page in ("sources", "messages", "templates", "leaks", "evidence", "alerts"):
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, (page, [e.value for e in at.exception])
loaded = {m.split(".")[0] for m in sys.modules} | {m for m in sys.modules if "leaktrace" in m}
print(json.dumps(sorted(loaded)))
"""


def test_viewing_every_page_loads_nothing_only_an_action_needs(demo):
    # Page views stay fast: name romanisation (pypinyin's dictionaries take about a
    # second), persona making and the analysis load when a button asks for them.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _VIEW_EVERY_PAGE, str(demo), str(APP / "main.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=APP,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & {"pypinyin", "faker", "leaktrace.pipeline", "leaktrace.campaigns.link"}


def test_a_store_busy_past_the_lock_timeout_says_so_instead_of_failing(demo, monkeypatch):
    monkeypatch.setenv("LEAKTRACE_LOCK_TIMEOUT", "0.3")
    holder = store_worker.start_holding(demo)
    try:
        monkeypatch.setenv("LEAKTRACE_DB", str(demo))
        at = AppTest.from_file(str(APP / "main.py"), default_timeout=60)
        at.query_params["lang"] = "en"
        at.run()
    finally:
        holder.kill()
        holder.wait()
    assert not at.exception, [e.value for e in at.exception]
    assert "in use by another leaktrace process" in at.error[0].value
