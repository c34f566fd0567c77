"""The ``leaktrace`` command line: one command per user action, each calling the library.

Command modules import the library inside their commands, so ``leaktrace --help``
and every command load only what they use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leaktrace.cli.alerts import alerts_app
from leaktrace.cli.attribute import attribute_command
from leaktrace.cli.common import store_from
from leaktrace.cli.dashboard import dashboard_command
from leaktrace.cli.first_party import first_party_app
from leaktrace.cli.ingest import ingest_command, quarantine_app, receive_command
from leaktrace.cli.output import guard_every_command, say
from leaktrace.cli.report import export_command, report_command, verify_command
from leaktrace.cli.roster import (
    canary_app,
    export_roster_command,
    import_roster_command,
    plant_command,
    plants_list,
    source_app,
)
from leaktrace.cli.study import demo_command, simulate_command
from leaktrace.cli.templates import (
    campaigns_command,
    cluster_command,
    merge_command,
    split_command,
    templates_command,
)

app = typer.Typer(
    help="Trace who leaked or sold your personal data with canary identities.",
    add_completion=False,
    # Plain tracebacks for bugs: rich's traceback module costs start-up on every command.
    pretty_exceptions_enable=False,
)


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


def info(ctx: typer.Context) -> None:
    """Show where the store is and what it holds."""
    store = store_from(ctx)
    counts = store.table_counts()
    say(f"store: {store.path} (schema version {store.schema_version()})")
    for table, n in counts.items():
        say(f"  {table}: {n}")


app.add_typer(source_app, name="source")
app.add_typer(canary_app, name="canary")
app.command("plant")(plant_command)
app.command("plants")(plants_list)
app.add_typer(first_party_app, name="first-party")
app.command("import-roster")(import_roster_command)
app.command("export-roster")(export_roster_command)
app.command("info")(info)
app.command("simulate")(simulate_command)
app.command("demo")(demo_command)
app.command("ingest")(ingest_command)
app.command("receive")(receive_command)
app.add_typer(quarantine_app, name="quarantine")
app.command("cluster")(cluster_command)
app.command("templates")(templates_command)
app.command("campaigns")(campaigns_command)
app.command("merge-templates")(merge_command)
app.command("split-template")(split_command)
app.command("attribute")(attribute_command)
app.add_typer(alerts_app, name="alerts")
app.command("dashboard")(dashboard_command)
app.command("report")(report_command)
app.command("export")(export_command)
app.command("verify")(verify_command)
guard_every_command(app)
