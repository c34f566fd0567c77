"""Attribution in the store: run it, keep its results, read them back as stable reports.

The report of one source is the object ``leaktrace attribute --json`` prints; its
fields are documented in the README (changes in CHANGELOG.md). :func:`verdict_json`
is the one place a verdict becomes that object; it is stored as made, and reading
it back only appends ``evidence_message_ids``, kept in its own column because a
leaked source of a big study has thousands.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from leaktrace.attribution.exposure import load_frames
from leaktrace.attribution.model import Unit
from leaktrace.attribution.statistics import (
    DEFAULTS,
    Attribution,
    Settings,
    SourceVerdict,
    attribute,
)
from leaktrace.store import Store


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def verdict_json(v: SourceVerdict, labels: dict[str, str], family: int) -> dict[str, Any]:
    """The documented JSON object of one source, without its evidence message ids."""
    return {
        "name": v.name,
        "category": v.category,
        "verdict": v.verdict,
        "reason": v.reason,
        "reason_key": v.reason_key,
        "reason_args": v.reason_args,
        "score": round(v.score, 4),
        "p_adjusted": v.p_adjusted,
        "family_size": family,
        "canaries_planted": v.canaries_planted,
        "canaries_hit": v.canaries_hit,
        "controls_hit": v.controls_hit,
        "first_leak_seen": _iso(v.first_leak_seen),
        "estimated_leak_date": _iso(v.estimated_leak_date),
        "leak_window": None if v.leak_window is None else [_iso(t) for t in v.leak_window],
        "leak_pattern": v.leak_pattern,
        "not_hit_after": v.not_hit_after,
        "fields_leaked": v.fields_leaked,
        "top_units": [
            {
                "unit": dataclasses.asdict(Unit.from_key(u.unit)),
                "label": labels.get(u.unit, u.unit),
                "canaries_hit": u.hit,
                "canaries_tested": u.planted,
                "expected_hits": round(u.expected, 4),
                "others_hit": u.others_hit,
                "others": u.others,
                "controls_hit": u.controls_hit,
                "p_value": u.p_value,
                "p_adjusted": u.p_adjusted,
                "q_value": u.q_value,
                "lift": round(u.lift, 2),
                "significant": u.significant,
                "tested": u.tested,
            }
            for u in v.top_units
        ],
        "timeline": [
            {**t, "planted_at": _iso(t["planted_at"]), "first_spam_at": _iso(t["first_spam_at"])}
            for t in v.timeline
        ],
    }


_EVIDENCE = """
SELECT e.source_id, list(DISTINCT m.id ORDER BY m.id) AS ids
FROM evidence_pairs e
JOIN plants p ON p.source_id = e.source_id AND p.canary_id = e.canary_id
JOIN messages m ON m.canary_id = e.canary_id AND m.received_at >= p.planted_at
    AND NOT m.first_party AND m.received_at <= $as_of
JOIN message_units u ON u.message_id = m.id AND u.unit = e.unit
GROUP BY e.source_id
"""


def run_attribution(store: Store, settings: Settings = DEFAULTS) -> Attribution:
    """Attribute leaks over the whole store and keep the results in it."""
    frames = load_frames(store)
    result = attribute(frames, settings=settings)
    labels = dict(zip(frames.units["unit"], frames.units["label"], strict=True))
    pairs = [
        (u.source_id, u.unit, cid)
        for u in result.exposures
        if u.significant
        for cid in u.hit_canaries
    ]
    exposures = pd.DataFrame([dataclasses.asdict(u) for u in result.exposures])
    with store.transaction() as con:
        con.register(
            "evidence_pairs",
            pa.table(
                {
                    "source_id": pa.array([p[0] for p in pairs], pa.int64()),
                    "unit": pa.array([p[1] for p in pairs], pa.string()),
                    "canary_id": pa.array([p[2] for p in pairs], pa.int64()),
                }
            ),
        )
        evidence = dict(con.execute(_EVIDENCE, {"as_of": result.as_of}).fetchall())
        con.unregister("evidence_pairs")
        for table in ("attribution_runs", "source_verdicts", "unit_exposures", "source_overlap"):
            con.execute(f"DELETE FROM {table}")
        con.execute(
            "INSERT INTO attribution_runs (computed_at, as_of, controls, background, settings,"
            " family) VALUES (current_timestamp, ?, ?, ?, ?, ?)",
            [
                result.as_of,
                result.controls,
                result.background,
                json.dumps(dataclasses.asdict(settings)),
                result.family,
            ],
        )
        for v in result.verdicts:
            ids = sorted(set(evidence.get(v.source_id, [])) | set(v.marker_messages))
            report = verdict_json(v, labels, result.family)
            con.execute(
                "INSERT INTO source_verdicts VALUES (?, ?, ?, ?, ?, ?)",
                [
                    v.source_id,
                    v.verdict,
                    v.score,
                    v.p_adjusted,
                    json.dumps(report, ensure_ascii=False),
                    ids,
                ],
            )
        if len(exposures):
            exposures["hit_canaries"] = exposures["hit_canaries"].map(list)
            con.register("fresh_exposures", exposures)
            con.execute(
                "INSERT INTO unit_exposures SELECT unit, source_id, planted, hit, others,"
                " others_hit, controls_hit, p_value, p_adjusted, lift, significant, hit_canaries,"
                " expected, tested, q_value FROM fresh_exposures"
            )
            con.unregister("fresh_exposures")
        for a, b, units in result.overlap:
            con.execute("INSERT INTO source_overlap VALUES (?, ?, ?)", [a, b, units])
    return result


def source_reports(store: Store, evidence: bool = True, source: str | None = None) -> list[dict]:
    """The kept report of every source (or of ``source``), leaked first, then by score.

    ``evidence=False`` leaves out ``evidence_message_ids`` (thousands per leaked
    source on a big study) for views that do not list them.
    """
    column = "v.evidence" if evidence else "NULL"
    with store.connect() as con:
        rows = con.execute(
            f"SELECT v.report, {column} FROM source_verdicts v"
            " JOIN sources s ON s.id = v.source_id WHERE $source IS NULL OR s.name = $source"
            " ORDER BY CASE v.verdict WHEN 'leaked' THEN 0 WHEN 'suspected' THEN 1"
            " WHEN 'insufficient data' THEN 2 ELSE 3 END, v.score DESC, v.source_id",
            {"source": source},
        ).fetchall()
    out = []
    for report, ids in rows:
        data = json.loads(report)
        if evidence:
            data["evidence_message_ids"] = list(ids)
        out.append(data)
    return out


def evidence_ids(store: Store, source: str) -> list[int]:
    """The messages behind one source's verdict."""
    with store.connect() as con:
        row = con.execute(
            "SELECT v.evidence FROM source_verdicts v JOIN sources s ON s.id = v.source_id"
            " WHERE s.name = ?",
            [source],
        ).fetchone()
    return list(row[0]) if row else []


def overlap_edges(store: Store) -> list[dict]:
    """Pairs of sources reached by the same significant campaigns, as a graph edge list."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT a.name, b.name, o.units FROM source_overlap o"
            " JOIN sources a ON a.id = o.source_a JOIN sources b ON b.id = o.source_b"
            " ORDER BY len(o.units) DESC, a.name, b.name"
        ).fetchall()
    return [{"source": a, "target": b, "units": list(u), "weight": len(u)} for a, b, u in rows]
