"""First-party inference: a source's own channels, found in the messages themselves.

A user who signs up somewhere rarely knows the sender IDs the site will text from.
The messages tell: a message to a canary planted at source S is S's own when

- ``signature``: its 【signature】 names S (its name, its pinyin, its URL's domain
  label; ``【融中房产3】`` names 融中房产);
- ``sender``: an alphanumeric sender names S;
- ``mail-domain``: the sender's mail domain is S's URL's registrable domain, or names S;
- ``link-domain``: a link in it points into S's URL's registrable domain;
- ``verification``: it carries a verification code and is the first message from its
  sender to the canary, within :data:`VERIFY_WINDOW` after the plant.

Each finding becomes a row of ``source_channels`` (``inferred``, with the rule and
a reason); messages through a channel that is not ``rejected`` are first-party and
never count as evidence. The user confirms or rejects a channel (``leaktrace
first-party``, the dashboard); a rejected channel is never inferred again, and a
sender ID or signature a user gave one source is never inferred for another.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import duckdb

from leaktrace.charsets import HAN
from leaktrace.errors import LeaktraceError
from leaktrace.store import Store
from leaktrace.store.messages import reflag_first_party
from leaktrace.text.domains import registrable_domain

VERIFY_WINDOW = timedelta(minutes=30)  # either side of a plant: `plant --at` is rarely exact
# Domains many senders share (mail providers, platforms, link shorteners): a source
# whose URL sits on one cannot claim every message mentioning it.
SHARED_DOMAINS = frozenset(
    {
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "weibo.com",
        "weixin.qq.com",
        "taobao.com",
        "tmall.com",
        "alipay.com",
        "baidu.com",
        "douyin.com",
        "t.cn",
        "dwz.cn",
        "url.cn",
        "suo.im",
        "bit.ly",
        "j.mp",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "github.io",
        "wordpress.com",
        "blogspot.com",
    }
)
STATUSES = ("inferred", "confirmed", "rejected")

_CODE_WORDS = re.compile(
    r"验证码|校验码|动态码|动态密码|确认码|激活码|verification|verify|security code|"
    r"one[- ]time|\botp\b|passcode|\bcode\b",
    re.IGNORECASE,
)
_CODE = re.compile(r"(?<![0-9])[0-9]{4,8}(?![0-9])")
_PHONE_SENDER = re.compile(r"\+?[0-9]+")
_HOST = r"(?:[a-z0-9-]+\.)+[a-z]{2,}"
_LINK = re.compile(rf"(?:https?://|www\.)?({_HOST})", re.IGNORECASE)


class ChannelError(LeaktraceError, ValueError):
    """A channel id that does not exist, or a status that is not one."""


@dataclass(frozen=True)
class Channel:
    """One of a source's own channels, given or found."""

    id: int
    source: str
    kind: str  # signature | sender | domain | link
    value: str
    status: str  # inferred | confirmed | rejected
    rule: str
    reason: str
    message_id: int | None


def _fold(text: str) -> str:
    """Letters, digits and Han only, case-folded, full-width folded, trailing digits off."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in text if ch.isalnum())
    return kept.rstrip("0123456789") or kept


def _han(form: str) -> int:
    return sum(bool(HAN.fullmatch(ch)) for ch in form)


def _long_enough(form: str) -> bool:
    """Long enough to name a source when equal to its name: 2 Han or 4 Latin."""
    return _han(form) >= 2 or len(form) >= 4


def _contains_enough(form: str) -> bool:
    """Long enough to name a source from inside a longer text: 3 Han or 5 Latin."""
    return _han(form) >= 3 or (_han(form) == 0 and len(form) >= 5)


# Kept with each source's stored forms: a change to name_forms, url_domain or the shared
# domains must change this, so stores derive their forms again.
FORM_RULES = "1"


def name_forms(name: str, url: str | None) -> set[str]:
    """The spellings a source's own messages name it by: name, pinyin, its domain's label.

    A part in brackets counts only as a Latin name (``企查查 (Qichacha)``), never as a
    qualifier such as a city (``平安银行(深圳)`` is not named by ``深圳``).
    """
    from pypinyin import lazy_pinyin

    base = re.sub(r"[(（][^)）]*[)）]", " ", name)
    forms = {_fold(base)}
    forms |= {
        _fold(inner)
        for inner in re.findall(r"[(（]([^)）]*)[)）]", name)
        if inner.isascii() and len(_fold(inner)) >= 4
    }
    han = "".join(ch for ch in base if HAN.fullmatch(ch))
    if han:
        forms.add(_fold("".join(lazy_pinyin(han))))
    domain = url_domain(url)
    if domain and domain not in SHARED_DOMAINS:
        forms.add(_fold(domain.split(".")[0]))
    return {f for f in forms if _long_enough(f)}


def url_domain(url: str | None) -> str | None:
    """The registrable domain of a source's URL (``https://www.qcc.com/x`` → ``qcc.com``)."""
    if not url:
        return None
    found = _LINK.search(url.strip().lower())
    return registrable_domain(found.group(1)) if found else None


