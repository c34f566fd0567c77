"""Class: plain record lines read without the XML parser say exactly what the parser says.

An SMS Backup & Restore file is read a line at a time where a line is one plain
``<sms … />`` record, and by lxml otherwise. Whatever a file holds, both ways must
give the same messages, the same counts of skipped records, the same rejections and
notes, and the same staged rows; and plain lines must really be read the fast way.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaktrace.ingest.formats import smsbackup
from leaktrace.ingest.formats.smsbackup import SmsBackupError, read_backup, stage_backup
from leaktrace.ingest.records import Incoming, ReadReport, plausible
from leaktrace.ingest.stage import Stage, arrow_rows
from leaktrace.roster.recipients import RecipientBook

T0 = 1767576142490
HEAD = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
    "<!--File Created By SMS Backup & Restore v10.20.002-->\n"
    '<smses count="0">\n'
)
NEVER = re.compile(r"(?!)")

# Pieces of attribute values, each something a phone app or a spammer writes.
FRAGMENTS = [
    "贷款",
    "回T退订",
    "Win £500",
    "😀",
    "&amp;",
    "&lt;b&gt;",
    "&quot;",
    "&apos;",
    "&#10;",
    "&#13;",
    "&#x1F600;",
    "&#55357;&#56832;",  # an emoji as the app writes it: two surrogate references
    "&#55357;",  # a lone surrogate
    "&#27;",
    "&#0;",
    "&#1114112;",
    "&nbsp;",
    "&copy;",
    "&foo;",
    "AT&T",
    "&#49;",
    ">",
    "'",
    "\t",
    "\x1b",
    "\x7f",
    "\u0085",
    "\ufeff",
    '"',
    "<",
    "<!--",
    " ",
]
value = st.lists(st.sampled_from(FRAGMENTS), max_size=4).map("".join)
kind = st.sampled_from(["1", "1", "1", "2", "3", "9", "", "&#49;", " 1", None])
date = st.sampled_from(
    [
        "T",
        "T",
        "T",
        "-5",
        "12a",
        "",
        "99999999999999999999999",
        "253402300800000",
        "99999999999999",
        "100000000000000",
        "０１",
        "١٢٣",
        "&#49;767576142490",
        "631152000000",
        "631151999999",
        "1",
        "0001767576142490",
        None,
    ]
)
sub_id = st.sampled_from([None, "1", "2", "-1", "null", "", "&#50;"])
layout = st.sampled_from(
    ["plain", "plain", "plain", "two spaces", "tab", "single", "twice", "tight"]
)


@st.composite
def sms_line(draw, i: int) -> str:
    """One <sms> record on its line, in one of the layouts seen in files."""
    stamp = draw(date)
    attrs = [
        ("protocol", "0"),
        ("address", draw(st.sampled_from(["1069000", "+86 138-0013-8000", "95588", "&#49;06"]))),
        ("date", None if stamp is None else stamp.replace("T", str(T0 + i))),
        ("type", draw(kind)),
        ("subject", "null"),
        ("body", draw(value)),
        ("sub_id", draw(sub_id)),
        ("readable_date", draw(value)),
        ("contact_name", "(Unknown)"),
    ]
    written = [(name, v) for name, v in attrs if v is not None]
    how = draw(layout)
    if how == "twice":
        written.append(("body", "again"))
    sep = {"two spaces": "  ", "tab": "\t"}.get(how, " ")
    quote = "'" if how == "single" else '"'
    inner = sep.join(f"{name}={quote}{v}{quote}" for name, v in written)
    end = "/>" if how == "tight" else " />"
    return f"  <sms {inner}{end}"


@st.composite
def mms_lines(draw, i: int) -> str:
    """A multi-line <mms> record."""
    return (
        f'  <mms date="{T0 + i}" msg_box="{draw(st.sampled_from(["1", "2"]))}" address="1069">\n'
        f'    <parts><part ct="text/plain" text="{draw(value)}" /></parts>\n'
        '    <addrs><addr address="10690001" type="137" /></addrs>\n'
        "  </mms>"
    )


@st.composite
def backup_text(draw) -> str:
    """A backup's text: mostly plain lines, with the other things files hold among them."""
    pieces = []
    for i in range(draw(st.integers(1, 14))):
        what = draw(st.sampled_from(["sms", "sms", "sms", "sms", "mms", "comment", "blank", "pi"]))
        if what == "sms":
            pieces.append(draw(sms_line(i)))
        elif what == "mms":
            pieces.append(draw(mms_lines(i)))
        elif what == "comment":
            pieces.append(f"  <!-- a note\n{draw(sms_line(i))}\n  -->")
        elif what == "pi":
            pieces.append("  <?app note?>")
        else:
            pieces.append("")
    ending = draw(
        st.sampled_from(["</smses>\n", "</smses>\n", "</smses>\n" + "  " + pieces[-1], ""])
    )
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return (HEAD + "\n".join(pieces) + "\n" + ending).replace("\n", newline)


