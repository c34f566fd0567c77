"""Normalising the contacts a canary uses: phones to E.164, e-mails to one form."""

from __future__ import annotations

import re

import phonenumbers

from leaktrace.errors import LeaktraceError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Ofcom's drama range (07700 900000-900999) is reserved for fiction and tests; the
# phonenumbers metadata calls it invalid, but the simulator's canaries live there so
# that no sample file ever holds a real person's number.
FICTIONAL_PREFIX = "+447700900"
FICTIONAL_RANGES = (re.compile(rf"^{re.escape(FICTIONAL_PREFIX)}\d{{3}}$"),)
FICTIONAL_COUNT = 1000


def fictional_phone(n: int) -> str:
    """The ``n``-th number of the drama range, for simulated canaries."""
    if not 0 <= n < FICTIONAL_COUNT:
        raise ValueError(f"the drama range holds {FICTIONAL_COUNT} numbers, not {n + 1}")
    return f"{FICTIONAL_PREFIX}{n:03d}"


class InvalidContact(LeaktraceError, ValueError):
    """A phone number or e-mail address that cannot be a canary's contact."""


def normalize_phone(raw: str, region: str = "CN") -> str:
    """Return ``raw`` as an E.164 number, or raise :class:`InvalidContact`."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact(key="err_contact_not_phone", raw=raw, reason=str(exc)) from exc
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if any(r.match(e164) for r in FICTIONAL_RANGES):
        return e164
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact(key="err_contact_invalid_phone", raw=raw, region=region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Return ``raw`` lower-cased and trimmed, or raise :class:`InvalidContact`."""
    text = raw.strip().lower()
    if not _EMAIL.match(text):
        raise InvalidContact(key="err_contact_not_email", raw=raw)
    return text


def split_plus_tag(email: str) -> tuple[str, str | None]:
    """Split ``user+tag@host`` into (``user@host``, ``tag``)."""
    local, _, host = email.partition("@")
    base, plus, tag = local.partition("+")
    return f"{base}@{host}", (tag if plus else None)


def with_plus_tag(email: str, tag: str) -> str:
    """Return the address ``email`` with ``+tag`` added to its local part."""
    base, _ = split_plus_tag(email)
    local, _, host = base.partition("@")
    return f"{local}+{tag}@{host}"
