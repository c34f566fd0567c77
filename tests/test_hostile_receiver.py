"""Class: the receiver acknowledges only what the drain can import, nothing acknowledged is
lost, one message never jams the inbox, and a captured SmsForwarder post cannot be
replayed (issue: hostile input)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from leaktrace.ingest.inbox import Inbox, inbox_dir
from leaktrace.ingest.receiver import MAX_BODY_CHARS, MAX_POST_BYTES, forwarder_sign
from leaktrace.store import Store
from test_receiver import FORWARDER, SECRET, Receiver, stored

GOOD = {"recipient": "+8613800138000", "sender": "10690001", "body": "您有30000元备用金额度"}


def post_json(receiver: Receiver, payload: object) -> tuple[int, str]:
    data = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Leaktrace-Secret": SECRET}
    return receiver.post("/messages", data, headers)


BAD_RECORDS = {
    "time in words": {**GOOD, "received_at": "yesterday-ish"},
    "20-digit epoch": {**GOOD, "received_at": "99999999999999999999"},
    "30-digit epoch": {**GOOD, "received_at": "9" * 30},
    "year 10000 in UTC": {**GOOD, "received_at": "9999-12-31T23:59:59-05:00"},
    "before SMS existed": {**GOOD, "received_at": "1980-01-01T00:00:00Z"},
    "unknown channel": {**GOOD, "channel": "fax"},
    "numeric channel": {**GOOD, "channel": 5},
    "huge body": {**GOOD, "body": "贷" * (MAX_BODY_CHARS + 1)},
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):
    store = Store(tmp_path_factory.mktemp("receiver") / "s.duckdb", lock_timeout=30)
    from leaktrace import roster

    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    receiver = Receiver(store.path, forwarder=None)
    yield receiver, store
    receiver.stop()


@pytest.mark.parametrize("record", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_message_the_drain_would_reject_is_refused_before_it_is_acknowledged(running, record):
    receiver, store = running
    code, text = post_json(receiver, [GOOD, record])
    assert code == 422 and text.startswith("message 2:")
    assert Inbox(inbox_dir(store.path)).waiting() == 0  # not even the good one: all or none


@pytest.mark.parametrize("timestamp", ["99999999999999999999", "1" + "0" * 25])
def test_an_anonymous_smsforwarder_post_with_an_impossible_time_is_refused(running, timestamp):
    receiver, store = running
    code, _ = receiver.form(
        "/smsforwarder?to=%2B8613800138000",
        {"from": "10690001", "content": "x", "timestamp": timestamp},
    )
    assert code == 422
    code, _ = receiver.form(
        "/smsforwarder?to=%2B8613800138000", {"from": "10690001", "content": "ok"}
    )
    assert code == 200
    assert any(row[3] == "ok" for row in stored(store))  # the inbox is not jammed


def raw_post(receiver: Receiver, headers: str, chunks: list[bytes]) -> int:
    """Send a request by hand (the server may answer before the body is sent); its status."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=30) as sock:
        sock.sendall(headers.encode() + b"\r\n")
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed early: read the answer
        answer = sock.recv(4096).decode("latin-1")
    return int(answer.split()[1])


def test_oversized_posts_get_413_however_they_are_sent(running):
    receiver, _ = running
    head = f"POST /messages HTTP/1.1\r\nHost: x\r\nX-Leaktrace-Secret: {SECRET}\r\n"
    declared = head + f"Content-Length: {MAX_POST_BYTES + 1}\r\n"
    assert raw_post(receiver, declared, [b"[" + b" " * MAX_POST_BYTES]) == 413
    piece = b" " * 65536
    chunked = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (MAX_POST_BYTES // len(piece) + 2)
    assert (
        raw_post(receiver, head + "Transfer-Encoding: chunked\r\n", [*chunked, b"0\r\n\r\n"]) == 413
    )


def test_deeply_nested_json_gets_400(running):
    receiver, _ = running
    deep = b"[" * 100_000 + b"]" * 100_000
    code, _ = receiver.post("/messages", deep, {"X-Leaktrace-Secret": SECRET})
    assert code == 400


def test_a_replayed_smsforwarder_post_is_refused(tmp_path):
    store = Store(tmp_path / "s.duckdb", lock_timeout=30)
    receiver = Receiver(store.path)
    try:
        timestamp = str(int(time.time() * 1000))
        signed = {
            "from": "10690001",
            "timestamp": timestamp,
            "sign": forwarder_sign(FORWARDER, timestamp),
        }
        code, _ = receiver.form("/smsforwarder?to=x", {**signed, "content": "first"})
        assert code == 200
        for content, to in (("first", "x"), ("forged content", "x"), ("first", "other")):
            code, text = receiver.form(f"/smsforwarder?to={to}", {**signed, "content": content})
            assert code == 403 and "used before" in text
    finally:
        receiver.stop()


def test_the_nonce_window_forgets_after_the_hour_and_survives_a_restart(tmp_path):
    inbox = Inbox(tmp_path / "inbox")
    assert inbox.first_use("k", 3600, now=1000.0)
    assert not Inbox(tmp_path / "inbox").first_use("k", 3600, now=2000.0)  # a new process
    assert inbox.first_use("k", 3600, now=1000.0 + 3601)
    (tmp_path / "inbox" / "nonces.json").write_text("[broken")
    assert inbox.first_use("k2", 3600)


def test_lines_the_drain_rejects_go_to_the_dead_letter_file_with_the_reason(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    from leaktrace import roster

    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    inbox = Inbox(inbox_dir(store.path))
    lines = [
        json.dumps({**GOOD, "received_at": "2026-01-05T10:00:00+08:00"}),
        json.dumps({**GOOD, "received_at": "yesterday-ish"}),
        "{not json",
        json.dumps({**GOOD, "received_at": "2026-01-06T10:00:00+08:00", "channel": "fax"}),
    ]
    (inbox.directory / "pending-1.jsonl").write_text("\n".join(lines) + "\n")
    (inbox.directory / "pending-2.jsonl").write_bytes(b"\xff\xfe\x00garbage\x00\n")
    results = inbox.drain(store)
    assert [r.inserted for r in results] == [1, 0]
    dead = inbox.dead_letters()
    assert [(d["file"], d["line"]) for d in dead] == [
        ("pending-1.jsonl", 2),
        ("pending-1.jsonl", 3),
        ("pending-1.jsonl", 4),
        ("pending-2.jsonl", 1),
    ]
    assert all(d["reason"] for d in dead) and dead[0]["record"] == lines[1]
    assert inbox.pending() == []  # nothing left to jam the next drain
    assert inbox.drain(store) == []


def test_ingest_inbox_with_a_bad_pending_file_is_lines_not_a_traceback(tmp_path, cli, monkeypatch):
    db = tmp_path / "cli.duckdb"
    monkeypatch.setenv("LEAKTRACE_DB", str(db))
    cli("canary", "new", "--phone", "13800138000", "--seed", "1")
    inbox = Inbox(inbox_dir(db))
    (inbox.directory / "pending-1.jsonl").write_text(
        json.dumps({**GOOD, "received_at": "99999999999999999999"})
        + "\n"
        + json.dumps({**GOOD, "received_at": "2026-01-05T10:00:00+08:00"})
        + "\n"
    )
    code, out = cli("ingest", "--inbox")
    assert code == 0 and "Traceback" not in out and "dead-letter" in out
    assert len(Inbox(inbox_dir(Path(db))).dead_letters()) == 1
