"""Changes worth an alert, found in attribution's stored results and queued in the outbox.

Two kinds of change, each queued once under a key that names it (``alerts.key`` is
unique, so two analyses at once cannot queue one change twice):

- **verdict** — a source's verdict is ``suspected`` or ``leaked`` and differs from the
  verdict alerts last saw for it (``alert_verdicts``; a source never seen before has
  none, so a store's first analysis alerts every source already suspected or leaked).
  Key ``verdict:<source id>:<verdict>:<n>``, where n counts how often the source has
  entered that verdict. "Never twice for the same change" means: analyses that leave
  a source's verdict as it is send nothing, however often they run, and a source
  that goes leaked → clean → leaked is alerted again, because the second leak is news
  (the first was explained away, by a first-party channel confirmed for instance,
  and new evidence came). suspected → leaked and leaked → suspected are changes too;
  a verdict turning ``clean`` or ``insufficient data`` is remembered, not sent.
- **campaign** — attribution marks a unit (a campaign, or a template outside any
  campaign) *significant* at a source: a ``unit_exposures`` row with ``significant``
  true, i.e. it reached 2+ of the source's canaries after their plants, with a
  family-wise adjusted p at most 0.01 and a lift of 2+. Key ``campaign:<unit>:<source
  id>``, once per (unit, source) pair for good: the significance of a pair can come and
  go as the family grows, but that campaign reaching those canaries is one finding
  (the source's own verdict alerts say when the picture changes). A campaign that
  absorbed another one already alerted at the source (``campaign_merges``) is not news
  either.

Only targets enabled when a change is found are owed it: a target added later gets
the changes found after it (``leaktrace alerts test`` checks it at once).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from leaktrace.alerts.model import ALERTING_VERDICTS, Alert, one_line
from leaktrace.store import Store

LABEL_CHARS = 80  # a template outside any campaign is labelled by its text: keep it short

_VERDICTS = """
SELECT v.source_id, s.name, v.verdict, v.report->>'reason', len(v.evidence), a.verdict
FROM source_verdicts v
JOIN sources s ON s.id = v.source_id
LEFT JOIN alert_verdicts a ON a.source_id = v.source_id
WHERE a.verdict IS DISTINCT FROM v.verdict
ORDER BY v.source_id
"""

_UNITS = """
SELECT e.unit, e.source_id, s.name, e.hit, e.planted, e.expected, e.p_adjusted,
       coalesce(c.label, t.text, e.unit), v.verdict
FROM unit_exposures e
JOIN sources s ON s.id = e.source_id
LEFT JOIN campaigns c ON e.unit = 'c' || c.id
LEFT JOIN templates t ON e.unit = 't' || t.id
LEFT JOIN source_verdicts v ON v.source_id = e.source_id
WHERE e.significant AND NOT EXISTS (
    SELECT 1 FROM alerts a LEFT JOIN campaign_merges m ON a.unit = 'c' || m.id
    WHERE a.event = 'campaign' AND a.source_id = e.source_id
      AND (a.unit = e.unit OR 'c' || m.into_id = e.unit)
)
ORDER BY e.source_id, e.unit
"""

# The messages behind a (unit, source) pair, as attribution counts evidence: the unit's
# messages to the source's hit canaries after their plant, first-party ones left out.
_UNIT_EVIDENCE = """
SELECT e.unit, e.source_id, count(DISTINCT m.id)
FROM unit_exposures e
JOIN plants p ON p.source_id = e.source_id AND list_contains(e.hit_canaries, p.canary_id)
JOIN messages m ON m.canary_id = p.canary_id AND m.received_at >= p.planted_at
    AND NOT m.first_party
