"""Library actions of canary planting: add sources, make canaries, plant them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from leaktrace.errors import LeaktraceError
from leaktrace.model import Canary, Field, Persona, Plant, Source, SourceCategory
from leaktrace.roster.contacts import (
    InvalidContact,
    normalize_email,
    normalize_phone,
    split_plus_tag,
    with_plus_tag,
)
from leaktrace.roster.markers import MarkersExhausted, propose_name, propose_tag
from leaktrace.roster.personas import make_persona
from leaktrace.roster.recipients import rematch_quarantine
from leaktrace.store import Store
from leaktrace.store import roster as sql
from leaktrace.store.messages import reflag_first_party
from leaktrace.store.roster_chain import extend_roster_chain


class RosterError(LeaktraceError, ValueError):
    """A roster action the user asked for that cannot be done, with what to try."""


@dataclass(frozen=True)
class PlantResult:
    """A recorded plant and the warnings the user should read."""

    plant: Plant
    warnings: list[str] = field(default_factory=list)


def parse_category(value: str) -> SourceCategory:
    """A source category from its name, or a RosterError listing the choices."""
    try:
        return SourceCategory(value.strip().lower())
    except ValueError:
        choices = ", ".join(c.value for c in SourceCategory)
        raise RosterError(key="err_roster_unknown_category", value=value, choices=choices) from None


def parse_fields(values: Iterable[str]) -> tuple[Field, ...]:
    """Disclosed fields from their names, or a RosterError listing the choices."""
    out = []
    for value in values:
        name = value.strip().lower()
        if not name:
            continue
        try:
            out.append(Field(name))
        except ValueError:
            choices = ", ".join(f.value for f in Field)
            raise RosterError(
                key="err_roster_unknown_field", value=value, choices=choices
            ) from None
    if not out:
        raise RosterError(key="err_roster_no_fields")
    return tuple(dict.fromkeys(out))


def _source_in(con: duckdb.DuckDBPyConnection, name: str) -> Source:
    found = sql.find_source(con, name)
    if found is None:
        raise RosterError(key="err_roster_unknown_source", name=name)
    return found


def find_canary(store: Store, ref: str) -> Canary:
    """The canary a user names: its label, its phone in any spelling, or its e-mail."""
    with store.connect() as con:
        found = sql.find_canary(con, ref.strip())
        for normalize in (normalize_phone, normalize_email):
            if found is not None:
                break
            try:
                found = sql.find_canary(con, normalize(ref))
            except InvalidContact:
                continue
    if found is None:
        raise RosterError(key="err_roster_unknown_canary", ref=ref)
    return found


def _reflag(con: duckdb.DuckDBPyConnection, canary_ids: list[int | None]) -> None:
    """Re-flag first-party messages of these canaries (``None`` among them: of all)."""
    if None in canary_ids:
        reflag_first_party(con)
    else:
        reflag_first_party(con, "list_contains(?, canary_id)", [sorted(set(canary_ids))])


def add_source(store: Store, source: Source) -> Source:
    """Record a new source; refuse a name already in use."""
    if not source.name.strip():
        raise RosterError(key="err_roster_source_no_name")
    with store.transaction() as con:
        if sql.find_source(con, source.name):
            raise RosterError(key="err_roster_source_exists", name=source.name)
        added = sql.insert_source(con, source)
        store.defer("reflag", _reflag, None)  # its sender IDs may mark stored messages
        store.defer("roster-chain", extend_roster_chain, ("source", added.id))
    return added


def list_sources(store: Store) -> list[Source]:
    """Every source, by name."""
    with store.connect() as con:
        return sql.all_sources(con)


def read_pool(path: Path) -> list[str]:
    """Contacts from a pool file: one phone or e-mail per line, ``#`` starts a comment."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _next_label(con: duckdb.DuckDBPyConnection, control: bool) -> str:
    prefix = "control-" if control else "canary-"
    taken = sql.labels_with_prefix(con, prefix)
    n = len(taken) + 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


def _contact_from_pool(pool: Sequence[str], used: set[str], region: str) -> tuple[str | None, ...]:
    for raw in pool:
        if "@" in raw:
            email = normalize_email(raw)
            if email not in used:
                return None, email
        else:
            phone = normalize_phone(raw, region)
            if phone not in used:
                return phone, None
    raise RosterError(key="err_roster_pool_used_up")


def new_canary(
    store: Store,
    *,
    phone: str | None = None,
    email: str | None = None,
    pool: Sequence[str] = (),
    label: str | None = None,
    locale: str = "zh_CN",
    seed: int | None = None,
    control: bool = False,
    region: str = "CN",
    persona: Persona | None = None,
) -> Canary:
    """Make a canary: a stored Faker persona bound to a contact the user controls."""
    try:
        phone = normalize_phone(phone, region) if phone else None
        email = normalize_email(email) if email else None
    except InvalidContact as exc:
        raise RosterError.saying(exc) from None
    with store.transaction() as con:
        return _insert_canary(
            store, con, phone, email, pool, label, locale, seed, control, region, persona
        )


