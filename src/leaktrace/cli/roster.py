"""CLI commands of the roster: ``source``, ``canary``, ``plant``, ``plants``, roster CSV files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leaktrace.cli.common import JsonOpt, TzOpt, UserError, parse_zone, store_from
from leaktrace.cli.output import err, escape, print_json, print_table, say, warn

if TYPE_CHECKING:
    from leaktrace.roster.csvfiles import ImportReport

source_app = typer.Typer(help="Sources: the places where canaries are planted.")
canary_app = typer.Typer(help="Canaries: personas bound to contacts you control.")


@source_app.command("add")
def source_add(
    ctx: typer.Context,
    name: str,
    category: Annotated[str, typer.Option(help="credit_inquiry, loan_platform, bank, …")],
    url: Annotated[str | None, typer.Option(help="The source's web address.")] = None,
    sender_id: Annotated[
        list[str] | None,
        typer.Option(help="A number, short code or mail domain it sends from (repeatable)."),
    ] = None,
    signature: Annotated[
        list[str] | None,
        typer.Option(help="A signature it signs with, e.g. 【平台名】 (repeatable)."),
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free text.")] = None,
) -> None:
    """Add a source, with the sender IDs and signatures of its own messages."""
    from leaktrace import roster
    from leaktrace.model import Source

    source = Source(
        name=name.strip(),
        category=roster.parse_category(category),
        url=url,
        sender_ids=tuple(sender_id or ()),
        signatures=tuple(signature or ()),
        notes=notes,
    )
    added = roster.add_source(store_from(ctx), source)
    say(f"added source [bold]{escape(added.name)}[/bold] ({added.category.value})")


@source_app.command("list")
def source_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the sources."""
    from leaktrace import roster

    sources = roster.list_sources(store_from(ctx))
    if as_json:
        print_json(sources)
        return
    print_table(
        "sources",
        ["name", "category", "url", "sender ids", "signatures"],
        [
            [s.name, s.category.value, s.url, " ".join(s.sender_ids), " ".join(s.signatures)]
            for s in sources
        ],
    )


@source_app.command("import")
def source_import(ctx: typer.Context, file: Path) -> None:
    """Import sources from a CSV file (name,category,url[,sender_ids,signatures,notes])."""
    from leaktrace.roster.csvfiles import import_roster_files

    if not file.is_file():
        raise UserError(f"{file} does not exist")
    print_roster_report(
        import_roster_files(store_from(ctx), {"sources.csv": file}, parse_zone(None))
    )


@canary_app.command("new")
def canary_new(
    ctx: typer.Context,
    phone: Annotated[str | None, typer.Option(help="A phone number you control.")] = None,
    email: Annotated[str | None, typer.Option(help="An e-mail address you control.")] = None,
    pool: Annotated[
        Path | None,
        typer.Option(help="A file of contacts you control; the first free one is used."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="A label (default canary-NNN).")] = None,
    locale: Annotated[str, typer.Option(help="Faker locale of the persona.")] = "zh_CN",
    seed: Annotated[int | None, typer.Option(help="Seed to reproduce the persona.")] = None,
    control: Annotated[bool, typer.Option("--control", help="Reserve as a control.")] = False,
    region: Annotated[str, typer.Option(help="Region for numbers without +country.")] = "CN",
    as_json: JsonOpt = False,
) -> None:
    """Make a canary: a Faker persona bound to a contact you control."""
    from leaktrace import roster

    contacts = roster.read_pool(pool) if pool else []
    canary = roster.new_canary(
        store_from(ctx),
        phone=phone,
        email=email,
        pool=contacts,
        label=label,
        locale=locale,
        seed=seed,
        control=control,
        region=region,
    )
    if as_json:
        print_json([canary])
        return
    kind = "control" if canary.is_control else "canary"
    p = canary.persona
    say(
        f"new {kind} [bold]{escape(canary.label)}[/bold]: {escape(p.name)}"
        f" ({p.gender}, born {p.birth_date})"
    )
    for label_, value in [
        ("phone", canary.phone),
        ("email", canary.email),
        ("resident ID", p.id_number),
        ("company", p.company),
        ("address", p.address),
        ("seed", p.seed),
    ]:
        if value:
            say(f"  {label_}: {escape(str(value))}")


