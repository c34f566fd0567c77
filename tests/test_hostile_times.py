"""Class: a time no message can have never reaches the store, and a store that holds one
from before this check keeps working (issue: hostile input)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ios_fixture import add_message, open_sms_db
from leaktrace import roster, views
from leaktrace.attribution.verdicts import source_reports
from leaktrace.campaigns.link import list_campaigns
from leaktrace.cli import app
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.quarantine import list_quarantine
from leaktrace.ingest.timestamps import parse_time
from leaktrace.model import Source, SourceCategory
from leaktrace.pipeline import analyse
from leaktrace.store import Store
from leaktrace.templates.cluster import list_templates

GOOD = "2026-01-05T10:00:00+08:00"
PHONE = "+8613800138000"


@pytest.fixture
def study(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s.duckdb", lock_timeout=10)
    roster.new_canary(store, phone=PHONE, label="canary-001", seed=1)
    roster.add_source(store, Source(name="易信贷", category=SourceCategory.LOAN_PLATFORM))
    roster.plant(store, "canary-001", "易信贷", datetime(2026, 1, 1, tzinfo=UTC))
    return store


def count(store: Store, sql: str = "SELECT count(*) FROM messages") -> int:
    with store.connect() as con:
        return con.execute(sql).fetchone()[0]


BAD_ISO = {
    "year 10000 in UTC": "9999-12-31T23:59:59-05:00",
    "year 1": "0001-01-01T00:00:00+05:00",
    "before any SMS": "1985-06-01T00:00:00Z",
    "far future": "2150-01-01T00:00:00+08:00",
    "epoch ms of 20 digits": "99999999999999999999",
    "epoch of 26 digits": "12345678901234567890123456",
    "negative epoch": "-99999999999999",
}


@pytest.mark.parametrize("bad", BAD_ISO.values(), ids=BAD_ISO.keys())
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_tabular_row_with_an_impossible_time_is_rejected_and_the_rest_lands(
    study, tmp_path, bad, fmt
):
    rows = [(GOOD, "您有30000元备用金额度"), (bad, "坏时间"), (GOOD, "您有50000元备用金额度")]
    if fmt == "csv":
        path = tmp_path / "m.csv"
        lines = ["recipient,sender,received_at,body"]
        lines += [f"{PHONE},10690001,{when},{body}" for when, body in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path = tmp_path / "m.jsonl"
        path.write_text(
            "".join(
                json.dumps({"recipient": PHONE, "sender": "10690001", "received_at": w, "body": b})
                + "\n"
                for w, b in rows
            )
        )
    result = import_file(study, path, ImportOptions())
    assert result.inserted == 2 and result.rejected == 1
    assert "time" in result.problems[0] or "no time" in result.problems[0]
    assert result.problems[0].startswith(path.name)
    analyse(study)  # and analysis runs on what landed


def test_a_naive_time_made_impossible_by_the_zone_is_rejected(study, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "recipient,sender,received_at,body\n"
        f"{PHONE},10690001,9999-12-31 23:59:59,x\n{PHONE},10690001,2026-01-05 10:00:00,y\n"
    )
    result = import_file(
        study, path, ImportOptions(tz=__import__("zoneinfo").ZoneInfo("America/New_York"))
    )
    assert result.inserted == 1 and result.rejected == 1


@pytest.mark.parametrize(
    "date", ["9999999999999999999999999", "99999999999999999999", "1", "-5", "99999999999999"]
)
def test_an_sms_backup_record_with_an_impossible_date_is_rejected_alone(study, tmp_path, date):
    path = tmp_path / "b.xml"
    records = [("1767576142490", "ok 1"), (date, "bad"), ("1767576142491", "ok 2")]
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"3\">\n"
        + "".join(
            f'  <sms address="10690001" date="{d}" type="1" body="{b}" />\n' for d, b in records
        )
        + "</smses>\n"
    )
    result = import_file(study, path, ImportOptions(recipient="canary-001"))
    assert result.inserted == 2 and result.rejected == 1
    assert result.problems[0].startswith("b.xml:4:")


@pytest.mark.parametrize("date", [9 * 10**18, -9 * 10**18, 1e300, "2026-01-01", 10**13])
def test_an_ios_message_with_an_impossible_date_is_rejected_alone(study, tmp_path, date):
    db = tmp_path / "sms.db"
    con = open_sms_db(db)
    when = datetime(2026, 3, 1, tzinfo=UTC)
    add_message(con, "G-1", "10690001", when, text="ok 1")
    add_message(con, "G-2", "10690001", when, text="bad")
    add_message(con, "G-3", "10690001", when + timedelta(seconds=1), text="ok 2")
    con.execute("UPDATE message SET date = ? WHERE guid = 'G-2'", [date])
    con.commit()
    con.close()
    result = import_file(study, db, ImportOptions(recipient="canary-001"))
    assert result.inserted == 2 and result.rejected == 1


@pytest.mark.parametrize(
    "header",
    [
        "Date: Fri, 31 Dec 9999 23:59:59 -0500",
        "Date: Sat, 01 Jan 1983 00:00:00 +0500",
        "Received: from x by mx; Fri, 31 Dec 9999 23:59:59 -0500",
    ],
)
def test_a_mail_with_an_impossible_date_is_rejected_alone(study, tmp_path, header):
    roster.new_canary(study, email="ada@example.org", label="mail-1", seed=2)

    def mail(n: int, head: str) -> str:
        return (
            f"From spam@x.example Mon Jan  5 10:00:0{n} 2026\n{head}\n"
            f"From: spam@x.example\nTo: ada@example.org\nSubject: s{n}\n\nbody {n}\n\n"
        )

    path = tmp_path / "m.mbox"
    ok = "Date: Mon, 05 Jan 2026 10:00:00 +0800"
    path.write_text(mail(1, ok) + mail(2, header) + mail(3, ok))
    result = import_file(study, path, ImportOptions())
    assert result.inserted == 2 and result.rejected == 1


def test_a_store_holding_impossible_times_from_before_keeps_working(
    study, tmp_path, cli, monkeypatch
):
    path = tmp_path / "m.csv"
    path.write_text(
        "recipient,sender,received_at,body\n"
        + "".join(
            f"{PHONE},1069000{i},2026-01-0{i + 2}T10:00:00+08:00,您有{i}0000元备用金额度回T退订\n"
            for i in range(4)
        )
        + "+8613900139000,10690009,2026-01-05T10:00:00+08:00,quarantined\n"
    )
    import_file(study, path, ImportOptions())
    # What an older version let in: year 10000 in UTC and year 1.
    with study.connect() as con:
        con.execute(
            "UPDATE messages SET received_at = CASE WHEN id % 2 = 0"
            " THEN TIMESTAMPTZ '9999-12-31 23:59:59+00'"
            " ELSE TIMESTAMPTZ '0001-01-01 00:00:00+05' END"
            " WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT 2)"
            " OR canary_id IS NULL"
        )
    result = analyse(study)
    assert result.clustering.messages == 2  # the two possible ones
    assert all(isinstance(t.first_seen, datetime) for t in list_templates(study, 10))
    assert all(isinstance(c.first_seen, datetime) for c in list_campaigns(study, 10))
    assert [r["name"] for r in source_reports(study)] == ["易信贷"]
    assert list_quarantine(study)[0].first_seen is None
    table = views.messages(study, views.MessageFilter())
    assert len(table) == 5 and table["received_at"].isna().sum() == 3
    views.overview(study)
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    for args in (["templates"], ["campaigns"], ["attribute"], ["quarantine", "list"]):
        code, out = cli(*args)
        assert code == 0, (args, out)
    assert app  # the CLI module is the one the fixture runs


def test_parse_time_names_the_value_it_cannot_read():
    with pytest.raises(ValueError, match="no time"):
        parse_time("9" * 30, UTC)
