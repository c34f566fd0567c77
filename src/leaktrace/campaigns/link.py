"""Campaigns: clustered messages linked through the sending infrastructure they share.

Each message yields indicators: its sender (a 106 number as its channel prefix, and
as that prefix with the 【signature】 the carrier bound to it, since carriers append a
random extension per message; other senders exactly; an e-mail sender also by
domain), the URL hosts, call-back numbers,
WeChat/QQ IDs and e-mail addresses in its text, and — only corroborating — its
signature and reply code (brand names get borrowed and opt-out wording is near
standard, so neither joins messages alone). Nor does the wording: on the simulated
study, "one signature, one template, one reply code" merged four pairs of unrelated
campaigns for each split it mended (campaign accuracy 0.94 → 0.76).

An indicator's specificity is 1 / the number of distinct templates it was seen
with. Indicators at or above 1 / ``max_templates`` join every message carrying
them (connected components over the indicator graph, scipy); less specific ones — a
big aggregator's channel, a public short-link host — are listed but join nothing, so
they cannot glue unrelated senders into one campaign. Each campaign keeps its
indicators and the pairs of indicators seen together: the reasons its messages are
one campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from leaktrace.store import Store
from leaktrace.text.domains import registrable_domain

# Chosen by measurement on the simulated 102,450-message study (`leaktrace simulate
# --messages 100000 --canaries 480 --controls 20 --seed 11`, imported and clustered):
# campaign grouping accuracy against the true campaigns is 0.81 at 1, 0.92 at 2 and
# 0.94 from 4 up (simulated campaigns rotate at most two templates and share no
# infrastructure). 8 leaves room for real senders rotating a handful of wordings,
# while an aggregator's channel or a public short-link host carries dozens to
# thousands of unrelated templates.
DEFAULT_MAX_TEMPLATES = 8
CHANNEL_DIGITS = 8  # 106 + carrier/service digits: the part of a 106 number before the extension
LINKING = (
    "channel",
    "channel_signature",
    "sender",
    "sender_domain",
    "url_host",
    "callback",
    "wechat",
    "qq",
    "email",
)
CORROBORATING = ("signature", "reply")

# One row per (message, indicator). Slot kinds map to indicator kinds; phone numbers
# keep their digits only (a +86 mobile and its national form are one number).
_INDICATORS = r"""
CREATE TEMP TABLE indicator_rows AS
WITH slots AS (
    SELECT message_id, template_id, unnest(from_json(slots, '[["VARCHAR"]]')) AS kv
    FROM message_templates
), from_slots AS (
    SELECT message_id, template_id,
        CASE kv[1] WHEN 'URL' THEN 'url_host' WHEN 'WECHAT' THEN 'wechat' WHEN 'QQ' THEN 'qq'
                   WHEN 'EMAIL' THEN 'email' WHEN 'REPLY' THEN 'reply' ELSE 'callback' END AS kind,
        CASE kv[1]
            WHEN 'URL' THEN lower(regexp_extract(kv[2], '^(?:[A-Za-z]+://)?([^/?#:]+)', 1))
            WHEN 'WECHAT' THEN lower(kv[2]) WHEN 'EMAIL' THEN lower(kv[2])
            WHEN 'REPLY' THEN upper(regexp_replace(kv[2], '\s+', '', 'g'))
            WHEN 'PHONE_MOBILE' THEN regexp_replace(
                regexp_replace(kv[2], '\D', '', 'g'), '^86(1\d{10})$', '\1')
            ELSE regexp_replace(kv[2], '\D', '', 'g')
        END AS value
    FROM slots
    WHERE kv[1] IN ('URL', 'WECHAT', 'QQ', 'EMAIL', 'REPLY',
                    'PHONE_400', 'PHONE_MOBILE', 'PHONE_95', 'PHONE_106')
), senders AS (
    SELECT t.message_id, t.template_id, m.sender, m.channel, t.signature
    FROM message_templates t JOIN messages m ON m.id = t.message_id
)
SELECT * FROM from_slots WHERE value <> ''
UNION ALL
SELECT message_id, template_id, 'channel', left(sender, $digits) || '…'
FROM senders WHERE regexp_full_match(sender, '106\d+')
UNION ALL
SELECT message_id, template_id,
    CASE WHEN regexp_full_match(sender, '106\d+') THEN 'channel_signature' ELSE 'sender' END,
    CASE WHEN regexp_full_match(sender, '106\d+')
         THEN left(sender, $digits) || '…' || coalesce('【' || signature || '】', '')
         WHEN regexp_full_match(sender, '\+?\d+')
         THEN regexp_replace(regexp_replace(sender, '\D', '', 'g'), '^86(1\d{10})$', '\1')
         ELSE lower(sender) END
