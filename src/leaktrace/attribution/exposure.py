"""What attribution reasons about, read from the store once as small tables.

Messages are reduced to *exposures*: per (unit, canary) the first and last time the
canary received the unit, and how many messages. A unit is a campaign, or the
template of a message that no campaign holds. First-party messages (a source's own
texts to a canary planted there) are left out: they prove nothing about leaks.
Markers are the messages that address a canary by the name spelling it was given
at one source only, or reach the plus-tagged e-mail address given to one source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from leaktrace.charsets import fold_lookalikes_sql
from leaktrace.store import Store

_EXPOSURES = """
SELECT u.unit, m.canary_id, min(m.received_at) AS first_at, max(m.received_at) AS last_at,
       count(*) AS messages,
       count(*) FILTER (WHERE u.slots LIKE '%["NAME",%') AS named,
       count(*) FILTER (WHERE m.channel = 'email') AS by_email
FROM messages m
JOIN message_units u ON u.message_id = m.id
WHERE m.canary_id IS NOT NULL AND NOT m.first_party
GROUP BY ALL
"""

# A plant's marker is the name spelling it gave when no other plant of that canary
# gave the same: a sender who knows both that contact and that spelling had them,
# directly or not, from that one source (random dialling knows neither).
_MARKER_HITS = f"""
WITH named AS (
    SELECT m.id AS message_id, m.canary_id, m.received_at, u.unit,
           unnest(from_json(u.slots, '[["VARCHAR"]]')) AS kv
    FROM messages m
    JOIN message_units u ON u.message_id = m.id
    WHERE m.canary_id IS NOT NULL AND NOT m.first_party AND u.slots LIKE '%["NAME",%'
), markers AS (
    SELECT p.canary_id, p.source_id, p.name_used, p.planted_at
    FROM plants p
    WHERE p.name_used IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM plants o WHERE o.canary_id = p.canary_id
                      AND o.id <> p.id AND o.name_used = p.name_used)
)
SELECT n.message_id, n.canary_id, k.source_id, n.received_at, n.unit, k.name_used AS marker
FROM named n JOIN markers k ON k.canary_id = n.canary_id AND n.kv[1] = 'NAME'
     AND n.received_at >= k.planted_at
     -- W0ods is Woods: the look-alikes the masking accepts fold back (charsets.py).
     AND {fold_lookalikes_sql("n.kv[2]")} = {fold_lookalikes_sql("k.name_used")}
UNION
-- Mail delivered to the plus-tagged address given to one source only.
SELECT m.id, m.canary_id, p.source_id, m.received_at, u.unit, p.email_used
FROM messages m
JOIN plants p ON p.canary_id = m.canary_id AND lower(m.recipient) = lower(p.email_used)
     AND contains(p.email_used, '+') AND m.received_at >= p.planted_at
     AND NOT EXISTS (SELECT 1 FROM plants o WHERE o.canary_id = p.canary_id
                     AND o.id <> p.id AND lower(o.email_used) = lower(p.email_used))
JOIN message_units u ON u.message_id = m.id
WHERE NOT m.first_party
"""


# Since when a canary's messages are known: from the first message of the earliest
# import that holds any of its messages (an export covers its period for every
# recipient in it: a quiet control in a phone backup or a gateway export was watched
# from the export's start), or from when it joined the roster if that is earlier.
CANARIES_SQL = """
WITH batches AS (
    SELECT batch_id, min(received_at) AS opened FROM messages GROUP BY batch_id
), watched AS (
    SELECT m.canary_id, min(b.opened) AS since
    FROM (SELECT DISTINCT canary_id, batch_id FROM messages WHERE canary_id IS NOT NULL) m
    JOIN batches b USING (batch_id)
    GROUP BY m.canary_id
)
SELECT c.id, c.label, c.is_control,
       CASE WHEN c.phone IS NOT NULL THEN 'phone' ELSE 'email' END AS contact,
       c.phone IS NOT NULL AS has_phone, c.email IS NOT NULL AS has_email,
       least(c.created_at, w.since) AS observed_from
FROM canaries c LEFT JOIN watched w ON w.canary_id = c.id
ORDER BY c.id
"""


@dataclass(frozen=True)
class StudyFrames:
    """The roster and the exposures, as pandas tables."""

    sources: pd.DataFrame  # id, name, category
    canaries: pd.DataFrame  # id, label, is_control, contact, has_phone, has_email, observed_from
    plants: pd.DataFrame  # canary_id, source_id, planted_at, fields
    exposures: pd.DataFrame  # unit, canary_id, first_at, last_at, messages, named, by_email
    units: pd.DataFrame  # unit, label, category
    markers: pd.DataFrame  # message_id, canary_id, source_id, received_at, unit, marker
    latest: datetime | None  # the last message received: "now" for the study


def load_frames(store: Store) -> StudyFrames:
    """Read everything attribution needs in one pass over the store."""
    with store.connect() as con:
        frames = StudyFrames(
            sources=con.sql("SELECT id, name, category FROM sources ORDER BY id").df(),
            canaries=con.sql(CANARIES_SQL).df(),
            plants=con.sql(
                "SELECT canary_id, source_id, planted_at, fields FROM plants ORDER BY planted_at"
            ).df(),
            exposures=con.sql(_EXPOSURES).df(),
            units=con.sql(
                "SELECT 'c' || id AS unit, label, category FROM campaigns UNION ALL"
                " SELECT 't' || id, text, category FROM templates"
            ).df(),
            markers=con.sql(_MARKER_HITS).df(),
            latest=con.execute("SELECT max(received_at) FROM messages").fetchone()[0],
        )
    return frames
