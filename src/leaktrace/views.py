"""Read models for the dashboard: each function answers one view's question as a DataFrame.

The dashboard only renders these; the questions, their SQL and their limits live
here, where the CLI and the tests can use them too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from leaktrace import i18n
from leaktrace.attribution import rates
from leaktrace.attribution.verdicts import evidence_ids, source_reports
from leaktrace.evidence.data import study_language, study_time_zone
from leaktrace.store import Store
from leaktrace.store.messages import plausible_time_sql

ROW_LIMIT = 5_000  # rows a table view fetches at most; filters narrow it down


def store_version(path: Path) -> tuple[int, int, int, int]:
    """Changes whenever the store file or its write-ahead log changes; opens nothing."""
    out = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            stat = file.stat()
            out += [stat.st_mtime_ns, stat.st_size]
        except FileNotFoundError:
            out += [0, 0]
    return tuple(out)  # type: ignore[return-value]


def _df(store: Store, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    with store.connect() as con:
        return con.execute(sql, params or []).df()


@dataclass(frozen=True)
class Overview:
    """The study at a glance."""

    counts: dict[str, int]
    verdicts: pd.DataFrame  # verdict, sources
    per_day: pd.DataFrame  # day, category, messages
    watch: pd.DataFrame  # leaked and suspected sources with their reason
    last_import: dict | None


def overview(store: Store, zone: str = "UTC") -> Overview:
    """Counts, sources by verdict, messages per day (in ``zone``) by category, sources to watch."""
    counts = store.table_counts()
    with store.connect() as con:
        planted = con.execute("SELECT count(DISTINCT canary_id) FROM plants").fetchone()[0]
        counts["planted canaries"] = planted
        verdicts = con.execute(
            "SELECT verdict, count(*) AS sources FROM source_verdicts GROUP BY verdict"
            " ORDER BY sources DESC"
        ).df()
        per_day = con.execute(
            """
            SELECT CAST(timezone($zone, m.received_at) AS DATE) AS day,
                   CASE WHEN m.first_party THEN 'first-party'
                        ELSE coalesce(tp.category, 'unclustered') END AS category,
                   count(*) AS messages
            FROM messages m
            LEFT JOIN message_templates t ON t.message_id = m.id
            LEFT JOIN templates tp ON tp.id = t.template_id
            WHERE {plausible}
            GROUP BY ALL ORDER BY day
            """.format(plausible=plausible_time_sql("m.received_at")),
            {"zone": zone},
        ).df()
        watch = con.execute(
            "SELECT s.name AS source, v.verdict, round(v.score, 3) AS score,"
            " json_extract_string(v.report, '$.reason') AS reason"
            " FROM source_verdicts v JOIN sources s ON s.id = v.source_id"
            " WHERE v.verdict IN ('leaked', 'suspected')"
            " ORDER BY v.verdict, v.score DESC"
        ).df()
        last = con.execute(
            "SELECT file_name AS file, format, finished_at, inserted, duplicate, rejected"
            " FROM import_batches ORDER BY id DESC LIMIT 1"
        ).df()
    return Overview(
        counts, verdicts, per_day, watch, None if last.empty else last.iloc[0].to_dict()
    )


@dataclass(frozen=True)
class SpamPicture:
    """The question the study asks, as numbers: spam per canary-week by group and category."""

    rates: pd.DataFrame  # group, kind, source_category, category, canaries, canary_weeks,
    # messages, rate, low, high (see attribution.rates)
    headline: str | None  # the loan comparison in one sentence; None without loan messages
    headline_key: str | None = None  # the sentence's key in the string table (leaktrace.i18n)
    headline_args: dict = field(default_factory=dict)  # what fills the key's placeholders


def spam_picture(store: Store) -> SpamPicture:
    """Spam per canary-week before planting, after planting by source category, for controls."""
    frame = rates.spam_rates(store)
    words = rates.headline_words(frame)
    if words is None:
        return SpamPicture(frame, None)
    return SpamPicture(frame, i18n.reason("en", *words), *words)


@dataclass(frozen=True)
class SourcePicture:
    """One source's canaries before and after their plant there, against the controls."""

    rates: pd.DataFrame  # as SpamPicture.rates, groups before/after planting here, controls
    weekly: pd.DataFrame  # week, category, messages to its canaries (first-party left out)
    plants: pd.DataFrame  # canary, planted_at
    first_spam: pd.DataFrame  # see attribution.rates.first_spam


