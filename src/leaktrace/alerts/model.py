"""What alerts are made of: a target to send to, the alert sent, and a delivery's state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leaktrace.errors import LeaktraceError

KINDS = ("webhook", "ntfy", "slack", "email")
# A verdict that is news when a source reaches it (attribution's words, DESIGN.md).
ALERTING_VERDICTS = ("suspected", "leaked")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class AlertError(LeaktraceError, ValueError):
    """A target that cannot be added, found or used as asked."""


class DeliveryError(LeaktraceError):
    """A target did not take an alert (refused, unreachable, too slow)."""


def one_line(text: str) -> str:
    """``text`` without line breaks or control characters: a title is a header value."""
    return _CONTROL.sub(" ", text).strip()


@dataclass(frozen=True)
class Target:
    """Where alerts go: a webhook, an ntfy topic, a Slack-compatible webhook or a mailbox."""

    id: int
    kind: str
    address: str
    options: dict[str, Any]
    created_at: datetime
    enabled: bool

    def settings(self) -> str:
        """How it is reached, in a few words (empty for a plain URL)."""
        o = self.options
        if self.kind != "email":
            return f"token from ${o['token_env']}" if o.get("token_env") else ""
        security = "SSL" if o.get("ssl") else "STARTTLS" if o.get("starttls") else "no TLS"
        login = f", user {o['smtp_user']}" if o.get("smtp_user") else ""
        password = f", password from ${o['password_env']}" if o.get("password_env") else ""
        return (
            f"via {o['smtp_host']}:{o['smtp_port']} ({security}{login}{password}), from {o['from']}"
        )

    def describe(self) -> str:
        """The target in a few words, for lists and logs."""
        how = f" {self.settings()}" if self.kind == "email" else ""
        return f"{self.kind} {self.address}{how}"


@dataclass(frozen=True)
class Alert:
    """One alert as every target is sent it; ``as_json`` is the generic webhook's body."""

    event: str  # verdict | campaign | test
    source: str | None
    verdict: str | None  # the source's verdict when the alert was made
    reason: str  # the verdict's (or the campaign's) reason, one sentence
    evidence_count: int  # the messages behind it
    campaign: str | None  # the campaign's label, for a campaign alert
    title: str
    text: str
    at: str  # when the change was found, ISO 8601 UTC

    def as_json(self) -> dict[str, Any]:
        """The documented JSON object: event, source, verdict, reason, evidence_count, ..."""
        return {
            "event": self.event,
            "source": self.source,
            "verdict": self.verdict,
            "reason": self.reason,
            "evidence_count": self.evidence_count,
            "campaign": self.campaign,
            "title": self.title,
            "text": self.text,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """The alert a stored payload holds."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LogEntry:
    """One alert and one target: what was sent, what waits, what failed."""

    alert_id: int
    created_at: datetime
    event: str
    title: str
    target_id: int | None  # None: no target was enabled when the change was found
    target: str | None
    status: str  # sent | pending | failed | no target
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
