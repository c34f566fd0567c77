"""Everything one source's evidence report shows, read from the store in one place."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from leaktrace.attribution.model import Unit
from leaktrace.attribution.verdicts import source_reports
from leaktrace.errors import LeaktraceError
from leaktrace.store import Store
from leaktrace.store.chain import head


class ReportError(LeaktraceError, ValueError):
    """The report cannot be made (unknown source, no attribution yet)."""


@dataclass(frozen=True)
class ReportData:
    """A source, its verdict and the messages behind it, ready to render."""

    source: dict  # name, category, url, sender_ids, signatures, notes
    verdict: dict  # the stable attribution report (leaktrace attribute --json)
    as_of: datetime | None  # the study's last message when attribution ran
    computed_at: datetime
    controls: int  # controls in the study
    pairs_tested: int  # (campaign, source) pairs tested: the multiple-testing correction
    plants: pd.DataFrame  # canary, persona, phone, email, planted_at, fields, name_used, …
    messages: pd.DataFrame  # every message to the planted canaries after their plant
    units: list[dict]  # evidence campaigns, then closest candidates: stats, templates, why
    chain_head: tuple[int, str]  # the store's chain head when the data was read

    @property
    def evidence(self) -> pd.DataFrame:
        """The messages behind the verdict."""
        return self.messages[self.messages["role"] == "evidence"]


def study_language(store: Store) -> str:
    """``zh`` when most canaries have a Chinese persona, else ``en``."""
    with store.connect() as con:
        row = con.execute(
            "SELECT locale FROM canaries GROUP BY locale ORDER BY count(*) DESC, locale LIMIT 1"
        ).fetchone()
    return "zh" if row and row[0].lower().startswith("zh") else "en"


# The zone of a study whose personas mostly have this locale (others: UTC).
LOCALE_ZONES = {
    "zh_cn": "Asia/Shanghai",
    "zh_tw": "Asia/Taipei",
    "zh_hk": "Asia/Hong_Kong",
    "en_gb": "Europe/London",
}


def study_time_zone(store: Store) -> str | None:
    """The study's time zone: ``LEAKTRACE_TZ``, else that of most personas' locale (UTC for
    a locale without one); None while the study has no canary."""
    if os.environ.get("LEAKTRACE_TZ"):
        return os.environ["LEAKTRACE_TZ"]
    with store.connect() as con:
        row = con.execute(
            "SELECT locale FROM canaries GROUP BY locale ORDER BY count(*) DESC, locale LIMIT 1"
        ).fetchone()
    return LOCALE_ZONES.get(row[0].lower().replace("-", "_"), "UTC") if row else None


_MESSAGES = """
SELECT m.id, m.received_at, m.canary, m.channel, m.recipient, m.sender, m.subject, m.body,
       m.first_party, u.unit, m.template, m.campaign, m.category, m.raw_sha256,
       CASE WHEN list_contains($evidence, m.id) THEN 'evidence'
            WHEN m.first_party THEN 'first-party' ELSE 'other' END AS role
FROM message_details m
JOIN plants p ON p.canary_id = m.canary_id AND p.source_id = $source_id
    AND m.received_at >= p.planted_at
LEFT JOIN message_units u ON u.message_id = m.id
ORDER BY m.received_at, m.id
"""

_PLANTS = """
SELECT c.label AS canary, c.name AS persona, c.phone, c.email, p.planted_at, p.fields,
       p.name_used, p.email_used, p.marker, p.notes
FROM plants p JOIN canaries c ON c.id = p.canary_id
WHERE p.source_id = ? ORDER BY p.planted_at, c.label
"""


_EXPOSURE = """
SELECT planted AS canaries_tested, hit AS canaries_hit, others, others_hit, controls_hit,
       p_value, p_adjusted, lift, significant
FROM unit_exposures WHERE source_id = ? AND unit = ?
"""


def _unit_details(con, source_id: int, units: list[str], background: set[str]) -> list[dict]:
    """Label, statistics, templates (most common first) and linking indicators per unit."""
    out = []
    for key in units:
        unit = Unit.from_key(key)
        number = unit.id
        if unit.kind == "campaign":
            label = con.execute("SELECT label FROM campaigns WHERE id = ?", [number]).fetchone()
            templates = con.execute(
                "SELECT tp.id, tp.text, count(*) AS n FROM message_campaigns mc"
                " JOIN message_templates t ON t.message_id = mc.message_id"
                " JOIN templates tp ON tp.id = t.template_id WHERE mc.campaign_id = ?"
                " GROUP BY ALL ORDER BY n DESC, tp.id LIMIT 5",
                [number],
            ).fetchall()
            indicators = con.execute(
                "SELECT kind, value, messages FROM campaign_indicators"
                " WHERE campaign_id = ? AND links ORDER BY messages DESC, kind, value LIMIT 10",
                [number],
            ).fetchall()
        else:
            templates = con.execute(
                "SELECT id, text, size FROM templates WHERE id = ?", [number]
            ).fetchall()
            label = (templates[0][1],) if templates else None
            indicators = []
        stats = con.execute(_EXPOSURE, [source_id, key]).df()
        out.append(
            {
                "unit": key,
                "label": label[0] if label else key,
                "background": key in background,
                "stats": None if stats.empty else stats.iloc[0].to_dict(),
                "templates": [{"id": i, "text": text, "messages": n} for i, text, n in templates],
                "indicators": [
                    {"kind": kind, "value": value, "messages": n} for kind, value, n in indicators
                ],
            }
        )
    return out


def gather(store: Store, source: str) -> ReportData:
    """Read one source's report data; ``ReportError`` if it is unknown or not analysed."""
    reports = source_reports(store, evidence=True, source=source)
    with store.connect() as con:
        row = con.execute(
            "SELECT id, name, category, url, sender_ids, signatures, notes FROM sources"
            " WHERE name = ?",
            [source],
        ).fetchone()
        if row is None:
            raise ReportError(key="err_report_no_source", source=source)
        if not reports:
            raise ReportError(key="err_report_no_verdict", source=source)
        source_id = row[0]
        fields = ["name", "category", "url", "sender_ids", "signatures", "notes"]
        info = dict(zip(fields, row[1:], strict=True))
        run = con.execute(
            "SELECT computed_at, as_of, controls, background FROM attribution_runs LIMIT 1"
        ).fetchone()
        pairs = con.execute("SELECT count(*) FROM unit_exposures WHERE tested").fetchall()[0][0]
        plants = con.execute(_PLANTS, [source_id]).df()
        report = reports[0]
        messages = con.execute(
            _MESSAGES,
            {"source_id": source_id, "evidence": report["evidence_message_ids"]},
        ).df()
        # The campaigns behind the evidence; without evidence, the closest candidates tested.
        shown = list(dict.fromkeys(messages.loc[messages["role"] == "evidence", "unit"].dropna()))
        shown = shown or [Unit(**u["unit"]).key for u in report["top_units"]]
        units = _unit_details(con, source_id, shown, set(run[3]))
        chain_head = head(con)
    return ReportData(
        source=info,
        verdict=report,
        as_of=run[1],
        computed_at=run[0],
        controls=int(run[2]),
        pairs_tested=int(pairs),
        plants=plants,
        messages=messages,
        units=units,
        chain_head=chain_head,
    )


def report_json(data: ReportData) -> str:
    """The verdict as the pack keeps it (the ``attribute --json`` object)."""
    return json.dumps(data.verdict, ensure_ascii=False, indent=2)
