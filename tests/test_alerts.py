"""Alerts after each analysis, sent to real local servers: an HTTP sink and an SMTP server."""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from streamlit.testing.v1 import AppTest
from tests.browser import free_port

from leaktrace.alerts import (
    AlertError,
    add_target,
    after_analysis,
    alert_log,
    deliver,
    detect,
    list_targets,
    remove_target,
    send_test,
)
from leaktrace.alerts import outbox as outbox_module
from leaktrace.alerts.senders import rfc2047, slack_escape
from leaktrace.alerts.targets import target_options
from leaktrace.attribution.model import Settings
from leaktrace.attribution.verdicts import run_attribution, source_reports
from leaktrace.ingest.inbox import Inbox
from leaktrace.ingest.receiver import Drainer, ReceiverConfig
from leaktrace.model import Source, SourceCategory
from leaktrace.pipeline import analyse
from leaktrace.roster import add_source
from leaktrace.store import Store

FIELDS = {"event", "source", "verdict", "reason", "evidence_count", "campaign", "title", "text"}


# --- the servers -------------------------------------------------------------------------


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self):
        return json.loads(self.body)


class Sink:
    """An HTTP server on 127.0.0.1 that records every POST and answers ``status``."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.status = 200
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = sink.status
                sink.posts.append(Post(self.path, dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"sink says no")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def received(self, path: str) -> list[Post]:
        """The posts to ``path`` that were answered 200."""
        return [p for p in self.posts if p.path == path and p.status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list = []
        self.raw: list[bytes] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        if session.authenticated:
            self.logins.append(session.auth_data.login.decode())
        return "250 Message accepted for delivery"


@pytest.fixture
def sink():
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def smtp():
    """A plain SMTP server on a free port: (mailbox, port)."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    return free_port()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def add_every_kind(store: Store, sink: Sink, smtp_port: int) -> None:
    add_target(store, "webhook", sink.url("/hook"))
    add_target(store, "ntfy", sink.url("/leaks-topic"))
    add_target(store, "slack", sink.url("/slack"))
    add_target(store, "email", "me@example.org", smtp_host="127.0.0.1", smtp_port=smtp_port,
               starttls=False)  # fmt: skip


def alerting_reports(store: Store) -> dict[str, dict]:
    return {r["name"]: r for r in source_reports(store) if r["verdict"] in ("leaked", "suspected")}


@pytest.fixture
def analysed_copy(tmp_path: Path, analysed_store_file: Path) -> Store:
    shutil.copyfile(analysed_store_file, tmp_path / "analysed-copy.duckdb")
    return Store(tmp_path / "analysed-copy.duckdb")


# --- after an analysis --------------------------------------------------------------------


