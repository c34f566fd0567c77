"""The live receiver: SMS gateway webhooks in, a durable inbox, drained into the store.

Endpoints (all POST; GET /health answers how many messages wait):

- ``/twilio`` — Twilio's inbound-message form post (From, To, Body, MessageSid).
  With an auth token configured, ``X-Twilio-Signature`` must match or the post
  gets 403.
- ``/smsforwarder?to=RECIPIENT`` — the SmsForwarder app's webhook form post
  (``from``, ``content``/``org_content``, ``timestamp``, ``sign``). With a secret
  configured, ``sign`` = Base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")) must
  match and the timestamp be within an hour.
- ``/messages`` — generic JSON, one object or a list: ``recipient``, ``sender``,
  ``body``, optional ``received_at`` (ISO 8601 with offset, or epoch ms), ``id``,
  ``channel``, ``subject``. Needs the header ``X-Leaktrace-Secret``.

Every accepted message is appended to the inbox with fsync before the answer,
then a background thread drains the inbox into the store whenever the store is
free. The store may be busy for minutes (a big import): posts still get 200.

A message is checked as the drain will check it before it is acknowledged: a
time no message can have, an unknown channel or an oversized post gets a 4xx
with the reason, never a 200 followed by a silent loss. SmsForwarder signs only
the timestamp, not the content, so a timestamp/sign pair is accepted once
(remembered for the hour it is valid); the content itself cannot be proven.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from leaktrace.ingest.formats.tabular import check_record
from leaktrace.ingest.inbox import Inbox
from leaktrace.ingest.records import IngestError
from leaktrace.store import Store, StoreBusy

log = logging.getLogger("leaktrace.ingest.receiver")
FORWARDER_WINDOW_S = 3600
SECRET_HEADER = "X-Leaktrace-Secret"
MAX_POST_BYTES = 1 << 20  # a post of SMS; a list of many messages still fits
MAX_BODY_CHARS = 100_000  # no SMS (1,600 characters at most) or mail text comes near


class _TooLarge(Exception):
    """A post over MAX_POST_BYTES."""


async def _read_capped(request: Request) -> None:
    """Read the post into ``request`` (for form() and json()), refusing oversized ones."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_POST_BYTES:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_POST_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's form() and json() read this copy


def _refusal(records: list[dict[str, Any]]) -> str | None:
    """Why the drain would reject one of ``records`` (numbered from 1), or None."""
    for number, record in enumerate(records, start=1):
        body = record.get("body")
        if isinstance(body, str) and len(body) > MAX_BODY_CHARS:
            return (
                f"message {number}: the body has {len(body):,} characters"
                f" (at most {MAX_BODY_CHARS:,})"
            )
        why = check_record(record)
        if why is not None:
            return f"message {number}: {why}"
    return None


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver needs to know; secrets left empty switch their check off."""

    store_path: Path
    inbox_dir: Path
    twilio_token: str | None = None
    forwarder_secret: str | None = None
    secret: str | None = None
    public_url: str | None = None  # the URL Twilio posts to, when behind a tunnel or proxy
    drain_every: float = 2.0
    drain_lock_timeout: float = 1.0
    analyse_every: float | None = 60.0  # at most one analysis per this many seconds; None: off


def forwarder_sign(secret: str, timestamp: str) -> str:
    """SmsForwarder's ``sign``: Base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Drainer(threading.Thread):
    """Moves the inbox into the store whenever the store can be opened, then analyses.

    ``analyse(store)`` (the pipeline's, given by the command: this stage sits
    below it) runs after a drain that stored something new, at most once per
    ``analyse_every`` seconds (0: after every such drain), and only when the store can
    be had within the drain's lock timeout: an import holding it makes the analysis
    wait for a later turn. While it runs it holds the store like any analysis.
    """

    def __init__(
        self,
        config: ReceiverConfig,
        inbox: Inbox,
        analyse: Callable[..., object] | None = None,
    ) -> None:
        super().__init__(name="inbox-drainer", daemon=True)
        self.config, self.inbox, self.analyse = config, inbox, analyse
        self.wake = threading.Event()
        self.stopping = threading.Event()
        # Stored messages no analysis has seen yet: at start, what an earlier run left.
        self.unanalysed = True
        self.last_analysis = -math.inf
        self.analyses = 0

    def run(self) -> None:
        """Drain on every wake-up and at least every ``drain_every`` seconds."""
        store: Store | None = None
        while not self.stopping.is_set():
            self.wake.wait(self.config.drain_every)
            self.wake.clear()
            try:
                store = store or Store(
                    self.config.store_path, lock_timeout=self.config.drain_lock_timeout
                )
                for result in self.inbox.drain(store):
                    log.info(
                        "stored %d new, %d duplicate, %d in quarantine",
                        result.inserted,
                        result.duplicate,
                        result.quarantined,
                    )
                    self.unanalysed |= result.inserted > 0
                self._maybe_analyse(store)
            except StoreBusy:
                self.unanalysed = True  # a drain may have stored some files before
                log.info("store busy; %d messages wait in the inbox", self.inbox.waiting())
            except (IngestError, OSError, duckdb.Error) as exc:  # the files stay for later
                self.unanalysed = True
                log.error("could not drain the inbox: %s", exc)
                time.sleep(self.config.drain_every)

    def _maybe_analyse(self, store: Store) -> None:
        every = self.config.analyse_every
        if self.analyse is None or every is None or not self.unanalysed:
            return
        if time.monotonic() - self.last_analysis < every:
            return
        if self.stopping.is_set():
            return
        started = time.monotonic()
        try:
            self.analyse(store)
        except StoreBusy:
            # Clustering may have committed before the store was taken: the next try
            # links those messages into campaigns even if it clusters nothing new.
            log.info("store busy; the analysis waits for a later turn")
            return
        except Exception:  # a failed analysis must not stop the receiving
            log.exception("analysis after the drain failed; the next one tries again")
            self.last_analysis = time.monotonic()
            return
        self.unanalysed = False
        self.last_analysis = time.monotonic()
        self.analyses += 1
        log.info("analysed the new messages in %.1f s", self.last_analysis - started)


