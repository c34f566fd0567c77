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
            key="err_alert_env_name", option=option, example=DEFAULT_PASSWORD_ENV, value=value
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
        raise AlertError(key="err_alert_unknown_kind", kind=kind, kinds=", ".join(KINDS))
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
            raise AlertError(
                key="err_alert_email_options", options=", ".join(given) or "--ssl", kind=kind
            )
        url = urlsplit(address)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise AlertError(key="err_alert_not_url", kind=kind, address=address)
        options: dict[str, Any] = {}
        if token_env:
            options["token_env"] = _env_name(token_env, "--token-env")
        return options
    if token_env:
        raise AlertError(key="err_alert_token_env_email")
    if not _ADDRESS.match(address):
        raise AlertError(key="err_alert_not_email_address", address=address)
    if not smtp_host:
        raise AlertError(key="err_alert_no_smtp_host")
    if ssl and starttls:
        starttls = False  # implicit TLS (SMTPS) already encrypts the whole session
    port = smtp_port or (465 if ssl else 587 if starttls else 25)
    if not 0 < port < 65536:
        raise AlertError(key="err_alert_smtp_port", port=port)
    if sender is not None and not _ADDRESS.match(sender):
        raise AlertError(key="err_alert_from_address", sender=sender)
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
                key="err_alert_target_exists", kind=kind, address=address, target=same[0]
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
        raise AlertError(key="err_alert_no_target", target=target_id)
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
