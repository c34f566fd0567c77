"""SQL for received messages: bulk commit of an import, first-party flags, quarantine."""

from __future__ import annotations

import duckdb

from leaktrace.model import AHEAD, EARLIEST, MESSAGE_COLUMNS

# Staged keys are 32 hex digits (128 bits of SHA-256); stored as UHUGEINT, whose index is
# about 2.5x faster to build and probe than one over the hex text (measured on 1.1M keys).
_KEY = "('0x' || message_key)::UHUGEINT"


# Messages whose sender or signature belongs to a source their canary was planted at.
# 106 numbers are matched by channel prefix (carriers append a random extension) and
# e-mail senders by domain, sub-domains included.
# Channels inferred from the messages (source_channels) count unless the user rejected
# them; a link channel flags a text carrying a link to the source's own domain.
_FIRST_PARTY = """
WITH channels AS (
    SELECT source_id, kind, value FROM source_channels WHERE status <> 'rejected'
), ids AS (
    SELECT p.canary_id, lower(unnest(s.sender_ids)) AS sid, true AS given
    FROM plants p JOIN sources s ON s.id = p.source_id
    UNION ALL
    SELECT p.canary_id, lower(c.value), false FROM plants p
    JOIN channels c ON c.source_id = p.source_id AND c.kind IN ('sender', 'domain')
), sigs AS (
    SELECT p.canary_id, trim(unnest(s.signatures), '【】[] ') AS sig
    FROM plants p JOIN sources s ON s.id = p.source_id
    UNION ALL
    SELECT p.canary_id, trim(c.value, '【】[] ') FROM plants p
    JOIN channels c ON c.source_id = p.source_id AND c.kind = 'signature'
), links AS (
    SELECT p.canary_id, lower(c.value) AS domain FROM plants p
    JOIN channels c ON c.source_id = p.source_id AND c.kind = 'link'
), scoped AS (
    SELECT id, canary_id, lower(sender) AS sender, channel, signature,
           CASE WHEN contains(sender, '@') THEN lower(split_part(sender, '@', 2)) END AS domain
    FROM messages WHERE canary_id IS NOT NULL AND ({scope})
)
SELECT m.id FROM scoped m JOIN ids ON ids.canary_id = m.canary_id AND (
    m.sender = ids.sid
    -- A given 106 channel covers its extensions; an inferred number is matched exactly.
    OR (ids.given AND regexp_full_match(ids.sid, '10[56]\\d{{3,}}')
        AND starts_with(m.sender, ids.sid))
    OR (m.domain = ids.sid OR ends_with(m.domain, '.' || ids.sid))
)
UNION
SELECT m.id FROM scoped m JOIN sigs
    ON sigs.canary_id = m.canary_id AND trim(m.signature, '【】[] ') = sigs.sig
UNION
SELECT m.id FROM scoped m JOIN links ON links.canary_id = m.canary_id
JOIN messages b ON b.id = m.id AND regexp_matches(
    lower(b.body),
    '(^|[^a-z0-9.-])([a-z0-9-]+\\.)*' || replace(links.domain, '.', '\\.')
        || '($|[^a-z0-9.-]|\\.$|\\.[^a-z0-9-])'
)
"""


def commit_stage(
    con: duckdb.DuckDBPyConnection, incoming: str, batch_id: int
) -> tuple[int, int, int]:
    """Insert the staged relation's new messages; return (staged, inserted, quarantined)."""
    staged = con.execute(f"SELECT count(*) FROM {incoming}").fetchone()[0]
    columns = ", ".join(MESSAGE_COLUMNS)
    values = ", ".join(_KEY if c == "message_key" else c for c in MESSAGE_COLUMNS)
    # Deciding on keys alone first is much cheaper than a window over whole rows.
    con.execute(
        f"""
        CREATE TEMP TABLE fresh AS
        SELECT min(seq) AS seq FROM (SELECT seq, {_KEY} AS k FROM {incoming}) i
        WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.message_key = i.k)
        GROUP BY k
        """
    )
    inserted = con.execute("SELECT count(*) FROM fresh").fetchone()[0]
    first = _take_ids(con, inserted)
    if first is None:  # another writer took ids meanwhile: number the rows by sorting them
        con.execute(
            f"INSERT INTO messages (batch_id, {columns}) SELECT ?, {values} FROM {incoming}"
            " WHERE seq IN (SELECT seq FROM fresh) ORDER BY seq",
            [batch_id],
        )
    else:
        # Ids follow the file's order, given by the small table of kept seqs: the rows
        # themselves stream into the table unsorted, whatever their size.
        con.execute(
            f"INSERT INTO messages (id, batch_id, {columns})"
            f" SELECT f.id, ?, {values} FROM {incoming} JOIN ("
            "   SELECT seq, ? + row_number() OVER (ORDER BY seq) - 1 AS id FROM fresh"
            " ) f USING (seq)",
            [batch_id, first],
        )
    con.execute("DROP TABLE fresh")  # on an error the rollback takes it away
    quarantined = con.execute(
        "SELECT count(*) FROM messages WHERE batch_id = ? AND canary_id IS NULL", [batch_id]
    ).fetchone()[0]
    return staged, inserted, quarantined


def _take_ids(con: duckdb.DuckDBPyConnection, count: int) -> int | None:
    """Take ``count`` consecutive message ids from the sequence; their first, else ``None``.

    ``None`` (the ids taken are left unused) when another connection drew from the
    sequence at the same time, so they are not consecutive.
    """
    if count == 0:
        return None
    first, last = con.execute(
        "SELECT min(v), max(v) FROM (SELECT nextval('message_id_seq') AS v FROM range(?))",
        [count],
    ).fetchall()[0]
    return first if last - first == count - 1 else None


def reflag_first_party(
    con: duckdb.DuckDBPyConnection, scope: str = "true", params: list | None = None
) -> int:
    """Recompute the first-party flag of the messages in ``scope``; return how many are set."""
    query = _FIRST_PARTY.format(scope=scope)
    con.execute(
        f"UPDATE messages SET first_party = (id IN ({query})) WHERE {scope}",
        (params or []) * 2,
    )
    return con.execute(
        f"SELECT count(*) FROM messages WHERE first_party AND ({scope})", params or []
    ).fetchone()[0]


def next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    """A fresh import batch id."""
    return con.execute("SELECT nextval('import_batch_id_seq')").fetchone()[0]


def move_quarantined(
    con: duckdb.DuckDBPyConnection, recipient: str, canary_id: int, contact: str
) -> int:
    """Give a quarantined recipient's messages to a canary; return how many moved."""
    ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM quarantine WHERE recipient = ?", [recipient]
        ).fetchall()
    ]
    if not ids:
        return 0
    con.execute(
        "UPDATE messages SET canary_id = ?, recipient = ? WHERE list_contains(?, id)",
        [canary_id, contact, ids],
    )
    reflag_first_party(con, "list_contains(?, id)", [ids])
    return len(ids)


def plausible_time_sql(column: str = "received_at") -> str:
    """A SQL condition: ``column`` holds a time a message can plausibly carry."""
    return (
        f"({column} >= TIMESTAMPTZ '{EARLIEST.isoformat()}'"
        f" AND {column} <= now() + INTERVAL {AHEAD.days} DAY)"
    )
