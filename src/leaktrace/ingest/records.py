"""What every reader yields: one incoming message, plus a report of what it skipped."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from leaktrace.errors import LeaktraceError
from leaktrace.ingest.timestamps import EPOCH
from leaktrace.model import AHEAD, EARLIEST

_SEPARATORS = re.compile(r"[\s\-()]")
_CN_SERVICE = re.compile(r"^(?:\+86|0086)(?=10[56]|9\d{4}|[48]00|12)")
_CN_MOBILE = re.compile(r"^(?:\+86|0086)?(1[3-9]\d{9})$")


class IngestError(LeaktraceError, ValueError):
    """A file that cannot be imported at all (nothing from it is stored)."""


def in_few_words(exc: BaseException) -> str:
    """An unexpected error in a few words, as a reader process tells it: kind and message."""
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


@dataclass(slots=True)
class Incoming:
    """One received message as a reader found it, before it meets the store."""

    channel: str  # "sms" | "email"
    recipient: str  # as the file names it: a phone, an e-mail, or a canary label
    sender: str
    received_at: datetime  # always aware
    body: str
    raw: str  # the record as it stood in the file
    position: str  # "line 12", "row 5", "message 3"
    subject: str | None = None
    own_id: str | None = None  # the format's own message id
    headers: str | None = None  # JSON, e-mail only
    # (signature, SHA-256 of raw) when the reader worked them out already, in a worker
    derived: tuple[str | None, str] | None = None


@dataclass
class ReadReport:
    """What reading one file found besides messages."""

    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stopped_at: str | None = None
    notes: list[str] = field(default_factory=list)
    repaired: int = 0  # characters XML cannot hold, repaired to read the records

    def reject(self, where: str, reason: str) -> None:
        """Record a broken record; the rest of the file still lands."""
        self.problems.append(f"{where}: {reason}")

    def all_notes(self) -> list[str]:
        """The notes for the whole file, the repairs told once however it was read."""
        if not self.repaired:
            return list(self.notes)
        return [
            *self.notes,
            f"{self.repaired} characters XML cannot hold (control characters, HTML entities,"
            " bare &) were repaired; the raw records keep them as written",
        ]


def message_key(
    channel: str,
    recipient: str,
    sender: str,
    received_at: datetime,
    body: str,
    own_id: str | None,
) -> str:
    """The stable key (32 hex digits): the format's own id where there is one, else the content."""
    if own_id:
        return _key(("id", channel, recipient, own_id))
    ms = round(received_at.timestamp() * 1000)
    return content_key(channel, recipient, sender, ms, body)


def content_key(channel: str, recipient: str, sender: str, ms: int, body: str) -> str:
    """The key of a message without an id of its own, its time in milliseconds since 1970."""
    return _key(("content", channel, recipient, sender, str(ms), body))


def _key(parts: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


_MICROSECOND = timedelta(microseconds=1)


def micros(when: datetime) -> int:
    """An aware time as microseconds since 1970 (UTC), as the stage holds it."""
    return (when - EPOCH) // _MICROSECOND


def plausible_window(now: datetime) -> tuple[int, int]:
    """The times :func:`implausible_time` accepts at ``now``, in microseconds since 1970."""
    return micros(EARLIEST), micros(now + AHEAD)


def normalize_sender(sender: str) -> str:
    """One spelling per sender: 106/95/400 service numbers bare, Chinese mobiles in E.164."""
    text = sender.strip()
    if "@" in text:
        return text.lower()
    compact = _SEPARATORS.sub("", text)
    if not compact.lstrip("+").isdigit():
        return text
    mobile = _CN_MOBILE.match(compact)
    if mobile:
        return f"+86{mobile[1]}"
    return _CN_SERVICE.sub("", compact)


def implausible_time(when: datetime, now: datetime | None = None) -> str | None:
    """Why ``when`` cannot be a message's time, or None when it can."""
    latest = (now or datetime.now(UTC)) + AHEAD
    if EARLIEST <= when <= latest:
        return None
    try:
        shown = when.astimezone(UTC).isoformat()
    except OverflowError:
        shown = when.isoformat()
    return (
        f"time {shown} is outside {EARLIEST:%Y-%m-%d} … {latest:%Y-%m-%d}; "
        "check the phone's clock or the file's time column"
    )


def where(file_name: str, position: str) -> str:
    """``file:line`` for a record at ``line N``, else ``file (position)``."""
    kind, _, number = position.partition(" ")
    return (
        f"{file_name}:{number}"
        if kind == "line" and number.isdigit()
        else (f"{file_name} ({position})")
    )


def plausible(
    messages: Iterable[Incoming], report: ReadReport, file_name: str, now: datetime | None = None
) -> Iterator[Incoming]:
    """The messages whose time can be real at ``now`` (by default, when reading starts);
    the others are rejected with their place."""
    now = now or datetime.now(UTC)
    latest = now + AHEAD  # implausible_time's window, worked out once for the file
    for m in messages:
        if EARLIEST <= m.received_at <= latest:
            yield m
        else:
            report.reject(where(file_name, m.position), str(implausible_time(m.received_at, now)))