def source_picture(store: Store, source: str) -> SourcePicture:
    """The rates, weekly spam and plant dates of one source's canaries, and their first spam."""
    weekly = _df(
        store,
        f"""
        SELECT CAST(date_trunc('week', m.received_at) AS DATE) AS week,
               coalesce(tp.category, 'unclustered') AS category, count(*) AS messages
        FROM messages m
        LEFT JOIN message_templates t ON t.message_id = m.id
        LEFT JOIN templates tp ON tp.id = t.template_id
        WHERE NOT m.first_party AND {plausible_time_sql("m.received_at")}
          AND m.canary_id IN (SELECT p.canary_id FROM plants p JOIN sources s
                              ON s.id = p.source_id WHERE s.name = ?)
        GROUP BY ALL ORDER BY week, category
        """,
        [source],
    )
    plants = _df(
        store,
        "SELECT c.label AS canary, p.planted_at FROM plants p"
        " JOIN canaries c ON c.id = p.canary_id JOIN sources s ON s.id = p.source_id"
        " WHERE s.name = ? ORDER BY p.planted_at, c.label",
        [source],
    )
    return SourcePicture(
        rates.spam_rates(store, source=source), weekly, plants, rates.first_spam(store, source)
    )


def rate_messages(
    store: Store, group: str, category: str, source: str | None = None, limit: int = ROW_LIMIT
) -> pd.DataFrame:
    """The messages behind one bar of a spam picture (the study's, or ``source``'s)."""
    return rates.rate_messages(store, group, category, source=source, limit=limit)


def sources_table(store: Store) -> pd.DataFrame:
    """Sources with their sender IDs, signatures, plants and verdict."""
    return _df(
        store,
        """
        SELECT s.name, s.category, s.url, array_to_string(s.sender_ids, ' ') AS sender_ids,
               array_to_string(s.signatures, ' ') AS signatures,
               count(p.id) AS canaries, v.verdict
        FROM sources s LEFT JOIN plants p ON p.source_id = s.id
        LEFT JOIN source_verdicts v ON v.source_id = s.id
        GROUP BY ALL ORDER BY s.name
        """,
    )


def canaries_table(store: Store) -> pd.DataFrame:
    """Canaries and controls with their persona and where each was planted."""
    return _df(
        store,
        """
        SELECT c.label, c.is_control AS control, c.name, c.locale, c.phone, c.email,
               string_agg(s.name || ' (' || strftime(p.planted_at, '%Y-%m-%d') || ', '
                          || coalesce(p.marker, '—') || ')', '; ' ORDER BY p.planted_at)
                   AS plants
        FROM canaries c LEFT JOIN plants p ON p.canary_id = c.id
        LEFT JOIN sources s ON s.id = p.source_id
        GROUP BY ALL ORDER BY c.label
        """,
    )


@dataclass(frozen=True)
class MessageFilter:
    """What the message table is narrowed to; empty fields do not filter."""

    text: str = ""
    recipient: str = ""
    source: str = ""
    sender: str = ""
    template: int | None = None
    campaign: int | None = None
    category: str = ""
    first_party: bool | None = None
    since: date | None = None
    until: date | None = None