@pytest.mark.slow
def test_each_source_becoming_leaked_is_alerted_once_per_target_in_every_shape(
    sample_copy, sink, smtp
):
    mailbox, smtp_port = smtp
    add_every_kind(sample_copy, sink, smtp_port)
    result = analyse(sample_copy)
    reports = alerting_reports(sample_copy)
    assert len(reports) == 12  # the sample study's leaked sources (none is only suspected)
    assert result.alerts == 4 * len(reports)
    assert f"{result.alerts} alerts sent" in result.summary()

    hooks = [p.json() for p in sink.received("/hook")]
    assert sorted(h["source"] for h in hooks) == sorted(reports)
    for hook in hooks:
        report = reports[hook["source"]]
        assert set(hook) == FIELDS | {"at"}
        assert hook["event"] == "verdict" and hook["verdict"] == report["verdict"]
        assert hook["reason"] == report["reason"]
        assert hook["evidence_count"] == len(report["evidence_message_ids"]) > 0
        assert hook["campaign"] is None
        assert hook["title"] == f"leaktrace: {hook['source']} {report['verdict']}"
        assert report["reason"] in hook["text"]
        assert f"Evidence: {hook['evidence_count']} messages." in hook["text"]

    ntfy = sink.received("/leaks-topic")
    assert len(ntfy) == len(reports)
    for post in ntfy:
        title = str(make_header(decode_header(post.headers["Title"])))
        source = title.removeprefix("leaktrace: ").removesuffix(" leaked")
        assert post.headers["Title"].isascii()  # Chinese names travel RFC 2047-encoded
        assert post.headers["Priority"] == "5"
        assert post.headers["Tags"].split(",") == ["rotating_light", "leaktrace"]
        assert post.headers["Content-Type"].startswith("text/plain")
        assert reports[source]["reason"] in post.body.decode()

    slack = [p.json() for p in sink.received("/slack")]
    assert len(slack) == len(reports)
    assert all(set(s) == {"text"} for s in slack)
    titles = {s["text"].split("\n")[0] for s in slack}
    assert titles == {f"*leaktrace: {name} leaked*" for name in reports}

    assert len(mailbox.messages) == len(reports)
    for mail in mailbox.messages:
        source = mail["Subject"].removeprefix("leaktrace: ").removesuffix(" leaked")
        assert source in reports
        assert mail["To"] == "me@example.org"
        assert mail.get_content_charset() == "utf-8"
        assert reports[source]["reason"] in mail.get_content()
    # On the wire the subjects are ASCII: Chinese names travel RFC 2047-encoded.
    assert all(raw.isascii() for raw in mailbox.raw)
    assert any(re.search(rb"^Subject: .*=\?utf-8\?b\?", raw, re.M) for raw in mailbox.raw)
    assert all(b"Content-Transfer-Encoding: quoted-printable" in raw for raw in mailbox.raw)

    entries = alert_log(sample_copy)
    assert len(entries) == 4 * len(reports)
    assert {e.status for e in entries} == {"sent"}

    # The same results again: nothing is news.
    again = analyse(sample_copy)
    assert again.alerts == 0
    assert len(sink.posts) == 3 * len(reports) and len(mailbox.messages) == len(reports)


@pytest.mark.slow
def test_a_failing_target_is_retried_after_the_next_analysis_and_never_holds_it_up(
    sample_copy, sink
):
    add_target(sample_copy, "webhook", sink.url("/hook"))
    add_target(sample_copy, "webhook", f"http://127.0.0.1:{closed_port()}/gone")
    sink.status = 500
    started = time.monotonic()
    result = analyse(sample_copy)
    assert result.alerts == 0  # the analysis itself went through
    # Both targets fail their first alert (3 tries each, closed port at once) and are
    # left alone for the rest of the pass: well within the budget.
    delivering = [p for p in sink.posts if p.path == "/hook"]
    assert len(delivering) == outbox_module.TRIES
    assert time.monotonic() - started < 60
    pending = [e for e in alert_log(sample_copy) if e.attempts]
    assert len(pending) == 2 and {e.status for e in pending} == {"pending"}
    errors = sorted(e.last_error for e in pending)
    assert errors[0].startswith("HTTP 500")
    assert "refused" in errors[1]

    sink.status = 200
    assert analyse(sample_copy).alerts == 12  # the next analysis delivers what waited
    hooks = [p.json()["source"] for p in sink.received("/hook")]
    assert sorted(hooks) == sorted(alerting_reports(sample_copy))  # each once
    assert deliver(sample_copy).sent == 0  # nothing more for the sink
    assert len(sink.received("/hook")) == 12
    statuses = {(e.target_id, e.status) for e in alert_log(sample_copy)}
    assert statuses == {(1, "sent"), (2, "pending")}


@pytest.mark.slow
def test_a_hung_target_costs_the_analysis_at_most_the_time_budget(store, silent_port):
    store_with_change(store)
    add_target(store, "webhook", f"http://127.0.0.1:{silent_port}/hook")
    add_target(store, "ntfy", f"http://127.0.0.1:{silent_port}/topic")
    assert len(detect(store)) == 1
    started = time.monotonic()
    report = deliver(store, budget=1.5, timeout=0.5)
    assert time.monotonic() - started < 1.5 + 1.0
    assert report.sent == 0 and report.failed + report.untried == 2
    started = time.monotonic()
    after_analysis(store)  # the default budget
    assert time.monotonic() - started < outbox_module.BUDGET_S + 1.5


