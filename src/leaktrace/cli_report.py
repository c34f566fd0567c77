"""CLI commands ``report``, ``export`` and ``verify``: evidence that stands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leaktrace.analysis import analyse
from leaktrace.cli_common import store_from
from leaktrace.pack import Pack, build_pack, export_study
from leaktrace.verify import verify_pack, verify_store

out = Console(highlight=False, soft_wrap=True)


def _written(pack: Pack) -> None:
    out.print(f"wrote {len(pack.files) + 1} files to {pack.folder} ({pack.messages} messages)")
    out.print(f"chain head: message {pack.chain_head[0]}, {pack.chain_head[1]}")
    out.print(
        f"manifest SHA-256: [bold]{pack.manifest_sha256}[/bold]\n"
        "Keep this value apart from the pack (send it with the complaint, note it down):"
        " with it, anyone can show later that the pack is the one you made."
    )


def report_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The source to report on (its name).")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write the pack into.")],
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="zh or en (default: the language of most personas)."),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="Print report.pdf with headless Chromium.")
    ] = True,
) -> None:
    """Write a source's evidence pack: HTML/PDF report, data, hash chain, complaint drafts."""
    store = store_from(ctx)
    analyse(store)
    _written(build_pack(store, source, out_dir, lang, pdf))


def export_command(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Argument(help="The folder to write into.")],
) -> None:
    """Export messages, templates, campaigns and verdicts as CSV and Parquet, with a manifest."""
    _written(export_study(store_from(ctx), out_dir))


def verify_command(
    ctx: typer.Context,
    pack: Annotated[
        Path | None,
        typer.Option("--pack", help="Check an evidence pack or export instead of the store."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-check the hash chain; name every altered, missing or added record. Exit 1 if any."""
    result = verify_pack(pack) if pack else verify_store(store_from(ctx))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        what = f"pack {pack}" if pack else "store"
        out.print(f"{what}: {result.checked} messages checked")
        out.print(f"chain head: message {result.head_id}, {result.head_sha256}")
        for problem in result.problems:
            out.print(f"[red]{problem}[/red]")
        out.print(
            "[green]OK: nothing altered, missing or added[/green]"
            if result.ok
            else f"[red]problems found: {len(result.problems)}[/red]"
        )
    if not result.ok:
        raise typer.Exit(1)