def names_source(value: str, forms: set[str] | frozenset[str]) -> bool:
    """Whether ``value`` (a signature, a sender, a domain label) names the source."""
    folded = _fold(value)
    if not _long_enough(folded):
        return False
    return any(
        folded == f
        or (f in folded and _contains_enough(f))
        or (folded in f and _contains_enough(folded))
        for f in forms
    )


def is_verification(text: str) -> bool:
    """A verification-code text: a code word and a 4–8 digit code."""
    return bool(_CODE_WORDS.search(text)) and bool(_CODE.search(text))


@dataclass(frozen=True)
class _Source:
    id: int
    name: str
    forms: frozenset[str]
    domain: str | None


def _sources(con: duckdb.DuckDBPyConnection) -> dict[int, _Source]:
    """Every source with its name forms, derived only for sources whose name or URL changed."""
    out = {}
    for sid, name, url, known, forms, domain in con.execute(
        "SELECT s.id, s.name, s.url, f.source_id IS NOT NULL AND f.name = s.name"
        " AND f.url IS NOT DISTINCT FROM s.url AND f.rules = $rules, f.forms, f.domain"
        " FROM sources s LEFT JOIN source_name_forms f ON f.source_id = s.id",
        {"rules": FORM_RULES},
    ).fetchall():
        if not known:
            forms, domain = sorted(name_forms(name, url)), url_domain(url)
            con.execute(
                "INSERT OR REPLACE INTO source_name_forms VALUES (?, ?, ?, ?, ?, ?)",
                [sid, name, url, forms, domain, FORM_RULES],
            )
        out[sid] = _Source(sid, name, frozenset(forms), domain)
    return out


# Messages to a canary after its plant at a source, not yet first-party: the values
# each rule looks at, one row per distinct (source, value) with its first message.
_SIGNATURES = """
SELECT p.source_id, m.signature, min(m.id)
FROM messages m JOIN plants p ON p.canary_id = m.canary_id AND m.received_at >= p.planted_at
WHERE m.signature IS NOT NULL AND NOT m.first_party AND m.id > $since
GROUP BY ALL
"""
_NAMED_SENDERS = r"""
SELECT p.source_id, m.sender, min(m.id)
FROM messages m JOIN plants p ON p.canary_id = m.canary_id AND m.received_at >= p.planted_at
WHERE NOT m.first_party AND m.id > $since AND m.sender IS NOT NULL
  AND NOT contains(m.sender, '@')
  AND NOT regexp_full_match(m.sender, '\+?[0-9 ]+')
GROUP BY ALL
"""
_MAIL_DOMAINS = """
SELECT p.source_id, lower(split_part(m.sender, '@', 2)) AS domain, min(m.id)
FROM messages m JOIN plants p ON p.canary_id = m.canary_id AND m.received_at >= p.planted_at
WHERE NOT m.first_party AND m.id > $since AND contains(m.sender, '@')
GROUP BY ALL
"""
_LINK_HOSTS = r"""
SELECT source_id, host, min(id) FROM (
    SELECT p.source_id, m.id,
           unnest(regexp_extract_all(lower(m.body), '((?:[a-z0-9-]+\.)+[a-z]{2,})', 1)) AS host
    FROM messages m JOIN plants p ON p.canary_id = m.canary_id AND m.received_at >= p.planted_at
    WHERE NOT m.first_party AND m.id > $since AND contains(m.body, '.')
)
GROUP BY ALL
"""
# A code within the window of exactly one of the canary's plants (two plants in one
# sitting leave it unclear whose code it is), from a sender new to the canary.
_VERIFICATIONS = """
WITH near AS (
    SELECT p.source_id, m.id, m.sender, m.signature, m.body,
           m.received_at - p.planted_at AS delay,
           count(*) OVER (PARTITION BY m.id) AS plants_near
    FROM messages m JOIN plants p ON p.canary_id = m.canary_id
    WHERE m.received_at BETWEEN p.planted_at - $window AND p.planted_at + $window
      AND NOT m.first_party AND m.id > $since AND m.sender IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.canary_id = m.canary_id
                      AND o.sender = m.sender AND o.received_at < m.received_at)
)
SELECT source_id, id, sender, signature, body, delay FROM near WHERE plants_near = 1
ORDER BY id
"""

