"""The roster as CSV files (sources.csv, canaries.csv, plants.csv): import and export.

Import is idempotent: a row whose key (source name, canary label, canary and
source of a plant) is already stored with the same values changes nothing. A
bad row is reported with ``file:line`` and its reason; the good rows still land.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path

import duckdb

from leaktrace.charsets import HAN
from leaktrace.model import Canary, Persona, Plant, Source
from leaktrace.roster.actions import (
    RosterError,
    add_source,
    new_canary,
    parse_category,
    parse_fields,
    plant,
)
from leaktrace.roster.contacts import InvalidContact, normalize_email, normalize_phone
from leaktrace.store import Store
from leaktrace.store import roster as sql

SOURCE_COLUMNS = ["name", "category", "url", "sender_ids", "signatures", "notes"]
CANARY_COLUMNS = [
    "label",
    "name",
    "phone",
    "email",
    "id_number",
    "company",
    "is_control",
    "locale",
    "gender",
    "birth_date",
    "address",
    "seed",
]
PLANT_COLUMNS = ["canary", "source", "planted_at", "name_used", "fields", "notes", "email_used"]
REQUIRED = {
    "sources.csv": ("name", "category"),
    "canaries.csv": ("label", "name"),
    "plants.csv": ("canary", "source", "planted_at"),
}
_LIST_SPLIT = re.compile(r"[;|]")
_FIELDS_SPLIT = re.compile(r"[;|,\s]+")


@dataclass(frozen=True)
class RowError:
    """A row that did not land: where it is and why."""

    file: str
    line: int
    reason: str
    error: RosterError | None = field(default=None, compare=False)  # to say it in a language

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def said(self, lang: str) -> str:
        """The row and why, the reason in ``lang`` (``zh`` or ``en``)."""
        reason = self.error.said(lang) if self.error is not None else self.reason
        return f"{self.file}:{self.line}: {reason}"


@dataclass
class ImportReport:
    """What one roster import did, per file."""

    added: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timezone: str | None = None

    def count(self, file: str, added: bool) -> None:
        """Count one landed (or already present) row of ``file``."""
        bucket = self.added if added else self.unchanged
        bucket[file] = bucket.get(file, 0) + 1


def _read_text(path: Path) -> str:
    """Text of a CSV file: UTF-8 (with or without BOM), else GB18030 as Excel saves it."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError(key="err_csv_encoding", path=path)


