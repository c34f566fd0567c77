"""Class: one bad record never ends an SMS Backup & Restore file (issue: hostile input).

Phone apps write what spammers send; a record XML cannot hold is repaired or
rejected with its line, and every record after it still lands.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.ingest import parallel
from leaktrace.ingest.formats.smsbackup import SmsBackupError, read_backup, repair_xml_text
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.records import ReadReport
from leaktrace.roster import new_canary

T0 = 1767576142490
HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"0\">\n"
# As the app writes it: a comment naming it, with a bare "&" that XML comments may hold.
APP_HEAD = HEAD.replace(
    "\n", "\n<!--File Created By SMS Backup & Restore v10.20.002 on 05/04/2026 00:00:00-->\n", 1
)


def line(i: int, body: str, kind: str = "1") -> str:
    """One <sms> line with ``body`` written as is (the caller escapes, or not)."""
    return (
        f'  <sms protocol="0" address="1069{i:04d}" date="{T0 + i}" type="{kind}" '
        f'body="{body}" read="1" status="-1" readable_date="" contact_name="(Unknown)" />\n'
    )


def backup(
    tmp_path, bodies: list[str], name: str = "b.xml", encoding: str = "utf-8", head: str = HEAD
):
    path = tmp_path / name
    text = head + "".join(line(i, b) for i, b in enumerate(bodies)) + "</smses>\n"
    path.write_bytes(text.encode(encoding, "surrogatepass"))
    return path


def read(path) -> tuple[list, ReadReport]:
    report = ReadReport()
    return list(read_backup(path, report)), report


# Bodies a spammer or a phone app really produces that XML 1.0 cannot hold as written.
REPAIRED = {
    "control char reference": ("a&#27;b", "a\ufffdb"),
    "nul reference": ("x&#0;y", "x\ufffdy"),
    "hex control reference": ("x&#x1B;y", "x\ufffdy"),
    "raw escape byte": ("x\x1b[31my", "x\ufffd[31my"),
    "raw bell and backspace": ("a\x07\x08b", "a\ufffd\ufffdb"),
    "html entity": ("回T&nbsp;退订", "回T\u00a0退订"),
    "named html entity": ("&copy;2026 &yen;500", "©2026 ¥500"),
    "undefined entity": ("a&foo;b", "a\ufffdb"),
    "bare ampersand": ("AT&T 贷款", "AT&T 贷款"),
    "reference past unicode": ("x&#1114112;y", "x\ufffdy"),
    "huge reference": ("x&#99999999999;y", "x\ufffdy"),
    "non-character reference": ("x&#xFFFE;y", "x\ufffdy"),
}


@pytest.mark.parametrize("body, expected", REPAIRED.values(), ids=REPAIRED.keys())
def test_a_record_xml_cannot_hold_is_repaired_and_the_rest_of_the_file_lands(
    tmp_path, body, expected
):
    bodies = ["before", body, *(f"after {i}" for i in range(50))]
    messages, report = read(backup(tmp_path, bodies))
    assert [m.body for m in messages] == ["before", expected, *(f"after {i}" for i in range(50))]
    assert report.problems == [] and report.stopped_at is None
    assert report.repaired >= 1 and report.all_notes()[0].startswith(f"{report.repaired} char")
    assert body in messages[1].raw  # the raw record keeps what the file said


BROKEN = {
    "unescaped quote": 'say "hi" now',
    "unescaped lt": "a <b> c",
    "duplicate attribute": 'x" read="1',
    "stray tag open": 'x"><b',
    "cut attribute": 'x" date',
}


@pytest.mark.parametrize("body", BROKEN.values(), ids=BROKEN.keys())
def test_a_record_that_is_still_not_xml_is_rejected_with_its_line_and_the_rest_lands(
    tmp_path, body
):
    bodies = [f"ok {i}" for i in range(30)]
    bodies[10] = body
    messages, report = read(backup(tmp_path, bodies, "bad.xml"))
    assert [m.body for m in messages] == [f"ok {i}" for i in range(30) if i != 10]
    assert len(report.problems) == 1 and report.problems[0].startswith("bad.xml:13: not XML")
    assert report.stopped_at is None


def test_many_broken_records_in_a_row_and_apart_lose_only_themselves(tmp_path):
    bodies = [f"ok {i}" for i in range(3000)]
    broken = {5, 6, 7, 8, 1000, 2998, 2999}
    for i in broken:
        bodies[i] = 'bad "quote'
    messages, report = read(backup(tmp_path, bodies, "bad.xml"))
    assert [m.body for m in messages] == [f"ok {i}" for i in range(3000) if i not in broken]
    assert sorted(int(p.split(":")[1]) for p in report.problems) == sorted(i + 3 for i in broken)


def test_a_broken_first_record_is_rejected_not_the_whole_file(tmp_path):
    messages, report = read(backup(tmp_path, ['a "b', "second", "third"], "first.xml"))
    assert [m.body for m in messages] == ["second", "third"]
    assert report.problems[0].startswith("first.xml:3:")


def test_a_broken_multiline_mms_is_rejected_and_the_next_records_land(tmp_path):
    mms = (
        f'  <mms date="{T0}" msg_box="1" address="10690000">\n'
        '    <parts><part ct="text/plain" text="bro"ken" /></parts>\n'
        "  </mms>\n"
    )
    path = tmp_path / "mms.xml"
    path.write_text(HEAD + line(1, "one") + mms + line(2, "two") + "</smses>\n")
    messages, report = read(path)
    assert [m.body for m in messages] == ["one", "two"]
    assert len(report.problems) == 1


def test_a_truncated_file_still_says_where_it_stopped(tmp_path):
    path = backup(tmp_path, [f"m{i}" for i in range(10)])
    path.write_bytes(path.read_bytes()[:-60])
    messages, report = read(path)
    assert len(messages) == 9 and "ends early" in report.stopped_at


@pytest.mark.parametrize("content", ["", "plain text\n", "<html><body>x", "\x00\x01\x02"])
def test_files_that_are_no_backup_still_get_one_clear_error(tmp_path, content):
    path = tmp_path / "x.xml"
    path.write_text(content)
    with pytest.raises(SmsBackupError, match="not an SMS Backup"):
        read(path)


def test_bad_records_in_a_big_file_read_in_parallel_match_a_sequential_read(
    tmp_path, store, monkeypatch
):
    new_canary(store, phone="+8613800138000", seed=1)
    bodies = [f"您有{i}元备用金额度" for i in range(4000)]
    for i in range(0, 4000, 97):
        bodies[i] = "控制&#27;符" if i % 2 else 'bad "quote'
    path = backup(tmp_path, bodies, "big.xml", head=APP_HEAD)  # its "&" is no repair
    results = []
    for threshold in (1 << 40, 0):
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", threshold)
        results.append(import_file(store, path, ImportOptions(recipient="+8613800138000")))
    first, again = results
    assert first.inserted == 4000 - 21 and first.rejected == 21
    assert again.inserted == 0 and again.duplicate == first.inserted
    # The repairs are told once for the file, whichever way it was read.
    repaired = sum(i % 97 == 0 and i % 2 == 1 for i in range(4000))
    assert (
        first.notes
        == again.notes
        == [
            f"{repaired} characters XML cannot hold (control characters, HTML entities, bare &)"
            " were repaired; the raw records keep them as written"
        ]
    )
    # The same records, by line; the reason may be worded as each parser met it.
    assert [p.split(": not XML")[0] for p in again.problems] == [
        p.split(": not XML")[0] for p in first.problems
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=40))
def test_any_body_text_is_repaired_or_rejected_and_never_ends_the_file(body):
    """Fuzz: whatever one record says, the records after it are read."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        bodies = ["first", body, "last"]
        messages, report = read(backup(Path(tmp), bodies))
    bodies_read = [m.body for m in messages]
    assert bodies_read[:1] == ["first"] and bodies_read[-1:] == ["last"]
    assert len(messages) + len(report.problems) == 3


