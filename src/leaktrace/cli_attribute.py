"""CLI command ``attribute``: which sources leaked, with the evidence."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leaktrace.analysis import analyse
from leaktrace.cli_common import store_from
from leaktrace.verdicts import overlap_edges, source_reports

out = Console()


def attribute_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON array of source reports.")
    ] = False,
    overlap: Annotated[
        bool,
        typer.Option(
            "--overlap", help="Print the broker overlap instead: sources sharing campaigns."
        ),
    ] = False,
) -> None:
    """Cluster new messages, relink campaigns and attribute leaks to sources."""
    store = store_from(ctx)
    analysed = analyse(store)
    if overlap:
        edges = overlap_edges(store)
        if as_json:
            out.print_json(json.dumps(edges, ensure_ascii=False))
            return
        table = Table(title="broker overlap: sources reached by the same campaigns")
        for column in ("source", "source", "shared campaigns"):
            table.add_column(column)
        for e in edges:
            table.add_row(e["source"], e["target"], ", ".join(e["units"]))
        out.print(table)
        return
    reports = source_reports(store)
    if as_json:
        # Plain text, not rich's highlighter: thousands of evidence ids per source.
        typer.echo(json.dumps(reports, ensure_ascii=False, indent=2))
        return
    out.print(analysed.summary(), highlight=False)
    table = Table(title="sources")
    for column in ("source", "verdict", "score", "adj. p", "hit/planted", "leak date"):
        table.add_column(column)
    for r in reports:
        table.add_row(
            r["name"],
            r["verdict"],
            f"{r['score']:.2f}",
            "" if r["p_value"] is None else f"{r['p_value']:.1e}",
            f"{r['canaries_hit']}/{r['canaries_planted']}",
            (r["estimated_leak_date"] or "")[:10],
        )
    out.print(table)
    for r in reports:
        if r["verdict"] in ("leaked", "suspected"):
            out.print(f"[bold]{r['name']}[/bold] ({r['verdict']}): {r['reason']}", highlight=False)
