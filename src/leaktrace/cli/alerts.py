"""CLI command group ``alerts``: where alerts go, a test send, and what was sent."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from leaktrace.cli.common import JsonOpt, store_from
from leaktrace.cli.output import escape, print_json, print_table, say, warn

alerts_app = typer.Typer(
    help="Alerts when a source becomes suspected or leaked, or a new campaign reaches its"
    " canaries: sent after each analysis to webhooks, ntfy, Slack-compatible webhooks and"
    " e-mail."
)

TargetArg = Annotated[int, typer.Argument(help="The target's id (leaktrace alerts list).")]


@alerts_app.command("add")
def alerts_add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="webhook, ntfy, slack or email.")],
    address: Annotated[
        str, typer.Argument(help="The URL (webhook, ntfy topic, Slack webhook) or e-mail address.")
    ],
    smtp_host: Annotated[str | None, typer.Option(help="email: the SMTP server.")] = None,
    smtp_port: Annotated[
        int | None,
        typer.Option(help="email: its port (default 587 with STARTTLS, 465 with --ssl, else 25)."),
    ] = None,
    smtp_user: Annotated[str | None, typer.Option(help="email: the login, if any.")] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--from", help="email: the sender (default: the login if an address, else ADDRESS)."
        ),
    ] = None,
    starttls: Annotated[
        bool, typer.Option("--starttls/--no-starttls", help="email: upgrade with STARTTLS.")
    ] = True,
    ssl: Annotated[
        bool, typer.Option("--ssl", help="email: implicit TLS (SMTPS, port 465).")
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(
            help="email: the environment variable holding the SMTP password (default"
            " LEAKTRACE_SMTP_PASSWORD with --smtp-user); the password is never stored."
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="webhook/ntfy/slack: the environment variable holding a bearer token to send."
        ),
    ] = None,
) -> None:
    """Add a target: alerts found from now on are sent to it after each analysis."""
    from leaktrace.alerts import add_target

    target = add_target(
        store_from(ctx),
        kind,
        address,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_user=smtp_user,
        sender=sender,
        starttls=starttls,
        ssl=ssl,
        password_env=password_env,
        token_env=token_env,
    )
    say(f"added alert target {target.id}: {escape(target.describe())}")
    for option in ("password_env", "token_env"):
        name = target.options.get(option)
        if name and not os.environ.get(name):
            warn(f"{name} is not set here: set it where leaktrace runs its analyses")
    say(f"send it a test alert: leaktrace alerts test {target.id}")


@alerts_app.command("list")
def alerts_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The alert targets."""
    from leaktrace.alerts import list_targets

    targets = list_targets(store_from(ctx))
    if as_json:
        print_json(targets)
        return
    print_table(
        "alert targets",
        ("id", "kind", "address", "settings", "enabled", "added"),
        (
            (
                t.id,
                t.kind,
                t.address,
                t.settings(),
                "yes" if t.enabled else "no",
                f"{t.created_at:%Y-%m-%d %H:%M}",
            )
            for t in targets
        ),
    )


@alerts_app.command("remove")
def alerts_remove(ctx: typer.Context, target_id: TargetArg) -> None:
    """Remove a target, with what it was sent and still owed."""
    from leaktrace.alerts import remove_target

    target = remove_target(store_from(ctx), target_id)
    say(f"removed alert target {target.id}: {escape(target.describe())}")


@alerts_app.command("enable")
def alerts_enable(ctx: typer.Context, target_id: TargetArg) -> None:
    """Send alerts to a paused target again; changes found while it was paused are not sent."""
    from leaktrace.alerts import set_enabled

    target = set_enabled(store_from(ctx), target_id, True)
    say(f"alert target {target.id} enabled: {escape(target.describe())}")


@alerts_app.command("disable")
def alerts_disable(ctx: typer.Context, target_id: TargetArg) -> None:
    """Pause a target: it is sent nothing until enabled again."""
    from leaktrace.alerts import set_enabled

    target = set_enabled(store_from(ctx), target_id, False)
    say(f"alert target {target.id} paused: {escape(target.describe())}")


@alerts_app.command("test")
def alerts_test(
    ctx: typer.Context,
    target_id: Annotated[
        int | None, typer.Argument(help="One target (default: every enabled one).")
    ] = None,
) -> None:
    """Send a test alert now and say, per target, whether it arrived; exit 1 if one failed."""
    from leaktrace.alerts import AlertError, send_test

    results = send_test(store_from(ctx), target_id)
    if not results:
        raise AlertError("no alert targets: add one with `leaktrace alerts add KIND ADDRESS`")
    for target, error in results:
        if error is None:
            say(f"[green]sent[/green] to target {target.id}: {escape(target.describe())}")
        else:
            say(
                f"[red]failed[/red] for target {target.id}: {escape(target.describe())}:"
                f" {escape(str(error))}"
            )
    if any(error for _, error in results):
        raise typer.Exit(1)


@alerts_app.command("log")
def alerts_log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The alerts, newest first, per target: sent, pending (with the last error), failed."""
    from leaktrace.alerts import alert_log

    entries = alert_log(store_from(ctx), limit)
    if as_json:
        print_json(entries)
        return
    print_table(
        "alerts",
        ("alert", "found", "title", "target", "status", "tries", "last error"),
        (
            (
                e.alert_id,
                f"{e.created_at:%Y-%m-%d %H:%M}",
                e.title,
                e.target or "",
                e.status,
                e.attempts,
                e.last_error or "",
            )
            for e in entries
        ),
    )
