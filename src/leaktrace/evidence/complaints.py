"""Complaint and request drafts per source, filled from the evidence.

Chinese: a report to the 12321 spam-reporting centre and a request to the source
under the Personal Information Protection Law. English: a GDPR Article 15 access
request and a CCPA deletion request. Each file starts by saying it is a draft.
"""

from __future__ import annotations

from leaktrace.evidence.data import ReportData
from leaktrace.evidence.html import (
    day,
    environment,
    field_names,
    markdown_text,
    strings,
    summary,
    when,
)

DRAFTS = {
    "zh": ("draft-12321-report.zh.md", "draft-pipl-request.zh.md"),
    "en": ("draft-gdpr-art15-request.en.md", "draft-ccpa-deletion-request.en.md"),
}
QUOTED = 20  # messages quoted in a draft; the report holds them all


def draft_context(data: ReportData, lang: str) -> dict:
    """What the drafts are filled with."""
    words = strings(lang)
    separator = words["list_separator"]
    evidence = data.evidence
    # The contacts the evidence reached; all of the source's when nothing did yet.
    hit = data.plants["canary"].isin(set(evidence["canary"]))
    plants = data.plants[hit] if hit.any() else data.plants
    fields = list(dict.fromkeys(f for row in plants["fields"] for f in row))
    contacts = [
        c for row in plants.itertuples() for c in (row.phone, row.email_used or row.email) if c
    ]
    senders = list(dict.fromkeys(evidence["sender"]))
    return {
        "source": data.source["name"],
        "url": data.source["url"],
        "contacts": separator.join(dict.fromkeys(str(c) for c in contacts)),
        "names": separator.join(dict.fromkeys(n for n in plants["name_used"] if n)),
        "fields": field_names(fields, words),
        "first_planted": day(plants["planted_at"].min()) if len(plants) else "",
        "evidence_count": len(evidence),
        "first_seen": when(evidence["received_at"].min()) if len(evidence) else "",
        "last_seen": when(evidence["received_at"].max()) if len(evidence) else "",
        "senders": separator.join(markdown_text(s) for s in senders[:10])
        + ("…" if len(senders) > 10 else ""),
        "messages": [
            {"time": when(m.received_at), "sender": m.sender, "body": m.body}
            for m in evidence.head(QUOTED).itertuples()
        ],
        "summary": summary(data, words),  # the user's own words and numbers, no spam text
    }


def render_drafts(data: ReportData, lang: str) -> dict[str, str]:
    """File name → text of each draft in ``lang``."""
    context = draft_context(data, lang)
    env = environment()
    return {name: env.get_template(name + ".j2").render(**context) for name in DRAFTS[lang]}