def test_repair_keeps_well_formed_text_as_it_is():
    text = "&amp;&lt;&gt;&quot;&apos;&#20320;&#x597D;&#128526; 你好 \t"
    assert repair_xml_text(text) == (text, 0)


def _raw_backup(tmp_path, records: list[str]) -> object:
    path = tmp_path / "raw.xml"
    path.write_text(HEAD + "".join(f"{r}\n" for r in records) + "</smses>\n")
    return path


def _ok(i: int) -> str:
    return f'  <sms protocol="0" address="+1" date="{T0 + i}" type="1" body="msg {i}" />'


@pytest.mark.parametrize(
    "broken",
    [
        {4: f'  <sms protocol="0" address="x" date="{T0}" type="1" body="broken"'},  # no />
        {3: f'  <sms address="x" date="{T0}" type="1" body="broken />',
         6: f'  <sms address="x" date="{T0}" type="1" body="broken2 />'},  # quotes rebalance
        {4: f'  <sms address="x" date="{T0}" type="1" body="a" <b />',
         5: f'  <sms address="x" date="{T0}" type="1" body="b />'},
    ],
)  # fmt: skip
def test_the_broken_record_is_the_one_blamed_and_no_good_neighbour_is_lost(tmp_path, broken):
    lines = [broken.get(n, _ok(n)) for n in range(3, 11)]
    messages, report = read(_raw_backup(tmp_path, lines))
    good = [n for n in range(3, 11) if n not in broken]
    assert [m.line for m in messages] == good
    assert sorted(int(p.split(":")[1]) for p in report.problems) == sorted(broken)