def _rows(path: Path, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV file, with required columns checked."""
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        raise RosterError(key="err_csv_missing_columns", file=path.name, columns=", ".join(missing))
    reader.fieldnames = header
    for row in reader:
        clean = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if any(clean.values()):
            yield reader.line_num, clean


def _split(value: str, pattern: re.Pattern[str] = _LIST_SPLIT) -> tuple[str, ...]:
    return tuple(p.strip() for p in pattern.split(value) if p.strip())


def _parse_time(value: str, tz: tzinfo) -> tuple[datetime, bool]:
    """An ISO 8601 time; naive ones get ``tz``. Returns (time, tz_was_applied)."""
    try:
        parsed = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise RosterError(key="err_csv_planted_at", value=value) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz), True
    return parsed, False


def _source_row(row: dict[str, str]) -> Source:
    return Source(
        name=row["name"],
        category=parse_category(row.get("category", "")),
        url=row.get("url") or None,
        sender_ids=_split(row.get("sender_ids", "")),
        signatures=_split(row.get("signatures", "")),
        notes=row.get("notes") or None,
    )


def _canary_row(row: dict[str, str]) -> Canary:
    name = row["name"]
    try:
        phone = normalize_phone(row["phone"]) if row.get("phone") else None
        email = normalize_email(row["email"]) if row.get("email") else None
    except InvalidContact as exc:
        raise RosterError.saying(exc) from None
    if not phone and not email:
        raise RosterError(key="err_csv_canary_no_contact")
    try:
        birth = date.fromisoformat(row["birth_date"]) if row.get("birth_date") else None
    except ValueError:
        raise RosterError(key="err_csv_birth_date", value=row["birth_date"]) from None
    persona = Persona(
        locale=row.get("locale") or ("zh_CN" if HAN.search(name) else "en_US"),
        name=name,
        gender=row.get("gender") or None,
        birth_date=birth,
        id_number=row.get("id_number") or None,
        company=row.get("company") or None,
        address=row.get("address") or None,
        seed=int(row["seed"]) if row.get("seed", "").isdigit() else None,
    )
    control = row.get("is_control", "").lower() in {"1", "true", "yes", "y"}
    return Canary(label=row["label"], persona=persona, phone=phone, email=email, is_control=control)


def _same_canary(stored: Canary, new: Canary) -> bool:
    return (stored.phone, stored.email, stored.persona.name, stored.is_control) == (
        new.phone,
        new.email,
        new.persona.name,
        new.is_control,
    )


def _import_sources(
    store: Store, con: duckdb.DuckDBPyConnection, path: Path, report: ImportReport
) -> None:
    for line, row in _rows(path, "sources.csv"):
        try:
            source = _source_row(row)
            stored = sql.find_source(con, source.name)
            if stored is None:
                add_source(store, source)
            elif (stored.category, stored.url) != (source.category, source.url):
                raise RosterError(key="err_csv_source_differs", name=source.name)
            report.count(path.name, stored is None)
        except RosterError as exc:
            report.errors.append(RowError(path.name, line, str(exc), exc))


def _import_canaries(
    store: Store, con: duckdb.DuckDBPyConnection, path: Path, report: ImportReport
) -> None:
    for line, row in _rows(path, "canaries.csv"):
        try:
            canary = _canary_row(row)
            stored = sql.find_canary(con, canary.label)
            if stored is None:
                new_canary(
                    store,
                    phone=canary.phone,
                    email=canary.email,
                    label=canary.label,
                    control=canary.is_control,
                    persona=canary.persona,
                )
            elif not _same_canary(stored, canary):
                raise RosterError(key="err_csv_canary_differs", label=canary.label)
            report.count(path.name, stored is None)
        except RosterError as exc:
            report.errors.append(RowError(path.name, line, str(exc), exc))


def _import_plants(
    store: Store, con: duckdb.DuckDBPyConnection, path: Path, report: ImportReport, tz: tzinfo
) -> None:
    for line, row in _rows(path, "plants.csv"):
        try:
            at, applied = _parse_time(row["planted_at"], tz)
            if applied:
                report.timezone = str(tz)
            fields = parse_fields(_split(row.get("fields") or "name,phone", _FIELDS_SPLIT))
            existing = sql.plants_where(
                con,
                "(c.label = ? OR c.phone = ?) AND lower(s.name) = lower(?)",
                [row["canary"], _phone_or_none(row["canary"]), row["source"]],
            )
            if existing:
                if existing[0].planted_at != at:
                    raise RosterError(key="err_csv_plant_differs")
                report.count(path.name, False)
                continue
            result = plant(
                store,
                row["canary"],
                row["source"],
                at,
                fields,
                name_used=row.get("name_used") or None,
                email_used=row.get("email_used") or None,
                notes=row.get("notes") or None,
            )
            report.warnings.extend(f"{path.name}:{line}: {w}" for w in result.warnings)
            report.count(path.name, True)
        except RosterError as exc:
            report.errors.append(RowError(path.name, line, str(exc), exc))


def _phone_or_none(value: str) -> str | None:
    try:
        return normalize_phone(value)
    except InvalidContact:
        return None


def import_roster(store: Store, directory: Path, tz: tzinfo) -> ImportReport:
    """Import whichever of sources.csv, canaries.csv and plants.csv ``directory`` holds."""
    present = {name: directory / name for name in REQUIRED if (directory / name).is_file()}
    if not present:
        raise RosterError(
            key="err_csv_no_roster_files", directory=directory, files=", ".join(REQUIRED)
        )
    return import_roster_files(store, present, tz)


def roster_files(paths: list[Path]) -> dict[str, Path]:
    """Map roster file kinds (``sources.csv`` …) to paths named after them."""
    by_name = {p.name: p for p in paths}
    unknown = sorted(set(by_name) - set(REQUIRED))
    if unknown:
        raise RosterError(
            key="err_csv_unknown_files", unknown=", ".join(unknown), files=", ".join(REQUIRED)
        )
    return by_name


def import_roster_files(store: Store, by_name: dict[str, Path], tz: tzinfo) -> ImportReport:
    """Import roster CSV files by kind, sources first, then canaries, then plants."""
    report = ImportReport()
    # One transaction: each row's roster step joins it, and the follow-ups they ask
    # for (match the quarantine, re-flag first-party messages) run once at the end.
    with store.transaction() as con:
        if "sources.csv" in by_name:
            _import_sources(store, con, by_name["sources.csv"], report)
        if "canaries.csv" in by_name:
            _import_canaries(store, con, by_name["canaries.csv"], report)
        if "plants.csv" in by_name:
            _import_plants(store, con, by_name["plants.csv"], report, tz)
    return report


def _write(path: Path, columns: list[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def export_roster(store: Store, directory: Path) -> list[Path]:
    """Write the roster as sources.csv, canaries.csv and plants.csv in ``directory``."""
    with store.connect() as con:
        sources = sql.all_sources(con)
        canaries = sql.all_canaries(con)
        plants = sql.plants_where(con)
    return write_roster(directory, sources, canaries, plants)


def write_roster(
    directory: Path, sources: list[Source], canaries: list[Canary], plants: list[Plant]
) -> list[Path]:
    """Write roster objects as the three CSV files that :func:`import_roster` reads."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in REQUIRED]
    _write(
        paths[0],
        SOURCE_COLUMNS,
        [
            [
                s.name,
                s.category.value,
                s.url,
                ";".join(s.sender_ids),
                ";".join(s.signatures),
                s.notes,
            ]
            for s in sources
        ],
    )
    _write(
        paths[1],
        CANARY_COLUMNS,
        [_canary_record(c) for c in canaries],
    )
    _write(
        paths[2],
        PLANT_COLUMNS,
        [
            [
                p.canary,
                p.source,
                p.planted_at.isoformat(),
                p.name_used,
                ";".join(f.value for f in p.fields),
                p.notes,
                p.email_used,
            ]
            for p in plants
        ],
    )
    return paths


def _canary_record(c: Canary) -> list[object]:
    p = c.persona
    return [
        c.label,
        p.name,
        c.phone,
        c.email,
        p.id_number,
        p.company,
        str(c.is_control).lower(),
        p.locale,
        p.gender,
        p.birth_date,
        p.address,
        p.seed,
    ]
