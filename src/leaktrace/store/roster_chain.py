"""The hash chain over the roster: sources, canaries and plants in the order they were added.

A verdict rests on more than messages: a plant's date and marker, a source's sender IDs
(first-party), a canary's contacts. Each such row gets a record digest over those fields
(``<UTF-8 length>:<text>;`` each, as the message chain writes them), linked in order:
moving a plant's date, editing a source's sender IDs or deleting a plant is named by
``verify``. Notes and the persona's details are not covered.
"""

from __future__ import annotations

import duckdb

from leaktrace.store.chain import GENESIS, TIME_FORMAT, link

KINDS = ("source", "canary", "plant")  # the order rows added at once are chained in
_FIELDS = {
    "source": (
        "sources r",
        [
            "CAST(r.id AS VARCHAR)",
            "r.name",
            "r.category",
            "coalesce(r.url, '')",
            "array_to_string(r.sender_ids, chr(31))",
            "array_to_string(r.signatures, chr(31))",
        ],
    ),
    "canary": (
        "canaries r",
        [
            "CAST(r.id AS VARCHAR)",
            "r.label",
            "CAST(r.is_control AS VARCHAR)",
            "coalesce(r.phone, '')",
            "coalesce(r.email, '')",
        ],
    ),
    "plant": (
        "plants r JOIN canaries c ON c.id = r.canary_id JOIN sources s ON s.id = r.source_id",
        [
            "CAST(r.id AS VARCHAR)",
            "c.label",
            "s.name",
            f"strftime(timezone('UTC', r.planted_at), '{TIME_FORMAT}')",
            "array_to_string(r.fields, ',')",
            "coalesce(r.name_used, '')",
            "coalesce(r.email_used, '')",
            "coalesce(r.marker, '')",
        ],
    ),
}


def _has_chain(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'roster_chain'"
        ).fetchall()[0][0]
    )


def _digests(con: duckdb.DuckDBPyConnection, kind: str) -> dict[int, str]:
    """Every row of ``kind`` with its record digest, computed in SQL."""
    table, fields = _FIELDS[kind]
    parts = ", ".join(f"strlen({e}), ':', {e}, ';'" for e in fields)
    rows = con.execute(f"SELECT r.id, sha256(concat({parts})) FROM {table}").fetchall()
    return {int(row_id): digest for row_id, digest in rows}


def extend_roster_chain(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[str, int]] | None = None
) -> int:
    """Chain the roster ``rows`` (kind, id) just added, or with None every row not chained
    yet (a store upgraded to the chain); return how many. Fits ``Store.defer``.

    Roster steps name the rows they added: a row slipped into the store by hand stays
    unchained, and ``verify`` keeps naming it, however many rows are added after it.
    """
    if not _has_chain(con):
        return 0  # a store before migration 012: chained when it is upgraded
    last = con.execute(
        "SELECT seq, chain_sha256 FROM roster_chain ORDER BY seq DESC LIMIT 1"
    ).fetchall()
    seq, previous = (int(last[0][0]), str(last[0][1])) if last else (0, GENESIS)
    chained = set(con.execute("SELECT kind, row_id FROM roster_chain").fetchall())
    added = []
    wanted = None if rows is None else set(rows)
    for kind in KINDS:
        for row_id, digest in sorted(_digests(con, kind).items()):
            if (kind, row_id) in chained or (wanted is not None and (kind, row_id) not in wanted):
                continue
            seq += 1
            previous = link(previous, digest)
            added.append((seq, kind, row_id, digest, previous))
    if added:
        con.executemany("INSERT INTO roster_chain VALUES (?, ?, ?, ?, ?)", added)
    return len(added)


def roster_problems(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, str]]:
    """(problem kind, roster kind, row id, detail) for every roster row that does not match."""
    if not _has_chain(con):
        return []
    problems = []
    previous = GENESIS
    current = {kind: _digests(con, kind) for kind in KINDS}
    chained = con.execute(
        "SELECT seq, kind, row_id, record_sha256, chain_sha256 FROM roster_chain ORDER BY seq"
    ).fetchall()
    seen = set()
    for _, kind, row_id, record, value in chained:
        seen.add((kind, row_id))
        if link(previous, record) != value:
            problems.append(("chain", kind, row_id, "the chain link does not follow"))
        previous = value
        digest = current.get(kind, {}).get(row_id)
        if digest is None:
            problems.append(("missing", kind, row_id, "chained, but no longer in the store"))
        elif digest != record:
            problems.append(("altered", kind, row_id, "fields differ from the chained digest"))
    for kind in KINDS:
        for row_id in sorted(set(current[kind]) - {r for k, r in seen if k == kind}):
            problems.append(("added", kind, row_id, "in the store, but not chained"))
    return problems