def messages(store: Store, where: MessageFilter, limit: int = ROW_LIMIT) -> pd.DataFrame:
    """Messages matching ``where``, newest first, at most ``limit``."""
    # Every filter is put to the messages table alone, so the newest ``limit`` are found
    # there and only they are looked up in ``message_details`` (canary, template, campaign).
    clauses, params = [], []
    if where.text:
        clauses.append("m.body ILIKE ?")
        params.append(f"%{where.text}%")
    if where.recipient:
        clauses.append(
            "(m.canary_id IN (SELECT id FROM canaries WHERE label = ?) OR m.recipient = ?)"
        )
        params += [where.recipient, where.recipient]
    if where.source:
        clauses.append(
            "m.canary_id IN (SELECT p.canary_id FROM plants p JOIN sources s"
            " ON s.id = p.source_id WHERE s.name = ?)"
        )
        params.append(where.source)
    if where.sender:
        clauses.append("m.sender LIKE ?")
        params.append(f"{where.sender}%")
    if where.template is not None:
        clauses.append("m.id IN (SELECT message_id FROM message_templates WHERE template_id = ?)")
        params.append(where.template)
    if where.campaign is not None:
        clauses.append("m.id IN (SELECT message_id FROM message_campaigns WHERE campaign_id = ?)")
        params.append(where.campaign)
    if where.category:
        clauses.append(
            "m.id IN (SELECT t.message_id FROM message_templates t"
            " JOIN templates tp ON tp.id = t.template_id WHERE tp.category = ?)"
        )
        params.append(where.category)
    if where.first_party is not None:
        clauses.append("m.first_party = ?")
        params.append(where.first_party)
    if where.since:
        clauses.append("m.received_at >= ?")
        params.append(where.since)
    if where.until:
        clauses.append("m.received_at < CAST(? AS DATE) + INTERVAL 1 DAY")
        params.append(where.until)
    filters = " AND ".join(clauses) or "true"
    params.append(limit)
    return _df(
        store,
        f"""
        WITH newest AS (
            SELECT m.id, m.received_at FROM messages m WHERE {filters}
            ORDER BY m.received_at DESC, m.id DESC LIMIT ?
        )
        SELECT m.id,
               -- a time no message can have (from before imports checked) shows as empty
               CASE WHEN {plausible_time_sql("m.received_at")} THEN m.received_at END
                   AS received_at,
               m.canary AS recipient, m.sender, m.body, m.template,
               m.campaign, m.category, m.first_party, m.channel
        FROM newest n JOIN message_details m ON m.id = n.id
        ORDER BY n.received_at DESC, n.id DESC
        """,
        params,
    )


def categories(store: Store) -> list[str]:
    """Every message category: the lexicon's (a user's own included once used), then "other"."""
    from leaktrace.text.categories import builtin_lexicon

    stored = _df(store, "SELECT DISTINCT category FROM templates WHERE category IS NOT NULL")
    names = set(builtin_lexicon()) | set(stored["category"])
    return [*sorted(names - {"other"}), "other"]


def templates_table(store: Store) -> pd.DataFrame:
    """Templates, biggest first, with their masked text."""
    return _df(
        store,
        "SELECT id, text, size, category, round(category_confidence, 2) AS confidence,"
        " first_seen, last_seen FROM templates WHERE merged_into IS NULL AND size > 0"
        " ORDER BY size DESC, id",
    )


def template_timeline(store: Store, template_id: int, zone: str = "UTC") -> pd.DataFrame:
    """Messages per day (in ``zone``) of one template."""
    return _df(
        store,
        "SELECT CAST(timezone(?, m.received_at) AS DATE) AS day, count(*) AS messages"
        " FROM message_templates t JOIN messages m ON m.id = t.message_id"
        " WHERE t.template_id = ? GROUP BY day ORDER BY day",
        [zone, template_id],
    )


def template_messages(store: Store, template_id: int, limit: int = 200) -> pd.DataFrame:
    """One template's messages with their slot values (kind: value; …)."""
    frame = _df(
        store,
        "SELECT m.id, m.received_at, c.label AS recipient, m.sender, m.body, t.slots"
        " FROM message_templates t JOIN messages m ON m.id = t.message_id"
        " LEFT JOIN canaries c ON c.id = m.canary_id"
        " WHERE t.template_id = ? ORDER BY m.received_at DESC LIMIT ?",
        [template_id, limit],
    )
    frame["slots"] = frame["slots"].map(lambda s: "; ".join(f"{k}: {v}" for k, v in json.loads(s)))
    return frame