# How many messages through a candidate channel reached a canary the source does not
# have (a control, another source's canary): a source's own channel reaches none.
_STRAYS = """
SELECT c.source_id, c.kind, c.value, count(m.id)
FROM candidates c JOIN messages m ON m.canary_id IS NOT NULL AND (
    (c.kind = 'signature' AND trim(m.signature, '【】[] ') = trim(c.value, '【】[] '))
    OR (c.kind = 'sender' AND lower(m.sender) = c.value)
    OR (c.kind = 'domain' AND contains(m.sender, '@')
        AND (lower(split_part(m.sender, '@', 2)) = c.value
             OR ends_with(lower(split_part(m.sender, '@', 2)), '.' || c.value)))
    OR (c.kind = 'link' AND contains(lower(m.body), c.value))
)
WHERE NOT EXISTS (SELECT 1 FROM plants p WHERE p.canary_id = m.canary_id
                  AND p.source_id = c.source_id)
GROUP BY ALL
"""


# Changes whenever a source or a plant is added or edited.
_ROSTER = """
SELECT md5(
    coalesce((SELECT string_agg(to_json(struct_pack(id, name, url, sender_ids, signatures))
                                ::VARCHAR, ';' ORDER BY id) FROM sources), '')
    || coalesce((SELECT string_agg(to_json(struct_pack(id, canary_id, source_id, planted_at))
                                   ::VARCHAR, ';' ORDER BY id) FROM plants), '')
)
"""
# Changes when messages already looked at are given to another canary (quarantine).
_ASSIGNED = """
SELECT coalesce(sum(hash(id, canary_id)), 0)::VARCHAR FROM messages WHERE id <= $last
"""


def _findings(
    con: duckdb.DuckDBPyConnection, since: int
) -> list[tuple[int, str, str, str, str, int]]:
    """(source id, kind, value, rule, reason, message id) for every rule's finding."""
    sources = _sources(con)
    found = []
    after = {"since": since}
    for sid, signature, message in con.execute(_SIGNATURES, after).fetchall():
        if names_source(signature, sources[sid].forms):
            reason = f"the signature 【{signature.strip('【】[] ')}】 names {sources[sid].name}"
            found.append((sid, "signature", signature, "signature", reason, message))
    for sid, sender, message in con.execute(_NAMED_SENDERS, after).fetchall():
        if names_source(sender, sources[sid].forms):
            reason = f"the sender {sender} names {sources[sid].name}"
            found.append((sid, "sender", sender.lower(), "sender", reason, message))
    for sid, domain, message in con.execute(_MAIL_DOMAINS, after).fetchall():
        source = sources[sid]
        if not domain:
            continue
        base = registrable_domain(domain)
        if base in SHARED_DOMAINS:
            continue
        if base == source.domain or names_source(base.split(".")[0], source.forms):
            reason = f"mail from {domain}, the domain of {source.name}"
            found.append((sid, "domain", base, "mail-domain", reason, message))
    for sid, host, message in con.execute(_LINK_HOSTS, after).fetchall():
        source = sources[sid]
        if source.domain in SHARED_DOMAINS:
            continue
        if source.domain and registrable_domain(host) == source.domain:
            reason = f"a link to {host}, the site of {source.name}"
            found.append((sid, "link", source.domain, "link-domain", reason, message))
    for sid, message, sender, signature, body, delay in con.execute(
        _VERIFICATIONS, {"window": VERIFY_WINDOW, **after}
    ).fetchall():
        if not is_verification(body or ""):
            continue
        if signature and any(
            names_source(signature, other.forms) for other in sources.values() if other.id != sid
        ):
            continue  # signed by another source: not this one's code
        minutes = delay.total_seconds() / 60
        reason = (
            f"a verification code {abs(minutes):.0f} min {'after' if minutes >= 0 else 'before'}"
            f" a canary was planted at {sources[sid].name}, the sender's first message to it"
        )
        if signature:
            found.append((sid, "signature", signature, "verification", reason, message))
        else:
            found.append((sid, "sender", sender.lower(), "verification", reason, message))
    return found


def _own_only(
    con: duckdb.DuckDBPyConnection, found: list[tuple[int, str, str, str, str, int]]
) -> list[tuple[int, str, str, str, str, int]]:
    """The findings whose channel reached no canary the source does not have."""
    if not found:
        return found
    keys = sorted({f[:3] for f in found})
    con.execute(
        "CREATE OR REPLACE TEMP TABLE candidates (source_id BIGINT, kind VARCHAR, value VARCHAR)"
    )
    try:
        con.executemany("INSERT INTO candidates VALUES (?, ?, ?)", [list(k) for k in keys])
        strays = {tuple(row[:3]) for row in con.execute(_STRAYS).fetchall() if row[3] > 0}
    finally:
        con.execute("DROP TABLE candidates")
    return [f for f in found if f[:3] not in strays]