@canary_app.command("list")
def canary_list(
    ctx: typer.Context,
    controls: Annotated[
        bool | None, typer.Option("--controls/--no-controls", help="Only controls, or none.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List canaries and controls."""
    from leaktrace import roster

    canaries = roster.list_canaries(store_from(ctx), controls)
    if as_json:
        print_json(canaries)
        return
    print_table(
        "canaries",
        ["label", "control", "name", "phone", "email", "locale"],
        [
            [
                c.label,
                "yes" if c.is_control else "",
                c.persona.name,
                c.phone,
                c.email,
                c.persona.locale,
            ]
            for c in canaries
        ],
    )


def plant_command(
    ctx: typer.Context,
    canary: Annotated[str, typer.Argument(help="The canary's label, phone or e-mail.")],
    source: Annotated[str, typer.Argument(help="The source's name.")],
    at: Annotated[
        str | None, typer.Option(help="When it was planted, ISO 8601 (default: now).")
    ] = None,
    fields: Annotated[str, typer.Option(help="Disclosed fields, comma-separated.")] = "name,phone",
    name_used: Annotated[
        str | None, typer.Option(help="The name spelling given (default: proposed).")
    ] = None,
    email_used: Annotated[
        str | None, typer.Option(help="The e-mail given (default: a plus-tag).")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free text.")] = None,
    tz: TzOpt = None,
) -> None:
    """Record that a canary was given to a source."""
    from leaktrace import roster

    zone = parse_zone(tz)
    when = datetime.now(zone)
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise UserError(f"--at {at!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
    result = roster.plant(
        store_from(ctx),
        canary,
        source,
        when,
        roster.parse_fields(fields.split(",")),
        name_used=name_used,
        email_used=email_used,
        notes=notes,
    )
    for warning in result.warnings:
        warn(warning)
    p = result.plant
    say(
        f"planted [bold]{escape(p.canary)}[/bold] at [bold]{escape(p.source)}[/bold] on "
        f"{when.isoformat(timespec='minutes')} — fields {', '.join(f.value for f in p.fields)}"
    )
    if p.marker:
        say(f"  marker: {escape(p.marker)}")


def plants_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only plants at this source.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List plants in time order."""
    from leaktrace import roster

    plants = roster.list_plants(store_from(ctx), source)
    if as_json:
        print_json(plants)
        return
    print_table(
        "plants",
        ["canary", "source", "planted at", "fields", "marker"],
        [
            [
                p.canary,
                p.source,
                p.planted_at.astimezone().isoformat(timespec="minutes"),
                ",".join(f.value for f in p.fields),
                p.marker,
            ]
            for p in plants
        ],
    )


def print_roster_report(report: ImportReport) -> None:
    for file in sorted(set(report.added) | set(report.unchanged)):
        say(
            f"{file}: {report.added.get(file, 0)} added, "
            f"{report.unchanged.get(file, 0)} already present"
        )
    if report.timezone:
        say(f"times without an offset were read in {report.timezone}")
    for warning in report.warnings:
        warn(warning)
    for error in report.errors:
        err.print(f"[red]rejected:[/red] {escape(str(error))}", highlight=False)
    if report.errors:
        err.print(f"{len(report.errors)} row(s) rejected; the other rows were imported")


def import_roster_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="A directory, or sources/canaries/plants.csv files.")
    ],
    tz: TzOpt = None,
) -> None:
    """Import a roster planted by hand: sources.csv, canaries.csv, plants.csv."""
    from leaktrace.roster.csvfiles import import_roster, import_roster_files, roster_files

    store = store_from(ctx)
    if len(paths) == 1 and paths[0].is_dir():
        report = import_roster(store, paths[0], parse_zone(tz))
    else:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise UserError(f"no such file: {', '.join(missing)}")
        report = import_roster_files(store, roster_files(paths), parse_zone(tz))
    print_roster_report(report)
    if report.errors:
        raise typer.Exit(2)


def export_roster_command(
    ctx: typer.Context, directory: Annotated[Path, typer.Argument(help="Where to write.")]
) -> None:
    """Write the roster as sources.csv, canaries.csv and plants.csv."""
    from leaktrace.roster.csvfiles import export_roster

    for path in export_roster(store_from(ctx), directory):
        say(f"wrote {escape(str(path))}")
