"""CLI command ``attribute``: which sources leaked, with the evidence."""

from __future__ import annotations

from typing import Annotated

import typer

from leaktrace.cli.common import store_from
from leaktrace.cli.output import escape, print_json, print_table, say


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
    from leaktrace.attribution.verdicts import overlap_edges, source_reports
    from leaktrace.pipeline import analyse

    store = store_from(ctx)
    analysed = analyse(store)
    if overlap:
        edges = overlap_edges(store)
        if as_json:
            print_json(edges)
            return
        print_table(
            "broker overlap: sources reached by the same campaigns",
            ("source", "source", "shared campaigns"),
            ((e["source"], e["target"], ", ".join(e["units"])) for e in edges),
        )
        return
    reports = source_reports(store)
    if as_json:
        print_json(reports)
        return
    say(analysed.summary())
    print_table(
        "sources",
        ("source", "verdict", "score", "adj. p", "hit/planted", "leak date"),
        (
            (
                r["name"],
                r["verdict"],
                f"{r['score']:.2f}",
                "" if r["p_adjusted"] is None else f"{r['p_adjusted']:.1e}",
                f"{r['canaries_hit']}/{r['canaries_planted']}",
                (r["estimated_leak_date"] or "")[:10],
            )
            for r in reports
        ),
    )
    for r in reports:
        if r["verdict"] in ("leaked", "suspected"):
            say(f"[bold]{escape(r['name'])}[/bold] ({r['verdict']}): {escape(r['reason'])}")
