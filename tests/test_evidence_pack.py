"""Evidence packs: the report holds every evidence message, the PDF renders, and
``verify`` names each altered, missing or added record."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import duckdb
import lxml.html
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.attribution.verdicts import evidence_ids, source_reports
from leaktrace.evidence.csvsafe import neutralise, restore
from leaktrace.evidence.data import ReportError, study_language
from leaktrace.evidence.pack import build_pack, export_study
from leaktrace.evidence.pdf import PdfError
from leaktrace.evidence.verify import verify_pack, verify_store
from leaktrace.ingest.by_hand import import_typed
from leaktrace.pipeline import analyse
from leaktrace.store import Store

HOSTILE = '=HYPERLINK("http://evil.test","点此") <script>alert(1)</script> [x](http://evil.test)'


@pytest.fixture(scope="module")
def study(analysed_store_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """The analysed sample study plus one attacker-written message to a leaked source's canary."""
    path = tmp_path_factory.mktemp("pack-study") / "study.duckdb"
    shutil.copyfile(analysed_store_file, path)
    store = Store(path)
    source = next(
        r["name"]
        for r in source_reports(store, evidence=False)
        if r["verdict"] == "leaked" and r["top_units"][0]["canaries_hit"] >= 3
    )
    with store.connect() as con:
        phone = con.execute(
            "SELECT c.phone FROM plants p JOIN canaries c ON c.id = p.canary_id"
            " JOIN sources s ON s.id = p.source_id WHERE s.name = ? AND c.phone IS NOT NULL"
            " ORDER BY p.planted_at LIMIT 1",
            [source],
        ).fetchone()[0]
    import_typed(
        store,
        recipient=phone,
        sender="+4470000000",
        body=HOSTILE,
        received_at="2026-04-01T10:00:00+08:00",
    )
    analyse(store)
    return store, source


@pytest.fixture(scope="module")
def packs(study, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The leaked source's pack in both languages, PDF included (real headless Chromium)."""
    store, source = study
    root = tmp_path_factory.mktemp("packs")
    return {lang: build_pack(store, source, root / lang, lang).folder for lang in ("zh", "en")}


def _copy(pack: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pack, tmp_path / "pack"))


def test_html_parses_and_holds_every_evidence_message(study, packs):
    store, source = study
    ids = evidence_ids(store, source)
    assert ids
    with store.connect() as con:
        bodies = dict(
            con.execute(
                "SELECT id, body FROM messages WHERE list_contains(?, id)", [ids]
            ).fetchall()
        )
    for pack in packs.values():
        page = lxml.html.parse(str(pack / "report.html")).getroot()
        rows = page.xpath('//table[@id="evidence-messages"]//tr[@data-message-id]')
        assert sorted(int(r.get("data-message-id")) for r in rows) == sorted(ids)
        for row in rows:
            text = row.xpath('./td[@class="text"]')[0].text_content()
            assert text.strip() == bodies[int(row.get("data-message-id"))].strip()
        assert page.xpath('//span[@id="verdict"]')[0].text_content()


def test_the_verdict_badge_has_the_verdict_colour_the_dashboard_uses(study, packs):
    from leaktrace.attribution.model import VERDICT_COLOURS

    page = lxml.html.parse(str(packs["en"] / "report.html")).getroot()
    style = page.xpath("//style")[0].text_content()
    for verdict, colour in VERDICT_COLOURS.items():
        assert f".v-{verdict.split()[0]} {{ background: {colour}; color: #fff; }}" in style
    badge = page.xpath('//span[@id="verdict"]')[0]
    assert badge.get("class") == "verdict v-leaked"


def test_attacker_text_is_shown_as_text_never_markup(packs):
    for pack in packs.values():
        page = lxml.html.parse(str(pack / "report.html")).getroot()
        assert not page.xpath("//script") and not page.xpath("//a")
        assert HOSTILE in page.text_content()
    # Chart images are data URIs, so the page loads nothing from anywhere.
    html = (packs["en"] / "report.html").read_text(encoding="utf-8")
    assert 'src="http' not in html and "<link" not in html


def _first_page(pdf: Path):
    document = pdfium.PdfDocument(str(pdf))
    page = document[0]
    return len(document), page.get_textpage().get_text_range(), page.render(scale=1).to_pil()


