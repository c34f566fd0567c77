"""Alerts: word of a source newly suspected or leaked, or of a new campaign at its canaries.

After every analysis (``leaktrace ingest``, ``attribute``, the receiver's drains, the
dashboard's imports) :func:`after_analysis` runs two steps:

1. :func:`detect` (``detect.py``) compares attribution's stored results with what was
   already alerted and queues each change once in the store's outbox, owed to every
   enabled target;
2. :func:`deliver` (``outbox.py``) sends what is owed (``senders.py``: a generic JSON
   webhook, ntfy, a Slack-compatible webhook, e-mail over SMTP), retrying with back-off
   inside a few seconds in all, and leaves what failed pending for the next analysis.

Targets (``targets.py``) are kept in the store; their secrets stay in the environment.
"""

from __future__ import annotations

from leaktrace.alerts.detect import detect
from leaktrace.alerts.model import KINDS, Alert, AlertError, DeliveryError, LogEntry, Target
from leaktrace.alerts.outbox import (
    DeliveryReport,
    after_analysis,
    alert_log,
    deliver,
    send_test,
    trial_alert,
)
from leaktrace.alerts.targets import (
    add_target,
    get_target,
    list_targets,
    remove_target,
    set_enabled,
)

__all__ = [
    "KINDS",
    "Alert",
    "AlertError",
    "DeliveryError",
    "DeliveryReport",
    "LogEntry",
    "Target",
    "add_target",
    "after_analysis",
    "alert_log",
    "deliver",
    "detect",
    "get_target",
    "list_targets",
    "remove_target",
    "send_test",
    "set_enabled",
    "trial_alert",
]
