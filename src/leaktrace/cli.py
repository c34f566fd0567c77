"""The ``leaktrace`` command line: one command per user action, each calling the library."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from leaktrace import roster
from leaktrace.cli_attribute import attribute_command
from leaktrace.cli_common import UserError, parse_zone, store_from
from leaktrace.cli_dashboard import dashboard_command
from leaktrace.cli_ingest import ingest_command, quarantine_app, receive_command
from leaktrace.cli_report import export_command, report_command, verify_command
from leaktrace.cli_study import demo_command, simulate_command
from leaktrace.cli_templates import (
    campaigns_command,
    cluster_command,
    merge_command,
    split_command,
    templates_command,
)
from leaktrace.ingest.quarantine import QuarantineError
from leaktrace.ingest.records import IngestError
from leaktrace.model import Source
from leaktrace.report_data import ReportError
from leaktrace.report_pdf import PdfError
from leaktrace.roster import RosterError
from leaktrace.roster_csv import (
    ImportReport,
    export_roster,
    import_roster,
    import_roster_files,
    roster_files,
)
from leaktrace.sim_world import SimulationError
from leaktrace.store import StoreBusy
from leaktrace.templates import TemplateEditError
from leaktrace.verify import PackError

app = typer.Typer(
    help="Trace who leaked or sold your personal data with canary identities.",
    add_completion=False,
)
source_app = typer.Typer(help="Sources: the places where canaries are planted.")
canary_app = typer.Typer(help="Canaries: personas bound to contacts you control.")
app.add_typer(source_app, name="source")
app.add_typer(canary_app, name="canary")

out = Console()
err = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TzOpt = Annotated[
    str | None,
    typer.Option("--tz", help="Time zone for times without an offset (default: this machine's)."),
]


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's user errors into one red line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (
            RosterError,
            StoreBusy,
            UserError,
            SimulationError,
            IngestError,
            QuarantineError,
            TemplateEditError,
            ReportError,
            PdfError,
            PackError,
        ) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            envvar="LEAKTRACE_DB",
            help="The store file (default: under your user data directory).",
        ),
    ] = None,
) -> None:
    """Trace who leaked or sold your personal data with canary identities."""
    ctx.obj = {"db": db}


def _print_json(items: list[Any]) -> None:
    data = [dataclasses.asdict(i) if dataclasses.is_dataclass(i) else i for i in items]
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


@source_app.command("add")
@handles_errors
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
    source = Source(
        name=name.strip(),
        category=roster.parse_category(category),
        url=url,
        sender_ids=tuple(sender_id or ()),
        signatures=tuple(signature or ()),
        notes=notes,
    )
    added = roster.add_source(store_from(ctx), source)
    out.print(f"added source [bold]{added.name}[/bold] ({added.category.value})")


@source_app.command("list")
@handles_errors
def source_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the sources."""
    sources = roster.list_sources(store_from(ctx))
    if as_json:
        _print_json(sources)
        return
    _table(
        "sources",
        ["name", "category", "url", "sender ids", "signatures"],
        [
            [s.name, s.category.value, s.url, " ".join(s.sender_ids), " ".join(s.signatures)]
            for s in sources
        ],
    )


@source_app.command("import")
@handles_errors
def source_import(ctx: typer.Context, file: Path) -> None:
    """Import sources from a CSV file (name,category,url[,sender_ids,signatures,notes])."""
    if not file.is_file():
        raise UserError(f"{file} does not exist")
    _print_report(import_roster_files(store_from(ctx), {"sources.csv": file}, parse_zone(None)))


@canary_app.command("new")
@handles_errors
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
        _print_json([canary])
        return
    kind = "control" if canary.is_control else "canary"
    p = canary.persona
    out.print(f"new {kind} [bold]{canary.label}[/bold]: {p.name} ({p.gender}, born {p.birth_date})")
    for label_, value in [
        ("phone", canary.phone),
        ("email", canary.email),
        ("resident ID", p.id_number),
        ("company", p.company),
        ("address", p.address),
        ("seed", p.seed),
    ]:
        if value:
            out.print(f"  {label_}: {value}", highlight=False)


