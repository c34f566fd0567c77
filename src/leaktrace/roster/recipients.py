"""Matching the recipient a file names to a canary: labels, E.164 phones, e-mail aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from leaktrace.roster.contacts import InvalidContact, normalize_phone, split_plus_tag

if TYPE_CHECKING:  # a book travels to staging workers, which never load DuckDB
    import duckdb


@dataclass
class RecipientBook:
    """The store's canary contacts, loaded once per import."""

    labels: dict[str, tuple[int, str | None, str | None]] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)
    _cache: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> RecipientBook:
        """Read every canary's label, phone and e-mail, plus the tagged e-mails planted."""
        book = cls()
        for cid, label, phone, email in con.execute(
            "SELECT id, label, phone, email FROM canaries"
        ).fetchall():
            book.labels[label.lower()] = (cid, phone, email)
            if phone:
                book.phones[phone] = cid
            if email:
                book.emails[email.lower()] = cid
        for cid, email_used in con.execute(
            "SELECT canary_id, email_used FROM plants WHERE email_used IS NOT NULL"
        ).fetchall():
            book.emails.setdefault(email_used.lower(), cid)
        return book

    def resolve(self, channel: str, token: str) -> tuple[str, int | None]:
        """(recipient as stored, canary id or None when unknown) for what a file names."""
        key = (channel, token)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._resolve(channel, token.strip())
        return hit

    def _resolve(self, channel: str, token: str) -> tuple[str, int | None]:
        by_label = self.labels.get(token.lower())
        if by_label is not None:
            cid, phone, email = by_label
            contact = email if channel == "email" else phone
            return contact or token, cid
        if "@" in token:
            email = token.lower()
            cid = self.emails.get(email)
            if cid is None:
                cid = self.emails.get(split_plus_tag(email)[0])
            return email, cid
        try:
            phone = normalize_phone(token)
        except InvalidContact:
            return token, None
        return phone, self.phones.get(phone)


def rematch_quarantine(con: duckdb.DuckDBPyConnection, _items: list | None = None) -> int:
    """Match quarantined recipients against the canaries as they are now; return messages moved.

    Its signature fits :meth:`Store.defer`: roster steps that add canaries ask for it once.
    """
    from leaktrace.store.messages import move_quarantined  # the store: not for workers

    book = RecipientBook.load(con)
    moved = 0
    for recipient, channel in con.execute(
        "SELECT DISTINCT recipient, channel FROM quarantine"
    ).fetchall():
        contact, canary_id = book.resolve(channel, recipient)
        if canary_id is not None:
            moved += move_quarantined(con, recipient, canary_id, contact)
    return moved