def test_a_delivery_claimed_by_another_analysis_is_left_to_it(store, sink):
    add_target(store, "webhook", sink.url("/hook"))
    store_with_change(store)
    detect(store)
    assert len(outbox_module._claim(store, datetime.now(UTC))) == 1  # another process has it
    assert deliver(store).sent == 0 and sink.posts == []
    with store.transaction() as con:  # that process died before it could: the claim runs out
        con.execute("UPDATE alert_deliveries SET claimed_until = now() - INTERVAL 1 SECOND")
    assert deliver(store).sent == 1 and len(sink.received("/hook")) == 1


def test_an_alert_failure_is_logged_and_never_raised(store, monkeypatch, caplog):
    def broken(store):
        raise RuntimeError("the outbox is on fire")

    monkeypatch.setattr(outbox_module, "detect", broken)
    assert after_analysis(store) == 0
    assert "alerts could not be checked or sent" in caplog.text


@pytest.mark.slow
def test_the_receivers_analysis_after_a_drain_sends_the_alerts(sample_copy, sink, tmp_path):
    add_target(sample_copy, "webhook", sink.url("/hook"))
    config = ReceiverConfig(
        store_path=sample_copy.path, inbox_dir=tmp_path / "inbox", analyse_every=0
    )
    drainer = Drainer(config, Inbox(config.inbox_dir), analyse)
    drainer._maybe_analyse(sample_copy)  # what follows a drain that stored messages
    assert drainer.analyses == 1
    assert len(sink.received("/hook")) == len(alerting_reports(sample_copy))


# --- what counts as a change ------------------------------------------------------------


def store_with_change(store: Store, name: str = "企查查", verdict: str = "leaked") -> None:
    """A source whose stored verdict is ``verdict``, as attribution would have left it."""
    add_source(store, Source(name=name, category=SourceCategory.CREDIT_INQUIRY))
    with store.transaction() as con:
        (source_id,) = con.execute("SELECT id FROM sources WHERE name = ?", [name]).fetchone()
        report = {"name": name, "verdict": verdict, "reason": "3 messages named its marker."}
        con.execute(
            "INSERT INTO source_verdicts VALUES (?, ?, 1.0, NULL, ?, [1, 2, 3])",
            [source_id, verdict, json.dumps(report, ensure_ascii=False)],
        )


def set_verdict(store: Store, name: str, verdict: str) -> None:
    with store.transaction() as con:
        con.execute(
            "UPDATE source_verdicts SET verdict = ? WHERE source_id ="
            " (SELECT id FROM sources WHERE name = ?)",
            [verdict, name],
        )


def test_a_source_leaked_again_after_being_cleared_is_a_new_change(store, sink):
    add_target(store, "webhook", sink.url("/hook"))
    store_with_change(store)
    assert [a.title for a in detect(store)] == ["leaktrace: 企查查 leaked"]
    assert detect(store) == []  # idempotent
    set_verdict(store, "企查查", "clean")
    assert detect(store) == []  # remembered, not sent
    set_verdict(store, "企查查", "leaked")
    (again,) = detect(store)
    assert again.text.startswith("企查查: leaked (was clean).")
    set_verdict(store, "企查查", "suspected")
    (weaker,) = detect(store)
    assert weaker.verdict == "suspected" and "was leaked" in weaker.text
    with store.connect() as con:
        keys = [r[0] for r in con.execute("SELECT key FROM alerts ORDER BY id").fetchall()]
    assert keys == ["verdict:1:leaked:1", "verdict:1:leaked:2", "verdict:1:suspected:1"]
    assert deliver(store).sent == 3
    assert [p.json()["verdict"] for p in sink.received("/hook")] == [
        "leaked",
        "leaked",
        "suspected",
    ]


def test_a_target_added_later_gets_only_later_changes(store, sink):
    store_with_change(store)
    assert len(detect(store)) == 1  # found with no target: kept in the log
    assert [e.status for e in alert_log(store)] == ["no target"]
    add_target(store, "webhook", sink.url("/hook"))
    assert detect(store) == [] and deliver(store).sent == 0
    store_with_change(store, "Lendly", "suspected")
    assert [a.source for a in detect(store)] == ["Lendly"]
    assert deliver(store).sent == 1


