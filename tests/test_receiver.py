"""The live receiver as a real server process: signatures, a busy store, a crash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import store_worker
from leaktrace import roster
from leaktrace.ingest.receiver import forwarder_sign
from leaktrace.store import Store

TOKEN, FORWARDER, SECRET = "twilio-auth-token", "forwarder-secret", "json-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """``leaktrace receive`` running in its own process."""

    def __init__(
        self, db: Path, drain_every: float = 0.3, forwarder: str | None = FORWARDER
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LEAKTRACE_LOCK_TIMEOUT": "60"}
        env.pop("LEAKTRACE_FORWARDER_SECRET", None)
        signed = ["--forwarder-secret", forwarder] if forwarder else []
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "leaktrace.cli", "--db", str(db), "receive",
                "--port", str(self.port), "--twilio-token", TOKEN, *signed,
                "--secret", SECRET, "--drain-every", str(drain_every),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the receiver did not start: " + self.proc.stderr.read().decode())

    def post(self, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def form(self, path: str, fields: dict[str, str], headers: dict | None = None):
        body = urllib.parse.urlencode(fields).encode()
        kind = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.post(path, body, {**kind, **(headers or {})})

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)


def twilio_signature(url: str, params: dict[str, str]) -> str:
    """Twilio's documented scheme: HMAC-SHA1 of the URL and the sorted key+value pairs."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def stored(store: Store, timeout: float = 20) -> list[tuple]:
    """The messages in the store once the receiver has drained something."""
    deadline = time.monotonic() + timeout
    while True:
        with store.connect() as con:
            got = con.execute(
                "SELECT recipient, canary_id IS NOT NULL, sender, body, own_id FROM messages"
                " WHERE batch_id > 0 ORDER BY id"
            ).fetchall()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


