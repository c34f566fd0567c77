from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leaktrace.roster.actions import list_canaries, list_plants, list_sources
from leaktrace.roster.csvfiles import export_roster, import_roster
from leaktrace.store import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")

SOURCES = """name,category,url,sender_ids,signatures
企查查,credit_inquiry,https://www.qcc.com,1069012345,【企查查】
Lendly,loan_platform,https://lendly.example,,【Lendly】;【蓝德】
ShopA,ecommerce,,,
"""
CANARIES = """label,name,phone,email,id_number,company,is_control
c1,张伟,13800138000,,11010519491231002X,某某科技有限公司,
c2,Alice Moon,,alice@example.org,,,
ctl,李娜,13900139000,,,,true
"""
PLANTS = """canary,source,planted_at,name_used,fields,notes
c1,企查查,2026-03-01 10:00,,name;phone;id_number,first
+8613800138000,Lendly,2026-03-02T10:00+08:00,张玮,"name,phone",
c2,ShopA,2026-03-03T09:00Z,,name;email,
"""


def _write(directory: Path, sources=SOURCES, canaries=CANARIES, plants=PLANTS, encoding="utf-8"):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.csv").write_text(sources, encoding=encoding)
    (directory / "canaries.csv").write_text(canaries, encoding=encoding)
    (directory / "plants.csv").write_text(plants, encoding=encoding)
    return directory


def test_roster_imports_with_markers_and_zone(store, tmp_path):
    report = import_roster(store, _write(tmp_path / "in"), SHANGHAI)
    assert report.errors == []
    assert report.added == {"sources.csv": 3, "canaries.csv": 3, "plants.csv": 3}
    assert report.timezone == "Asia/Shanghai"
    plants = {p.source: p for p in list_plants(store)}
    assert plants["企查查"].planted_at.astimezone(UTC).hour == 2
    assert plants["Lendly"].name_used == "张玮"
    assert plants["ShopA"].email_used == "alice+shopa@example.org"
    assert next(s for s in list_sources(store) if s.name == "Lendly").signatures == (
        "【Lendly】",
        "【蓝德】",
    )


def test_reimport_adds_nothing(store, tmp_path):
    directory = _write(tmp_path / "in")
    import_roster(store, directory, SHANGHAI)
    again = import_roster(store, directory, SHANGHAI)
    assert again.added == {}
    assert again.unchanged == {"sources.csv": 3, "canaries.csv": 3, "plants.csv": 3}
    assert again.errors == []
    assert len(list_plants(store)) == 3


def test_export_then_import_into_a_new_store_round_trips(store, tmp_path):
    import_roster(store, _write(tmp_path / "in"), SHANGHAI)
    export_roster(store, tmp_path / "out")
    other = Store(tmp_path / "other.duckdb")
    report = import_roster(other, tmp_path / "out", SHANGHAI)
    assert report.errors == []
    assert list_sources(other) == [
        s.__class__(**{**s.__dict__, "id": o.id})
        for s, o in zip(list_sources(store), list_sources(other), strict=True)
    ]
    assert [c.persona for c in list_canaries(other)] == [c.persona for c in list_canaries(store)]
    assert [
        (p.canary, p.source, p.planted_at, p.name_used, p.email_used, p.fields, p.marker)
        for p in list_plants(other)
    ] == [
        (p.canary, p.source, p.planted_at, p.name_used, p.email_used, p.fields, p.marker)
        for p in list_plants(store)
    ]
    # and exporting the copy gives byte-identical files
    export_roster(other, tmp_path / "out2")
    for name in ("sources.csv", "canaries.csv", "plants.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()


def test_bad_rows_are_reported_with_file_and_line_and_good_rows_land(store, tmp_path):
    sources = SOURCES + "Broken,not_a_category,,,\n"
    canaries = CANARIES + "c9,王五,12345,,,,\nc10,赵六,,,,,\n"
    plants = PLANTS + "ctl,Lendly,2026-03-01,,,\nc1,Nowhere,2026-03-01,,,\nc2,ShopA,yesterday,,,\n"
    report = import_roster(store, _write(tmp_path / "in", sources, canaries, plants), SHANGHAI)
    where = [(e.file, e.line) for e in report.errors]
    assert where == [
        ("sources.csv", 5),
        ("canaries.csv", 5),
        ("canaries.csv", 6),
        ("plants.csv", 5),
        ("plants.csv", 6),
        ("plants.csv", 7),
    ]
    reasons = " | ".join(str(e) for e in report.errors)
    for expected in ["unknown category", "not a valid phone", "needs a phone or an e-mail"]:
        assert expected in reasons
    for expected in ["control", "unknown source", "not an ISO 8601 time"]:
        assert expected in reasons
    assert str(report.errors[0]).startswith("sources.csv:5: ")
    assert report.added == {"sources.csv": 3, "canaries.csv": 3, "plants.csv": 3}


def test_gb18030_csv_from_excel_imports(store, tmp_path):
    report = import_roster(store, _write(tmp_path / "in", encoding="gb18030"), SHANGHAI)
    assert report.errors == []
    assert {s.name for s in list_sources(store)} >= {"企查查"}


def test_changed_row_is_reported_not_overwritten(store, tmp_path):
    import_roster(store, _write(tmp_path / "in"), SHANGHAI)
    changed = CANARIES.replace("13900139000", "13700137000")
    report = import_roster(store, _write(tmp_path / "in2", canaries=changed), SHANGHAI)
    assert [str(e) for e in report.errors] == [
        "canaries.csv:4: canary 'ctl' is stored with other values"
    ]
    assert {c.phone for c in list_canaries(store)} >= {"+8613900139000"}


def test_missing_column_is_a_file_error(store, tmp_path):
    directory = _write(tmp_path / "in", sources="title,kind\nx,y\n")
    with pytest.raises(ValueError, match=r"sources.csv:1: missing column\(s\) name, category"):
        import_roster(store, directory, SHANGHAI)
