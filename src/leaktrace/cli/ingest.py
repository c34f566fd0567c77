"""CLI commands that bring messages in: ``ingest``, ``quarantine`` and ``receive``."""

from __future__ import annotations

import ipaddress
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leaktrace.cli.common import JsonOpt, parse_pairs, parse_zone, store_from
from leaktrace.cli.output import err, escape, out, print_json, say, warn
from leaktrace.ingest.detect import FORMATS

if TYPE_CHECKING:
    from leaktrace.ingest.importer import ImportOptions, ImportResult
    from leaktrace.roster.recipients import RecipientBook
    from leaktrace.store import Store

MAX_PROBLEMS_SHOWN = 20

quarantine_app = typer.Typer(help="Messages for recipients that are no canary's contact.")


def _summary(result: ImportResult) -> None:
    name = Path(result.file).name
    say(
        f"[bold]{escape(name)}[/bold] ({result.format}): "
        f"[green]{result.inserted} inserted[/green], "
        f"{result.duplicate} duplicate, {result.skipped} skipped, "
        f"{'[red]' if result.rejected else ''}{result.rejected} rejected"
        f"{'[/red]' if result.rejected else ''}; {result.quarantined} in quarantine, "
        f"{result.first_party} first-party ({result.seconds:.1f} s)"
    )
    if result.skipped_by_reason:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(result.skipped_by_reason.items()))
        say(f"  skipped: {escape(reasons)}")
    for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
        say(f"  [yellow]rejected[/yellow] {escape(problem)}")
    if len(result.problems) > MAX_PROBLEMS_SHOWN:
        out.print(f"  … and {len(result.problems) - MAX_PROBLEMS_SHOWN} more rejected records")
    for note in result.notes:
        say(f"  note: {escape(note)}")


