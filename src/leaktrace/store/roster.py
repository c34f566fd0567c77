"""SQL for the canary roster: sources, canaries and plants."""

from __future__ import annotations

import duckdb

from leaktrace.model import Canary, Field, Persona, Plant, Source, SourceCategory

_SOURCE_COLS = "id, name, category, url, sender_ids, signatures, notes"
_CANARY_COLS = (
    "id, label, is_control, locale, seed, name, gender, birth_date, id_number, company, "
    "address, phone, email"
)
_PLANT_SELECT = """
    SELECT p.id, c.label, s.name, p.planted_at, p.fields, p.name_used, p.email_used,
           p.marker, p.notes
    FROM plants p JOIN canaries c ON c.id = p.canary_id JOIN sources s ON s.id = p.source_id
"""


def _source(row: tuple) -> Source:
    return Source(
        id=row[0],
        name=row[1],
        category=SourceCategory(row[2]),
        url=row[3],
        sender_ids=tuple(row[4]),
        signatures=tuple(row[5]),
        notes=row[6],
    )


def _canary(row: tuple) -> Canary:
    persona = Persona(
        locale=row[3],
        seed=row[4],
        name=row[5],
        gender=row[6],
        birth_date=row[7],
        id_number=row[8],
        company=row[9],
        address=row[10],
    )
    return Canary(
        id=row[0], label=row[1], is_control=row[2], persona=persona, phone=row[11], email=row[12]
    )


def _plant(row: tuple) -> Plant:
    return Plant(
        id=row[0],
        canary=row[1],
        source=row[2],
        planted_at=row[3],
        fields=tuple(Field(f) for f in row[4]),
        name_used=row[5],
        email_used=row[6],
        marker=row[7],
        notes=row[8],
    )


def insert_source(con: duckdb.DuckDBPyConnection, source: Source) -> Source:
    """Insert a source and return it with its id."""
    row = con.execute(
        "INSERT INTO sources (name, category, url, sender_ids, signatures, notes)"
        f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {_SOURCE_COLS}",
        [
            source.name,
            source.category.value,
            source.url,
            list(source.sender_ids),
            list(source.signatures),
            source.notes,
        ],
    ).fetchone()
    return _source(row)


def find_source(con: duckdb.DuckDBPyConnection, name: str) -> Source | None:
    """The source called ``name`` (case-insensitive), if any."""
    row = con.execute(
        f"SELECT {_SOURCE_COLS} FROM sources WHERE lower(name) = lower(?)", [name]
    ).fetchone()
    return _source(row) if row else None


def all_sources(con: duckdb.DuckDBPyConnection) -> list[Source]:
    """Every source, by name."""
    rows = con.execute(f"SELECT {_SOURCE_COLS} FROM sources ORDER BY name").fetchall()
    return [_source(r) for r in rows]


def insert_canary(con: duckdb.DuckDBPyConnection, canary: Canary) -> Canary:
    """Insert a canary with its persona and return it with its id."""
    p = canary.persona
    row = con.execute(
        "INSERT INTO canaries (label, is_control, locale, seed, name, gender, birth_date,"
        " id_number, company, address, phone, email)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_CANARY_COLS}",
        [
            canary.label,
            canary.is_control,
            p.locale,
            p.seed,
            p.name,
            p.gender,
            p.birth_date,
            p.id_number,
            p.company,
            p.address,
            canary.phone,
            canary.email,
        ],
    ).fetchone()
    return _canary(row)


def find_canary(con: duckdb.DuckDBPyConnection, ref: str) -> Canary | None:
    """The canary whose label, phone or e-mail is ``ref``."""
    row = con.execute(
        f"SELECT {_CANARY_COLS} FROM canaries"
        " WHERE label = ? OR phone = ? OR email = lower(?) ORDER BY id LIMIT 1",
        [ref, ref, ref],
    ).fetchone()
    return _canary(row) if row else None


def all_canaries(con: duckdb.DuckDBPyConnection, control: bool | None = None) -> list[Canary]:
    """Every canary (or only controls / only non-controls), by label."""
    rows = con.execute(
        f"SELECT {_CANARY_COLS} FROM canaries WHERE $control IS NULL OR is_control = $control"
        " ORDER BY label",
        {"control": control},
    ).fetchall()
    return [_canary(r) for r in rows]


def used_contacts(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every phone and e-mail already bound to a canary."""
    rows = con.execute(
        "SELECT phone FROM canaries WHERE phone IS NOT NULL"
        " UNION ALL SELECT email FROM canaries WHERE email IS NOT NULL"
    ).fetchall()
    return {r[0] for r in rows}


def labels_with_prefix(con: duckdb.DuckDBPyConnection, prefix: str) -> set[str]:
    """Labels that start with ``prefix``."""
    rows = con.execute("SELECT label FROM canaries WHERE starts_with(label, ?)", [prefix])
    return {r[0] for r in rows.fetchall()}


def insert_plant(
    con: duckdb.DuckDBPyConnection,
    canary: Canary,
    source: Source,
    plant: Plant,
) -> Plant:
    """Insert a plant of ``canary`` at ``source`` and return it with its id."""
    row = con.execute(
        "INSERT INTO plants (canary_id, source_id, planted_at, fields, name_used, email_used,"
        " marker, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            canary.id,
            source.id,
            plant.planted_at,
            [f.value for f in plant.fields],
            plant.name_used,
            plant.email_used,
            plant.marker,
            plant.notes,
        ],
    ).fetchone()
    return plants_where(con, "p.id = ?", [row[0]])[0]


def plants_where(con: duckdb.DuckDBPyConnection, where: str = "true", params=()) -> list[Plant]:
    """Plants matching a SQL condition over ``p`` (plants), ``c`` and ``s``."""
    rows = con.execute(
        f"{_PLANT_SELECT} WHERE {where} ORDER BY p.planted_at, c.label", list(params)
    ).fetchall()
    return [_plant(r) for r in rows]


def plants_of_canary(con: duckdb.DuckDBPyConnection, canary_id: int) -> list[Plant]:
    """Every plant of one canary."""
    return plants_where(con, "p.canary_id = ?", [canary_id])