def test_a_broken_multiline_mms_is_blamed_at_its_first_line(tmp_path):
    mms = [
        f'  <mms date="{T0}" msg_box="1" address="10690000">',
        '    <parts><part ct="text/plain" text="bro"ken" /></parts>',
        "  </mms>",
    ]
    messages, report = read(_raw_backup(tmp_path, [_ok(3), *mms, _ok(7)]))
    assert [m.line for m in messages] == [3, 7]
    assert [int(p.split(":")[1]) for p in report.problems] == [4]


@pytest.mark.parametrize("short", range(1, 25))
def test_a_span_read_in_blocks_ends_with_one_closing_tag(tmp_path, monkeypatch, short):
    """Whatever the block size, a span (as parallel reads cut them) parses cleanly."""
    from leaktrace.ingest.formats import smsbackup

    path = backup(tmp_path, [f"m{i}" for i in range(40)])
    spans = list(smsbackup.spans_of(path, 2))
    assert len(spans) == 2
    size = len(spans[0].prefix) + spans[0].end - spans[0].start + len(spans[0].suffix)
    monkeypatch.setattr(smsbackup, "BLOCK", max(64, size - short))
    found = []
    for span in spans:
        report = ReadReport()
        found += [m.body for m in read_backup(path, report, span=span)]
        assert report.problems == [] and report.stopped_at is None
    assert found == [f"m{i}" for i in range(40)]


def test_a_clean_backup_from_the_app_tells_no_repair_however_it_is_read(
    tmp_path, store, monkeypatch
):
    # The app's header comment says "SMS Backup & Restore": a bare "&" XML comments may
    # hold, and the prolog every span of a parallel read repeats.
    new_canary(store, phone="+8613800138000", seed=1)
    path = backup(tmp_path, [f"您有{i}元备用金额度" for i in range(3000)], head=APP_HEAD)
    messages, report = read(path)
    assert len(messages) == 3000 and report.repaired == 0 and report.all_notes() == []
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    result = import_file(store, path, ImportOptions(recipient="+8613800138000"))
    assert result.inserted == 3000 and result.notes == []