@canary_app.command("list")
@handles_errors
def canary_list(
    ctx: typer.Context,
    controls: Annotated[
        bool | None, typer.Option("--controls/--no-controls", help="Only controls, or none.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List canaries and controls."""
    canaries = roster.list_canaries(store_from(ctx), controls)
    if as_json:
        _print_json(canaries)
        return
    _table(
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


@app.command("plant")
@handles_errors
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
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    p = result.plant
    out.print(
        f"planted [bold]{p.canary}[/bold] at [bold]{p.source}[/bold] on "
        f"{when.isoformat(timespec='minutes')} — fields {', '.join(f.value for f in p.fields)}",
        highlight=False,
    )
    if p.marker:
        out.print(f"  marker: {p.marker}", highlight=False)


@app.command("plants")
@handles_errors
def plants_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only plants at this source.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List plants in time order."""
    plants = roster.list_plants(store_from(ctx), source)
    if as_json:
        _print_json(plants)
        return
    _table(
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


def _print_report(report: ImportReport) -> None:
    for file in sorted(set(report.added) | set(report.unchanged)):
        out.print(
            f"{file}: {report.added.get(file, 0)} added, "
            f"{report.unchanged.get(file, 0)} already present",
            highlight=False,
        )
    if report.timezone:
        out.print(f"times without an offset were read in {report.timezone}", highlight=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    for error in report.errors:
        err.print(f"[red]rejected:[/red] {error}", highlight=False)
    if report.errors:
        err.print(f"{len(report.errors)} row(s) rejected; the other rows were imported")


@app.command("import-roster")
@handles_errors
def import_roster_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="A directory, or sources/canaries/plants.csv files.")
    ],
    tz: TzOpt = None,
) -> None:
    """Import a roster planted by hand: sources.csv, canaries.csv, plants.csv."""
    store = store_from(ctx)
    if len(paths) == 1 and paths[0].is_dir():
        report = import_roster(store, paths[0], parse_zone(tz))
    else:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise UserError(f"no such file: {', '.join(missing)}")
        report = import_roster_files(store, roster_files(paths), parse_zone(tz))
    _print_report(report)
    if report.errors:
        raise typer.Exit(2)


@app.command("export-roster")
@handles_errors
def export_roster_command(
    ctx: typer.Context, directory: Annotated[Path, typer.Argument(help="Where to write.")]
) -> None:
    """Write the roster as sources.csv, canaries.csv and plants.csv."""
    for path in export_roster(store_from(ctx), directory):
        out.print(f"wrote {path}", highlight=False)


@app.command("info")
@handles_errors
def info(ctx: typer.Context) -> None:
    """Show where the store is and what it holds."""
    store = store_from(ctx)
    counts = store.table_counts()
    out.print(f"store: {store.path} (schema version {store.schema_version()})", highlight=False)
    for table, n in counts.items():
        out.print(f"  {table}: {n}", highlight=False)


app.command("simulate")(handles_errors(simulate_command))
app.command("demo")(handles_errors(demo_command))
app.command("ingest")(handles_errors(ingest_command))
app.command("receive")(handles_errors(receive_command))
app.command("cluster")(handles_errors(cluster_command))
app.command("templates")(handles_errors(templates_command))
app.command("campaigns")(handles_errors(campaigns_command))
app.command("merge-templates")(handles_errors(merge_command))
app.command("split-template")(handles_errors(split_command))
app.command("attribute")(handles_errors(attribute_command))
app.command("dashboard")(handles_errors(dashboard_command))
app.command("report")(handles_errors(report_command))
app.command("export")(handles_errors(export_command))
app.command("verify")(handles_errors(verify_command))
for _command in quarantine_app.registered_commands:
    _command.callback = handles_errors(_command.callback)
app.add_typer(quarantine_app, name="quarantine")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
