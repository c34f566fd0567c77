"""CLI commands that bring messages in: ``ingest``, ``quarantine`` and ``receive``."""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import tzinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from leaktrace.analysis import analyse
from leaktrace.cli_common import parse_pairs, parse_zone, store_from
from leaktrace.ingest.detect import FORMATS
from leaktrace.ingest.importer import ImportOptions, ImportResult, import_file, load_book
from leaktrace.ingest.inbox import Inbox, inbox_dir
from leaktrace.ingest.quarantine import assign, list_quarantine, rematch
from leaktrace.ingest.recipients import RecipientBook
from leaktrace.ingest.records import IngestError
from leaktrace.store import Store

out = Console()
err = Console(stderr=True, soft_wrap=True)
MAX_PROBLEMS_SHOWN = 20

quarantine_app = typer.Typer(help="Messages for recipients that are no canary's contact.")


def _summary(result: ImportResult) -> None:
    name = Path(result.file).name
    out.print(
        f"[bold]{name}[/bold] ({result.format}): [green]{result.inserted} inserted[/green], "
        f"{result.duplicate} duplicate, {result.skipped} skipped, "
        f"{'[red]' if result.rejected else ''}{result.rejected} rejected"
        f"{'[/red]' if result.rejected else ''}; {result.quarantined} in quarantine, "
        f"{result.first_party} first-party ({result.seconds:.1f} s)",
        highlight=False,
    )
    if result.skipped_by_reason:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(result.skipped_by_reason.items()))
        out.print(f"  skipped: {reasons}", highlight=False)
    for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
        out.print(f"  [yellow]rejected[/yellow] {problem}", highlight=False)
    if len(result.problems) > MAX_PROBLEMS_SHOWN:
        out.print(f"  … and {len(result.problems) - MAX_PROBLEMS_SHOWN} more rejected records")
    for note in result.notes:
        out.print(f"  note: {note}", highlight=False)


def _import_with_progress(
    store: Store, path: Path, options: ImportOptions, book: RecipientBook, show: bool
) -> ImportResult:
    if not show:
        return import_file(store, path, options, book=book)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(path.name, total=None)
        return import_file(
            store,
            path,
            options,
            lambda done, total: bar.update(task, completed=done, total=total),
            book=book,
        )


