"""Each import format, from files written in the real format."""

from __future__ import annotations

import hashlib
import json
import mailbox
import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from ios_fixture import add_message, open_sms_db
from leaktrace import roster
from leaktrace.ingest.detect import detect_format
from leaktrace.ingest.formats.ios import apple_time
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.records import IngestError
from leaktrace.model import Field, Source, SourceCategory
from leaktrace.store import Store

WHEN = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)


@pytest.fixture
def study(tmp_path: Path) -> Store:
    """Two canaries: one phone, one e-mail planted with a plus-tag at a shop."""
    store = Store(tmp_path / "s.duckdb", lock_timeout=10)
    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    roster.new_canary(store, email="Ada.Canary@example.org", label="mail-1", locale="en_US", seed=2)
    roster.add_source(
        store,
        Source(
            name="ShopMart",
            category=SourceCategory.ECOMMERCE,
            sender_ids=("shopmart.example",),
            signatures=("[ShopMart]",),
        ),
    )
    roster.plant(store, "mail-1", "ShopMart", WHEN - timedelta(days=30), (Field.NAME, Field.EMAIL))
    return store


def rows(store: Store, sql: str) -> list[tuple]:
    with store.connect() as con:
        return con.execute(sql).fetchall()


# --- iOS sms.db / chat.db -------------------------------------------------------------------


def test_ios_database_with_wal_attributed_body_and_old_dates(study, tmp_path):
    db = tmp_path / "sms.db"
    con = open_sms_db(db)
    add_message(con, "GUID-1", "+8610690001", WHEN, text="【安易花】您有30000元备用金额度，回T退订")
    add_message(con, "GUID-2", "10690002", WHEN, attributed="【金满仓】尊敬的客户 😎 额度已到账")
    add_message(con, "GUID-3", "10690002", WHEN, text="好的", from_me=True)
    add_message(con, "GUID-4", "95588", 700_000_000, text="old iOS stores seconds")
    assert (tmp_path / "sms.db-wal").stat().st_size > 0  # the rows are only in the WAL
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    result = import_file(study, db, ImportOptions(recipient="phone-1"))
    assert (result.format, result.inserted, result.skipped_by_reason) == ("ios", 3, {"sent": 1})
    got = rows(study, "SELECT own_id, sender, body, received_at FROM messages ORDER BY own_id")
    assert [g[:3] for g in got] == [
        ("GUID-1", "10690001", "【安易花】您有30000元备用金额度，回T退订"),
        ("GUID-2", "10690002", "【金满仓】尊敬的客户 😎 额度已到账"),
        ("GUID-4", "95588", "old iOS stores seconds"),
    ]
    assert got[0][3] == WHEN and got[2][3] == apple_time(700_000_000)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # never written to

    again = import_file(study, db, ImportOptions(recipient="phone-1"))
    assert (again.inserted, again.duplicate) == (0, 3)  # guid is the key
    con.close()


def test_ios_database_names_the_receiving_line_when_it_can(study, tmp_path):
    con = open_sms_db(tmp_path / "chat.db")
    add_message(con, "G-1", "10690001", WHEN, text="hi", destination="+8613800138000")
    add_message(con, "G-2", "10690001", WHEN, text="no line recorded")
    result = import_file(study, tmp_path / "chat.db")
    assert result.inserted == 1 and result.rejected == 1
    assert "give --recipient" in result.problems[0]
    con.close()