def _both_ways(path, monkeypatch, **kwargs) -> tuple:
    """(messages, report) read with plain lines taken, then with the parser alone."""
    seen = []
    for pattern in (smsbackup._PLAIN_SMS, NEVER):
        monkeypatch.setattr(smsbackup, "_PLAIN_SMS", pattern)
        report = ReadReport()
        try:
            messages = [tuple(vars_of(m)) for m in read_backup(path, report, **kwargs)]
        except SmsBackupError as exc:
            messages = [("error", exc.key)]
        seen.append(
            (messages, dict(report.skipped), report.problems, report.all_notes(), report.stopped_at)
        )
    return seen[0], seen[1]


def _same_reading(fast: tuple, parser: tuple) -> None:
    """Both readings agree: messages, counts, notes and stop exactly; rejections one for one.

    A rejected record may be named at another line: the parser reads a broken record on
    into the lines after it, and with plain lines left blank it sees other lines there.
    (With a start tag left open, the parser alone takes the records after it as nested
    and names the line where it noticed, the end tag; with them blank it names the
    broken record itself.) Each line named still holds no message, and libxml2's
    wording is not compared, as it depends on those lines too.
    """
    assert fast[0] == parser[0]
    assert fast[1] == parser[1] and fast[3] == parser[3] and fast[4] == parser[4]
    assert len(fast[2]) == len(parser[2])
    message_lines = {m[5] for m in fast[0] if m[0] != "error"}
    for problem in fast[2]:
        where, found, _ = problem.partition(": not XML")
        if not found:
            assert problem in parser[2]
        else:
            assert int(where.rsplit(":", 1)[1]) not in message_lines


def vars_of(m) -> tuple:
    return (m.sender, m.received_at, m.body, m.sub_id, m.kind, m.line, m.raw)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=backup_text())
def test_any_file_reads_the_same_with_plain_lines_as_with_the_parser_alone(
    tmp_path, monkeypatch, text
):
    path = tmp_path / "b.xml"
    path.write_bytes(text.encode("utf-8"))
    with monkeypatch.context() as patch:
        fast, parser = _both_ways(path, patch)
    _same_reading(fast, parser)


@pytest.mark.parametrize("block", [64, 300, 4096])
def test_blocks_cut_anywhere_read_the_same_both_ways(tmp_path, monkeypatch, block):
    lines = [
        f'  <sms address="1069{i}" date="{T0 + i}" type="{1 + i % 3}" body="m{i}&amp;&#10;" />'
        for i in range(400)
    ]
    lines[37] = f'  <sms address="1" date="{T0}" type="1" body="bro"ken" />'
    lines[99] = "  <!-- note -->"
    lines[250] = f'  <mms date="{T0}" msg_box="1" address="1">\n  <parts /></mms>'
    path = tmp_path / "b.xml"
    path.write_text(HEAD + "\n".join(lines) + "\n</smses>\n")
    monkeypatch.setattr(smsbackup, "BLOCK", block)
    fast, parser = _both_ways(path, monkeypatch)
    assert fast == parser
    assert (
        len(fast[0]) > 100 and len(fast[2]) == 1 and fast[2][0].startswith("b.xml:41: not")
    )  # messages read, the broken one rejected


def test_plain_lines_are_read_without_the_parser(tmp_path, monkeypatch):
    taken = []
    real = smsbackup._Resuming._plain_row

    def spy(self, m):
        row = real(self, m)
        taken.append(row is not None)
        return row

    monkeypatch.setattr(smsbackup._Resuming, "_plain_row", spy)
    lines = [
        f'  <sms protocol="0" address="1069" date="{T0 + i}" type="1" body="您有30000元额度&#10;'
        f'回T退订 😀 &amp; &lt;" sub_id="1" contact_name="(Unknown)" />'
        for i in range(100)
    ]
    path = tmp_path / "b.xml"
    path.write_text(HEAD + "\n".join(lines) + "\n</smses>\n")
    messages = list(read_backup(path, ReadReport()))
    assert len(messages) == 100 and taken == [True] * 100
    assert messages[0].body == "您有30000元额度\n回T退订 😀 & <"
    assert messages[5].line == 9 and messages[5].raw == lines[5].strip()