def create_app(config: ReceiverConfig, analyse: Callable[..., object] | None = None) -> Starlette:
    """The receiver's ASGI app."""
    inbox = Inbox(config.inbox_dir)
    drainer = Drainer(config, inbox, analyse)

    def accept(records: list[dict[str, Any]]) -> Response | None:
        """Store ``records`` durably, or the 4xx answer saying why not."""
        why = _refusal(records)
        if why is not None:
            return PlainTextResponse(why + "\n", status_code=422)
        inbox.append(records)
        drainer.wake.set()
        return None

    def capped(handler: Any) -> Any:
        async def wrapper(request: Request) -> Response:
            try:
                await _read_capped(request)
            except _TooLarge:
                return PlainTextResponse(
                    f"the post is over {MAX_POST_BYTES:,} bytes\n", status_code=413
                )
            return await handler(request)

        return wrapper

    async def twilio(request: Request) -> Response:
        form = dict(await request.form())
        if config.twilio_token:
            url = _public_url(config, request)
            signature = request.headers.get("X-Twilio-Signature", "")
            if not RequestValidator(config.twilio_token).validate(url, form, signature):
                return PlainTextResponse("invalid X-Twilio-Signature\n", status_code=403)
        if not form.get("From") or "Body" not in form:
            return PlainTextResponse("From and Body are required\n", status_code=400)
        refused = accept(
            [
                {
                    "received_at": _now_iso(),
                    "recipient": form.get("To") or "unknown Twilio number",
                    "sender": form["From"],
                    "body": form["Body"],
                    "id": form.get("MessageSid") or form.get("SmsSid"),
                    "channel": "sms",
                    "via": "twilio",
                    "post": form,
                }
            ]
        )
        return refused or Response("<Response/>", media_type="text/xml")

    async def smsforwarder(request: Request) -> Response:
        form = dict(await request.form())
        timestamp = str(form.get("timestamp", ""))
        if config.forwarder_secret:
            expected = forwarder_sign(config.forwarder_secret, timestamp)
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp) / 1000) < (
                FORWARDER_WINDOW_S
            )
            if not (hmac.compare_digest(expected, str(form.get("sign", ""))) and fresh):
                return PlainTextResponse("invalid sign or stale timestamp\n", status_code=403)
            if not inbox.first_use(f"smsforwarder {timestamp} {expected}", FORWARDER_WINDOW_S):
                return PlainTextResponse("this timestamp and sign were used before\n", 403)
        body = form.get("org_content") or form.get("content")
        if not form.get("from") or body is None:
            return PlainTextResponse("from and content are required\n", status_code=400)
        to = request.query_params.get("to") or f"unknown SmsForwarder {form.get('device_mark', '')}"
        refused = accept(
            [
                {
                    "received_at": timestamp if timestamp.isdigit() else _now_iso(),
                    "recipient": to.strip(),
                    "sender": form["from"],
                    "body": body,
                    "channel": "sms",
                    "via": "smsforwarder",
                    "post": form,
                }
            ]
        )
        return refused or PlainTextResponse("ok\n")

    async def generic(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not config.secret:
            return PlainTextResponse("start the receiver with --secret to use /messages\n", 403)
        if not hmac.compare_digest(given.encode(), config.secret.encode()):
            return PlainTextResponse(f"wrong or missing {SECRET_HEADER}\n", status_code=403)
        try:
            payload = await request.json()
        except (ValueError, RecursionError):
            return PlainTextResponse("the body is not JSON (or nested too deep)\n", 400)
        items = payload if isinstance(payload, list) else [payload]
        records = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("recipient", "sender", "body")
            ):
                return PlainTextResponse(
                    f"message {number}: recipient, sender and body (strings) are required\n", 400
                )
            records.append(
                {
                    "received_at": item.get("received_at") or _now_iso(),
                    "recipient": item["recipient"],
                    "sender": item["sender"],
                    "body": item["body"],
                    "id": item.get("id"),
                    "channel": item.get("channel") or "",
                    "subject": item.get("subject"),
                    "via": "json",
                    "post": item,
                }
            )
        return accept(records) or JSONResponse({"accepted": len(records)})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "waiting": inbox.waiting()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        drainer.start()
        drainer.wake.set()
        yield
        drainer.stopping.set()
        drainer.wake.set()
        drainer.join(timeout=10)

    return Starlette(
        routes=[
            Route("/twilio", capped(twilio), methods=["POST"]),
            Route("/smsforwarder", capped(smsforwarder), methods=["POST"]),
            Route("/messages", capped(generic), methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _public_url(config: ReceiverConfig, request: Request) -> str:
    if not config.public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return config.public_url.rstrip("/") + request.url.path + query
