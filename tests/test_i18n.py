"""Chinese and English: one string table, every page in both, reasons keyed, the default order."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from leaktrace import i18n
from leaktrace.attribution.verdicts import source_reports
from leaktrace.store import Store

APP = Path(__file__).resolve().parent.parent / "app"
PAGES = [None, "sources", "messages", "templates", "leaks", "evidence", "alerts"]
CJK = re.compile(r"[\u4e00-\u9fff]")
# Keys that could be shown raw: the table's top-level names (words joined by "_").
KEY = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# Words that read the same in Chinese: names, formats, programs.
SAME_IN_BOTH = {"语言 · Language", "English", "中文", "STARTTLS", "SSL", "SMTP", "ntfy"}


@pytest.fixture
def demo(tmp_path: Path, analysed_store_file: Path) -> Path:
    shutil.copyfile(analysed_store_file, tmp_path / "demo.duckdb")
    return tmp_path / "demo.duckdb"


def run_page(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    page: str | None,
    lang: str | None = None,
    locale: str | None = None,
) -> AppTest:
    monkeypatch.setenv("LEAKTRACE_DB", str(db))
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    if locale:
        at.context["locale"] = locale
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_words(at: AppTest) -> dict[str, list[str]]:
    """Every word a page shows that comes from the string table, by kind of element."""
    out: dict[str, list[str]] = {"heading": [], "label": [], "column": [], "prose": []}
    out["heading"] += [e.value for e in (*at.title, *at.subheader, *at.header)]
    out["heading"] += [e.label for e in (*at.tabs, *at.expander, *at.metric)]
    widgets = [
        *at.button,
        *at.selectbox,
        *at.text_input,
        *at.number_input,
        *at.checkbox,
        *at.radio,
        *at.multiselect,
        *at.date_input,
        *at.time_input,
        *at.text_area,
        *at.get("download_button"),
        *at.get("file_uploader"),
    ]
    out["label"] += [w.label for w in widgets if getattr(w, "label", None)]
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        out["column"] += [
            c["label"] for name, c in config.items() if not name.startswith("_") and "label" in c
        ]
    out["prose"] += [e.value for e in (*at.caption, *at.info, *at.success, *at.warning, *at.error)]
    out["prose"] += [e.value for e in at.markdown]  # the spam-rate sentence, chart headings
    out["chart"] = [title for c in at.get("vega_lite_chart") for title in chart_titles(c)]
    return out


# Channels whose field a chart names on an axis, a legend, a header or a tooltip.
NAMED = ("x", "y", "color", "facet", "tooltip")


def chart_titles(chart) -> list[str]:
    """Every title a chart shows for a field: a field left untitled shows its stored name."""
    titles: list[str] = []

    def title(enc: dict):
        for guide in ("axis", "legend", "header"):
            if isinstance(enc.get(guide), dict) and "title" in enc[guide]:
                return enc[guide]["title"]
        return enc.get("title", enc["field"])

    def walk(node) -> None:
        if isinstance(node, dict):
            for channel, value in (node.get("encoding") or {}).items():
                for enc in value if isinstance(value, list) else [value]:
                    if channel in NAMED and isinstance(enc, dict) and "field" in enc:
                        titles.append(title(enc))
            if isinstance(node.get("facet"), dict) and "field" in node["facet"]:
                titles.append(title(node["facet"]))
            for key, value in node.items():
                if key not in ("encoding", "datasets", "data"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(chart.proto.spec))
    return [t for t in titles if t is not None]


def test_every_key_is_in_both_languages_with_the_same_placeholders():
    en, zh = i18n.strings("en"), i18n.strings("zh")
    assert en.keys() == zh.keys()
    for key, value in en.items():
        assert type(value) is type(zh[key]), key
        if isinstance(value, dict):
            assert value.keys() == zh[key].keys(), key
        if isinstance(value, list):
            assert len(value) == len(zh[key]), key
        assert i18n.placeholders(value) == i18n.placeholders(zh[key]), key


def test_chinese_strings_are_chinese():
    en, zh = i18n.strings("en"), i18n.strings("zh")
    same = [
        key
        for key, value in zh.items()
        if isinstance(value, str) and value == en[key] and re.search(r"[A-Za-z]{4}", value)
    ]
    assert same == [], "untranslated"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_both_languages_without_a_raw_key(demo, monkeypatch, page, lang):
    at = run_page(demo, monkeypatch, page, lang)
    words = shown_words(at)
    keys = {k for k in i18n.strings("en") if "_" in k}
    everything = [w for ws in words.values() for w in ws]
    raw = [w for w in everything if keys & set(KEY.findall(w))]
    assert raw == []
    assert words["heading"] and words["label"]
    if lang == "zh":
        untranslated = [
            w
            for kind in ("heading", "label", "column", "chart")
            for w in words[kind]
            if w not in SAME_IN_BOTH and not CJK.search(w) and not w.isdigit()
        ]
        assert untranslated == []
        assert all(CJK.search(w) for w in words["prose"] if re.search(r"[a-z]{3} [a-z]{3}", w))
    else:
        chinese = [
            w
            for w in words["heading"] + words["label"]
            if CJK.search(w) and not re.search("[A-Za-z]{3}", w)  # data may be Chinese
        ]
        assert chinese == []


def test_the_overview_answers_the_question_in_chinese(demo, monkeypatch):
    at = run_page(demo, monkeypatch, None, "zh")
    assert [t.value for t in at.title] == ["总览"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["来源"] == "30" and metrics["已投放的金丝雀身份"] == "130"
    watched = at.dataframe[0].value
    reports = {r["name"]: r for r in source_reports(Store(demo), evidence=False)}
    assert set(watched["verdict"]) <= {"已泄露", "疑似泄露"} and len(watched) == 12
    for name, reason in zip(watched["source"], watched["reason"], strict=True):
        assert reason == i18n.report_reason("zh", reports[name]) and CJK.search(reason)
        assert reason != reports[name]["reason"]
    assert any(c.value.startswith("最近一次导入：canaries.mbox") for c in at.caption)
    assert any("Asia/Shanghai" in c.value for c in at.sidebar.caption)


def test_the_overview_states_the_spam_picture_in_chinese(demo, monkeypatch):
    from leaktrace import views

    at = run_page(demo, monkeypatch, None, "zh")
    picture = views.spam_picture(Store(demo))
    assert at.subheader[0].value == "每个金丝雀身份每周收到的骚扰消息：投放前、投放后与对照身份"
    sentence = at.markdown[0].value.replace("\\", "")
    assert sentence == f"**{i18n.reason('zh', picture.headline_key, picture.headline_args)}**"
    assert "投放后，收到的贷款类消息是对照身份的" in sentence and "倍" in sentence
    # The demo's surest group: canaries given to insurers; stored English, said in Chinese.
    assert picture.headline_args["canaries_of"] == "insurance"
    assert picture.headline.startswith("insurance canaries received ")  # the English kept
    assert sentence.startswith("**保险来源的金丝雀身份投放后")
    # The boxes hold stored groups and categories and show them in Chinese.
    group = at.selectbox(key="overview-rates-group")
    assert "after planting at credit_inquiry" in group.options or (
        "投放到征信 / 企业信息查询来源后" in group.options
    )
    group.set_value("after planting at credit_inquiry")
    at.selectbox(key="overview-rates-category").set_value("loan").run()
    assert any(
        c.value.startswith("投放到征信 / 企业信息查询来源后 · 贷款 / 信贷：") for c in at.caption
    )
    rates = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    header = rates["facet"]["header"]["labelExpr"]
    assert rates["facet"]["field"] == "category" and "贷款 / 信贷" in header


def test_a_sources_picture_names_its_groups_and_delays_in_chinese(demo, monkeypatch):
    at = run_page(demo, monkeypatch, "leaks", "zh")
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    rates, weekly, first = specs[1], specs[2], specs[3]
    axis = rates["spec"]["layer"][0]["encoding"]["y"]["axis"]["labelExpr"]
    assert "投放到本来源前" in axis and "投放到本来源后" in axis and "对照身份" in axis
    legend = weekly["layer"][0]["encoding"]["color"]["legend"]["labelExpr"]
    assert "贷款 / 信贷" in legend
    assert first["layer"][3]["encoding"]["text"]["field"] == "said"  # not the English label
    [data] = at.get("vega_lite_chart")[3].proto.datasets
    said = set(pa.ipc.open_stream(data.data.data).read_pandas()["said"])
    assert said and all(s.endswith(" 天") or s.endswith(" 天内没有") for s in said)
    bold = [m.value for m in at.markdown]
    assert any("的金丝雀身份每周收到的骚扰消息" in m for m in bold)
    assert "**每个金丝雀身份从投放到第一条骚扰消息；对照身份作为比较**" in bold


def test_the_switch_changes_the_language_and_keeps_it_in_the_url(demo, monkeypatch):
    at = run_page(demo, monkeypatch, None, "en")
    assert [t.value for t in at.title] == ["Overview"]
    at.sidebar.radio(key="lang-switch").set_value("zh").run()
    assert [t.value for t in at.title] == ["总览"]
    # AppTest runs a switched-to page alone; the session keeps the choice.
    at.switch_page("pages/evidence.py").run()
    assert [t.value for t in at.title] == ["证据"]  # remembered across pages
    assert at.subheader[0].value.startswith("已泄露（分值")


def test_the_default_language_is_the_flag_then_the_browser_then_the_personas(demo, monkeypatch):
    # The sample's personas are mostly Chinese.
    assert [t.value for t in run_page(demo, monkeypatch, None).title] == ["总览"]
    at = run_page(demo, monkeypatch, None, locale="en-US")
    assert [t.value for t in at.title] == ["Overview"]
    assert at.query_params["lang"] == "en"  # kept in the URL: a new tab opens in it
    monkeypatch.setattr(sys, "argv", ["streamlit", "--lang", "zh"])
    at = run_page(demo, monkeypatch, None, locale="en-US")
    assert [t.value for t in at.title] == ["总览"]
    at = run_page(demo, monkeypatch, None, lang="en", locale="zh-CN")  # the remembered choice
    assert [t.value for t in at.title] == ["Overview"]


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("zh", "en-US", "en"), "zh"),
        ((None, "zh-CN", "en"), "zh"),
        ((None, "en_GB", "zh"), "en"),
        ((None, None, "zh"), "zh"),
        (("fr", "de-DE", None), "en"),
        ((None, "zh-Hant-TW", None), "zh"),
    ],
)
def test_choose_language_takes_the_first_known_one(candidates, expected):
    assert i18n.choose_language(*candidates) == expected


def test_reasons_are_stored_with_a_key_and_said_in_either_language(analysed_store_file):
    reports = source_reports(Store(analysed_store_file), evidence=False)
    for report in reports:
        assert report["reason_key"].startswith("reason_")
        assert i18n.report_reason("en", report) == report["reason"]
        zh = i18n.report_reason("zh", report)
        assert CJK.search(zh) and zh != report["reason"]
    leaked = next(r for r in reports if r["verdict"] == "leaked")
    args = leaked["reason_args"]
    if "unit_id" in args:
        assert f"营销活动 {args['unit_id']}" in i18n.report_reason("zh", leaked) or (
            f"模板 {args['unit_id']}" in i18n.report_reason("zh", leaked)
        )


def test_a_report_stored_before_reasons_had_keys_shows_its_english_reason():
    old = {"verdict": "clean", "reason": "No campaign reached its 4 canaries."}
    assert i18n.report_reason("zh", old) == old["reason"]
    broken = {**old, "reason_key": "reason_clean", "reason_args": {"planted": 4}}
    assert i18n.report_reason("zh", broken) == old["reason"]  # an argument missing
    unknown = {**old, "reason_key": "reason_from_the_future", "reason_args": {}}
    assert i18n.report_reason("zh", unknown) == old["reason"]


def test_display_labels_keep_stored_values_english():
    assert i18n.label("zh", "verdict", "insufficient data") == "数据不足"
    assert i18n.label("zh", "verdict", "clean") == "未发现泄露"
    assert i18n.label("zh", "source_category", "credit_inquiry") == "征信 / 企业信息查询"
    assert i18n.label("zh", "category", "loan") == "贷款 / 信贷"
    assert i18n.label("en", "verdict", "leaked") == "leaked"
    assert i18n.label("zh", "category", "a user's own") == "a user's own"


def test_dashboard_lang_reaches_the_app_and_only_zh_or_en_is_taken(tmp_path):
    from typer.testing import CliRunner

    from leaktrace.cli import app
    from leaktrace.cli.dashboard import streamlit_command

    db = tmp_path / "s.duckdb"
    command = streamlit_command(db, 8501, "127.0.0.1", "zh")
    assert command[command.index("--") :] == ["--", "--db", str(db), "--lang", "zh"]
    assert "--lang" not in streamlit_command(db, 8501, "127.0.0.1")
    done = CliRunner().invoke(app, ["--db", str(db), "dashboard", "--lang", "fr"])
    assert done.exit_code == 2


def test_the_messages_page_says_what_an_import_did_in_chinese(demo, monkeypatch):
    from leaktrace.sim.demo import find_sample_data

    at = run_page(demo, monkeypatch, "messages", "zh")
    backup = sorted((find_sample_data() / "sms").glob("*.xml"))[0]
    at.file_uploader(key="exports").set_value((backup.name, backup.read_bytes(), "text/xml")).run()
    at.text_input(key="upload-recipient").set_value(backup.stem).run()
    at.button[0].click().run()
    assert not at.exception
    assert any("新增 0 条" in s.value for s in at.success), [s.value for s in at.success]
    assert any(i.value.startswith("分析完成：") and "已泄露 12 个" in i.value for i in at.info)


def keyed_raises() -> list[tuple[str, str, set[str], bool]]:
    """(where, key, keyword names, takes **values) of every error raised with a key in src."""
    import ast

    found = []
    for path in sorted((Path(i18n.__file__).parent).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            words = {k.arg: k.value for k in node.keywords}
            key = words.get("key")
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                spread = any(k.arg is None for k in node.keywords)
                names = {name for name in words if name not in (None, "key")}
                found.append((f"{path.name}:{node.lineno}", key.value, names, spread))
    return found


def test_every_error_raised_with_a_key_has_its_words_in_both_languages():
    # A key missing from the table, or a value its sentence needs and the raise does not
    # give, would turn a clear error into a crash at the moment it is raised.
    raises = keyed_raises()
    errors = {k for k in i18n.strings("en") if k.startswith("err_")}
    assert {key for _, key, _, _ in raises} <= errors or not raises, "keys missing"
    for where, key, names, spread in raises:
        assert key.startswith("err_"), where
        for lang in i18n.LANGUAGES:
            wanted = i18n.placeholders(i18n.strings(lang)[key])
            assert wanted <= names or spread, (where, lang, key, wanted - names)
            assert names <= wanted or spread, (where, lang, key, names - wanted)


def test_an_error_with_a_key_says_itself_in_chinese_and_prints_its_english():
    from leaktrace.errors import LeaktraceError

    key = next(k for k in i18n.strings("en") if k.startswith("err_"))
    values = {name: "x" for name in i18n.placeholders(i18n.strings("en")[key])}
    error = LeaktraceError(key=key, **values)
    assert str(error) == i18n.text("en", key, **values)
    assert error.said("zh") == i18n.text("zh", key, **values) != str(error)
    assert CJK.search(error.said("zh"))
    plain = LeaktraceError("only English")
    assert plain.said("zh") == "only English" and plain.key is None


@pytest.mark.parametrize(
    ("lang", "expected"), [("zh", "模板不能并入它自己"), ("en", "cannot be merged into itself")]
)
def test_an_error_on_a_page_is_in_the_readers_language(demo, monkeypatch, lang, expected):
    monkeypatch.setenv("LEAKTRACE_DB", str(demo))
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/templates.py").run()
    at.number_input(key="merge-from").set_value(2)
    at.number_input(key="merge-into").set_value(2)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [expected in e.value for e in at.error] == [True]


def test_a_roster_row_refused_says_why_in_the_readers_language(tmp_path):
    from datetime import UTC

    from leaktrace.roster.csvfiles import import_roster_files, roster_files
    from leaktrace.sim.demo import find_sample_data

    store = Store(tmp_path / "s.duckdb")
    sample = find_sample_data()
    import_roster_files(store, roster_files([sample / "sources.csv"]), UTC)
    changed = tmp_path / "sources.csv"
    lines = (sample / "sources.csv").read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1].split(",")
    first[header.split(",").index("url")] = "https://elsewhere.example"
    changed.write_text("\n".join([header, ",".join(first)]) + "\n", encoding="utf-8")
    (error,) = import_roster_files(store, roster_files([changed]), UTC).errors
    assert error.said("en") == str(error)
    assert CJK.search(error.said("zh").split(": ", 1)[1])