def test_a_sqlite_file_that_is_not_a_messages_database_is_refused(study, tmp_path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    with pytest.raises(IngestError, match=r"not an iOS sms\.db"):
        import_file(study, tmp_path / "other.db", ImportOptions(recipient="phone-1"))


# --- e-mail -----------------------------------------------------------------------------------


def mail(
    to: str,
    subject: str,
    body: str,
    *,
    html: bool = False,
    charset: str = "utf-8",
    message_id: str | None = None,
    delivered_to: str | None = None,
) -> EmailMessage:
    """An e-mail as a mail server delivers it."""
    msg = EmailMessage()
    msg["Return-Path"] = "<bounce@mailer.shopmart.example>"
    if delivered_to:
        msg["Delivered-To"] = delivered_to
    msg["Received"] = f"from mx.shopmart.example by mx.example.org; {format_datetime(WHEN)}"
    msg["Authentication-Results"] = "mx.example.org; spf=pass; dkim=pass; dmarc=pass"
    msg["From"] = "ShopMart 商城 <news@mailer.shopmart.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(WHEN - timedelta(minutes=5))
    msg["Message-ID"] = message_id or f"<{abs(hash((to, subject)))}@shopmart.example>"
    if html:
        msg.set_content(body, subtype="html", charset=charset)
    else:
        msg.set_content(body, charset=charset)
    return msg


def test_mbox_matches_plus_tags_keeps_origin_headers_and_converts_html(study, tmp_path):
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    box.add(
        mail(
            "Ada <ada.canary+shopmart@example.org>",
            "[ShopMart] 会员专享",
            "<html><body><p>尊敬的会员</p><p>点击 <a href='https://x.test'>这里</a></p></body></html>",
            html=True,
            delivered_to="ada.canary+shopmart@example.org",
        )
    )
    box.add(mail("ada.canary@example.org", "贷款额度", "您有30000元备用金额度", charset="gbk"))
    box.add(mail("someone.else@example.org", "Hi", "unknown recipient"))
    box.flush()
    box.close()

    result = import_file(study, tmp_path / "inbox.mbox")
    assert (result.format, result.inserted, result.quarantined) == ("mbox", 3, 1)
    got = rows(
        study,
        "SELECT recipient, canary_id IS NOT NULL, sender, subject, body, first_party, headers"
        " FROM messages ORDER BY id",
    )
    tagged, gbk, unknown = got
    assert tagged[:4] == (
        "ada.canary+shopmart@example.org",
        True,
        "news@mailer.shopmart.example",
        "[ShopMart] 会员专享",
    )
    assert "尊敬的会员" in tagged[4] and "<p>" not in tagged[4]
    assert tagged[5] is True  # the shop's own domain, and the canary was planted there
    headers = json.loads(tagged[6])
    assert headers["authentication_results"] == ["mx.example.org; spf=pass; dkim=pass; dmarc=pass"]
    assert headers["return_path"] == "<bounce@mailer.shopmart.example>"
    assert gbk[4] == "您有30000元备用金额度" and gbk[1] is True
    assert unknown[:2] == ("someone.else@example.org", False)
    assert rows(study, "SELECT count(*) FROM quarantine") == [(1,)]
    again = import_file(study, tmp_path / "inbox.mbox")
    assert (again.inserted, again.duplicate) == (0, 3)  # Message-ID is the key


def test_a_single_eml_file_imports_and_one_without_recipient_is_refused(study, tmp_path):
    path = tmp_path / "offer.eml"
    path.write_bytes(mail("ada.canary@example.org", "Offer", "Loan approved").as_bytes())
    assert detect_format(path) == "eml"
    assert import_file(study, path).inserted == 1
    bare = EmailMessage()
    bare["Message-ID"] = "<x@y>"
    bare["Received"] = f"from a by b; {format_datetime(WHEN)}"
    bare.set_content("no recipient anywhere")
    (tmp_path / "bare.eml").write_bytes(bare.as_bytes())
    with pytest.raises(IngestError, match="no Delivered-To"):
        import_file(study, tmp_path / "bare.eml")


# --- CSV and JSON lines ---------------------------------------------------------------------


def test_csv_respects_offsets_applies_the_zone_to_naive_times_and_says_so(
    study, tmp_path, cli, monkeypatch
):
    path = tmp_path / "log.csv"
    path.write_text(
        "received_at,recipient,sender,body\n"
        "2026-03-01T10:30:00+08:00,+86 138 0013 8000,10690001,【安易花】有offset\n"
        "2026-03-01 10:30:00,phone-1,10690001,【安易花】无offset\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    code, out = cli("ingest", "--tz", "Asia/Shanghai", str(path))
    assert code == 0 and "2 inserted" in out
    assert "read in Asia/Shanghai" in " ".join(out.split())
    times = rows(study, "SELECT received_at FROM messages ORDER BY id")
    assert times == [(WHEN,), (WHEN,)]  # 10:30 in Shanghai is 02:30 UTC


def test_csv_columns_can_be_mapped_and_bad_rows_are_reported_by_line(study, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "时间,号码,内容\n"
        "2026-03-01T02:30:00Z,10690001,【安易花】第一条\n"
        "not a time,10690001,【安易花】第二条\n"
        "2026-03-01T02:31:00Z,10690001,【安易花】第三条\n",
        encoding="utf-8",
    )
    options = ImportOptions(
        recipient="phone-1", columns={"received_at": "时间", "sender": "号码", "body": "内容"}
    )
    result = import_file(study, path, options)
    assert (result.inserted, result.rejected) == (2, 1)
    assert result.problems == ["export.csv:3: 'not a time' is not a time leaktrace can read"]


def test_csv_missing_a_column_gets_one_clear_error(study, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("when,who,text\n1,2,3\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"no column received_at, recipient, sender, body"):
        import_file(study, path)


@pytest.mark.parametrize(("encoding", "note"), [("gbk", "GB18030"), ("utf-16", "UTF-16")])
def test_csv_in_gbk_or_utf16_is_detected(study, tmp_path, encoding, note):
    path = tmp_path / "gbk.csv"
    text = (
        "received_at,recipient,sender,body\n2026-03-01T02:30:00Z,phone-1,10690001,【安易花】借款\n"
    )
    path.write_bytes(text.encode(encoding))
    result = import_file(study, path)
    assert result.inserted == 1 and any(note in n for n in result.notes)
    assert rows(study, "SELECT body FROM messages") == [("【安易花】借款",)]


def test_jsonl_uses_the_id_field_as_key_and_reports_broken_lines(study, tmp_path):
    path = tmp_path / "gateway.jsonl"
    lines = [
        {
            "received_at": 1772332200000,
            "recipient": "phone-1",
            "sender": "106900",
            "body": "a",
            "id": "SM1",
        },
        "{not json",
        {
            "received_at": 1772332200000,
            "recipient": "phone-1",
            "sender": "106900",
            "body": "b",
            "id": "SM1",
        },
    ]
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    result = import_file(study, path)
    assert (result.inserted, result.duplicate, result.rejected) == (1, 1, 1)
    assert result.problems[0].startswith("gateway.jsonl:2: not JSON")


# --- detection --------------------------------------------------------------------------------


def test_formats_are_detected_from_their_first_bytes(tmp_path):
    cases = {
        "a.xml": b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count='0'>",
        "b.mbox": b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\nFrom: a@b\n\nx\n",
        "c.eml": b"Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\nFrom: a@b\n\nx\n",
        "d.csv": b"received_at,recipient,sender,body\n",
        "e.jsonl": b'{"body": "x"}\n',
        "f.db": b"SQLite format 3\x00" + b"\x00" * 100,
    }
    expected = {
        "a.xml": "smsbackup",
        "b.mbox": "mbox",
        "c.eml": "eml",
        "d.csv": "csv",
        "e.jsonl": "jsonl",
        "f.db": "ios",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert detect_format(tmp_path / name) == expected[name], name
    shutil.rmtree(tmp_path)


def test_tab_separated_exports_read_like_csv(study, tmp_path):
    path = tmp_path / "export.tsv"
    path.write_text(
        "received_at\trecipient\tsender\tbody\n"
        "2026-03-01T02:30:00Z\tphone-1\t10690001\t【安易花】额度3万, 回T退订\n",
        encoding="utf-8",
    )
    assert import_file(study, path).inserted == 1
    assert rows(study, "SELECT body FROM messages") == [("【安易花】额度3万, 回T退订",)]
