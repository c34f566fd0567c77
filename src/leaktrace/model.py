"""The domain types of the roster (the words of the README's workflow section) and of a
received message; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum


class SourceCategory(StrEnum):
    """What kind of place a source is."""

    CREDIT_INQUIRY = "credit_inquiry"
    LOAN_PLATFORM = "loan_platform"
    BANK = "bank"
    ECOMMERCE = "ecommerce"
    RECRUITMENT = "recruitment"
    REAL_ESTATE = "real_estate"
    INSURANCE = "insurance"
    TELECOM = "telecom"
    OTHER = "other"


class Field(StrEnum):
    """A piece of a persona that can be disclosed to a source."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ID_NUMBER = "id_number"
    BIRTH_DATE = "birth_date"
    GENDER = "gender"
    COMPANY = "company"
    ADDRESS = "address"


@dataclass(frozen=True)
class Source:
    """A place where canaries are planted, with the IDs it sends its own messages from."""

    name: str
    category: SourceCategory
    url: str | None = None
    sender_ids: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()
    notes: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Persona:
    """A synthetic identity made by Faker; stored once made, never regenerated."""

    locale: str
    name: str
    gender: str | None = None
    birth_date: date | None = None
    id_number: str | None = None
    company: str | None = None
    address: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Canary:
    """A persona plus the contacts (phone in E.164, e-mail) the user controls."""

    label: str
    persona: Persona
    phone: str | None = None
    email: str | None = None
    is_control: bool = False
    id: int | None = None


@dataclass(frozen=True)
class Plant:
    """Giving a canary to a source: when, which fields, and under which marker."""

    canary: str
    source: str
    planted_at: datetime
    fields: tuple[Field, ...] = field(default=(Field.NAME, Field.PHONE))
    name_used: str | None = None
    email_used: str | None = None
    marker: str | None = None
    notes: str | None = None
    id: int | None = None


# A received message as the store keeps it: its fields, in the order staged and stored.
MESSAGE_COLUMNS = (
    "message_key",
    "channel",
    "recipient",
    "canary_id",
    "sender",
    "received_at",
    "subject",
    "body",
    "signature",
    "own_id",
    "headers",
    "position",
    "raw",
    "raw_sha256",
)

# The times a message can plausibly carry: from 1990 (before that no SMS, hardly any
# e-mail spam) to a year past this machine's clock (a phone set wrong). Imports reject
# other times; a store written before that check keeps such messages out of analysis
# (Python and pandas cannot even hold a year past 9999 or 2262).
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=366)
