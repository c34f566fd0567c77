"""Streamed mbox reading gives what ``mailbox.mbox`` with the full ``policy.default`` parse
gave, message for message (issue: mail import speed)."""

from __future__ import annotations

import base64
import mailbox
from dataclasses import astuple
from email import policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.hashing import sha256_text
from leaktrace.ingest import parallel_mail, stage
from leaktrace.ingest.formats import mail
from leaktrace.ingest.formats.mail_exact import exact_fields, read_date
from leaktrace.ingest.formats.mail_parse import _shown, _when, quick_fields
from leaktrace.ingest.formats.mbox import mbox_blocks, mbox_messages
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.records import IngestError, ReadReport
from leaktrace.model import MESSAGE_COLUMNS
from leaktrace.sim.simulate import SimConfig, simulate
from leaktrace.store import Store
from leaktrace.text.signature import signature_text

STUDY = SimConfig(seed=11, sources=8, canaries=24, controls=6, days=40, email_share=0.5)


def reference(path: Path, recipient: str | None = None) -> tuple[list[tuple], list[str]]:
    """The reader as it was: ``mailbox.mbox``'s table of contents, each message through the
    email package's full parse. Messages as tuples (with the time's offset), and rejects."""
    box = mailbox.mbox(path, create=False)
    messages, problems = [], []
    try:
        keys = box.keys()
        if not keys:
            raise IngestError(f"{path.name} is not an mbox file (no 'From ' separator lines)")
        for number, key in enumerate(keys, start=1):
            from_line, _, data = box.get_bytes(key, from_=True).partition(b"\n")
            try:
                to, sender, when, body, subject, own_id, headers = exact_fields(
                    data, recipient, from_line.decode("latin-1")
                )
            except ValueError as exc:
                problems.append(f"{path.name}:message {number}: {exc}")
                continue
            raw = data.decode("utf-8", "backslashreplace")
            row = ("email", to, sender, when, body, raw, f"message {number}")
            messages.append((*row, subject, own_id, headers, when.utcoffset()))
    finally:
        box.close()
    return messages, problems


def streamed(path: Path, recipient: str | None = None) -> tuple[list[tuple], list[str]]:
    report = ReadReport()
    messages = []
    for m in mail.read_mail(path, report, "mbox", recipient=recipient):
        # What a worker worked out ahead is what the stage would work out itself.
        assert m.derived == (signature_text(m.body), sha256_text(m.raw))
        messages.append((*astuple(m)[:-1], m.received_at.utcoffset()))
    return messages, report.problems


def assert_same_as_before(path: Path, recipient: str | None = None) -> list[tuple]:
    expected = reference(path, recipient)
    assert streamed(path, recipient) == expected
    return expected[0]


@pytest.fixture(scope="module")
def simulated_mbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("study")
    simulate(STUDY, directory)
    return directory / "email" / "canaries.mbox"


def test_a_simulated_mbox_reads_as_before_every_message_the_quick_way(simulated_mbox):
    messages = assert_same_as_before(simulated_mbox)
    assert len(messages) > 100
    for from_line, data in mbox_messages(simulated_mbox.read_bytes()):
        assert quick_fields(data, None, from_line) is not None