def significant_at(store: Store, unit: str, source: str) -> None:
    """A unit attribution found significant at ``source`` (3 of its 4 canaries hit)."""
    with store.transaction() as con:
        con.execute(
            "INSERT INTO unit_exposures (unit, source_id, planted, hit, others, others_hit,"
            " controls_hit, p_value, p_adjusted, lift, significant, hit_canaries, expected,"
            " tested, q_value) SELECT ?, id, 4, 3, 20, 0, 0, 1e-5, 1e-4, 12.0, true, [], 0.25,"
            " true, 1e-4 FROM sources WHERE name = ?",
            [unit, source],
        )


def test_a_campaign_merged_into_another_is_not_news_at_the_same_source(store):
    store_with_change(store)
    significant_at(store, "c5", "企查查")
    assert [a.event for a in detect(store)] == ["verdict", "campaign"]
    with store.transaction() as con:  # new messages merged campaign 5 into campaign 9
        con.execute("INSERT INTO campaign_merges VALUES (5, 9, now())")
        con.execute("UPDATE unit_exposures SET unit = 'c9'")
    assert detect(store) == []
    significant_at(store, "c7", "企查查")
    (alert,) = detect(store)
    assert alert.campaign == "c7" and alert.reason.startswith("Campaign c7 reached 3 of the 4")


@pytest.mark.slow
def test_a_campaign_newly_significant_at_a_source_is_alerted_once(analysed_copy, sink):
    add_target(analysed_copy, "webhook", sink.url("/hook"))
    assert detect(analysed_copy) == []  # the analysis that built the store already looked
    # A looser bar makes campaigns significant at the leaked sources of the sample study.
    run_attribution(analysed_copy, Settings(alpha=0.5))
    with analysed_copy.connect() as con:
        (significant,) = con.execute(
            "SELECT count(*) FROM unit_exposures WHERE significant"
        ).fetchone()
    new = detect(analysed_copy)
    assert significant > 0
    assert len(new) == significant and {a.event for a in new} == {"campaign"}
    for alert in new:
        assert alert.campaign and alert.campaign in alert.reason
        assert alert.evidence_count > 0 and alert.verdict == "leaked"
        assert alert.reason.startswith(f"Campaign {alert.campaign} reached ")
    assert detect(analysed_copy) == []
    run_attribution(analysed_copy)  # no longer significant ...
    run_attribution(analysed_copy, Settings(alpha=0.5))  # ... and significant again
    assert detect(analysed_copy) == []  # the same finding: once for good
    assert deliver(analysed_copy, budget=30).sent == significant
    assert {p.json()["event"] for p in sink.received("/hook")} == {"campaign"}


# --- shapes, targets, test sends -----------------------------------------------------------


def test_slack_text_cannot_carry_links_or_mentions():
    assert slack_escape("<https://evil.test|click> & <!channel>") == (
        "&lt;https://evil.test|click&gt; &amp; &lt;!channel&gt;"
    )


@pytest.mark.parametrize("title", ["leaktrace: test", "leaktrace: 企查查 leaked", "Ä ✓ 🚨"])
def test_ntfy_titles_round_trip_through_rfc2047(title):
    encoded = rfc2047(title)
    assert encoded.isascii()
    assert str(make_header(decode_header(encoded))) == title


@pytest.mark.parametrize(
    ("kind", "address", "options", "error"),
    [
        ("pager", "https://x.test", {}, "unknown alert kind 'pager'"),
        ("webhook", "ftp://x.test/hook", {}, "a webhook target is a URL"),
        ("ntfy", "ntfy.sh/topic", {}, "a ntfy target is a URL"),
        ("slack", "https://x.test", {"smtp_host": "h"}, "--smtp-host is for e-mail targets"),
        ("email", "not-an-address", {"smtp_host": "h"}, "an email target is an e-mail address"),
        ("email", "me@example.org", {}, "needs the SMTP server"),
        (
            "email",
            "me@example.org",
            {"smtp_host": "h", "password_env": "MY PASS"},
            "takes the name",
        ),
        ("email", "me@example.org", {"smtp_host": "h", "token_env": "T"}, "--token-env is for"),
    ],
)
def test_a_target_that_cannot_work_is_refused_with_the_reason(kind, address, options, error):
    with pytest.raises(AlertError, match=error):
        target_options(kind, address, **options)


