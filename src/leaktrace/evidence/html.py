"""One source's evidence report as a self-contained HTML page, in Chinese or English.

Everything the page shows comes from ``report_data.ReportData``; the words come from the
string table the dashboard shares (:mod:`leaktrace.i18n`). Jinja2 escapes every value:
spam text is attacker-written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import version

import jinja2
import pandas as pd

from leaktrace.attribution.model import VERDICT_COLOURS
from leaktrace.evidence.charts import controls_chart, svg_data_uri, timeline_chart
from leaktrace.evidence.data import ReportData
from leaktrace.i18n import LANGUAGES, label, report_reason, strings

__all__ = ["LANGUAGES", "render_report", "strings"]
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def markdown_text(value: object) -> str:
    """Text shown literally in Markdown on one line: attacker text makes no link or image."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(value).split()))


@cache
def environment() -> jinja2.Environment:
    """The report's templates; HTML is autoescaped, the Markdown drafts escape by filter."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leaktrace", "data/report"),
        autoescape=jinja2.select_autoescape(["html.j2"], default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_text
    return env


def when(value: object) -> str:
    """A time as the report prints it (UTC, to the second); empty when unknown."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return ""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def day(value: object) -> str:
    """A date as the report prints it."""
    return when(value)[:10]


def p_text(p: float) -> str:
    """A p-value in words a reader can compare with 0.05."""
    return "< 0.000001" if p < 1e-6 else f"{p:.2g}"


def field_names(fields: list[str], words: dict) -> str:
    """Plant fields (``id_number``…) in the report's words, as one list."""
    return words["list_separator"].join(words["fields"].get(f, f) for f in fields)


def summary(data: ReportData, words: dict) -> str:
    """The verdict in one or two plain sentences."""
    v = data.verdict
    window = v["leak_window"] or [None, None]
    return words[f"summary_{v['verdict']}"].format(
        source=data.source["name"],
        hit=v["canaries_hit"],
        planted=v["canaries_planted"],
        first=when(v["first_leak_seen"]),
        start=day(window[0]),
        end=day(window[1]),
        estimate=day(v["estimated_leak_date"]),
    )


def _tested(data: ReportData, words: dict) -> tuple[str, str]:
    """The p-value and controls sentences for the strongest tested campaign."""
    tested = [u for u in data.units if u["stats"] and u["stats"]["canaries_hit"] > 0]
    if not tested:
        return "", words["how_controls_none"].format(controls=data.controls)
    best = min(tested, key=lambda u: u["stats"]["p_adjusted"])["stats"]
    pvalue = words["how_pvalue"].format(
        hit=best["canaries_hit"],
        planted=best["canaries_tested"],
        others_hit=best["others_hit"],
        others=best["others"],
        p=p_text(best["p_adjusted"]),
        pairs=data.pairs_tested,
    )
    controls = words["how_controls"].format(
        controls_hit=best["controls_hit"], controls=data.controls
    )
    return pvalue, controls


def _messages(frame: pd.DataFrame, labels: dict[str, str], roles: dict[str, str]) -> list[dict]:
    return [
        {
            "id": int(row.id),
            "time": when(row.received_at),
            "canary": row.canary,
            "sender": row.sender,
            "subject": row.subject if isinstance(row.subject, str) else "",
            "body": row.body,
            "unit_label": labels.get(row.unit, "") if isinstance(row.unit, str) else "",
            "role": row.role,
            "role_text": roles[row.role],
            "raw_sha256": row.raw_sha256,
        }
        for row in frame.itertuples(index=False)
    ]


def _controls_frame(data: ReportData, words: dict) -> pd.DataFrame:
    rows = []
    for u in data.units:
        stats = u["stats"]
        if not stats or stats["canaries_tested"] == 0:
            continue
        label = u["label"] if len(u["label"]) <= 40 else u["label"][:39] + "…"
        for group, hit, total in (
            (words["chart_this"], stats["canaries_hit"], stats["canaries_tested"]),
            (words["chart_others"], stats["others_hit"], stats["others"]),
            (words["chart_controls"], stats["controls_hit"], data.controls),
        ):
            rows.append({"campaign": label, "group": group, "share": hit / total if total else 0})
    return pd.DataFrame(rows)


def render_report(data: ReportData, lang: str, drafts: list[str], limit: int | None = None) -> str:
    """The report page for ``data`` in ``lang`` (``zh`` or ``en``).

    ``limit`` caps the rows of each message table (for print: Chromium cannot print
    tens of thousands of rows); the page then says how many it leaves out.
    """
    words = strings(lang)
    roles = {r: words[f"role_{r}"] for r in ("evidence", "first-party", "other")}
    labels = {u["unit"]: u["label"] for u in data.units}
    v = data.verdict
    pvalue, controls = _tested(data, words)
    units = [
        {**u, "p_text": p_text(u["stats"]["p_adjusted"]) if u["stats"] else ""} for u in data.units
    ]
    plants = [
        {
            "canary": p.canary,
            "persona": p.persona,
            "contact": " / ".join(c for c in (p.phone, p.email) if isinstance(c, str)),
            "planted_at": when(p.planted_at),
            "fields": field_names(p.fields, words),
            "name_used": p.name_used or "",
            "email_used": p.email_used or "",
        }
        for p in data.plants.itertuples(index=False)
    ]
    separator = words["list_separator"]
    controls_frame = _controls_frame(data, words)
    others = data.messages[data.messages["role"] != "evidence"]
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            lang=lang,
            s=words,
            t=lambda key, **kw: words[key].format(**kw),
            version=version("leaktrace"),
            generated=when(datetime.now(UTC)),
            source=data.source,
            category=label(lang, "source_category", data.source["category"]),
            verdict=v,
            reason=report_reason(lang, v),
            verdict_colours=VERDICT_COLOURS,
            summary=summary(data, words),
            fields_leaked=field_names(v["fields_leaked"], words),
            tested=pvalue,
            controls_text=controls,
            controls=data.controls,
            has_markers=bool(data.plants["marker"].notna().any()),
            plants=plants,
            timeline_chart=svg_data_uri(timeline_chart(data.plants, data.messages, words, roles)),
            controls_chart=svg_data_uri(controls_chart(controls_frame, words))
            if len(controls_frame)
            else "",
            units=units,
            evidence=_messages(data.evidence.head(limit), labels, roles),
            evidence_total=len(data.evidence),
            others=_messages(others.head(limit), labels, roles),
            others_total=len(others),
            chain_head=data.chain_head,
            drafts=separator.join(drafts) or words["none"],
        )
    )