def test_lines_whose_attributes_change_order_or_repeat_read_as_the_parser_reads_them(
    tmp_path, monkeypatch
):
    # The places of the attributes read are kept from one line to the next while the
    # layout is the same: each change (order, one missing, one more, one given twice)
    # must be noticed, back and forth.
    layouts = [
        'address="1069" date="{t}" type="1" body="first" sub_id="1"',
        'body="order changed" sub_id="2" type="1" address="95588" date="{t}"',
        'address="1069" date="{t}" type="1" body="first again" sub_id="1"',
        'address="1069" date="{t}" type="1" body="no sub_id"',
        'address="1069" date="{t}" type="1" body="twice" body="again"',
        'address="1069" date="{t}" type="2" body="sent, same places as before"',
        'date="{t}" type="1" body="no address" sub_id="1" read="1"',
        'address="1069" date="{t}" type="1" body="first once more" sub_id="1"',
    ]
    lines = [f"  <sms {layout.format(t=T0 + i)} />" for i, layout in enumerate(layouts * 3)]
    path = tmp_path / "b.xml"
    path.write_text(HEAD + "\n".join(lines) + "\n</smses>\n")
    fast, parser = _both_ways(path, monkeypatch)
    _same_reading(fast, parser)
    bodies = [m[2] for m in fast[0]]
    assert bodies[:4] == ["first", "order changed", "first again", "no sub_id"]
    assert "twice" not in bodies and len(fast[2]) == 3  # an attribute twice is not XML
    assert [m[0] for m in fast[0][:2]] == ["1069", "95588"] and fast[1] == {"sent": 3}


def test_records_after_a_comment_or_the_end_go_to_the_parser(tmp_path):
    hidden = f'  <sms address="1069" date="{T0}" type="1" body="hidden" />'
    shown = f'  <sms address="1069" date="{T0}" type="1" body="shown" />'
    path = tmp_path / "b.xml"
    path.write_text(HEAD + f"{shown}\n  <!--\n{hidden}\n  -->\n{shown}\n</smses>\n{shown}\n")
    report = ReadReport()
    assert [m.body for m in read_backup(path, report)] == ["shown", "shown"]
    assert len(report.problems) == 1  # the record after </smses> is no part of the backup


def _book() -> RecipientBook:
    return RecipientBook(phones={"+8613800138000": 7})


@pytest.mark.parametrize("sub_ids", [{}, {"1": "+8613800138000"}])
def test_staging_a_backup_as_columns_stages_what_one_message_at_a_time_stages(tmp_path, sub_ids):
    lines = [
        f'  <sms address="{("+86 138-0013-8001", "1069 0000", "95588")[i % 3]}"'
        f' date="{(T0 + i, 100, T0 * 10)[i % 3 if i % 7 == 0 else 0]}" type="1"'
        f' body="【平台{i % 4}】 m{i}" sub_id="{i % 3}" />'
        for i in range(60)
    ]
    path = tmp_path / "b.xml"
    path.write_text(HEAD + "\n".join(lines) + "\n</smses>\n")
    recipient = None if sub_ids else "+8613800138000"
    columns, by_one = Stage(tmp_path, _book()), Stage(tmp_path, _book())
    report = ReadReport()
    stage_backup(path, report, columns, recipient=recipient, sub_ids=sub_ids)
    one_report = ReadReport()
    incoming = (
        Incoming(
            channel="sms",
            recipient=(sub_ids.get(m.sub_id or "", recipient) if sub_ids else recipient)
            or f"unknown SIM {m.sub_id or '?'} in b.xml",
            sender=m.sender,
            received_at=m.received_at,
            body=m.body,
            raw=m.raw,
            position=f"line {m.line}",
        )
        for m in read_backup(path, one_report)
    )
    for m in plausible(incoming, one_report, path.name):
        by_one.add(m)
    assert report == one_report and len(report.problems) > 0
    assert arrow_rows(columns.rows).equals(arrow_rows(by_one.rows))
    assert columns.count == by_one.count > 0
    assert pa.Table.from_pydict(columns.rows).num_rows == columns.count


SHOWN = f'  <sms address="1069" date="{T0}" type="1" body="shown" />'
ODD_DOCUMENTS = {
    "a record in a namespace": HEAD
    + SHOWN.replace("<sms ", '<sms xmlns="urn:x" ')
    + "\n</smses>\n",
    "a root in a namespace": HEAD.replace("<smses ", '<smses xmlns="urn:x" ')
    + SHOWN
    + "\n</smses>\n",
    "an end tag with a blank": HEAD + SHOWN + "\n</smses >\n" + SHOWN + "\n",
    "an empty root": HEAD.replace('count="0">', 'count="0"/>') + SHOWN + "\n",
    "the root named in a comment first": HEAD.replace(
        "<smses", "<!--\n<smses>\n" + SHOWN + "\n-->\n<smses"
    )
    + SHOWN
    + "\n</smses>\n",
}


@pytest.mark.parametrize("text", ODD_DOCUMENTS.values(), ids=ODD_DOCUMENTS.keys())
def test_documents_shaped_oddly_read_the_same_both_ways(tmp_path, monkeypatch, text):
    path = tmp_path / "b.xml"
    path.write_text(text)
    fast, parser = _both_ways(path, monkeypatch)
    assert fast == parser