@pytest.mark.parametrize(
    ("options", "port", "security"),
    [
        ({}, 587, (True, False)),
        ({"ssl": True}, 465, (False, True)),
        ({"starttls": False}, 25, (False, False)),
        ({"smtp_port": 2525}, 2525, (True, False)),
    ],
)
def test_smtp_ports_follow_the_security_asked_for(options, port, security):
    checked = target_options("email", "me@example.org", smtp_host="h", **options)
    assert checked["smtp_port"] == port
    assert (checked["starttls"], checked["ssl"]) == security


def test_a_password_is_never_stored_only_the_variable_naming_it(store, monkeypatch):
    monkeypatch.setenv("LEAKTRACE_SMTP_PASSWORD", "correct horse battery")
    target = add_target(
        store, "email", "me@example.org", smtp_host="smtp.example.org", smtp_user="me"
    )
    assert target.options["password_env"] == "LEAKTRACE_SMTP_PASSWORD"
    assert target.options["from"] == "me@example.org"
    assert b"correct horse battery" not in store.path.read_bytes()


def test_targets_are_listed_and_removed_with_what_they_are_owed(store, sink):
    first = add_target(store, "webhook", sink.url("/a"))
    second = add_target(store, "slack", sink.url("/b"))
    with pytest.raises(AlertError, match="already target 1"):
        add_target(store, "webhook", sink.url("/a"))
    store_with_change(store)
    detect(store)
    assert remove_target(store, first.id) == first
    assert [t.id for t in list_targets(store)] == [second.id]
    assert [e.target_id for e in alert_log(store)] == [second.id]
    with pytest.raises(AlertError, match="no alert target 1"):
        remove_target(store, first.id)


def test_send_test_reports_each_target(store, sink, smtp):
    mailbox, smtp_port = smtp
    add_every_kind(store, sink, smtp_port)
    add_target(store, "webhook", f"http://127.0.0.1:{closed_port()}/gone")
    results = send_test(store)
    assert [error is None for _, error in results] == [True, True, True, True, False]
    assert "refused" in str(results[-1][1])
    (hook,) = sink.received("/hook")
    assert hook.json()["event"] == "test"
    assert mailbox.messages[0]["Subject"] == "leaktrace: test alert"


# --- SMTP with TLS and a login -------------------------------------------------------------