def on_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage even a small mbox on two cores, in pieces of a few mails, several in flight."""
    monkeypatch.setattr(parallel_mail, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel_mail, "PIECE_BYTES", 4096)
    monkeypatch.setattr(parallel_mail, "usable_cores", lambda: 2)


def stored(store: Store) -> list[tuple]:
    with store.connect() as con:
        columns = ", ".join(("id", *MESSAGE_COLUMNS))
        return con.execute(f"SELECT {columns} FROM messages ORDER BY id").fetchall()


def with_odd_mails(simulated: Path, path: Path) -> Path:
    """The simulated mbox with unreadable mails and impossible times spread through it,
    so they fall in different pieces and around their edges."""
    pieces = mbox_messages(simulated.read_bytes())
    no_time = b"From: a@b.example\nTo: ada@example.org\n\nno time anywhere\n"
    too_early = HEAD + b"Date: Mon, 01 Jan 1979 10:00:00 +0800\n\ntoo early\n"
    too_late = HEAD + b"Date: Mon, 01 Jan 2199 10:00:00 +0800\n\ntoo late\n"
    out = bytearray()
    for k, (from_line, data) in enumerate(pieces):
        out += from_line.encode("latin-1") + b"\n" + data + b"\n"
        if k % 7 == 3:
            odd = (too_early, too_late)[k % 2]
            out += b"From sender@example.org Mon Jan  5 10:00:00 2026\n" + odd + b"\n"
        if k % 11 == 5:
            out += b"From sender@example.org\n" + no_time + b"\n"
    path.write_bytes(bytes(out))
    return path


def test_an_mbox_staged_on_every_core_stores_and_rejects_as_in_one_process(
    simulated_mbox, tmp_path, monkeypatch
):
    path = with_odd_mails(simulated_mbox, tmp_path / "odd.mbox")
    alone = import_file(Store(tmp_path / "alone.duckdb"), path)
    on_every_core(monkeypatch)
    pieces: list[int] = []  # counted as they are handed out
    real = parallel_mail.count_messages
    monkeypatch.setattr(
        parallel_mail, "count_messages", lambda piece: pieces.append(1) or real(piece)
    )
    cores = import_file(Store(tmp_path / "cores.duckdb"), path)
    assert len(pieces) > 20
    assert cores.problems == alone.problems  # the same words, in file order
    assert len(alone.problems) > 20
    assert any("1979" in p for p in alone.problems) and any("2199" in p for p in alone.problems)
    assert any("no time" in p.lower() or "time" in p for p in alone.problems)
    assert (cores.inserted, cores.rejected) == (alone.inserted, alone.rejected)
    assert stored(Store(tmp_path / "cores.duckdb")) == stored(Store(tmp_path / "alone.duckdb"))


def test_a_worker_that_fails_says_why_instead_of_dying(simulated_mbox, tmp_path, monkeypatch):
    # The workers write their Parquet parts into the scratch folder; one that is gone
    # makes each fail with an error no reader expects.
    from leaktrace.roster.recipients import RecipientBook

    class Meter:
        def update(self, done: int, total: int | None = None) -> None:
            pass

    on_every_core(monkeypatch)
    with pytest.raises(IngestError) as caught:
        parallel_mail.stage_mbox_in_parallel(
            simulated_mbox, None, RecipientBook(), tmp_path / "gone", ReadReport(), Meter()
        )
    said = str(caught.value)
    assert said.startswith("canaries.mbox: a reader process failed: ")
    assert "Error" in said and "died" not in said
    assert caught.value.said("zh").startswith("canaries.mbox：一个读取进程出错：")


def test_staged_on_every_core_a_file_without_separators_is_refused(tmp_path, monkeypatch):
    on_every_core(monkeypatch)
    path = tmp_path / "m.mbox"
    path.write_bytes(b"From: a@b.example\nTo: ada@example.org\n\nno separator line\n" * 500)
    with pytest.raises(IngestError, match="not an mbox file"):
        import_file(Store(tmp_path / "s.duckdb"), path, ImportOptions(format="mbox"))


# --- odd messages ---------------------------------------------------------------------------

HEAD = (
    b"Return-Path: <bounce@mailer.example>\n"
    b"From: news@mailer.example\n"
    b"To: ada@example.org\n"
    b"Message-ID: <m1@mailer.example>\n"
)
PLAIN = b"Content-Type: text/plain; charset=utf-8\n"
B64 = b'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: base64\n'

ODD = {
    "plain": HEAD + b"Subject: hi\n\nhello\n",
    "utf-8 words, a character split between two": HEAD
    + b"Subject: =?utf-8?b?6LS3?= =?UTF-8?B?5qy+6aKd?=\n =?utf-8?b?5bqm?=\n\nx\n",
    "utf-8 words split inside a character": HEAD
    + b"Subject: =?utf-8?b?6LS35q==?= =?utf-8?b?rL4=?=\n\nx\n",
    "words in gbk and q": HEAD
    + b"Subject: =?gbk?b?"
    + base64.b64encode("贷款".encode("gbk"))
    + b"?= =?utf-8?q?=E9=A2=9D_x?=\n\nx\n",
    "a word glued to text": HEAD + b"Subject: pre=?utf-8?b?6LS3?=post\n\nx\n",
    "a word with bad base64": HEAD + b"Subject: =?utf-8?b?6LS3*?=\n\nx\n",
    "a word in an unknown charset": HEAD + b"Subject: =?x-nothing?b?6LS3?=\n\nx\n",
    "a subject of spaces": HEAD + b"Subject:   \n\nx\n",
    "a subject on the next line": HEAD + b"Subject:\n  folded\n\nx\n",
    "an empty subject": HEAD + b"Subject:\n\nx\n",
    "an 8-bit subject": HEAD + "Subject: 贷款额度\n\nx\n".encode(),
    "an encoded display name": b"From: =?utf-8?b?5ZWG5Z+O?= <shop@mailer.example>\n"
    b'To: "Ada, C." <Ada@Example.org>, bob@example.org\nSubject: s\n\nx\n',
    "names and comments": b"From: Shop (the shop) <shop@mailer.example>\n"
    b"To: <ada@example.org>\nSubject: s\n\nx\n",
    "an address in capitals": b"From: SHOP@Mailer.Example\nTo: ADA@EXAMPLE.ORG\n\nx\n",
    "no From, a Return-Path": b"Return-Path: <bounce@mailer.example>\nTo: ada@example.org\n\nx\n",
    "recipient only in X-Original-To": b"X-Original-To: Ada <ada@example.org>\n"
    b"From: a@b.example\n\nx\n",
    "two Delivered-To": b"Delivered-To: nobody\nDelivered-To: ada@example.org\n"
    b"From: a@b.example\n\nx\n",
    "gbk body": HEAD + b"Content-Type: text/plain; charset=gbk\n\n" + "您有额度".encode("gbk"),
    "x-gbk body": HEAD + b'Content-Type: text/plain; charset="x-gbk"\n\n' + "额度".encode("gbk"),
    "unknown-8bit body": HEAD + b"Content-Type: text/plain; charset=unknown-8bit\n\nhi \xff\n",
    "no such charset": HEAD + b"Content-Type: text/plain; charset=bogus\n\nplain\n",
    "utf-8 body, no charset": HEAD + b"\n" + "你好\n".encode(),
    "base64 body": HEAD + B64 + b"\n" + b"5L2g5aW977yM6LS35qy+\n6aKd5bqm\n",
    "base64 body, bad padding": HEAD + B64 + b"\n5L2g5aW\n",
    "base64 body, bad characters": HEAD + B64 + b"\n5L2g*5aW9\n",
    "quoted-printable body": HEAD
    + PLAIN
    + b"Content-Transfer-Encoding: quoted-printable\n\n=E4=BD=A0=E5=A5=BD=\n soft\n",
    "odd transfer encoding": HEAD + PLAIN + b"Content-Transfer-Encoding:  Base64 \n\naGk=\n",
    "html only": HEAD
    + b"Content-Type: text/html; charset=utf-8\n\n"
    + b"<html><body><p>Hello</p><p>you</p></body></html>\n",
    "multipart alternative, html only": HEAD
    + b'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\n'
    + b"--b1\nContent-Type: text/html; charset=utf-8\n\n<p>only <b>html</b></p>\n--b1--\n",
    "multipart alternative, both": HEAD
    + b'Content-Type: multipart/alternative; boundary="b1"\n\n'
    + b"--b1\nContent-Type: text/plain\n\nplain text\n"
    + b"--b1\nContent-Type: text/html\n\n<p>html</p>\n--b1--\n",
    "an attachment": HEAD + PLAIN + b"Content-Disposition: attachment\n\nx\n",
    "two content types": HEAD + PLAIN + b"Content-Type: text/html\n\n<p>x</p>\n",
    "no Date, no Received": HEAD + b"Subject: s\n\nx\n",
    "an unreadable Date": HEAD + b"Date: yesterday\n\nx\n",
    "a Date with -0000": HEAD + b"Date: Mon, 05 Jan 2026 09:00:16 -0000\n\nx\n",
    "a Date with a zone name": HEAD + b"Date: 5 Jan 2026 09:00:16 EST\n\nx\n",
    "a Date with a two-digit year": HEAD + b"Date: Mon, 05 Jan 26 09:00 +0800\n\nx\n",
    "a Date on February 30th": HEAD + b"Date: Mon, 30 Feb 2026 09:00:16 +0800\n\nx\n",
    "Received headers": b"Received: from a by b; Tue, 06 Jan 2026 01:02:03 +0100\n"
    b"Received: from c by a; Mon, 05 Jan 2026 00:00:00 +0000\n"
    + HEAD
    + b"Date: Mon, 05 Jan 2026 09:00:16 +0800\n\nx\n",
    "a Received header without a time": b"Received: from a by b\n"
    + HEAD
    + b"Date: Mon, 05 Jan 2026 09:00:16 +0800\n\nx\n",
    "names in odd case": b"FROM: a@b.example\nto: ada@example.org\n"
    b"SUBJECT: =?utf-8?b?6LS3?=\n\nx\n",
    "an odd Message-ID": HEAD.replace(b"<m1@mailer.example>", b" <a@b> (comment)") + b"\nx\n",
    "a first line that is folded": b" folded\n" + HEAD + b"\nx\n",
    "a line that is not a header": HEAD + b"this is not a header\n\nx\n",
    "no blank line before the body": HEAD + b"Subject: s",
    "no recipient": b"From: a@b.example\nSubject: s\n\nx\n",
    "no headers": b"\njust a body\n",
}


def mbox_of(messages: list[bytes], newline: bytes = b"\n") -> bytes:
    out = b""
    for n, message in enumerate(messages, start=1):
        out += f"From sender{n}@mailer.example Mon Jan  5 10:00:{n % 60:02d} 2026\n".encode()
        out += message + b"\n"
    return out.replace(b"\n", newline)


@pytest.mark.parametrize("name", ODD)
def test_an_odd_message_reads_as_before(tmp_path, name):
    path = tmp_path / "m.mbox"
    path.write_bytes(mbox_of([ODD[name]]))
    assert_same_as_before(path)
    assert_same_as_before(path, recipient="ada@example.org")


def test_odd_messages_together_read_as_before(tmp_path):
    path = tmp_path / "m.mbox"
    path.write_bytes(mbox_of(list(ODD.values())))
    messages = assert_same_as_before(path)
    assert len(messages) > len(ODD) - 5


def test_a_truncated_last_message_is_still_read(tmp_path, simulated_mbox):
    data = simulated_mbox.read_bytes()
    last = data.rfind(b"\nFrom ")
    for cut in (last + 40, last + 400, len(data) - 30, len(data) - 1):
        path = tmp_path / f"cut-{cut}.mbox"
        path.write_bytes(data[:cut])
        assert_same_as_before(path)


def test_crlf_line_ends_read_as_before(tmp_path):
    path = tmp_path / "m.mbox"
    path.write_bytes(mbox_of(list(ODD.values()), newline=b"\r\n"))
    assert_same_as_before(path)


def test_from_lines_in_a_body_read_as_before(tmp_path):
    body = b"Dear Ada,\n>From now on, quoted.\n>>From here too.\nFrom here a new message starts\n"
    path = tmp_path / "m.mbox"
    path.write_bytes(mbox_of([HEAD + b"\n" + body, HEAD + b"\n\n\n\nblank lines\n\n"]))
    messages = assert_same_as_before(path)
    assert ">From now on" in messages[0][4]  # kept as written, as mailbox.mbox kept it


def test_a_file_without_separators_is_refused_as_before(tmp_path):
    path = tmp_path / "m.mbox"
    path.write_bytes(b"From: a@b.example\nTo: ada@example.org\n\nno separator line\n")
    with pytest.raises(IngestError, match=r"m\.mbox is not an mbox file \(no 'From '"):
        list(mail.read_mail(path, ReadReport(), "mbox"))
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="not an mbox file"):
        list(mail.read_mail(path, ReadReport(), "mbox"))


def test_text_before_the_first_separator_belongs_to_no_message(tmp_path):
    path = tmp_path / "m.mbox"
    path.write_bytes(b"junk line\nXFrom x\n" + mbox_of([ODD["plain"]]))
    assert len(assert_same_as_before(path)) == 1


mboxish = st.lists(
    st.sampled_from([b"From ", b"From x 1\n", b"\n", b"\r\n", b"a: b\n", b"x", b">From ", b" "]),
    max_size=40,
).map(b"".join)


@given(data=mboxish, block=st.integers(1, 12))
def test_any_cut_of_any_file_splits_as_mailbox_does(tmp_path_factory, data, block):
    path = tmp_path_factory.mktemp("split") / "m.mbox"
    path.write_bytes(data)
    box = mailbox.mbox(path, create=False)
    expected = []
    for key in box.iterkeys():
        from_line, _, message = box.get_bytes(key, from_=True).partition(b"\n")
        expected.append((from_line.decode("latin-1"), message))
    box.close()
    got = [m for piece, _ in mbox_blocks(path, block) for m in mbox_messages(piece)]
    assert got == expected


# --- header values as policy.default shows them -------------------------------------------

ascii_text = st.text(st.characters(min_codepoint=0, max_codepoint=127, exclude_characters="\r\n"))
words = st.lists(
    st.sampled_from(["=?utf-8?b?6LS3?=", "=?UTF-8?B?5qy+?=", "=?utf-8?b?6a==?=", "=?utf-8?q?a?="])
    | ascii_text.map(lambda s: s[:12]),
    max_size=5,
)
separators = st.sampled_from([" ", "\t", "  ", "", " \t"])


@given(parts=words, sep=separators, name=st.sampled_from(["subject", "received", "to", "from"]))
def test_a_header_value_shows_as_policy_default_shows_it(parts, sep, name):
    value = sep.join(parts)
    try:
        expected = str(policy.default.header_factory(name, value))
    except Exception:  # the full parse would fail too; the quick read must not hide it
        with pytest.raises(Exception):  # noqa: B017
            _shown(name, value)
        return
    assert _shown(name, value) == expected


@given(
    local=st.from_regex(r"[A-Za-z0-9_+\-.]{1,8}", fullmatch=True),
    domain=st.from_regex(r"[A-Za-z0-9\-.]{1,8}", fullmatch=True),
    name=st.sampled_from(["from", "to", "message-id"]),
)
def test_an_address_or_message_id_shows_as_policy_default_shows_it(local, domain, name):
    value = f"<{local}@{domain}>" if name == "message-id" else f"{local}@{domain}"
    assert _shown(name, value) == str(policy.default.header_factory(name, value))


@given(
    day=st.integers(0, 40),
    month=st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
    year=st.integers(900, 2999),
    hms=st.tuples(st.integers(0, 25), st.integers(0, 61), st.integers(0, 61)),
    zone=st.sampled_from(["+0800", "-0000", "+0000", "-0130", "+2400", "EST"]),
    weekday=st.sampled_from(["Mon, ", "", "Thu, "]),
)
def test_a_date_reads_as_policy_default_reads_it(day, month, year, hms, zone, weekday):
    value = f"{weekday}{day:02d} {month} {year} {hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d} {zone}"
    expected = read_date(str(policy.default.header_factory("date", value)))
    got = _when(value)
    assert got == expected
    assert (got and got.utcoffset()) == (expected and expected.utcoffset())


def test_an_import_parsed_on_every_core_and_staged_to_parquet_stores_the_same(
    simulated_mbox, tmp_path, monkeypatch
):
    alone = Store(tmp_path / "alone.duckdb")
    import_file(alone, simulated_mbox)
    monkeypatch.setattr(stage, "CHUNK_CHARS", 20_000)  # a chunk every few dozen mails
    monkeypatch.setattr(stage, "SPILL_CHARS", 50_000)  # and Parquet files after a few chunks
    spilled = Store(tmp_path / "spilled.duckdb")
    import_file(spilled, simulated_mbox)
    on_every_core(monkeypatch)
    cores = Store(tmp_path / "cores.duckdb")
    import_file(cores, simulated_mbox)
    assert stored(spilled) == stored(alone)
    assert stored(cores) == stored(alone)