def ingest_command(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="Message files to import.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"Force a format: {', '.join(FORMATS)}."),
    ] = None,
    recipient: Annotated[
        str | None,
        typer.Option(
            help="The canary (label, phone or e-mail) that received messages in files that "
            "do not name one (SMS backups never do)."
        ),
    ] = None,
    sub_id: Annotated[
        str | None,
        typer.Option("--sub-id", help="Dual-SIM backups: 1=LABEL,2=LABEL (SIM sub_id to canary)."),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="The file's encoding, e.g. gb18030 or utf-16.")
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="Zone for times without an offset (CSV/JSONL).")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="Map a column: NAME=THEIRS, e.g. body=content. Repeatable."),
    ] = None,
    inbox: Annotated[
        bool, typer.Option("--inbox", help="Also drain the receiver's inbox into the store.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON results.")] = False,
    analyse_after: Annotated[
        bool,
        typer.Option(
            "--analyse/--no-analyse",
            help="Cluster the new messages, relink campaigns and attribute again afterwards.",
        ),
    ] = True,
) -> None:
    """Import message files (format detected) and/or the receiver's inbox; each file is atomic."""
    if not files and not inbox:
        raise IngestError("give message files to import, or --inbox")
    store = store_from(ctx)
    zone: tzinfo | None = parse_zone(tz) if tz else None
    options = ImportOptions(
        format=fmt,
        recipient=recipient,
        sub_ids=parse_pairs([sub_id or ""], "--sub-id", "1=canary-001,2=canary-002"),
        encoding=encoding,
        tz=zone,
        columns=parse_pairs(column or [], "--column", "body=content"),
    )
    results: list[dict] = []
    failed = 0
    book = load_book(store)
    for path in files or []:
        try:
            result = _import_with_progress(store, path, options, book, show=not as_json)
        except IngestError as exc:
            failed += 1
            results.append({"file": str(path), "error": str(exc)})
            if not as_json:
                err.print(f"[red]error:[/red] {exc} (nothing from it was stored)", highlight=False)
            continue
        results.append(result.as_dict())
        if not as_json:
            _summary(result)
    if inbox:
        drained = Inbox(inbox_dir(store.path)).drain(store)
        results.extend(r.as_dict() for r in drained)
        if not as_json:
            for result in drained:
                _summary(result)
            if not drained:
                out.print("inbox: nothing waiting")
    if analyse_after and any(r.get("inserted") for r in results):
        analysed = analyse(store)
        if not as_json:
            out.print(analysed.summary(), highlight=False)
    if as_json:
        out.print_json(json.dumps(results, ensure_ascii=False, default=str))
    elif any(r.get("quarantined") for r in results):
        out.print(
            "unknown recipients are in quarantine: see [bold]leaktrace quarantine list[/bold]"
        )
    if failed:
        raise typer.Exit(1)


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Unknown recipients and how many messages wait for each."""
    rows = list_quarantine(store_from(ctx))
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, default=str))
        return
    if not rows:
        out.print("the quarantine is empty")
        return
    for r in rows:
        out.print(
            f"{r.recipient}  {r.channel}  {r.messages} messages  "
            f"{r.first_seen:%Y-%m-%d} … {r.last_seen:%Y-%m-%d}",
            highlight=False,
        )


@quarantine_app.command("assign")
def quarantine_assign(
    ctx: typer.Context,
    recipient: Annotated[str, typer.Argument(help="The recipient as listed.")],
    canary: Annotated[str, typer.Argument(help="The canary (label, phone or e-mail).")],
) -> None:
    """Give a quarantined recipient's messages to a canary."""
    moved = assign(store_from(ctx), recipient, canary)
    out.print(f"assigned {moved} messages to {canary}", highlight=False)


@quarantine_app.command("rematch")
def quarantine_rematch(ctx: typer.Context) -> None:
    """Match quarantined recipients against the canaries as they are now."""
    moved = rematch(store_from(ctx))
    out.print(f"matched {moved} messages to canaries")


def receive_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless needed.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    twilio_token: Annotated[
        str | None,
        typer.Option(envvar="LEAKTRACE_TWILIO_TOKEN", help="Twilio auth token: verify signatures."),
    ] = None,
    forwarder_secret: Annotated[
        str | None,
        typer.Option(envvar="LEAKTRACE_FORWARDER_SECRET", help="SmsForwarder secret: verify sign."),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(envvar="LEAKTRACE_RECEIVER_SECRET", help="Shared secret for /messages."),
    ] = None,
    public_url: Annotated[
        str | None, typer.Option(help="The base URL gateways post to (behind a tunnel/proxy).")
    ] = None,
    drain_every: Annotated[float, typer.Option(help="Seconds between inbox drains.")] = 2.0,
) -> None:
    """Receive SMS gateway webhooks into a durable inbox and drain it into the store."""
    import uvicorn

    from leaktrace.receiver import ReceiverConfig, create_app

    store = store_from(ctx)
    config = ReceiverConfig(
        store_path=store.path,
        inbox_dir=inbox_dir(store.path),
        twilio_token=twilio_token,
        forwarder_secret=forwarder_secret,
        secret=secret,
        public_url=public_url,
        drain_every=drain_every,
    )
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        err.print(f"[yellow]warning:[/yellow] listening on {host}: reachable from other machines")
    for name, value in (("Twilio", twilio_token), ("SmsForwarder", forwarder_secret)):
        if not value:
            err.print(f"[yellow]warning:[/yellow] {name} posts are not authenticated (no secret)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    err.print(f"inbox: {config.inbox_dir}; store: {store.path}", highlight=False)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