JOIN message_units u ON u.message_id = m.id AND u.unit = e.unit
WHERE e.significant AND list_contains($pairs, e.unit || ':' || e.source_id)
GROUP BY e.unit, e.source_id
"""


def _messages(n: int) -> str:
    return f"{n} message{'' if n == 1 else 's'}"


def verdict_alert(
    source: str, verdict: str, was: str | None, reason: str, evidence: int, at: str
) -> Alert:
    """The alert for a source whose verdict became ``verdict`` (it was ``was``)."""
    before = f"was {was}" if was else "first verdict"
    return Alert(
        event="verdict",
        source=source,
        verdict=verdict,
        reason=reason,
        evidence_count=evidence,
        campaign=None,
        title=one_line(f"leaktrace: {source} {verdict}"),
        text=f"{source}: {verdict} ({before}).\n{reason}\nEvidence: {_messages(evidence)}.",
        at=at,
    )


def campaign_alert(
    source: str,
    verdict: str | None,
    label: str,
    hit: int,
    planted: int,
    expected: float,
    p_adjusted: float,
    evidence: int,
    at: str,
) -> Alert:
    """The alert for a campaign newly significant at a source's canaries."""
    label = one_line(label)
    if len(label) > LABEL_CHARS:
        label = label[: LABEL_CHARS - 1] + "…"
    reason = (
        f"Campaign {label} reached {hit} of the {planted} canaries planted at {source} after"
        f" their plants ({expected:.1f} expected by chance; family-wise adjusted p"
        f" {p_adjusted:.1e})."
    )
    return Alert(
        event="campaign",
        source=source,
        verdict=verdict,
        reason=reason,
        evidence_count=evidence,
        campaign=label,
        title=one_line(f"leaktrace: new campaign reaching {source}"),
        text=f"{reason}\nSource verdict: {verdict or 'none yet'}.\n"
        f"Evidence: {_messages(evidence)}.",
        at=at,
    )


def _verdict_changes(con: duckdb.DuckDBPyConnection, now: datetime) -> list[tuple]:
    """Verdict changes to queue; remembers every source's current verdict."""
    at = now.isoformat()
    queued = []
    for source_id, name, verdict, reason, evidence, was in con.execute(_VERDICTS).fetchall():
        con.execute(
            "INSERT INTO alert_verdicts VALUES (?, ?, ?) ON CONFLICT (source_id)"
            " DO UPDATE SET verdict = excluded.verdict, seen_at = excluded.seen_at",
            [source_id, verdict, now],
        )
        if verdict not in ALERTING_VERDICTS:
            continue
        prefix = f"verdict:{source_id}:{verdict}:"
        (before,) = con.execute(
            "SELECT count(*) FROM alerts WHERE starts_with(key, ?)", [prefix]
        ).fetchone()
        alert = verdict_alert(name, verdict, was, reason or "", evidence, at)
        queued.append((f"{prefix}{before + 1}", "verdict", source_id, None, alert))
    return queued


def _campaign_changes(con: duckdb.DuckDBPyConnection, now: datetime) -> list[tuple]:
    """(unit, source) pairs newly significant, with the messages behind each."""
    rows = con.execute(_UNITS).fetchall()
    if not rows:
        return []
    pairs = [f"{r[0]}:{r[1]}" for r in rows]
    evidence = {
        (unit, source_id): n
        for unit, source_id, n in con.execute(_UNIT_EVIDENCE, {"pairs": pairs}).fetchall()
    }
    queued = []
    for unit, source_id, name, hit, planted, expected, p_adj, label, verdict in rows:
        alert = campaign_alert(
            name,
            verdict,
            label,
            hit,
            planted,
            expected,
            p_adj,
            evidence.get((unit, source_id), 0),
            now.isoformat(),
        )
        queued.append((f"campaign:{unit}:{source_id}", "campaign", source_id, unit, alert))
    return queued


def detect(store: Store) -> list[Alert]:
    """Queue an alert for every change since the last look, owed to every enabled target.

    Idempotent: run again on the same results, it queues nothing.
    """
    now = datetime.now(UTC)
    new: list[Alert] = []
    with store.transaction() as con:
        targets = [
            r[0] for r in con.execute("SELECT id FROM alert_targets WHERE enabled").fetchall()
        ]
        changes: list[Any] = _verdict_changes(con, now) + _campaign_changes(con, now)
        for key, event, source_id, unit, alert in changes:
            row = con.execute(
                "INSERT INTO alerts (key, event, source_id, unit, payload, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                [
                    key,
                    event,
                    source_id,
                    unit,
                    json.dumps(alert.as_json(), ensure_ascii=False),
                    now,
                ],
            ).fetchone()
            if row is None:
                continue  # queued by an analysis running at the same time
            for target_id in targets:
                con.execute(
                    "INSERT INTO alert_deliveries (alert_id, target_id) VALUES (?, ?)",
                    [row[0], target_id],
                )
            new.append(alert)
    return new
