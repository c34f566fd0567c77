"""CLI commands ``report``, ``export`` and ``verify``: evidence that stands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leaktrace.cli.common import store_from
from leaktrace.cli.output import escape, print_json, say

if TYPE_CHECKING:
    from leaktrace.evidence.pack import Pack


def _written(pack: Pack) -> None:
    say(f"wrote {len(pack.files) + 1} files to {pack.folder} ({pack.messages} messages)")
    say(f"chain head: message {pack.chain_head[0]}, {pack.chain_head[1]}")
    say(
        "Keep the chain head too: `leaktrace verify --pack DIR --head "
        f"{pack.chain_head[0]}:{pack.chain_head[1]}` shows that no newest message was dropped."
    )
    say(
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
    from leaktrace.evidence.pack import build_pack
    from leaktrace.pipeline import analyse

    store = store_from(ctx)
    analyse(store)
    _written(build_pack(store, source, out_dir, lang, pdf))


def export_command(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Argument(help="The folder to write into.")],
) -> None:
    """Export messages, templates, campaigns and verdicts as CSV and Parquet, with a manifest."""
    from leaktrace.evidence.pack import export_study

    _written(export_study(store_from(ctx), out_dir))


def verify_command(
    ctx: typer.Context,
    pack: Annotated[
        Path | None,
        typer.Option("--pack", help="Check an evidence pack or export instead of the store."),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="The chain head kept when the pack or export was made (ID:SHA256): "
            "without it, dropping the newest messages goes unseen.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-check the hash chain; name every altered, missing or added record. Exit 1 if any."""
    from leaktrace.evidence.verify import head_problems, verify_pack, verify_store

    if pack:
        result = verify_pack(pack, head)
    else:
        result = verify_store(store_from(ctx))
        if head is not None:
            result.problems += head_problems(head, result.head_id, result.head_sha256)
    if as_json:
        print_json(result.as_dict())
    else:
        what = f"pack {pack}" if pack else "store"
        say(f"{what}: {result.checked} messages checked")
        say(f"chain head: message {result.head_id}, {result.head_sha256}")
        for problem in result.problems:
            say(f"[red]{escape(str(problem))}[/red]")
        say(
            "[green]OK: nothing altered, missing or added[/green]"
            if result.ok
            else f"[red]problems found: {len(result.problems)}[/red]"
        )
    if not result.ok:
        raise typer.Exit(1)