@pytest.fixture
def tls_smtp(tmp_path, monkeypatch):
    """An SMTP server that requires STARTTLS and a login, with a certificate we trust."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client's default trust store
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def test_email_goes_over_starttls_with_the_password_from_the_environment(
    store, tls_smtp, monkeypatch
):
    mailbox, port = tls_smtp
    monkeypatch.setenv("ALERT_MAIL_PASSWORD", "s3cret")
    target = add_target(
        store,
        "email",
        "我@example.org",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_user="leaktrace",
        sender="alerts@example.org",
        password_env="ALERT_MAIL_PASSWORD",
    )
    ((_, error),) = send_test(store, target.id)
    assert error is None
    assert mailbox.logins == ["leaktrace"]
    assert mailbox.messages[0]["From"] == "alerts@example.org"

    monkeypatch.setenv("ALERT_MAIL_PASSWORD", "wrong")
    ((_, error),) = send_test(store, target.id)
    assert str(error).startswith("SMTP 535")
    monkeypatch.delenv("ALERT_MAIL_PASSWORD")
    ((_, error),) = send_test(store, target.id)
    assert "ALERT_MAIL_PASSWORD is not set" in str(error)


def test_plain_smtp_is_refused_by_a_server_that_requires_starttls(store, tls_smtp):
    _, port = tls_smtp
    target = add_target(
        store, "email", "me@example.org", smtp_host="127.0.0.1", smtp_port=port, starttls=False
    )
    ((_, error),) = send_test(store, target.id)
    assert str(error).startswith("SMTP 530")


# --- the CLI, end to end -----------------------------------------------------------------


@pytest.mark.slow
def test_the_alerts_commands_end_to_end(cli, tmp_path, sample_store_file, sink, smtp):
    mailbox, smtp_port = smtp
    shutil.copyfile(sample_store_file, tmp_path / "cli.duckdb")  # the cli fixture's store
    code, output = cli("alerts", "add", "webhook", sink.url("/hook"))
    assert code == 0 and "added alert target 1: webhook" in output
    code, output = cli(
        "alerts", "add", "email", "me@example.org", "--smtp-host", "127.0.0.1",
        "--smtp-port", str(smtp_port), "--no-starttls", "--smtp-user", "me",
        "--password-env", "NOT_SET_ANYWHERE_X",
    )  # fmt: skip
    assert code == 0 and "NOT_SET_ANYWHERE_X is not set here" in output
    code, output = cli("alerts", "remove", "2")
    assert code == 0 and "removed alert target 2" in output
    code, output = cli("alerts", "add", "ntfy", sink.url("/topic"), "--smtp-host", "x")
    assert code == 1 and "--smtp-host is for e-mail targets, not ntfy" in output
    code, output = cli("alerts", "add", "slack", sink.url("/slack"))
    code, output = cli("alerts", "list", "--json")
    assert [(t["id"], t["kind"]) for t in json.loads(output)] == [(1, "webhook"), (3, "slack")]

    code, output = cli("alerts", "test")
    assert code == 0 and output.count("sent to target") == 2
    code, output = cli("alerts", "disable", "3")
    assert code == 0

    code, output = cli("attribute")  # the analysis sends what changed
    assert code == 0 and "12 alerts sent" in output
    assert len(sink.received("/hook")) == 1 + 12 and len(sink.received("/slack")) == 1
    code, output = cli("alerts", "log", "--json")
    log = json.loads(output)
    assert len(log) == 12 and {e["status"] for e in log} == {"sent"}
    assert all(e["target_id"] == 1 and e["attempts"] == 1 for e in log)
    code, output = cli("alerts", "log")
    assert code == 0 and "leaktrace: " in output

    code, output = cli("attribute")
    assert code == 0 and "alerts sent" not in output
    assert len(sink.received("/hook")) == 13 and mailbox.messages == []

    code, output = cli("alerts", "add", "webhook", f"http://127.0.0.1:{closed_port()}/x")
    code, output = cli("alerts", "test", "4")
    assert code == 1 and "failed for target 4" in output and "refused" in output


# --- the dashboard ----------------------------------------------------------------------

APP = Path(__file__).resolve().parent.parent / "app"


def test_the_alerts_page_adds_tests_and_removes_a_target(tmp_path, monkeypatch, sink):
    monkeypatch.setenv("LEAKTRACE_DB", str(tmp_path / "s.duckdb"))
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60).run()
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Alerts"]
    assert "No targets yet: alerts are kept in the log below but sent nowhere." in [
        c.value for c in at.caption
    ]
    at.selectbox(key="alert-kind").select("webhook")
    at.text_input(key="alert-address").input(sink.url("/hook"))
    at.button(key="alert-add").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("Added target 1" in s.value for s in at.success)
    assert at.dataframe[0].value["address"].tolist() == [sink.url("/hook")]

    at.selectbox(key="alert-kind").select("email")
    at.text_input(key="alert-address").input("me@example.org")
    at.button(key="alert-add").click().run()
    (error,) = at.error
    assert error.value.startswith("an email target needs the SMTP server of your mail provider")

    at.button(key="alert-test").click().run()
    assert any("Test alert sent" in s.value for s in at.success)
    assert [p.json()["event"] for p in sink.received("/hook")] == ["test"]
    at.button(key="alert-remove").click().run()
    assert any("Removed target 1" in s.value for s in at.success)
    assert list_targets(Store(tmp_path / "s.duckdb")) == []