def campaigns_table(store: Store) -> pd.DataFrame:
    """Campaigns, biggest first, with their linking indicators."""
    return _df(
        store,
        """
        SELECT c.id, c.label, c.size, c.templates, c.category, c.first_seen, c.last_seen,
               string_agg(i.kind || ' ' || i.value, ', ' ORDER BY i.messages DESC)
                   FILTER (WHERE i.links) AS linked_by
        FROM campaigns c LEFT JOIN campaign_indicators i ON i.campaign_id = c.id
        GROUP BY ALL ORDER BY c.size DESC, c.id
        """,
    )


def campaign_reasons(store: Store, campaign_id: int) -> pd.DataFrame:
    """Why a campaign's messages are one campaign: indicator pairs seen together."""
    return _df(
        store,
        "SELECT kind_a || ' ' || value_a AS indicator, kind_b || ' ' || value_b AS seen_with,"
        " messages FROM campaign_links WHERE campaign_id = ? ORDER BY messages DESC",
        [campaign_id],
    )


def exposure_matrix(store: Store) -> pd.DataFrame:
    """Every tested (source, campaign) pair: hits, lift, adjusted p, significance."""
    return _df(
        store,
        """
        SELECT s.name AS source, e.unit, coalesce(c.label, tp.text, e.unit) AS label,
               e.hit, e.planted, e.others_hit, e.others, e.controls_hit,
               round(e.lift, 2) AS lift, e.p_adjusted, e.significant
        FROM unit_exposures e JOIN sources s ON s.id = e.source_id
        LEFT JOIN campaigns c ON e.unit = 'c' || c.id
        LEFT JOIN templates tp ON e.unit = 't' || tp.id
        ORDER BY s.name, e.unit
        """,
    )


def verdict_reports(store: Store) -> list[dict]:
    """The kept attribution report of every source, without the evidence id lists."""
    return source_reports(store, evidence=False)


def evidence_messages(store: Store, source: str, limit: int | None = None) -> pd.DataFrame:
    """The messages behind a source's verdict, in time order, raw text included."""
    ids = evidence_ids(store, source)
    if not ids:
        return pd.DataFrame(
            columns=["id", "received_at", "recipient", "sender", "body", "raw_sha256"]
        )
    return _df(
        store,
        "SELECT m.id, m.received_at, c.label AS recipient, m.sender, m.body, m.raw_sha256"
        " FROM messages m LEFT JOIN canaries c ON c.id = m.canary_id"
        " WHERE m.id IN (SELECT unnest(CAST(? AS BIGINT[]))) ORDER BY m.received_at"
        + ("" if limit is None else f" LIMIT {int(limit)}"),
        [ids],
    )


def evidence_count(store: Store, source: str) -> int:
    """How many messages are behind a source's verdict."""
    return len(evidence_ids(store, source))


def exposure_messages(store: Store, source: str, unit: str) -> pd.DataFrame:
    """The messages of one unit to one source's canaries after their plant: a heatmap cell."""
    return _df(
        store,
        """
        SELECT m.id, m.received_at, c.label AS recipient, m.sender, m.body
        FROM messages m
        JOIN canaries c ON c.id = m.canary_id
        JOIN plants p ON p.canary_id = m.canary_id AND m.received_at >= p.planted_at
        JOIN sources s ON s.id = p.source_id AND s.name = ?
        JOIN message_units u ON u.message_id = m.id AND u.unit = ?
        WHERE NOT m.first_party
        ORDER BY m.received_at
        """,
        [source, unit],
    )


def report_language(store: Store) -> str:
    """The evidence report's default language: that of most personas."""
    return study_language(store)


def time_zone(store: Store) -> str | None:
    """The zone the dashboard shows times in: the study's (None before its first canary)."""
    return study_time_zone(store)