FROM senders WHERE sender IS NOT NULL AND sender <> ''
UNION ALL
SELECT message_id, template_id, 'sender_domain', lower(split_part(sender, '@', 2))
FROM senders WHERE channel = 'email' AND sender LIKE '%@%'
UNION ALL
SELECT message_id, template_id, 'signature', signature FROM senders WHERE signature IS NOT NULL
"""


# A channel prefix alone links while only a few templates use it (a sender's own
# channel, even when a garbled signature hides the binding); an aggregator's channel
# carries many, and then only the channel + signature pairs link.
# Indicators of different kinds that name the same thing join one node: a link's host
# and a mail sender's domain (both reduced to the registrable domain), a call-back
# number and a phone sender, an address in a text and a mail sender.
_KEYED = r"""
CREATE TEMP TABLE keyed AS
SELECT r.message_id, r.template_id, r.kind, r.value,
    CASE WHEN r.kind IN ('url_host', 'sender_domain') THEN 'domain'
         WHEN r.kind = 'callback' THEN 'phone'
         WHEN r.kind = 'sender' AND contains(r.value, '@') THEN 'email'
         WHEN r.kind = 'sender' AND regexp_full_match(r.value, '\d+') THEN 'phone'
         ELSE r.kind END AS ns,
    coalesce(d.domain, r.value) AS key
FROM indicator_rows r
LEFT JOIN domains d ON r.kind IN ('url_host', 'sender_domain') AND d.host = r.value
"""


@dataclass(frozen=True)
class CampaignResult:
    """What one linking run found."""

    campaigns: int
    linked_messages: int
    unlinked_messages: int  # clustered messages without any specific indicator
    shared_indicators: int  # too unspecific to link (aggregators, public hosts)


@dataclass(frozen=True)
class Campaign:
    """One campaign as listed."""

    id: int
    label: str
    size: int
    templates: int
    first_seen: object
    last_seen: object
    category: str | None


@dataclass(frozen=True)
class Indicator:
    """An indicator of a campaign: what it is, how many messages carry it, whether it links."""

    kind: str
    value: str
    messages: int
    templates: int
    links: bool


def _components(con: duckdb.DuckDBPyConnection, max_templates: int) -> pa.Table:
    """(kind, value, component) for every linking indicator."""
    con.execute(
        """
        CREATE TEMP TABLE nodes AS
        SELECT ns, key, count(DISTINCT template_id) AS templates,
               (bool_or(list_contains($linking, kind))
                AND count(DISTINCT template_id) <= $max) AS links,
               row_number() OVER (ORDER BY min(message_id), ns, key) - 1 AS node
        FROM keyed GROUP BY ns, key
        """,
        {"max": max_templates, "linking": list(LINKING)},
    )
    con.execute(
        "CREATE TEMP TABLE linking_rows AS SELECT DISTINCT r.message_id, n.node FROM keyed r"
        " JOIN nodes n USING (ns, key) WHERE n.links"
    )
    (nodes,) = con.execute("SELECT count(*) FROM nodes").fetchall()[0]
    # Each message joins its linking indicators: an edge from its first to each other one.
    edges = con.sql(
        """
        SELECT a, b FROM (
            SELECT min(node) OVER (PARTITION BY message_id) AS a, node AS b FROM linking_rows
        ) WHERE a <> b
        """
    ).to_arrow_table()
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(nodes, nodes))
    _, labels = connected_components(graph, directed=False)
    return pa.table({"node": np.arange(nodes, dtype=np.int64), "component": labels})


def link_campaigns(store: Store, max_templates: int | None = None) -> CampaignResult:
    """Recompute every campaign from the clustered messages' indicators."""
    with store.transaction() as con:
        stored = con.execute(
            "SELECT value FROM clustering_settings WHERE name = 'campaign_max_templates'"
        ).fetchone()
        if max_templates is None:
            max_templates = int(stored[0]) if stored else DEFAULT_MAX_TEMPLATES
        con.execute(_INDICATORS, {"digits": CHANNEL_DIGITS})
        hosts = con.execute(
            "SELECT DISTINCT value FROM indicator_rows WHERE kind IN ('url_host', 'sender_domain')"
        ).fetchall()
        domains = pa.table(
            {
                "host": [h for (h,) in hosts],
                "domain": [registrable_domain(h) for (h,) in hosts],
            }
        )
        con.register("domains", domains)
        con.execute(_KEYED)
        con.unregister("domains")
        components = _components(con, max_templates)
        con.register("components", components)
        con.execute(
            """
            CREATE TEMP TABLE message_component AS
            SELECT l.message_id, min(c.component) AS component
            FROM linking_rows l JOIN components c USING (node) GROUP BY l.message_id;
            CREATE TEMP TABLE numbering AS
            SELECT component, row_number() OVER (ORDER BY min(message_id)) AS campaign_id
            FROM message_component GROUP BY component;
            DELETE FROM campaigns; DELETE FROM message_campaigns;
            DELETE FROM campaign_indicators; DELETE FROM campaign_links;
            INSERT INTO message_campaigns
            SELECT message_id, campaign_id FROM message_component JOIN numbering USING (component);
            INSERT INTO campaign_indicators
            SELECT mc.campaign_id, r.kind, r.value, count(DISTINCT r.message_id),
                   any_value(n.templates), any_value(n.links)
            FROM keyed r JOIN message_campaigns mc USING (message_id)
            JOIN nodes n USING (ns, key)
            GROUP BY mc.campaign_id, r.kind, r.value;
            INSERT INTO campaign_links
            SELECT mc.campaign_id, na.ns, na.key, nb.ns, nb.key, count(*)
            FROM (
                SELECT message_id, min(node) OVER (PARTITION BY message_id) AS a, node AS b
                FROM linking_rows
            ) e
            JOIN message_campaigns mc USING (message_id)
            JOIN nodes na ON na.node = e.a JOIN nodes nb ON nb.node = e.b
            WHERE e.a <> e.b
            GROUP BY ALL;
            INSERT INTO campaigns
            SELECT mc.campaign_id,
                   coalesce(
                       (SELECT '【' || i.value || '】' FROM campaign_indicators i
                        WHERE i.campaign_id = mc.campaign_id AND i.kind = 'signature'
                        ORDER BY i.messages DESC, i.value LIMIT 1), '')
                   || (SELECT i.value FROM campaign_indicators i
                       WHERE i.campaign_id = mc.campaign_id AND i.links
                       ORDER BY i.kind LIKE 'channel%', i.messages DESC, i.value LIMIT 1),
                   count(*), count(DISTINCT t.template_id),
                   min(m.received_at), max(m.received_at), mode(tp.category)
            FROM message_campaigns mc
            JOIN messages m ON m.id = mc.message_id
            JOIN message_templates t ON t.message_id = mc.message_id
            JOIN templates tp ON tp.id = t.template_id
            GROUP BY mc.campaign_id;
            """
        )
        con.execute(
            "INSERT OR REPLACE INTO clustering_settings VALUES ('campaign_max_templates', ?)",
            [str(max_templates)],
        )
        shared = con.execute(
            "SELECT count(*) FROM nodes WHERE NOT links AND NOT list_contains(?, ns)",
            [list(CORROBORATING)],
        ).fetchone()[0]
        for name in (
            "indicator_rows",
            "keyed",
            "nodes",
            "linking_rows",
            "message_component",
            "numbering",
        ):
            con.execute(f"DROP TABLE {name}")
        con.unregister("components")
        return _result(con, shared)


