"""Sending what the outbox owes: retries with back-off inside a time budget, and the log.

The store is never held while a target is being sent to: the deliveries to try are
*claimed* in one short transaction (``claimed_until``, so a second process running an
analysis at the same time leaves them alone), sent with no connection open, and their
outcome written in another short transaction per target. A delivery that fails stays
pending with its error and is tried again after the next analysis; one whose alert is
older than :data:`GIVE_UP_AFTER` is no longer tried and shows as ``failed``.

If the process dies between a send and its record, the claim runs out and the alert
is sent again: a target may, in that one case, get an alert twice.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from leaktrace.alerts.detect import detect
from leaktrace.alerts.model import Alert, DeliveryError, LogEntry, Target
from leaktrace.alerts.senders import send
from leaktrace.alerts.targets import get_target, list_targets, target_from_row
from leaktrace.store import Store, StoreBusy

log = logging.getLogger("leaktrace.alerts")

BUDGET_S = 5.0  # all sending after one analysis, every target together
TIMEOUT_S = 2.0  # one connection: a dead host costs this, a closed port nothing
TRIES = 3  # per delivery and analysis, pausing BACKOFF_S, then twice that, ...
BACKOFF_S = 0.25
GIVE_UP_AFTER = timedelta(days=7)
CLAIM = timedelta(minutes=2)  # longer than any pass can take (budget + a timeout)
RECORD_LOCK_TIMEOUT_S = 30.0  # an outcome is worth waiting for: unrecorded, it is resent


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass of :func:`deliver` did."""

    sent: int
    failed: int  # tried and still undelivered (pending for the next pass)
    untried: int  # left for the next pass: time budget spent, or its target failing


def _claim(store: Store, now: datetime) -> list[tuple[int, Alert, Target]]:
    """The deliveries to try now, claimed for this process, oldest alert first per target."""
    with store.transaction() as con:
        rows = con.execute(
            "SELECT d.alert_id, a.payload, t.id, t.kind, t.address, t.options, t.created_at,"
            " t.enabled FROM alert_deliveries d"
            " JOIN alerts a ON a.id = d.alert_id JOIN alert_targets t ON t.id = d.target_id"
            " WHERE d.delivered_at IS NULL AND t.enabled AND a.created_at >= $oldest"
            " AND (d.claimed_until IS NULL OR d.claimed_until < $now)"
            " ORDER BY t.id, a.id",
            {"oldest": now - GIVE_UP_AFTER, "now": now},
        ).fetchall()
        if rows:
            con.execute(
                "UPDATE alert_deliveries SET claimed_until = $until"
                " WHERE list_contains($keys, alert_id || ':' || target_id)",
                {"until": now + CLAIM, "keys": [f"{r[0]}:{r[2]}" for r in rows]},
            )
    return [(r[0], Alert.from_json(json.loads(r[1])), target_from_row(r[2:])) for r in rows]


def _record(store: Store, target_id: int, claimed: list[int], outcomes: list[tuple]) -> None:
    """Write what the tries to one target gave, and release its claims."""
    with store.transaction() as con:
        for alert_id, tries, error, at in outcomes:
            con.execute(
                "UPDATE alert_deliveries SET attempts = attempts + $tries,"
                " last_error = coalesce($error, last_error), last_try_at = $at,"
                " delivered_at = CASE WHEN $error IS NULL THEN $at END"
                " WHERE alert_id = $alert AND target_id = $target",
                {"tries": tries, "error": error, "at": at, "alert": alert_id, "target": target_id},
            )
        con.execute(
            "UPDATE alert_deliveries SET claimed_until = NULL"
            " WHERE target_id = ? AND list_contains(?, alert_id)",
            [target_id, claimed],
        )


def send_with_retries(
    target: Target,
    alert: Alert,
    deadline: float,
    *,
    timeout: float = TIMEOUT_S,
    tries: int = TRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, str | None]:
    """Send until it works, ``tries`` times at most, never past ``deadline`` (monotonic).

    Returns how many tries were made and the last error (None: delivered).
    """
    error = "no time left to try"
    made = 0
    for attempt in range(tries):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        made += 1
        try:
            send(target, alert, min(timeout, remaining))
            return made, None
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a sender must not end the analysis
            log.exception("sending to alert target %d failed unexpectedly", target.id)
            error = f"{type(exc).__name__}: {exc}"
        pause = BACKOFF_S * 2**attempt
        if attempt + 1 < tries and time.monotonic() + pause < deadline:
            sleep(pause)
        else:
            break
    return made, error


