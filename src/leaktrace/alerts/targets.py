"""Alert targets kept in the store: add, list, enable, remove.

Secrets never enter the store: an SMTP password or an HTTP bearer token is read at
send time from the environment variable a target names (``password_env``,
``token_env``), so the store file can be copied or packed without them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from leaktrace.alerts.model import KINDS, AlertError, Target
from leaktrace.store import Store

DEFAULT_PASSWORD_ENV = "LEAKTRACE_SMTP_PASSWORD"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COLUMNS = "id, kind, address, options, created_at, enabled"


def target_from_row(row: tuple) -> Target:
    """A target from its row (the columns of ``_COLUMNS``, in order)."""
    id_, kind, address, options, created_at, enabled = row
    return Target(id_, kind, address, json.loads(options), created_at, enabled)


def _env_name(value: str | None, option: str) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise AlertError(
            f"{option} takes the name of an environment variable (like {DEFAULT_PASSWORD_ENV}),"
            f" not {value!r}"
        )
    return value


def target_options(
    kind: str,
    address: str,
    *,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_user: str | None = None,
    sender: str | None = None,
    starttls: bool = True,
    ssl: bool = False,
    password_env: str | None = None,
    token_env: str | None = None,
) -> dict[str, Any]:
    """The checked options of a target of ``kind`` at ``address``; AlertError says what is wrong."""
    if kind not in KINDS:
        raise AlertError(f"unknown alert kind {kind!r}: use one of {', '.join(KINDS)}")
    smtp = {
        "--smtp-host": smtp_host,
        "--smtp-port": smtp_port,
        "--smtp-user": smtp_user,
        "--from": sender,
        "--password-env": password_env,
    }
    if kind != "email":
        given = [name for name, value in smtp.items() if value is not None]
        if given or ssl:
            raise AlertError(f"{', '.join(given) or '--ssl'} is for e-mail targets, not {kind}")
        url = urlsplit(address)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise AlertError(f"a {kind} target is a URL (https://...), not {address!r}")
        options: dict[str, Any] = {}
        if token_env:
            options["token_env"] = _env_name(token_env, "--token-env")
        return options
    if token_env:
        raise AlertError("--token-env is for webhook, ntfy and slack targets")
    if not _ADDRESS.match(address):
        raise AlertError(f"an email target is an e-mail address, not {address!r}")
    if not smtp_host:
        raise AlertError(
            "an email target needs the SMTP server of your mail provider (--smtp-host)"
        )
    if ssl and starttls:
        starttls = False  # implicit TLS (SMTPS) already encrypts the whole session
    port = smtp_port or (465 if ssl else 587 if starttls else 25)
    if not 0 < port < 65536:
        raise AlertError(f"--smtp-port must be a port number, not {port}")
    if sender is not None and not _ADDRESS.match(sender):
        raise AlertError(f"--from takes an e-mail address, not {sender!r}")
    user_is_address = smtp_user is not None and _ADDRESS.match(smtp_user)
    return {
        "smtp_host": smtp_host,
        "smtp_port": port,
        "smtp_user": smtp_user,
        "from": sender or (smtp_user if user_is_address else address),
        "starttls": starttls,
        "ssl": ssl,
        "password_env": _env_name(password_env, "--password-env")
        or (DEFAULT_PASSWORD_ENV if smtp_user else None),
    }


def add_target(store: Store, kind: str, address: str, **options: Any) -> Target:
    """Keep a new target; alerts found from now on are sent to it (see ``target_options``)."""
    address = address.strip()
    checked = target_options(kind, address, **options)
    with store.transaction() as con:
        same = con.execute(
            "SELECT id FROM alert_targets WHERE kind = ? AND address = ?", [kind, address]
        ).fetchone()
        if same:
            raise AlertError(
                f"{kind} {address} is already target {same[0]}: remove it first to change it"
            )
        row = con.execute(
            f"INSERT INTO alert_targets (kind, address, options) VALUES (?, ?, ?)"
            f" RETURNING {_COLUMNS}",
            [kind, address, json.dumps(checked, ensure_ascii=False)],
        ).fetchone()
    return target_from_row(row)


def list_targets(store: Store, enabled_only: bool = False) -> list[Target]:
    """Every target, oldest first."""
    with store.connect() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM alert_targets WHERE enabled OR NOT ? ORDER BY id",
            [enabled_only],
        ).fetchall()
    return [target_from_row(r) for r in rows]


def get_target(store: Store, target_id: int) -> Target:
    """One target, or AlertError naming the command that lists them."""
    with store.connect() as con:
        row = con.execute(
            f"SELECT {_COLUMNS} FROM alert_targets WHERE id = ?", [target_id]
        ).fetchone()
    if row is None:
        raise AlertError(f"no alert target {target_id}: list them with `leaktrace alerts list`")
    return target_from_row(row)


def set_enabled(store: Store, target_id: int, enabled: bool) -> Target:
    """Pause or resume a target; a paused one is sent nothing and gets no new alerts."""
    get_target(store, target_id)
    with store.transaction() as con:
        row = con.execute(
            f"UPDATE alert_targets SET enabled = ? WHERE id = ? RETURNING {_COLUMNS}",
            [enabled, target_id],
        ).fetchone()
    return target_from_row(row)


def remove_target(store: Store, target_id: int) -> Target:
    """Forget a target and what it was sent or still owed."""
    with store.transaction() as con:
        target = get_target(store, target_id)
        con.execute("DELETE FROM alert_deliveries WHERE target_id = ?", [target_id])
        con.execute("DELETE FROM alert_targets WHERE id = ?", [target_id])
    return target