def infer_channels(store: Store) -> list[Channel]:
    """Find new first-party channels, keep them as ``inferred`` and reflag; return the new ones."""
    with store.transaction() as con:
        known = {
            (sid, kind, value)
            for sid, kind, value in con.execute(
                "SELECT source_id, kind, value FROM source_channels"
            ).fetchall()
        }
        last = con.execute("SELECT coalesce(max(id), 0) FROM source_channels").fetchall()[0][0]
        # Only messages inference has not seen, unless the roster changed since.
        roster = con.execute(_ROSTER).fetchall()[0][0]
        state = con.execute(
            "SELECT roster, last_message_id, assigned FROM first_party_state"
        ).fetchall()
        since = 0
        if state and state[0][0] == roster:
            assigned = con.execute(_ASSIGNED, {"last": state[0][1]}).fetchall()[0][0]
            since = state[0][1] if assigned == state[0][2] else 0
        newest = con.execute("SELECT coalesce(max(id), 0) FROM messages").fetchall()[0][0]
        if state and since == newest:
            return []  # nothing new since the last pass, and nothing it read has changed
        assigned = con.execute(_ASSIGNED, {"last": newest}).fetchall()[0][0]
        con.execute("DELETE FROM first_party_state")
        con.execute("INSERT INTO first_party_state VALUES (?, ?, ?)", [roster, newest, assigned])
        given = _given(con)
        new = []
        for sid, kind, value, rule, reason, message in _own_only(con, _findings(con, since)):
            key = (sid, kind, value)
            if key in known or _is_given(given, kind, value):
                continue  # known (rejected ones too), or a sender a user gave a source
            known.add(key)
            new.append([*key, rule, reason, message])
        if not new:
            return []
        con.executemany(
            "INSERT INTO source_channels (source_id, kind, value, status, rule, reason,"
            " message_id) VALUES (?, ?, ?, 'inferred', ?, ?, ?)",
            new,
        )
        _reflag_sources(con, sorted({row[0] for row in new}))
    return [c for c in list_channels(store) if c.id > last]


def _given(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """The (kind, value) pairs a user gave any source: sender IDs, domains, signatures."""
    out: set[tuple[str, str]] = set()
    for ids, signatures in con.execute("SELECT sender_ids, signatures FROM sources").fetchall():
        for value in ids:
            value = value.strip().lower()
            if "@" in value or _PHONE_SENDER.fullmatch(value) or "." not in value:
                out.add(("sender", value))
            else:
                out.add(("domain", registrable_domain(value)))
        out |= {("signature", s.strip("【】[] ").lower()) for s in signatures}
    return out


def _is_given(given: set[tuple[str, str]], kind: str, value: str) -> bool:
    """Whether a user gave this channel to a source (a 106 prefix covers its numbers)."""
    value = value.strip("【】[] ").lower() if kind == "signature" else value.lower()
    if (kind, value) in given:
        return True
    if kind == "sender":
        return any(
            k == "sender" and re.fullmatch(r"10[56]\d{3,}", v) and value.startswith(v)
            for k, v in given
        )
    return kind == "domain" and ("domain", registrable_domain(value)) in given


def _reflag_sources(con: duckdb.DuckDBPyConnection, source_ids: list[int]) -> int:
    """Recompute the first-party flag of every message to the canaries planted there."""
    return reflag_first_party(
        con,
        "canary_id IN (SELECT canary_id FROM plants WHERE list_contains(?, source_id))",
        [source_ids],
    )


def list_channels(store: Store, status: str | None = None) -> list[Channel]:
    """Every inferred, confirmed or rejected channel, by source then kind."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT c.id, s.name, c.kind, c.value, c.status, c.rule, c.reason, c.message_id"
            " FROM source_channels c JOIN sources s ON s.id = c.source_id"
            " WHERE $status IS NULL OR c.status = $status ORDER BY s.name, c.kind, c.value",
            {"status": status},
        ).fetchall()
    return [Channel(*row) for row in rows]


def review_channel(store: Store, channel_id: int, status: str) -> tuple[Channel, int]:
    """Confirm or reject an inferred channel; return it and its source's first-party count."""
    if status not in ("confirmed", "rejected"):
        raise ChannelError(key="err_channel_bad_status", status=status)
    with store.transaction() as con:
        row = con.execute(
            "SELECT source_id FROM source_channels WHERE id = ?", [channel_id]
        ).fetchall()
        if not row:
            raise ChannelError(key="err_channel_unknown", channel=channel_id)
        con.execute(
            "UPDATE source_channels SET status = ?, reviewed_at = current_timestamp WHERE id = ?",
            [status, channel_id],
        )
        if status == "rejected":
            # Its messages were hidden from every rule: the next inference reads all again.
            con.execute("DELETE FROM first_party_state")
        flagged = _reflag_sources(con, [row[0][0]])
    channel = next(c for c in list_channels(store) if c.id == channel_id)
    return channel, flagged