def ingest_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Message files or folders of them (every file under a folder)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"Force a format: {', '.join(FORMATS)}."),
    ] = None,
    recipient: Annotated[
        str | None,
        typer.Option(
            help="The canary (label, phone or e-mail) that received messages in files that "
            "do not name one (SMS backups never do). Without it, a canary label or phone "
            "number in a file's name (canary-001.xml, +8613800138000.xml) is used."
        ),
    ] = None,
    recipients: Annotated[
        Path | None,
        typer.Option(
            help="CSV of file,recipient: each file's canary (file name or path as given).",
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
    as_json: JsonOpt = False,
    analyse_after: Annotated[
        bool,
        typer.Option(
            "--analyse/--no-analyse",
            help="Cluster the new messages, relink campaigns and attribute again afterwards.",
        ),
    ] = True,
) -> None:
    """Import message files (format detected) and/or the receiver's inbox; each file is atomic."""
    from leaktrace.ingest.records import IngestError

    if not files and not inbox:
        raise IngestError("give message files to import, or --inbox")
    store = store_from(ctx)
    options = _import_options(fmt, recipient, sub_id, encoding, tz, column)
    results = _import_files(store, files or [], options, recipients, quiet=as_json)
    if inbox:
        results += _drain_inbox(store, quiet=as_json)
    if analyse_after and any(r.get("inserted") for r in results):
        from leaktrace.pipeline import analyse

        analysed = analyse(store)
        if not as_json:
            say(analysed.summary())
    if as_json:
        print_json(results)
    elif any(r.get("quarantined") for r in results):
        out.print(
            "unknown recipients are in quarantine: see [bold]leaktrace quarantine list[/bold]"
        )
    if any("error" in r for r in results):
        raise typer.Exit(1)


def _import_options(
    fmt: str | None,
    recipient: str | None,
    sub_id: str | None,
    encoding: str | None,
    tz: str | None,
    column: list[str] | None,
) -> ImportOptions:
    """The import options the command line gave."""
    from leaktrace.ingest.importer import ImportOptions

    return ImportOptions(
        format=fmt,
        recipient=recipient,
        sub_ids=parse_pairs([sub_id or ""], "--sub-id", "1=canary-001,2=canary-002"),
        encoding=encoding,
        tz=parse_zone(tz) if tz else None,
        columns=parse_pairs(column or [], "--column", "body=content"),
    )


def _import_files(
    store: Store, files: list[Path], options: ImportOptions, recipients: Path | None, quiet: bool
) -> list[dict[str, Any]]:
    """Import each file in its own transaction; a file that fails is reported, not fatal.

    Every file's recipient is found first (``ingest.plan``): a file without one is
    refused before anything is written, and the others import.
    """
    from dataclasses import replace

    from leaktrace.ingest.importer import load_book
    from leaktrace.ingest.plan import plan_files, read_mapping
    from leaktrace.ingest.records import IngestError

    book = load_book(store)
    mapping = read_mapping(recipients) if recipients else None
    planned, refused = plan_files(
        files,
        book,
        options.recipient,
        mapping,
        options.format,
        by_sim=bool(options.sub_ids),
        leave_out=(recipients,) if recipients else (),
    )
    results: list[dict[str, Any]] = []
    for r in refused:
        if not r.error:  # a stray file inside a folder
            results.append({"file": str(r.path), "left_out": r.reason, "refused": True})
            if not quiet:
                say(f"left out {escape(str(r.path))}: {escape(r.reason)}")
            continue
        results.append({"file": str(r.path), "error": r.reason, "refused": True})
        if not quiet:
            err.print(
                f"[red]refused:[/red] {escape(r.path.name)}: {escape(r.reason)}"
                " (nothing from it was stored)",
                highlight=False,
            )
    many = len(planned) > 1
    with _Progress(len(planned), show=not quiet) as progress:
        for item in planned:
            file_options = replace(options, recipient=item.recipient, format=item.format)
            try:
                result = progress.run(store, item.path, file_options, book)
            except IngestError as exc:
                results.append({"file": str(item.path), "error": str(exc)})
                if not quiet:
                    progress.print(
                        f"[red]error:[/red] {escape(item.path.name)}: {escape(str(exc))}"
                        " (nothing from it was stored)"
                    )
                continue
            results.append(
                result.as_dict()
                | {"recipient": item.recipient, "recipient_from": item.recipient_from}
            )
            if not quiet and not many:
                _summary(result)
    if many and not quiet:
        _summary_table(results)
    return results


class _Progress:
    """One display across files: files done, messages, rate, and the file being read."""

    def __init__(self, files: int, show: bool) -> None:
        self.files, self.show, self.messages, self.started = files, show, 0, 0.0
        self.bar = None

    def __enter__(self) -> _Progress:
        self.started = time.monotonic()
        if self.show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                console=err,
                transient=True,
            )
            self.bar.__enter__()
            self.files_task = self.bar.add_task("files", total=self.files, rate="")
            self.bytes_task = self.bar.add_task("", total=None, rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def print(self, text: str) -> None:
        """A line above the display."""
        (self.bar.console if self.bar is not None else err).print(text, highlight=False)

    def run(
        self, store: Store, path: Path, options: ImportOptions, book: RecipientBook
    ) -> ImportResult:
        """Import one file, advancing the display."""
        from leaktrace.ingest.importer import import_file

        bar = self.bar
        if bar is None:
            return import_file(store, path, options, book=book)
        bar.update(self.bytes_task, description=escape(path.name), completed=0, total=None)
        try:
            result = import_file(
                store,
                path,
                options,
                lambda done, total: bar.update(self.bytes_task, completed=done, total=total),
                book=book,
            )
        finally:
            bar.advance(self.files_task)
        self.messages += result.inserted + result.duplicate
        rate = self.messages / max(time.monotonic() - self.started, 1e-6)
        bar.update(self.files_task, rate=f"{self.messages:,} messages, {rate:,.0f}/s")
        return result


def _summary_table(results: list[dict[str, Any]]) -> None:
    """One row per file, then the totals."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    columns = ("inserted", "duplicate", "skipped", "rejected", "quarantined", "first_party")
    heads = ("new", "dup", "skip", "rej", "quar", "1st-p")
    table.add_column("file", no_wrap=True)
    table.add_column("format", no_wrap=True)
    table.add_column("recipient", no_wrap=True)
    for head in (*heads, "s"):
        table.add_column(head, justify="right")
    totals = dict.fromkeys(columns, 0)
    for r in results:
        if "error" in r or r.get("refused"):
            what = "left out" if "left_out" in r else "refused" if r.get("refused") else "error"
            table.add_row(escape(Path(r["file"]).name), f"[red]{what}[/red]")
            continue
        for name in columns:
            totals[name] += r[name]
        table.add_row(
            escape(Path(r["file"]).name),
            r["format"],
            escape(r.get("recipient") or ""),
            *(f"{r[name]:,}" for name in columns),
            f"{r['seconds']:.1f}",
        )
    done = sum("error" not in r and not r.get("refused") for r in results)
    table.add_row(
        f"[bold]{done} files[/bold]", "", "", *(f"[bold]{totals[n]:,}[/bold]" for n in columns), ""
    )
    out.print(table)


def _drain_inbox(store: Store, quiet: bool) -> list[dict[str, Any]]:
    """Import what the receiver left in the inbox."""
    from leaktrace.ingest.inbox import Inbox, inbox_dir

    drained = Inbox(inbox_dir(store.path)).drain(store)
    if not quiet:
        for result in drained:
            _summary(result)
        if not drained:
            say("inbox: nothing waiting")
    return [r.as_dict() for r in drained]


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """Unknown recipients and how many messages wait for each."""
    from leaktrace.ingest.quarantine import list_quarantine

    rows = list_quarantine(store_from(ctx))
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("the quarantine is empty")
        return
    for r in rows:
        days = " … ".join(f"{t:%Y-%m-%d}" if t else "?" for t in (r.first_seen, r.last_seen))
        say(f"{escape(r.recipient)}  {r.channel}  {r.messages} messages  {days}")


@quarantine_app.command("assign")
def quarantine_assign(
    ctx: typer.Context,
    recipient: Annotated[str, typer.Argument(help="The recipient as listed.")],
    canary: Annotated[str, typer.Argument(help="The canary (label, phone or e-mail).")],
) -> None:
    """Give a quarantined recipient's messages to a canary."""
    from leaktrace.ingest.quarantine import assign

    moved = assign(store_from(ctx), recipient, canary)
    say(f"assigned {moved} messages to {escape(canary)}")


@quarantine_app.command("rematch")
def quarantine_rematch(ctx: typer.Context) -> None:
    """Match quarantined recipients against the canaries as they are now."""
    from leaktrace.ingest.quarantine import rematch

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
    analyse_every: Annotated[
        float,
        typer.Option(
            help="Analyse new messages after a drain at most once per this many seconds "
            "(0: never; run leaktrace attribute yourself).",
        ),
    ] = 60.0,
) -> None:
    """Receive SMS gateway webhooks into a durable inbox and drain it into the store."""
    import uvicorn

    from leaktrace.ingest.inbox import inbox_dir
    from leaktrace.ingest.receiver import ReceiverConfig, create_app

    store = store_from(ctx)
    config = ReceiverConfig(
        store_path=store.path,
        inbox_dir=inbox_dir(store.path),
        twilio_token=twilio_token,
        forwarder_secret=forwarder_secret,
        secret=secret,
        public_url=public_url,
        drain_every=drain_every,
        analyse_every=analyse_every if analyse_every > 0 else None,
    )
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        warn(f"listening on {host}: reachable from other machines")
    for name, value in (("Twilio", twilio_token), ("SmsForwarder", forwarder_secret)):
        if not value:
            warn(f"{name} posts are not authenticated (no secret)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    err.print(f"inbox: {config.inbox_dir}; store: {store.path}", highlight=False)
    uvicorn.run(create_app(config, _analyse), host=host, port=port, log_level="info")


def _analyse(store: Store) -> object:
    """The pipeline's analysis, loaded on the first drain that needs it (fast start-up)."""
    from leaktrace.pipeline import analyse

    return analyse(store)
