import json
from pathlib import Path

import pytest

from leaktrace.ingest.formats.smsbackup import (
    SmsBackupError,
    join_surrogate_refs,
    read_backup,
)
from leaktrace.ingest.records import ReadReport
from leaktrace.sim.demo import find_sample_data

HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"4\">\n"
ROWS = [
    '<sms protocol="0" address="10690123456" date="1767576142490" type="1" '
    'body="【安易花】您有30000元备用金额度 &#55357;&#56846;" sub_id="2" />',
    '<sms protocol="0" address="10690123456" date="1767576182490" type="2" body="T" />',
    '<sms protocol="0" address="95588" date="1767576242490" type="3" body="draft" />',
    '<mms date="1767576342490" msg_box="1" address="10691"><parts>'
    '<part seq="0" ct="text/plain" text="彩信正文" /></parts>'
    '<addrs><addr address="1069888" type="137" /><addr address="x" type="151" /></addrs></mms>',
]


def _write(tmp_path: Path, text: str, encoding: str = "utf-8", name="b.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_received_sms_and_mms_are_read_and_the_rest_counted(tmp_path):
    report = ReadReport()
    path = _write(tmp_path, HEAD + "\n".join(ROWS) + "\n</smses>\n")
    messages = list(read_backup(path, report))
    assert [(m.kind, m.sender, m.body) for m in messages] == [
        ("sms", "10690123456", "【安易花】您有30000元备用金额度 😎"),
        ("mms", "1069888", "彩信正文"),
    ]
    assert messages[0].sub_id == "2"
    assert messages[0].received_at.isoformat() == "2026-01-05T01:22:22.490000+00:00"
    assert report.skipped == {"sent": 1, "draft": 1}
    assert report.stopped_at is None


def test_surrogate_references_become_one_character():
    assert join_surrogate_refs("a&#55357;&#56846;b") == "a&#128526;b"
    assert join_surrogate_refs("&#xD83D;&#xDE0E;") == "&#128526;"
    assert join_surrogate_refs("lone &#55357; here") == "lone &#65533; here"
    assert join_surrogate_refs("&#20320;&#22909;") == "&#20320;&#22909;"


def test_truncated_file_keeps_complete_records_and_says_where_it_stopped(tmp_path):
    text = HEAD + "\n".join(ROWS)
    path = _write(tmp_path, text[: text.index("彩信")])
    report = ReadReport()
    messages = list(read_backup(path, report))
    assert [m.body for m in messages] == ["【安易花】您有30000元备用金额度 😎"]
    assert report.stopped_at.startswith("b.xml:6: the file ends early")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_utf16_and_bom_files_are_detected(tmp_path, encoding):
    text = HEAD.replace("UTF-8", encoding.upper()) + ROWS[0] + "\n</smses>\n"
    messages = list(read_backup(_write(tmp_path, text, encoding), ReadReport()))
    assert messages[0].body.endswith("😎")


def test_gbk_file_needs_and_takes_an_encoding(tmp_path):
    text = HEAD + ROWS[0].replace(" &#55357;&#56846;", "") + "\n</smses>\n"
    path = _write(tmp_path, text, "gbk")
    with pytest.raises(SmsBackupError, match="--encoding"):
        list(read_backup(path, ReadReport()))
    messages = list(read_backup(path, ReadReport(), encoding="gb18030"))
    assert messages[0].body == "【安易花】您有30000元备用金额度"


def test_a_broken_record_is_reported_and_the_rest_lands(tmp_path):
    bad = ROWS[0].replace('date="1767576142490"', 'date="yesterday"')
    report = ReadReport()
    path = _write(tmp_path, HEAD + bad + "\n" + ROWS[3] + "\n</smses>\n")
    messages = list(read_backup(path, report))
    assert [m.kind for m in messages] == ["mms"]
    assert report.problems == ["b.xml:3: date 'yesterday' is not milliseconds since 1970"]


@pytest.mark.parametrize("content", ["", "hello, this is not xml\n", "<html><body>x"])
def test_non_backup_files_get_one_clear_error(tmp_path, content):
    with pytest.raises(SmsBackupError, match="not an SMS Backup & Restore XML file"):
        list(read_backup(_write(tmp_path, content), ReadReport()))


def test_every_message_of_the_sample_backups_is_read_with_emoji_intact():
    sample = find_sample_data()
    truth = json.loads((sample / "truth.json").read_text("utf-8"))
    expected = {
        (m["canary"], m["sender"], m["received_at_ms"])
        for m in truth["messages"]
        if m["channel"] in ("sms", "mms")
    }
    found, emoji = set(), 0
    for path in sorted((sample / "sms").glob("*.xml")):
        report = ReadReport()
        for m in read_backup(path, report):
            found.add((path.stem, m.sender, int(m.received_at.timestamp() * 1000)))
            emoji += any(ord(ch) > 0xFFFF for ch in m.body)
        assert report.stopped_at is None and report.problems == []
    assert found == expected
    assert emoji > 0


def test_well_formed_xml_that_is_not_a_backup_is_refused(tmp_path):
    path = _write(tmp_path, "<?xml version='1.0'?>\n<html><body>hello</body></html>\n")
    with pytest.raises(SmsBackupError, match="no <smses> element"):
        list(read_backup(path, ReadReport()))