def current_campaigns(store: Store) -> CampaignResult | None:
    """What the last linking run left, or None when campaigns were never linked."""
    with store.connect() as con:
        linked = con.execute(
            "SELECT value FROM clustering_settings WHERE name = 'campaign_max_templates'"
        ).fetchone()
        if linked is None:
            return None
        # Shared indicators that reached a campaign's messages (the last run also
        # counted those only on unlinked messages).
        shared = con.execute(
            "SELECT count(DISTINCT (kind, value)) FROM campaign_indicators"
            " WHERE NOT links AND NOT list_contains(?, kind)",
            [list(CORROBORATING)],
        ).fetchone()[0]
        return _result(con, shared)


def _result(con: duckdb.DuckDBPyConnection, shared: int) -> CampaignResult:
    campaigns, linked = con.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM campaigns"
    ).fetchone()
    clustered = con.execute("SELECT count(*) FROM message_templates").fetchone()[0]
    return CampaignResult(campaigns, linked, clustered - linked, shared)


def list_campaigns(store: Store, limit: int = 50) -> list[Campaign]:
    """The biggest campaigns first."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT id, label, size, templates, first_seen, last_seen, category FROM campaigns"
            " ORDER BY size DESC, id LIMIT ?",
            [limit],
        ).fetchall()
    return [Campaign(*row) for row in rows]


def campaign_indicators(store: Store, campaign_id: int) -> list[Indicator]:
    """A campaign's indicators, linking ones first, most frequent first."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT kind, value, messages, templates, links FROM campaign_indicators"
            " WHERE campaign_id = ? ORDER BY links DESC, messages DESC, kind, value",
            [campaign_id],
        ).fetchall()
    return [Indicator(*row) for row in rows]