@pytest.mark.parametrize(("lang", "title"), [("zh", "证据报告"), ("en", "Evidence report")])
def test_pdf_exists_and_its_first_page_is_not_blank(packs, lang, title):
    pages, text, image = _first_page(packs[lang] / "report.pdf")
    assert pages >= 2
    assert title in text
    grey = image.convert("L")
    inked = sum(count for value, count in enumerate(grey.histogram()) if value < 200)
    assert inked / (grey.width * grey.height) > 0.01  # text and tables, not a white page


def test_both_languages_render_with_their_drafts(packs):
    zh = (packs["zh"] / "report.html").read_text(encoding="utf-8")
    en = (packs["en"] / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh">' in zh and "统计结果说明" in zh and "p 值" in zh
    assert '<html lang="en">' in en and "What the statistics say" in en and "p-value" in en
    drafts = {p.name: p.read_text(encoding="utf-8") for p in packs["zh"].glob("draft-*.md")}
    assert set(drafts) == {"draft-12321-report.zh.md", "draft-pipl-request.zh.md"}
    assert all(text.startswith("> **草稿") for text in drafts.values())
    assert "个人信息保护法" in drafts["draft-pipl-request.zh.md"]
    assert "12321" in drafts["draft-12321-report.zh.md"]
    drafts = {p.name: p.read_text(encoding="utf-8") for p in packs["en"].glob("draft-*.md")}
    assert set(drafts) == {"draft-gdpr-art15-request.en.md", "draft-ccpa-deletion-request.en.md"}
    assert all(text.startswith("> **DRAFT") for text in drafts.values())
    assert "Article 15" in drafts["draft-gdpr-art15-request.en.md"]
    assert "1798.105" in drafts["draft-ccpa-deletion-request.en.md"]


def test_drafts_quote_spam_without_markdown_links(packs):
    text = (packs["zh"] / "draft-12321-report.zh.md").read_text(encoding="utf-8")
    assert "](http" not in text and "<script>" not in text


def test_the_report_language_defaults_to_the_study_personas(study):
    assert study_language(study[0]) == "zh"  # most sample personas are zh_CN


def test_verify_passes_on_an_untouched_pack(packs):
    for pack in packs.values():
        result = verify_pack(pack)
        assert result.ok, result.problems
        assert result.checked > 0


def _evidence_row(pack: Path) -> tuple[int, str]:
    frame = pd.read_csv(pack / "data/messages.csv", dtype=str, encoding="utf-8-sig")
    row = frame[frame["role"] == "evidence"].iloc[0]
    return int(row["id"]), row["body"]


def test_verify_names_the_record_after_a_one_byte_change(packs, tmp_path):
    pack = _copy(packs["zh"], tmp_path)
    message_id, body = _evidence_row(pack)
    path = pack / "data/messages.csv"
    data = bytearray(path.read_bytes())
    at = data.index(body.encode("utf-8")) + 2
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    problems = verify_pack(pack).problems
    assert {(p.kind, p.where, p.record) for p in problems} == {
        ("file altered", "data/messages.csv", None),
        ("altered", "data/messages.csv", message_id),
    }


def test_verify_names_a_deleted_and_an_inserted_row(packs, tmp_path):
    pack = _copy(packs["en"], tmp_path)
    table = pq.read_table(pack / "data/messages.parquet")
    deleted = table["id"][3].as_py()
    kept = pa.concat_tables([table.slice(0, 3), table.slice(4)])
    extra = table.slice(5, 1).to_pylist()[0]
    extra["id"] = 999_999
    pq.write_table(
        pa.concat_tables([kept, pa.Table.from_pylist([extra], table.schema)]),
        pack / "data/messages.parquet",
    )
    problems = {
        (p.kind, p.record) for p in verify_pack(pack).problems if p.where == "data/messages.parquet"
    }
    assert problems == {("file altered", None), ("missing", deleted), ("added", 999_999)}


def test_verify_names_a_row_deleted_from_the_csv_and_an_edited_chain(packs, tmp_path):
    pack = _copy(packs["en"], tmp_path)
    frame = pd.read_csv(
        pack / "data/messages.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    deleted = int(frame["id"].iloc[-1])
    frame.iloc[:-1].to_csv(pack / "data/messages.csv", index=False, encoding="utf-8-sig")
    chain = pd.read_csv(pack / "chain.csv", dtype=str)
    chain.loc[1, "record_sha256"] = "0" * 64
    chain.to_csv(pack / "chain.csv", index=False)
    found = {(p.kind, p.where, p.record) for p in verify_pack(pack).problems}
    assert ("missing", "data/messages.csv", deleted) in found
    assert ("chain", "chain.csv", int(chain.loc[1, "message_id"])) in found
    assert ("file altered", "chain.csv", None) in found


def test_verify_names_added_and_missing_files(packs, tmp_path):
    pack = _copy(packs["en"], tmp_path)
    (pack / "report.pdf").unlink()
    (pack / "notes.txt").write_text("mine", encoding="utf-8")
    found = {(p.kind, p.where) for p in verify_pack(pack).problems}
    assert found == {("file missing", "report.pdf"), ("file added", "notes.txt")}


def test_verify_store_names_altered_missing_added_and_raw_changes(sample_copy):
    store = sample_copy
    assert verify_store(store).ok
    with duckdb.connect(str(store.path)) as con:
        con.execute("UPDATE messages SET body = body || '.' WHERE id = 5")
        con.execute("UPDATE messages SET raw = raw || ' ' WHERE id = 7")
        con.execute("DELETE FROM messages WHERE id = 9")
        con.execute(
            "INSERT INTO messages SELECT * REPLACE (1000000 AS id, 1 AS message_key)"
            " FROM messages WHERE id = 11"
        )
    found = {(p.kind, p.record) for p in verify_store(store).problems}
    assert found == {("altered", 5), ("altered", 7), ("missing", 9), ("added", 1000000)}


def test_a_tampered_store_gives_no_pack(sample_copy, tmp_path):
    analyse(sample_copy)
    with duckdb.connect(str(sample_copy.path)) as con:
        con.execute("UPDATE messages SET sender = 'someone' WHERE id = 3")
    source = source_reports(sample_copy, evidence=False)[0]["name"]
    with pytest.raises(ReportError, match=r"fails verification.*message 3:"):
        build_pack(sample_copy, source, tmp_path / "pack", "en", pdf=False)


def test_chain_grows_with_each_import_and_older_stores_are_chained_on_upgrade(tmp_path):
    old = Store(tmp_path / "old.duckdb", migrate_to=8)
    with old.connect() as con:  # a message imported by a release before the chain
        con.execute(
            "INSERT INTO messages (message_key, batch_id, channel, recipient, sender,"
            " received_at, body, raw, raw_sha256) VALUES (7, 1, 'sms', '+8613800000000',"
            " '10690000', TIMESTAMPTZ '2026-03-01 10:00:00+08', 'hi', 'raw', sha256('raw'))"
        )
    upgraded = Store(tmp_path / "old.duckdb")
    result = verify_store(upgraded)
    assert result.ok and result.checked == 1 and result.head_id == 1
    import_typed(
        upgraded,
        recipient="+8613800000000",
        sender="10690000",
        body="您有30000元备用金额度，回T退订",
        received_at="2026-03-01T10:00:00+08:00",
    )
    result = verify_store(upgraded)
    assert result.ok and result.checked == 2 and result.head_id == 2


def test_study_export_neutralises_formulas_and_verifies(study, tmp_path):
    store, _ = study
    pack = export_study(store, tmp_path / "export")
    text = (tmp_path / "export/data/messages.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=" not in text and ",=" not in text
    assert "'+4470000000" in text
    assert {p.name for p in pack.files} >= {
        f"{t}.{ext}"
        for t in ("messages", "templates", "campaigns", "verdicts")
        for ext in ("csv", "parquet")
    }
    assert verify_pack(tmp_path / "export").ok
    manifest = json.loads((tmp_path / "export/manifest.json").read_text(encoding="utf-8"))
    assert manifest["chain"]["head_message_id"] == verify_store(store).head_id


@given(st.text())
def test_neutralised_cells_restore_exactly(text):
    cell = neutralise(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(cell) == text


def test_missing_chromium_is_a_clear_error_and_no_pdf_still_packs(study, tmp_path, monkeypatch):
    store, source = study
    monkeypatch.setenv("LEAKTRACE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(ReportError, match="no Chromium found"):
        build_pack(store, source, tmp_path / "pack", "en")
    pack = build_pack(store, source, tmp_path / "pack", "en", pdf=False)
    assert not (pack.folder / "report.pdf").exists() and verify_pack(pack.folder).ok


def test_a_folder_that_is_not_a_pack_is_never_overwritten(study, tmp_path):
    store, source = study
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/thesis.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ReportError, match="not empty"):
        build_pack(store, source, tmp_path / "mine", "en", pdf=False)
    assert (tmp_path / "mine/thesis.txt").read_text(encoding="utf-8") == "keep me"


@pytest.mark.slow
def test_cli_report_verify_and_export(study, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from leaktrace.cli import app

    store, source = study
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    runner = CliRunner()
    done = runner.invoke(app, ["report", source, "--out", str(tmp_path / "p"), "--no-pdf"])
    assert done.exit_code == 0, done.output
    assert "manifest SHA-256" in done.output
    assert runner.invoke(app, ["verify"]).exit_code == 0
    assert runner.invoke(app, ["verify", "--pack", str(tmp_path / "p")]).exit_code == 0
    (tmp_path / "p/verdict.json").write_text("{}", encoding="utf-8")
    done = runner.invoke(app, ["verify", "--pack", str(tmp_path / "p"), "--json"])
    assert done.exit_code == 1
    assert json.loads(done.output)["problems"][0]["where"] == "verdict.json"
    done = runner.invoke(app, ["report", "no such source", "--out", str(tmp_path / "q")])
    assert done.exit_code == 1 and "no source named" in done.output
    assert runner.invoke(app, ["export", str(tmp_path / "e")]).exit_code == 0


def test_the_printed_copy_caps_long_tables_and_says_so(study):
    from leaktrace.evidence.data import gather
    from leaktrace.evidence.html import render_report

    store, source = study
    data = gather(store, source)
    page = lxml.html.fromstring(render_report(data, "en", [], limit=3))
    assert len(page.xpath('//table[@id="evidence-messages"]//tr[@data-message-id]')) == 3
    assert f"shows the first 3 of {len(data.evidence)}" in page.text_content()
    full = lxml.html.fromstring(render_report(data, "en", []))
    assert "shows the first" not in full.text_content()


def test_a_mangled_manifest_or_chain_is_a_clear_error_not_a_traceback(packs, tmp_path):
    from leaktrace.evidence.verify import PackError

    pack = _copy(packs["en"], tmp_path)
    (pack / "chain.csv").write_text("message_id,record_sha256\nnot a number,zz\n", "utf-8")
    found = {(p.kind, p.where) for p in verify_pack(pack).problems}
    assert found == {("file altered", "chain.csv"), ("altered", "chain.csv")}
    (pack / "manifest.json").write_text('{"files": []}', encoding="utf-8")
    with pytest.raises(PackError, match="not a readable evidence-pack manifest"):
        verify_pack(pack)


def test_a_failed_print_leaves_no_half_pack(study, tmp_path, monkeypatch):
    store, source = study
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    broken.chmod(0o755)
    monkeypatch.setenv("LEAKTRACE_CHROMIUM", str(broken))
    with pytest.raises(PdfError, match="did not print"):
        build_pack(store, source, tmp_path / "pack", "en")
    assert not (tmp_path / "pack").exists()
    assert build_pack(store, source, tmp_path / "pack", "en", pdf=False).messages > 0


def test_the_report_says_the_verdict_reason_in_its_language(study):
    from leaktrace.evidence.data import gather
    from leaktrace.evidence.html import render_report
    from leaktrace.i18n import report_reason

    store, source = study
    data = gather(store, source)
    english = data.verdict["reason"]
    zh = lxml.html.fromstring(render_report(data, "zh", [])).text_content()
    assert report_reason("zh", data.verdict) in zh and english not in zh
    assert "在留下信息之后到达了本来源" in zh or "称呼了" in zh
    en = lxml.html.fromstring(render_report(data, "en", [])).text_content()
    assert english in en
    # A verdict stored before reasons had keys is shown in its English words.
    old = {k: v for k, v in data.verdict.items() if not k.startswith("reason_")}
    page = render_report(dataclasses.replace(data, verdict=old), "zh", [])
    assert english in lxml.html.fromstring(page).text_content()