def deliver(
    store: Store, *, budget: float = BUDGET_S, timeout: float = TIMEOUT_S, tries: int = TRIES
) -> DeliveryReport:
    """Send every pending delivery, within ``budget`` seconds in all.

    A target that fails one delivery (after its retries) is left alone for the rest of
    this pass: a dead webhook costs one delivery's tries, not one per alert.
    """
    deadline = time.monotonic() + budget
    now = datetime.now(UTC)
    claimed = _claim(store, now)
    if not claimed:
        return DeliveryReport(0, 0, 0)
    patient = copy.copy(store)  # a fresh handle: same file, its own connections
    patient.lock_timeout = max(store.lock_timeout, RECORD_LOCK_TIMEOUT_S)
    sent = failed = untried = 0
    by_target: dict[int, list[tuple[int, Alert, Target]]] = {}
    for item in claimed:
        by_target.setdefault(item[2].id, []).append(item)
    for target_id, items in by_target.items():
        outcomes = []
        failing = False
        for alert_id, alert, target in items:
            if failing or time.monotonic() >= deadline:
                untried += 1
                continue
            made, error = send_with_retries(target, alert, deadline, timeout=timeout, tries=tries)
            if made == 0:
                untried += 1
                continue
            outcomes.append((alert_id, made, error, datetime.now(UTC)))
            if error is None:
                sent += 1
                log.info("alert %d sent to %s", alert_id, target.describe())
            else:
                failed += 1
                failing = True
                log.warning(
                    "alert %d to %s failed (%d tries): %s; it stays pending for the next analysis",
                    alert_id,
                    target.describe(),
                    made,
                    error,
                )
        _record(patient, target_id, [i[0] for i in items], outcomes)
    return DeliveryReport(sent, failed, untried)


def after_analysis(store: Store) -> int:
    """Queue what the analysis changed and send what is owed; the alerts sent.

    Never raises: an alert that cannot be found or sent must not fail the import or
    the analysis it follows. The error is logged and the next analysis tries again.
    """
    try:
        for alert in detect(store):
            log.info("alert: %s", alert.title)
        return deliver(store).sent
    except StoreBusy:
        log.warning("the store was busy: alerts wait for the next analysis")
        return 0
    except Exception:
        log.exception("alerts could not be checked or sent; the next analysis tries again")
        return 0


def trial_alert(store: Store) -> Alert:
    """The alert ``leaktrace alerts test`` sends."""
    return Alert(
        event="test",
        source=None,
        verdict=None,
        reason="A test alert: leaktrace can reach this target.",
        evidence_count=0,
        campaign=None,
        title="leaktrace: test alert",
        text=(
            f"A test alert from leaktrace for the study {store.path.name}. Alerts come when a"
            " source's verdict becomes suspected or leaked, or a new campaign reaches a"
            " source's canaries."
        ),
        at=datetime.now(UTC).isoformat(),
    )


def send_test(
    store: Store, target_id: int | None = None, *, timeout: float = 10.0
) -> list[tuple[Target, DeliveryError | None]]:
    """Send a test alert now to one target, or to every enabled one; each with its error."""
    targets = [get_target(store, target_id)] if target_id is not None else list_targets(store, True)
    alert = trial_alert(store)
    results = []
    for target in targets:
        try:
            send(target, alert, timeout)
            results.append((target, None))
        except DeliveryError as exc:
            results.append((target, exc))
    return results


def alert_log(store: Store, limit: int = 200) -> list[LogEntry]:
    """The newest alerts, one entry per target: sent, pending (with its last error), failed."""
    oldest = datetime.now(UTC) - GIVE_UP_AFTER
    with store.connect() as con:
        rows = con.execute(
            "SELECT a.id, a.created_at, a.event, a.payload->>'title', d.target_id,"
            " t.kind || ' ' || t.address, coalesce(d.attempts, 0), d.last_error,"
            " d.delivered_at FROM alerts a"
            " LEFT JOIN alert_deliveries d ON d.alert_id = a.id"
            " LEFT JOIN alert_targets t ON t.id = d.target_id"
            " ORDER BY a.id DESC, d.target_id LIMIT ?",
            [limit],
        ).fetchall()
    entries = []
    for alert_id, created, event, title, target_id, target, attempts, error, delivered in rows:
        if target_id is None:
            status = "no target"
        elif delivered is not None:
            status = "sent"
        elif created < oldest:
            status = "failed"
        else:
            status = "pending"
        entries.append(
            LogEntry(
                alert_id,
                created,
                event,
                title,
                target_id,
                target,
                status,
                attempts,
                error,
                delivered,
            )
        )
    return entries