@pytest.mark.parametrize("span_bytes", [4 << 10, 32 << 10])
@pytest.mark.parametrize(
    "ending", ["", "</smses>\n", '  <sms address="1069" date="1', "TRUNCATED", "TRUNCATED MMS"]
)
def test_a_backup_cut_into_many_spans_reads_as_one_sequential_read(
    tmp_path, store, monkeypatch, span_bytes, ending
):
    # Many more spans than processes, taken in order by a pool: bad records anywhere,
    # the end of the document or a record cut off in the middle of the file (each one
    # rejection), or the file itself cut off (the last span stops early).
    new_canary(store, phone="+8613800138000", seed=1)
    bodies = [f"您有{i}元备用金额度" for i in range(3000)]
    for i in range(0, 3000, 89):
        bodies[i] = "控制&#27;符" if i % 2 else 'bad "quote'
    text = APP_HEAD + "".join(line(i, b) for i, b in enumerate(bodies[:1700]))
    cut = ending.startswith("TRUNCATED")
    text += "" if cut else ending
    text += "".join(line(i, b) for i, b in enumerate(bodies[1700:], 1700)) + "</smses>\n"
    if ending == "TRUNCATED":  # the last record cut off, as a copy that did not finish
        text = text[: text.rfind("<sms ") + 60]
    elif cut:  # or an MMS over many lines, whose tags name the lines they opened on
        text = text[: text.rfind("</smses>")] + (
            f'  <mms date="{T0}" msg_box="1" address="10691">\n    <parts>\n'
            '      <part seq="0" ct="text/plain" text="彩信正文" />\n'
        )
    path = tmp_path / "many.xml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(parallel, "SPAN_BYTES", span_bytes)
    results = []
    for threshold in (1 << 40, 0):
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", threshold)
        monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
        results.append(import_file(store, path, ImportOptions(recipient="+8613800138000")))
    first, again = results
    assert len(list(parallel.spans_of(path, -(-path.stat().st_size // span_bytes)))) > 8
    assert again.inserted == 0 and again.duplicate == first.inserted > 1000
    # Where it stopped is the file's line, whichever process read it.
    assert (again.rejected, again.stopped_at, again.notes) == (
        first.rejected,
        first.stopped_at,
        first.notes,
    )
    assert [p.split(": not XML")[0] for p in again.problems] == [
        p.split(": not XML")[0] for p in first.problems
    ]
    damaged = bool(ending) and not cut  # one rejection, and reading goes on
    assert (first.inserted, first.rejected) == (
        2983 - damaged - (ending == "TRUNCATED"),
        17 + damaged,
    )
    assert (first.stopped_at is not None) == cut
    assert " line " not in str(first.stopped_at)  # the file's line only, before the reason


def test_a_picture_megabytes_long_does_not_end_the_cutting(tmp_path):
    # An MMS keeps its picture on one line: past it, the file is still cut into spans,
    # end to end, none much bigger than its share.
    from leaktrace.ingest.formats import smsbackup

    picture = "A" * (3 << 20)
    mms = (
        f'  <mms date="{T0}" msg_box="1" address="10691"><parts><part seq="0" ct="image/jpeg"'
        f' data="{picture}" /></parts></mms>\n'
    )
    sms = [line(i, f"您有{i}元备用金额度") for i in range(16000)]
    path = tmp_path / "pictures.xml"
    path.write_text(HEAD + "".join(sms[:8000]) + mms + "".join(sms[8000:]) + "</smses>\n")
    size = path.stat().st_size
    spans = list(smsbackup.spans_of(path, 16))
    assert [s.start for s in spans[1:]] == [s.end for s in spans[:-1]]
    assert spans[0].start == 0 and spans[-1].end == size and len(spans) >= 10
    assert max(s.end - s.start for s in spans) < len(mms) + 2 * size // 16
