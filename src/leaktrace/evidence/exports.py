"""CSV and Parquet exports of messages, templates, campaigns and verdicts.

DuckDB writes both files straight from the store, so a million-message study exports
without passing through pandas. CSV cells that a spreadsheet would read as a formula
are neutralised (``export_csv``); times in CSV are UTC ISO 8601 as the hash chain
writes them, so an exported CSV can be re-checked against the chain.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa

from leaktrace.evidence.csvsafe import neutralise_sql
from leaktrace.store.chain import GENESIS, KEY_SQL, TIME_FORMAT
from leaktrace.store.connection import memory_limited

TABLES = ("messages", "templates", "campaigns", "verdicts")
EXPORT_MEMORY = "1GB"

# The rows of each table; {scope} narrows messages (and what they belong to) to a pack.
_SQL = {
    "messages": """
        SELECT m.id, {key} AS message_key, m.batch_id, m.channel, m.recipient, m.canary,
               m.sender, m.received_at, m.subject, m.body, m.signature, m.first_party,
               m.template, m.campaign, m.category, {role} AS role, m.own_id,
               m.raw_sha256, m.raw
        FROM message_details m
        {join} ORDER BY m.id
    """,
    "templates": """
        SELECT tp.id, tp.text, tp.size, tp.category,
               round(tp.category_confidence, 3) AS category_confidence,
               tp.first_seen, tp.last_seen, tp.merged_into
        FROM templates tp
        WHERE tp.size > 0 AND ({scope} OR tp.id IN (
            SELECT t.template_id FROM message_templates t
            JOIN pack_messages p ON p.id = t.message_id))
        ORDER BY tp.id
    """,
    "campaigns": """
        SELECT c.id, c.label, c.size, c.templates, c.category, c.first_seen, c.last_seen,
               string_agg(i.kind || ' ' || i.value, ', ' ORDER BY i.messages DESC)
                   FILTER (WHERE i.links) AS linked_by
        FROM campaigns c LEFT JOIN campaign_indicators i ON i.campaign_id = c.id
        WHERE {scope} OR c.id IN (
            SELECT mc.campaign_id FROM message_campaigns mc
            JOIN pack_messages p ON p.id = mc.message_id)
        GROUP BY ALL ORDER BY c.id
    """,
    "verdicts": """
        SELECT s.name AS source, s.category AS source_category, v.verdict,
               round(v.score, 4) AS score, v.p_adjusted,
               json_extract_string(v.report, '$.reason') AS reason,
               CAST(json_extract(v.report, '$.canaries_planted') AS INTEGER) AS canaries_planted,
               CAST(json_extract(v.report, '$.canaries_hit') AS INTEGER) AS canaries_hit,
               CAST(json_extract(v.report, '$.controls_hit') AS INTEGER) AS controls_hit,
               json_extract_string(v.report, '$.first_leak_seen') AS first_leak_seen,
               json_extract_string(v.report, '$.estimated_leak_date') AS estimated_leak_date,
               json_extract_string(v.report, '$.leak_pattern') AS leak_pattern,
               len(v.evidence) AS evidence_messages, v.report
        FROM source_verdicts v JOIN sources s ON s.id = v.source_id
        WHERE $source IS NULL OR s.name = $source
        ORDER BY s.name
    """,
}


def _path_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _csv_column(name: str, kind: str) -> str:
    quoted = f'"{name}"'
    if kind == "VARCHAR":
        return f"{neutralise_sql(quoted)} AS {quoted}"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"strftime(timezone('UTC', {quoted}), '{TIME_FORMAT}') AS {quoted}"
    return quoted


def _write(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, params: dict, out: Path
) -> list[Path]:
    """Write the rows of ``sql`` as ``name``.parquet and ``name``.csv, streamed by DuckDB."""
    parquet, csv = out / f"{name}.parquet", out / f"{name}.csv"
    con.execute(f"COPY ({sql}) TO {_path_literal(parquet)} (FORMAT parquet)", params)
    # The column types, from an empty result, say which columns CSV rewrites.
    con.execute(f"CREATE OR REPLACE TEMP TABLE export_shape AS {sql} LIMIT 0", params)
    columns = ", ".join(
        _csv_column(column, kind)
        for column, kind, *_ in con.execute("DESCRIBE export_shape").fetchall()
    )
    con.execute("DROP TABLE export_shape")
    bare = out / f".{name}.csv.part"
    con.execute(
        f"COPY (SELECT {columns} FROM ({sql})) TO {_path_literal(bare)} (HEADER, DELIMITER ',')",
        params,
    )
    # A byte-order mark, so spreadsheet programs read the UTF-8 (Chinese text) as UTF-8.
    with csv.open("wb") as target, bare.open("rb") as source:
        target.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(source, target, 1 << 20)
    bare.unlink()
    return [parquet, csv]


_CHAIN = """
SELECT message_id, record_sha256, chain_sha256, previous_chain_sha256 FROM (
    SELECT message_id, record_sha256, chain_sha256,
           lag(chain_sha256, 1, $genesis) OVER (ORDER BY message_id) AS previous_chain_sha256
    FROM message_chain)
WHERE $whole OR message_id IN (SELECT id FROM pack_messages)
ORDER BY message_id
"""


def export_tables(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    chain_csv: Path,
    pack_messages: list[tuple[int, str]] | None = None,
    source: str | None = None,
) -> list[Path]:
    """Write every table as CSV and Parquet into ``out`` and the messages' chain values
    into ``chain_csv``; return the files written.

    ``pack_messages`` (message id, role) narrows the export to those messages and the
    templates and campaigns they belong to, and ``source`` the verdicts to one source.
    """
    out.mkdir(parents=True, exist_ok=True)
    with memory_limited(con, EXPORT_MEMORY):  # sorting a million raw records spills past it
        return _export_tables(con, out, chain_csv, pack_messages, source)


def _export_tables(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    chain_csv: Path,
    pack_messages: list[tuple[int, str]] | None,
    source: str | None,
) -> list[Path]:
    whole = pack_messages is None
    rows = pack_messages or []
    con.register(
        "pack_rows",
        pa.table(
            {
                "id": pa.array([r[0] for r in rows], pa.int64()),
                "role": pa.array([r[1] for r in rows], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE pack_messages AS SELECT * FROM pack_rows")
    con.unregister("pack_rows")
    written: list[Path] = []
    try:
        for name in TABLES:
            sql = _SQL[name].format(
                scope="true" if whole else "false",
                role="NULL::VARCHAR" if whole else "p.role",
                join="" if whole else "JOIN pack_messages p ON p.id = m.id",
                key=KEY_SQL.format(column="m.message_key"),
            )
            params = {"source": source} if name == "verdicts" else {}
            written += _write(con, name, sql, params, out)
        con.execute(
            f"COPY ({_CHAIN}) TO {_path_literal(chain_csv)} (HEADER, DELIMITER ',')",
            {"genesis": GENESIS, "whole": whole},
        )
        written.append(chain_csv)
    finally:
        con.execute("DROP TABLE IF EXISTS pack_messages")
    return written
