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

import json
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

# One row per (message, indicator), for the clustered messages after message id $after.
# Slot kinds map to indicator kinds; phone numbers keep their digits only (a +86 mobile
# and its national form are one number).
_INDICATORS = r"""
CREATE OR REPLACE TEMP TABLE indicator_rows AS
WITH slots AS (
    SELECT message_id, template_id, unnest(from_json(slots, '[["VARCHAR"]]')) AS kv
    FROM message_templates WHERE message_id > $after
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
    WHERE t.message_id > $after
)
-- A text may repeat a link or a number: each message's indicators are taken once here,
-- where only the slots can repeat (one sender, signature and channel per message).
SELECT DISTINCT * FROM from_slots WHERE value <> ''
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
CREATE OR REPLACE TEMP TABLE keyed AS
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
    relinked: bool = False  # linked from scratch rather than extended


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


# What linking read, fingerprinted: the clustered messages up to the last one linked
# (their templates, slots and signatures) and the categories of the templates then
# known. Anything else than new messages after it (a rebuild that changed slots, a
# template merged or split by hand, a lexicon run) means linking from scratch.
_FINGERPRINT = """
SELECT count(*), coalesce(sum(hash(message_id, template_id, slots, signature)), 0)::VARCHAR,
       (SELECT coalesce(sum(hash(id, category)), 0)::VARCHAR FROM templates WHERE id <= $templates)