@pytest.fixture
def study(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s.duckdb", lock_timeout=30)
    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    return store


@pytest.fixture
def receiver(study: Store):
    running = Receiver(study.path)
    yield running
    running.stop()


TWILIO_POST = {
    "MessageSid": "SM0123456789abcdef",
    "AccountSid": "AC0123",
    "From": "+8610690001",
    "To": "+8613800138000",
    "Body": "【安易花】您有30000元备用金额度，回T退订",
    "NumMedia": "0",
}


def test_twilio_posts_with_a_valid_signature_land_and_forged_ones_get_403(receiver, study):
    url = receiver.base + "/twilio"
    code, _ = receiver.form("/twilio", TWILIO_POST, {"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert code == 403
    forged = {**TWILIO_POST, "Body": "changed"}
    signature = twilio_signature(url, TWILIO_POST)
    assert receiver.form("/twilio", forged, {"X-Twilio-Signature": signature})[0] == 403
    code, reply = receiver.form("/twilio", TWILIO_POST, {"X-Twilio-Signature": signature})
    assert code == 200 and "<Response" in reply
    assert stored(study) == [
        ("+8613800138000", True, "10690001", TWILIO_POST["Body"], "SM0123456789abcdef")
    ]


def test_smsforwarder_sign_is_checked(receiver, study):
    timestamp = str(int(time.time() * 1000))
    post = {
        "from": "1069000123",
        "content": "短信内容：【金满仓】额度已到账\n来自：SIM1",
        "org_content": "【金满仓】额度已到账",
        "timestamp": timestamp,
    }
    wrong = {**post, "sign": forwarder_sign("not-the-secret", timestamp)}
    assert receiver.form("/smsforwarder?to=phone-1", wrong)[0] == 403
    stale_ts = str(int(time.time() * 1000) - 7_200_000)
    stale = {**post, "timestamp": stale_ts, "sign": forwarder_sign(FORWARDER, stale_ts)}
    assert receiver.form("/smsforwarder?to=phone-1", stale)[0] == 403
    good = {**post, "sign": forwarder_sign(FORWARDER, timestamp)}
    assert receiver.form("/smsforwarder?to=phone-1", good)[0] == 200
    # SmsForwarder's own documented example: Base64(HMAC-SHA256(secret, f"{ts}\n{secret}")).
    expected = base64.b64encode(
        hmac.new(FORWARDER.encode(), f"{timestamp}\n{FORWARDER}".encode(), hashlib.sha256).digest()
    ).decode()
    assert good["sign"] == expected
    assert stored(study) == [("+8613800138000", True, "1069000123", "【金满仓】额度已到账", None)]


def test_generic_json_needs_the_shared_secret_and_the_fields(receiver, study):
    message = {"recipient": "phone-1", "sender": "95588", "body": "【工商银行】余额变动"}
    body = json.dumps([message]).encode()
    kind = {"Content-Type": "application/json"}
    assert receiver.post("/messages", body, kind)[0] == 403
    assert receiver.post("/messages", body, {**kind, "X-Leaktrace-Secret": "nope"})[0] == 403
    missing = json.dumps({"recipient": "phone-1"}).encode()
    code, text = receiver.post("/messages", missing, {**kind, "X-Leaktrace-Secret": SECRET})
    assert code == 400 and "required" in text
    code, text = receiver.post("/messages", body, {**kind, "X-Leaktrace-Secret": SECRET})
    assert code == 200 and json.loads(text) == {"accepted": 1}
    assert stored(study) == [("+8613800138000", True, "95588", "【工商银行】余额变动", None)]


def signed_twilio(receiver: Receiver, sid: str) -> tuple[int, str]:
    post = {**TWILIO_POST, "MessageSid": sid}
    signature = twilio_signature(receiver.base + "/twilio", post)
    return receiver.form("/twilio", post, {"X-Twilio-Signature": signature})


def test_a_post_while_another_process_locks_the_store_is_answered_and_lands_later(receiver, study):
    holder = store_worker.start_holding(study.path)
    try:
        assert signed_twilio(receiver, "SM-busy")[0] == 200
        # Answered while the store is still held: from the inbox, not the store.
        store_worker.release(holder)
    finally:
        holder.kill()
        holder.wait()
    assert [r[-1] for r in stored(study)] == ["SM-busy"]


@pytest.mark.slow
def test_a_receiver_killed_after_answering_loses_nothing(study, cli, monkeypatch):
    receiver = Receiver(study.path, drain_every=3600)
    holder = store_worker.start_holding(study.path)
    try:
        assert signed_twilio(receiver, "SM-crash")[0] == 200
        receiver.stop(signal.SIGKILL)  # killed while the store is still held
        store_worker.release(holder)
    finally:
        holder.kill()
        holder.wait()
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    code, out = cli("ingest", "--inbox")
    assert code == 0 and "1 inserted" in out
    assert [r[-1] for r in stored(study, timeout=0)] == ["SM-crash"]
    code, out = cli("ingest", "--inbox")
    assert "nothing waiting" in out


def _record(n: int) -> dict:
    return {
        "recipient": "+8613800138000",
        "sender": "10690001",
        "body": f"【安易花】您有{n}0000元备用金额度，回T退订",
        "received_at": f"2026-03-0{1 + n % 9}T10:00:00+08:00",
        "id": f"drain-{n}",
    }


def _analysed(store: Store) -> int:
    with store.connect() as con:
        return con.execute("SELECT count(*) FROM message_templates").fetchone()[0]


def test_the_drainer_analyses_after_a_drain_at_most_once_per_interval(study, tmp_path):
    from leaktrace.ingest.inbox import Inbox, inbox_dir
    from leaktrace.ingest.receiver import Drainer, ReceiverConfig
    from leaktrace.pipeline import analyse

    config = ReceiverConfig(
        store_path=study.path,
        inbox_dir=inbox_dir(study.path),
        drain_every=0.1,
        analyse_every=3.0,
    )
    inbox = Inbox(config.inbox_dir)
    drainer = Drainer(config, inbox, analyse)
    inbox.append([_record(1), _record(2)])
    drainer.start()
    try:
        deadline = time.monotonic() + 60
        while drainer.analyses < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _analysed(study) == 2 and drainer.analyses == 1  # clustered without a command
        started = time.monotonic()
        inbox.append([_record(3)])
        drainer.wake.set()
        while drainer.analyses < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        # Drained at once, analysed only when the interval since the last one had passed.
        assert _analysed(study) == 3 and drainer.analyses == 2
        assert time.monotonic() - started > 1.5
        time.sleep(1.0)  # nothing new: no analysis
        assert drainer.analyses == 2
    finally:
        drainer.stopping.set()
        drainer.wake.set()
        drainer.join(timeout=30)


def test_the_drainer_leaves_the_analysis_for_later_while_an_import_holds_the_store(study, tmp_path):
    from leaktrace.ingest.inbox import Inbox, inbox_dir
    from leaktrace.ingest.receiver import Drainer, ReceiverConfig
    from leaktrace.pipeline import analyse

    config = ReceiverConfig(
        store_path=study.path, inbox_dir=inbox_dir(study.path), drain_every=0.1, analyse_every=0
    )
    inbox = Inbox(config.inbox_dir)
    held = threading.Event()
    attempts = []

    def analyse_while_held(store: Store) -> object:
        attempts.append(time.monotonic())
        if not held.is_set():  # the first time, another process holds the store
            held.set()
            holder = store_worker.start_holding(study.path)
            try:
                return analyse(Store(study.path, lock_timeout=0.5))
            finally:
                store_worker.release(holder)
                holder.kill()
                holder.wait()
        return analyse(store)

    drainer = Drainer(config, inbox, analyse_while_held)
    inbox.append([_record(4)])
    drainer.start()
    try:
        deadline = time.monotonic() + 60
        while drainer.analyses < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        # The first attempt met the held store and gave way; a later turn analysed.
        assert held.is_set() and len(attempts) >= 2 and drainer.analyses == 1
        with study.connect() as con:  # the drained message (the holder wrote one of its own)
            assert con.execute(
                "SELECT count(*) FROM message_templates t JOIN messages m ON m.id = t.message_id"
                " WHERE m.body LIKE '%40000元%'"
            ).fetchone() == (1,)
            # The try that met the held store may have clustered already: the later turn
            # still linked every clustered message with a linking indicator.
            assert con.execute(
                "SELECT count(*) FROM message_indicators i JOIN indicator_nodes n USING (ns, key)"
                " WHERE n.links AND i.message_id NOT IN (SELECT message_id FROM message_campaigns)"
            ).fetchone() == (0,)
            assert con.execute(
                "SELECT count(*) FROM message_templates WHERE message_id NOT IN"
                " (SELECT message_id FROM message_indicators)"
                " AND message_id IN (SELECT id FROM messages WHERE sender <> '')"
            ).fetchone() == (0,)
    finally:
        drainer.stopping.set()
        drainer.wake.set()
        drainer.join(timeout=30)


def test_the_drainer_keeps_receiving_after_the_store_fails_a_drain(study, monkeypatch):
    # A drain whose commit DuckDB fails (out of memory at the COMMIT, a conflict) must
    # not end the drainer's thread: the files stay in the inbox for the next turn.
    import duckdb

    from leaktrace.ingest.inbox import Inbox, inbox_dir
    from leaktrace.ingest.receiver import Drainer, ReceiverConfig

    config = ReceiverConfig(
        store_path=study.path, inbox_dir=inbox_dir(study.path), drain_every=0.1, analyse_every=0
    )
    inbox = Inbox(config.inbox_dir)
    failed = []
    drain = Inbox.drain

    def failing_once(self, store):
        if not failed:
            failed.append(True)
            raise duckdb.TransactionException("Failed to commit: failed to pin block")
        return drain(self, store)

    monkeypatch.setattr(Inbox, "drain", failing_once)
    drainer = Drainer(config, inbox)
    inbox.append([_record(7)])
    drainer.start()
    try:
        deadline = time.monotonic() + 60
        while inbox.waiting() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert failed and drainer.is_alive() and inbox.waiting() == 0
        with study.connect() as con:
            assert (
                con.execute("SELECT count(*) FROM messages WHERE own_id = 'drain-7'").fetchone()[0]
                == 1
            )
    finally:
        drainer.stopping.set()
        drainer.wake.set()
        drainer.join(timeout=30)