def _insert_canary(
    store: Store,
    con: duckdb.DuckDBPyConnection,
    phone: str | None,
    email: str | None,
    pool: Sequence[str],
    label: str | None,
    locale: str,
    seed: int | None,
    control: bool,
    region: str,
    persona: Persona | None,
) -> Canary:
    used = sql.used_contacts(con)
    if not phone and not email:
        if not pool:
            raise RosterError(key="err_roster_canary_no_contact")
        try:
            phone, email = _contact_from_pool(pool, used, region)
        except InvalidContact as exc:
            raise RosterError(key="err_roster_pool_file", error=str(exc)) from None
    for contact in (phone, email):
        if contact and contact in used:
            raise RosterError(key="err_roster_contact_bound", contact=contact)
    label = label or _next_label(con, control)
    if sql.find_canary(con, label):
        raise RosterError(key="err_roster_canary_exists", label=label)
    if persona is None:
        persona = make_persona(locale, seed)
    canary = Canary(label=label, persona=persona, phone=phone, email=email, is_control=control)
    added = sql.insert_canary(con, canary)
    store.defer("rematch", rematch_quarantine)  # messages that came before the canary
    store.defer("roster-chain", extend_roster_chain, ("canary", added.id))
    return added


def list_canaries(store: Store, control: bool | None = None) -> list[Canary]:
    """Every canary, or only controls (``True``) or only plantable ones (``False``)."""
    with store.connect() as con:
        return sql.all_canaries(con, control)


def list_plants(store: Store, source: str | None = None) -> list[Plant]:
    """Every plant, or those at one source, in time order."""
    with store.connect() as con:
        if source is None:
            return sql.plants_where(con)
        return sql.plants_where(con, "lower(s.name) = lower(?)", [source])


def plant(
    store: Store,
    canary_ref: str,
    source_name: str,
    planted_at: datetime,
    fields: Sequence[Field] = (Field.NAME, Field.PHONE),
    *,
    name_used: str | None = None,
    email_used: str | None = None,
    notes: str | None = None,
) -> PlantResult:
    """Record that a canary was given to a source; propose a marker unique to this plant."""
    if planted_at.tzinfo is None:
        raise RosterError(key="err_roster_plant_no_zone")
    canary = find_canary(store, canary_ref)
    with store.transaction() as con:
        return _insert_plant(
            store, con, canary, _source_in(con, source_name), planted_at, fields,
            name_used, email_used, notes,
        )  # fmt: skip


def _insert_plant(
    store: Store,
    con: duckdb.DuckDBPyConnection,
    canary: Canary,
    source: Source,
    planted_at: datetime,
    fields: Sequence[Field],
    name_used: str | None,
    email_used: str | None,
    notes: str | None,
) -> PlantResult:
    if canary.is_control:
        raise RosterError(key="err_roster_plant_control", label=canary.label)
    earlier = sql.plants_of_canary(con, canary.id)
    if any(p.source == source.name for p in earlier):
        raise RosterError(key="err_roster_already_planted", label=canary.label, source=source.name)
    warnings = []
    if earlier:
        others = ", ".join(p.source for p in earlier)
        warnings.append(
            f"{canary.label} is already planted at {others}: attribution is weaker, "
            "the marker will tell the sources apart"
        )
    names = {p.name_used for p in earlier if p.name_used}
    tags = {split_plus_tag(p.email_used)[1] for p in earlier if p.email_used} - {None}
    if name_used is not None and name_used in names:
        # Real studies have such plants (a persona given as is to two sites); kept, and
        # the spelling is no marker for either: attribution falls back on statistics.
        warnings.append(
            f"the spelling {name_used!r} was given at another source too: it marks neither"
        )
    try:
        if Field.NAME in fields:
            name_used = name_used or propose_name(canary.persona.name, names)
        if email_used is None and canary.email and Field.EMAIL in fields:
            email_used = with_plus_tag(canary.email, propose_tag(source.name, tags))
    except MarkersExhausted as exc:
        raise RosterError.saying(exc) from None
    if email_used is not None:
        try:
            email_used = normalize_email(email_used)
        except InvalidContact as exc:
            raise RosterError.saying(exc) from None
        if split_plus_tag(email_used)[1] in tags:
            warnings.append(f"the plus-tag of {email_used} was given at another source too")
    # A marker part is unique among this canary's plants, the canonical spelling
    # included: a message using it points at the one source given it.
    marker_parts = [name_used] if name_used and name_used not in names else []
    tag = split_plus_tag(email_used)[1] if email_used else None
    if tag and tag not in tags:
        marker_parts.append("+" + tag)
    record = Plant(
        canary=canary.label,
        source=source.name,
        planted_at=planted_at,
        fields=tuple(fields),
        name_used=name_used,
        email_used=email_used,
        marker=" ".join(marker_parts) or None,
        notes=notes,
    )
    planted = sql.insert_plant(con, canary, source, record)
    store.defer("reflag", _reflag, canary.id)
    store.defer("roster-chain", extend_roster_chain, ("plant", planted.id))
    return PlantResult(planted, warnings)