FROM message_templates WHERE message_id <= $upto
"""
_TEMP_TABLES = (
    "indicator_rows",
    "keyed",
    "affected",
    "split",
    "message_component",
    "node_component",
    "scope",
)


def link_campaigns(
    store: Store, max_templates: int | None = None, *, relink: bool = False
) -> CampaignResult:
    """Bring the campaigns up to date with the clustered messages.

    New messages extend the campaigns they link to (joining campaigns they bridge, the
    oldest id kept, the others recorded in ``campaign_merges``); campaigns no new message
    touches are not rewritten. Linking starts from scratch when the clustering under the
    old messages changed, the limit changed, a new message made a linking indicator too
    common to link, or ``relink`` asks; campaign ids still carry over, each to the
    campaign now holding most of its messages.
    """
    with store.transaction() as con:
        stored = dict(
            con.execute(
                "SELECT name, value FROM clustering_settings"
                " WHERE name IN ('campaign_max_templates', 'campaign_state')"
            ).fetchall()
        )
        previous = stored.get("campaign_max_templates")
        if max_templates is None:
            max_templates = int(previous) if previous else DEFAULT_MAX_TEMPLATES
        state = json.loads(stored.get("campaign_state", "null"))
        con.execute("CREATE OR REPLACE TEMP TABLE scope (campaign_id BIGINT)")
        extended = False
        if not relink and state and previous == str(max_templates) and _unchanged(con, state):
            extended = _extend(con, state["upto"], max_templates)
        if not extended:
            con.execute("DELETE FROM scope")
            _relink(con, max_templates)
        upto, templates = con.execute(
            "SELECT (SELECT coalesce(max(message_id), 0) FROM message_templates),"
            " (SELECT coalesce(max(id), -1) FROM templates)"
        ).fetchall()[0]
        state = {"upto": upto, "templates": templates}
        state["fingerprint"] = _fingerprint(con, state)
        con.executemany(
            "INSERT OR REPLACE INTO clustering_settings VALUES (?, ?)",
            [["campaign_max_templates", str(max_templates)], ["campaign_state", json.dumps(state)]],
        )
        for name in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        return _result(con, relinked=not extended)


def _fingerprint(con: duckdb.DuckDBPyConnection, state: dict) -> list:
    return list(
        con.execute(
            _FINGERPRINT, {"upto": state["upto"], "templates": state["templates"]}
        ).fetchall()[0]
    )


def _unchanged(con: duckdb.DuckDBPyConnection, state: dict) -> bool:
    """Whether what the last run linked is still as it was (new messages aside)."""
    return _fingerprint(con, state) == state.get("fingerprint")


def _extract(con: duckdb.DuckDBPyConnection, after: int) -> None:
    """``keyed``: the indicators of the clustered messages after message id ``after``."""
    con.execute(_INDICATORS, {"digits": CHANNEL_DIGITS, "after": after})
    hosts = con.execute(
        "SELECT DISTINCT value FROM indicator_rows WHERE kind IN ('url_host', 'sender_domain')"
    ).fetchall()
    domains = pa.table(
        {"host": [h for (h,) in hosts], "domain": [registrable_domain(h) for (h,) in hosts]}
    )
    con.register("domains", domains)
    try:
        con.execute(_KEYED)
    finally:
        con.unregister("domains")


def _relink(con: duckdb.DuckDBPyConnection, max_templates: int) -> None:
    """Link every clustered message from scratch; campaign ids carry over where they can."""
    _extract(con, after=-1)
    con.execute(
        """
        DELETE FROM message_indicators;
        INSERT INTO message_indicators SELECT message_id, kind, value, ns, key FROM keyed;
        DELETE FROM node_templates;
        INSERT INTO node_templates SELECT DISTINCT ns, key, template_id FROM keyed;
        DELETE FROM indicator_nodes;
        INSERT INTO indicator_nodes
        SELECT ns, key,
               row_number() OVER (ORDER BY min(message_id), ns, key) - 1,
               min(message_id),
               count(DISTINCT template_id),
               NOT list_contains($corroborating, ns) AND count(DISTINCT template_id) <= $max,
               NULL
        FROM keyed GROUP BY ns, key
        """,
        {"max": max_templates, "corroborating": list(CORROBORATING)},
    )
    rows = con.execute(
        "SELECT DISTINCT k.message_id, n.node FROM keyed k"
        " JOIN indicator_nodes n USING (ns, key) WHERE n.links"
    ).fetchnumpy()
    _link_components(con, rows["message_id"], rows["node"])
    _write_components(
        con,
        """
        DELETE FROM message_campaigns; DELETE FROM campaigns; DELETE FROM campaign_indicators;
        DELETE FROM campaign_links; DELETE FROM campaign_templates;
        """,
    )
    con.execute(_SUMMARY)


def _link_components(
    con: duckdb.DuckDBPyConnection, messages: np.ndarray, nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``message_component`` and ``node_component``; also returned: (nodes, their components).

    Each message joins its linking indicators (an edge from its first to each other
    one); the components of that graph are campaigns (scipy).
    """
    local, index = np.unique(nodes, return_inverse=True)
    order = np.lexsort((index, messages))
    by_message, by_node = messages[order], index[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = by_message[1:] != by_message[:-1]
    heads = by_node[first][np.cumsum(first) - 1]
    size = len(local)
    graph = coo_matrix((np.ones(len(by_node), dtype=np.int8), (heads, by_node)), shape=(size, size))
    labels = connected_components(graph, directed=False)[1] if size else np.zeros(0, np.int32)
    for name, table in (
        ("message_component", {"message_id": by_message[first], "component": labels[heads[first]]}),
        ("node_component", {"node": local, "component": labels}),
    ):
        con.register("incoming_components", pa.table(table))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM incoming_components")
        con.unregister("incoming_components")
    return local, labels


def _write_components(con: duckdb.DuckDBPyConnection, replaced: str) -> None:
    """Give the components their campaign ids and write their messages and nodes.

    ``replaced`` (SQL) clears the campaigns they replace, once their ids were carried over.
    """
    numbering = _carry_ids(con)
    con.register("numbering", numbering)
    try:
        con.execute(
            replaced
            + """
            INSERT INTO message_campaigns
            SELECT message_id, campaign_id FROM message_component JOIN numbering USING (component);
            UPDATE indicator_nodes SET campaign_id = x.campaign_id
            FROM node_component c JOIN numbering x USING (component)
            WHERE indicator_nodes.node = c.node;
            INSERT INTO scope SELECT campaign_id FROM numbering;
            """
        )
    finally:
        con.unregister("numbering")


def _split(con: duckdb.DuckDBPyConnection) -> None:
    """Link anew the campaigns in ``split``: indicators of theirs stopped linking."""
    rows = con.execute(
        """
        SELECT DISTINCT i.message_id, n.node FROM message_indicators i
        JOIN indicator_nodes n USING (ns, key) JOIN message_campaigns mc USING (message_id)
        WHERE n.links AND mc.campaign_id IN (SELECT campaign_id FROM split)
        """
    ).fetchnumpy()
    _link_components(con, rows["message_id"], rows["node"])
    _write_components(
        con,
        """
        DELETE FROM message_campaigns WHERE campaign_id IN (SELECT campaign_id FROM split);
        DELETE FROM campaigns WHERE id IN (SELECT campaign_id FROM split);
        DELETE FROM campaign_indicators WHERE campaign_id IN (SELECT campaign_id FROM split);
        DELETE FROM campaign_links WHERE campaign_id IN (SELECT campaign_id FROM split);
        DELETE FROM campaign_templates WHERE campaign_id IN (SELECT campaign_id FROM split);
        UPDATE indicator_nodes SET campaign_id = NULL
        WHERE campaign_id IN (SELECT campaign_id FROM split);
        """,
    )
    con.execute(_SUMMARY)


def _carry_ids(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """(component, campaign id): old ids kept by the components holding their messages.

    Each old campaign's id goes to the component holding most of its messages (its
    successor); a component that succeeds several keeps the oldest id and the others are
    recorded as merged into it. Components without an old id get fresh ids, in order of
    their first message, never reusing an id given before.
    """
    overlap = con.execute(
        """
        SELECT o.campaign_id, mc.component, count(*) AS n,
               (SELECT min(message_id) FROM message_component x
                WHERE x.component = mc.component) AS first
        FROM message_component mc JOIN message_campaigns o USING (message_id)
        GROUP BY ALL
        """
    ).fetchall()
    successor: dict[int, int] = {}  # by most messages, then the earliest component
    for old, component, *_ in sorted(overlap, key=lambda r: (r[0], -r[2], r[3])):
        successor.setdefault(old, component)
    ids: dict[int, int] = {}
    for old, component in sorted(successor.items()):
        ids.setdefault(component, old)
    _merge(con, {old: ids[c] for old, c in successor.items() if ids[c] != old})
    fresh = con.execute(
        "SELECT component FROM message_component GROUP BY component ORDER BY min(message_id)"
    ).fetchall()
    next_id = _next_id(con)
    for (component,) in fresh:
        if component not in ids:
            ids[component] = next_id
            next_id += 1
    _set_next_id(con, next_id)
    return _mapping(ids, "component", "campaign_id")


def _next_id(con: duckdb.DuckDBPyConnection) -> int:
    """The next campaign id never given: past every id in use, merged or stored."""
    return con.execute(
        """
        SELECT greatest(
            (SELECT coalesce(max(campaign_id), 0) FROM message_campaigns),
            (SELECT coalesce(max(id), 0) FROM campaign_merges),
            (SELECT coalesce(max(value::BIGINT), 0) FROM clustering_settings
             WHERE name = 'campaign_last_id')) + 1
        """
    ).fetchall()[0][0]


def _set_next_id(con: duckdb.DuckDBPyConnection, next_id: int) -> None:
    con.execute(
        "INSERT OR REPLACE INTO clustering_settings VALUES ('campaign_last_id', ?)",
        [str(next_id - 1)],
    )


def _merge(con: duckdb.DuckDBPyConnection, into: dict[int, int]) -> None:
    """Record campaigns merged into others; earlier merges into them follow along."""
    if not into:
        return
    con.register("merged", _mapping(into, "id", "into_id"))
    try:
        con.execute(
            """
            UPDATE campaign_merges SET into_id = m.into_id FROM merged m
            WHERE campaign_merges.into_id = m.id;
            INSERT OR REPLACE INTO campaign_merges SELECT id, into_id, now() FROM merged;
            """
        )
    finally:
        con.unregister("merged")


def _extend(con: duckdb.DuckDBPyConnection, upto: int, max_templates: int) -> bool:
    """Link the messages clustered after message id ``upto`` into the campaigns.

    False (nothing written that a relink would not replace) when an indicator that
    linked nothing would now link: only linking from scratch can say what it joins.
    Work is proportional to the new messages, the campaigns they merge and the
    campaigns that split, not to the store.
    """
    _extract(con, after=upto)
    if not con.execute("SELECT count(*) FROM keyed").fetchall()[0][0]:
        return True
    con.execute(
        """
        INSERT INTO message_indicators SELECT message_id, kind, value, ns, key FROM keyed;
        INSERT INTO node_templates
        SELECT DISTINCT ns, key, template_id FROM keyed k WHERE NOT EXISTS (
            SELECT 1 FROM node_templates n
            WHERE n.ns = k.ns AND n.key = k.key AND n.template_id = k.template_id);
        CREATE OR REPLACE TEMP TABLE affected AS
        SELECT ns, key, k.first_message, t.templates,
               NOT list_contains($corroborating, ns) AND t.templates <= $max AS links
        FROM (SELECT ns, key, min(message_id) AS first_message FROM keyed GROUP BY ns, key) k
        JOIN (SELECT ns, key, count(*) AS templates FROM node_templates
              SEMI JOIN keyed USING (ns, key) GROUP BY ns, key) t USING (ns, key)
        """,
        {"max": max_templates, "corroborating": list(CORROBORATING)},
    )
    (awoken,) = con.execute(
        "SELECT count(*) FROM affected a JOIN indicator_nodes n USING (ns, key)"
        " WHERE a.links AND NOT n.links"
    ).fetchall()[0]
    if awoken:  # counts only grow while messages are only added: a guard, not a path
        return False
    # An indicator now seen with too many templates stops linking: its campaign may
    # fall apart, so that campaign is linked anew from its own messages.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE split AS
        SELECT DISTINCT n.campaign_id FROM affected a JOIN indicator_nodes n USING (ns, key)
        WHERE n.links AND NOT a.links;
        UPDATE indicator_nodes SET templates = a.templates, links = a.links FROM affected a
        WHERE indicator_nodes.ns = a.ns AND indicator_nodes.key = a.key
            AND (indicator_nodes.templates <> a.templates OR indicator_nodes.links <> a.links);
        INSERT INTO indicator_nodes
        SELECT ns, key,
            (SELECT coalesce(max(node), -1) FROM indicator_nodes)
                + row_number() OVER (ORDER BY first_message, ns, key),
            first_message, templates, links, NULL
        FROM affected a WHERE NOT EXISTS (
            SELECT 1 FROM indicator_nodes n WHERE n.ns = a.ns AND n.key = a.key);
        """
    )
    if con.execute("SELECT count(*) FROM split").fetchall()[0][0]:
        _split(con)
    rows = con.execute(
        "SELECT DISTINCT k.message_id, n.node, n.campaign_id FROM keyed k"
        " JOIN indicator_nodes n USING (ns, key) WHERE n.links"
    ).fetchnumpy()
    _assign(con, rows["message_id"], rows["node"], rows["campaign_id"])
    # Every campaign listing an indicator shows its store-wide template count.
    con.execute(
        """
        UPDATE campaign_indicators SET templates = a.templates, links = a.links FROM affected a
        WHERE campaign_indicators.ns = a.ns AND campaign_indicators.key = a.key
            AND (campaign_indicators.templates <> a.templates
                 OR campaign_indicators.links <> a.links);
        """
    )
    con.execute(_REFRESH)
    return True


def _assign(
    con: duckdb.DuckDBPyConnection,
    messages: np.ndarray,
    nodes: np.ndarray,
    campaigns: np.ma.MaskedArray | np.ndarray,
) -> None:
    """Give new messages the campaigns their linking indicators belong to.

    New messages joining campaigns make them one: the oldest id stays, the others are
    recorded as merged into it. Messages linking to no campaign start new ones. The
    summaries grow by what the new messages add.
    """
    if len(messages) == 0:
        return
    known = np.ma.getdata(campaigns).astype(np.int64)
    owned = ~np.ma.getmaskarray(campaigns)
    local, labels = _link_components(con, messages, nodes)
    component = labels[np.searchsorted(local, nodes)]  # of each row
    # Components sharing a campaign are one campaign: join them through it (union-find).
    parent = {c: c for c in range(len(labels) and int(labels.max()) + 1)}

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    owner: dict[int, int] = {}  # campaign → a component holding it
    for c, campaign in zip(component[owned].tolist(), known[owned].tolist(), strict=True):
        if campaign in owner:
            parent[root(c)] = root(owner[campaign])
        else:
            owner[campaign] = c
    held: dict[int, list[int]] = {}  # group root → the campaigns it holds
    for campaign, c in owner.items():
        held.setdefault(root(c), []).append(campaign)
    ids = {group: min(campaigns) for group, campaigns in held.items()}  # the oldest stays
    into = {k: ids[g] for g, campaigns in held.items() for k in campaigns if k != ids[g]}
    _merge(con, into)
    if into:
        con.register("folding", _mapping(into, "id", "into_id"))
        try:
            con.execute(_FOLD)
        finally:
            con.unregister("folding")
    first = con.execute(
        "SELECT component FROM message_component GROUP BY component ORDER BY min(message_id)"
    ).fetchall()
    next_id = _next_id(con)
    keep: dict[int, int] = {}
    for (c,) in first:
        group = root(c)
        if group not in ids:
            ids[group] = next_id
            next_id += 1
        keep[c] = ids[group]
    _set_next_id(con, next_id)
    con.register("numbering", _mapping(keep, "component", "campaign_id"))
    try:
        con.execute(
            """
            UPDATE indicator_nodes SET campaign_id = x.campaign_id
            FROM node_component c JOIN numbering x USING (component)
            WHERE indicator_nodes.node = c.node
                AND indicator_nodes.campaign_id IS DISTINCT FROM x.campaign_id;
            CREATE OR REPLACE TEMP TABLE fresh AS
            SELECT message_id, campaign_id FROM message_component JOIN numbering USING (component);
            INSERT INTO message_campaigns SELECT * FROM fresh;
            INSERT INTO scope SELECT campaign_id FROM numbering;
            """
        )
    finally:
        con.unregister("numbering")
    con.execute(_GROW)


def _mapping(pairs: dict[int, int], key: str, value: str) -> pa.Table:
    """A dictionary of ids as a two-column Arrow table."""
    return pa.table(
        {key: pa.array(list(pairs), pa.int64()), value: pa.array(list(pairs.values()), pa.int64())}
    )


def _fold_rows(table: str, columns: str, kept: str = "") -> str:
    """SQL: a summary table's rows of merged campaigns summed into the absorbing ones."""
    return f"""
CREATE OR REPLACE TEMP TABLE folded AS
SELECT coalesce(f.into_id, c.campaign_id) AS campaign_id, {columns}, sum(messages) AS messages{kept}
FROM {table} c LEFT JOIN folding f ON f.id = c.campaign_id
WHERE c.campaign_id IN (SELECT campaign_id FROM touched)
GROUP BY coalesce(f.into_id, c.campaign_id), {columns};
DELETE FROM {table} WHERE campaign_id IN (SELECT campaign_id FROM touched);
INSERT INTO {table} BY NAME SELECT * FROM folded;
"""


# Merged campaigns' messages and summaries, summed into the campaigns that absorbed them
# (``folding``: id, into_id).
_FOLD = (
    """
UPDATE message_campaigns SET campaign_id = f.into_id FROM folding f
WHERE message_campaigns.campaign_id = f.id;
UPDATE indicator_nodes SET campaign_id = f.into_id FROM folding f
WHERE indicator_nodes.campaign_id = f.id;
CREATE OR REPLACE TEMP TABLE touched AS
SELECT id AS campaign_id FROM folding UNION SELECT into_id FROM folding;
"""
    + _fold_rows(
        "campaign_indicators",
        "kind, value, ns, key",
        ", any_value(templates) AS templates, any_value(links) AS links",
    )
    + _fold_rows("campaign_links", "kind_a, value_a, kind_b, value_b")
    + _fold_rows("campaign_templates", "template_id")
    + """
CREATE OR REPLACE TEMP TABLE folded AS
SELECT coalesce(f.into_id, c.id) AS id, '' AS label, sum(size) AS size, 0 AS templates,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen, NULL AS category
FROM campaigns c LEFT JOIN folding f ON f.id = c.id
WHERE c.id IN (SELECT campaign_id FROM touched)
GROUP BY coalesce(f.into_id, c.id);
DELETE FROM campaigns WHERE id IN (SELECT campaign_id FROM touched);
INSERT INTO campaigns BY NAME SELECT * FROM folded;
INSERT INTO scope SELECT into_id FROM folding;
DROP TABLE folded; DROP TABLE touched;
"""
)

# What the new messages (``fresh``: message, campaign) add to their campaigns' summaries.
_GROW = """
CREATE OR REPLACE TEMP TABLE grown AS
SELECT f.campaign_id, k.kind, k.value, count(DISTINCT k.message_id) AS messages, k.ns, k.key
FROM keyed k JOIN fresh f USING (message_id) GROUP BY ALL;
UPDATE campaign_indicators SET messages = campaign_indicators.messages + g.messages FROM grown g
WHERE campaign_indicators.campaign_id = g.campaign_id AND campaign_indicators.kind = g.kind
    AND campaign_indicators.value = g.value;
INSERT INTO campaign_indicators
SELECT g.campaign_id, g.kind, g.value, g.messages, n.templates, n.links, g.ns, g.key
FROM grown g JOIN indicator_nodes n USING (ns, key)
WHERE NOT EXISTS (SELECT 1 FROM campaign_indicators c WHERE c.campaign_id = g.campaign_id
                  AND c.kind = g.kind AND c.value = g.value);

CREATE OR REPLACE TEMP TABLE grown AS
SELECT f.campaign_id, na.ns AS kind_a, na.key AS value_a, nb.ns AS kind_b, nb.key AS value_b,
       count(*) AS messages
FROM (
    SELECT message_id, min(node) OVER (PARTITION BY message_id) AS a, node AS b
    FROM (SELECT DISTINCT k.message_id, n.node FROM keyed k
          JOIN indicator_nodes n USING (ns, key) WHERE n.links)
) e
JOIN fresh f USING (message_id)
JOIN indicator_nodes na ON na.node = e.a JOIN indicator_nodes nb ON nb.node = e.b
WHERE e.a <> e.b GROUP BY ALL;
UPDATE campaign_links SET messages = campaign_links.messages + g.messages FROM grown g
WHERE campaign_links.campaign_id = g.campaign_id AND campaign_links.kind_a = g.kind_a
    AND campaign_links.value_a = g.value_a AND campaign_links.kind_b = g.kind_b
    AND campaign_links.value_b = g.value_b;
INSERT INTO campaign_links SELECT * FROM grown g
WHERE NOT EXISTS (SELECT 1 FROM campaign_links c WHERE c.campaign_id = g.campaign_id
                  AND c.kind_a = g.kind_a AND c.value_a = g.value_a
                  AND c.kind_b = g.kind_b AND c.value_b = g.value_b);

CREATE OR REPLACE TEMP TABLE grown AS
SELECT f.campaign_id, t.template_id, count(*) AS messages
FROM fresh f JOIN message_templates t USING (message_id) GROUP BY ALL;
UPDATE campaign_templates SET messages = campaign_templates.messages + g.messages FROM grown g
WHERE campaign_templates.campaign_id = g.campaign_id
    AND campaign_templates.template_id = g.template_id;
INSERT INTO campaign_templates SELECT * FROM grown g
WHERE NOT EXISTS (SELECT 1 FROM campaign_templates c WHERE c.campaign_id = g.campaign_id
                  AND c.template_id = g.template_id);

CREATE OR REPLACE TEMP TABLE grown AS
SELECT f.campaign_id, count(*) AS size, min(m.received_at) AS first_seen,
       max(m.received_at) AS last_seen
FROM fresh f JOIN messages m ON m.id = f.message_id GROUP BY ALL;
UPDATE campaigns SET size = campaigns.size + g.size,
    first_seen = least(campaigns.first_seen, g.first_seen),
    last_seen = greatest(campaigns.last_seen, g.last_seen)
FROM grown g WHERE campaigns.id = g.campaign_id;
INSERT INTO campaigns
SELECT campaign_id, '', size, 0, first_seen, last_seen, NULL FROM grown g
WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = g.campaign_id);
DROP TABLE grown; DROP TABLE fresh;
"""

# Labels, template counts and categories of the campaigns in ``scope``, from their
# summaries: the label is the most common signature and linking indicator, the category
# the one most of the campaign's messages have.
_REFRESH = """
UPDATE campaigns SET
    label = coalesce(
        (SELECT '【' || i.value || '】' FROM campaign_indicators i
         WHERE i.campaign_id = campaigns.id AND i.kind = 'signature'
         ORDER BY i.messages DESC, i.value LIMIT 1), '')
        || (SELECT i.value FROM campaign_indicators i
            WHERE i.campaign_id = campaigns.id AND i.links
            ORDER BY i.kind LIKE 'channel%', i.messages DESC, i.value LIMIT 1),
    templates = (SELECT count(*) FROM campaign_templates t WHERE t.campaign_id = campaigns.id),
    category = (
        SELECT tp.category FROM campaign_templates t JOIN templates tp ON tp.id = t.template_id
        WHERE t.campaign_id = campaigns.id
        GROUP BY tp.category ORDER BY sum(t.messages) DESC, tp.category LIMIT 1)
WHERE id IN (SELECT campaign_id FROM scope);
"""

# The campaigns in ``scope`` summarised from scratch from their messages: indicators
# with counts, the pairs of linking indicators seen together, templates and sizes.
_SUMMARY = (
    """
INSERT INTO campaign_indicators
SELECT mc.campaign_id, i.kind, i.value, count(*),  -- message_indicators holds no duplicates
       any_value(n.templates), any_value(n.links), i.ns, i.key
FROM message_indicators i JOIN message_campaigns mc USING (message_id)
JOIN indicator_nodes n USING (ns, key)
WHERE mc.campaign_id IN (SELECT campaign_id FROM scope)
GROUP BY mc.campaign_id, i.kind, i.value, i.ns, i.key;

INSERT INTO campaign_links
SELECT e.campaign_id, na.ns, na.key, nb.ns, nb.key, count(*)
FROM (
    SELECT campaign_id, min(node) OVER (PARTITION BY message_id) AS a, node AS b
    FROM (SELECT DISTINCT i.message_id, mc.campaign_id, n.node
          FROM message_indicators i JOIN message_campaigns mc USING (message_id)
          JOIN indicator_nodes n USING (ns, key)
          WHERE n.links AND mc.campaign_id IN (SELECT campaign_id FROM scope))
) e
JOIN indicator_nodes na ON na.node = e.a JOIN indicator_nodes nb ON nb.node = e.b
WHERE e.a <> e.b
GROUP BY ALL;

INSERT INTO campaign_templates
SELECT mc.campaign_id, t.template_id, count(*)
FROM message_campaigns mc JOIN message_templates t USING (message_id)
WHERE mc.campaign_id IN (SELECT campaign_id FROM scope)
GROUP BY ALL;

INSERT INTO campaigns
SELECT mc.campaign_id, '', count(*), 0, min(m.received_at), max(m.received_at), NULL
FROM message_campaigns mc JOIN messages m ON m.id = mc.message_id
WHERE mc.campaign_id IN (SELECT campaign_id FROM scope)
GROUP BY mc.campaign_id;
"""
    + _REFRESH
)


def _result(con: duckdb.DuckDBPyConnection, relinked: bool = False) -> CampaignResult:
    campaigns, linked = con.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM campaigns"
    ).fetchone()
    clustered = con.execute("SELECT count(*) FROM message_templates").fetchone()[0]
    shared = con.execute(
        "SELECT count(*) FROM indicator_nodes WHERE NOT links AND NOT list_contains(?, ns)",
        [list(CORROBORATING)],
    ).fetchone()[0]
    return CampaignResult(campaigns, linked, clustered - linked, shared, relinked)


def current_campaign_id(store: Store, campaign_id: int) -> int | None:
    """The campaign now holding what ``campaign_id`` held (itself, or where it was merged)."""
    with store.connect() as con:
        row = con.execute(
            "SELECT id FROM campaigns WHERE id ="
            " coalesce((SELECT into_id FROM campaign_merges WHERE id = $id), $id)",
            {"id": campaign_id},
        ).fetchone()
    return None if row is None else row[0]


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
