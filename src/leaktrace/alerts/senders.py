"""How each kind of target is sent an alert: one function per kind, in :data:`SENDERS`.

- ``webhook``: POST the alert's JSON object (:meth:`Alert.as_json`).
- ``ntfy``: POST the text as the body to the topic URL, with ntfy's ``Title``,
  ``Priority`` and ``Tags`` headers; a non-ASCII title (a Chinese source name) is sent
  as an RFC 2047 encoded word, which ntfy decodes.
- ``slack``: POST ``{"text": ...}``, the shape Slack's incoming webhooks (and
  Mattermost's, Rocket.Chat's, Discord's ``/slack`` endpoint) accept; ``&``, ``<`` and
  ``>`` are escaped so a spammer's signature or link host in a campaign label cannot
  become a link or a mention.
- ``email``: an RFC 5322 message, UTF-8 subject and body, over SMTP with STARTTLS or
  implicit TLS as the target says, logging in with the password read from the
  environment variable it names.

Each raises :class:`DeliveryError` with a one-line reason; retries are the outbox's.
The HTTP senders use the standard library (urllib): no client library to install.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from leaktrace.alerts.model import Alert, DeliveryError, Target

USER_AGENT = "leaktrace-alerts"
# ntfy priorities (1 min … 5 max) and tags (emoji short codes ntfy shows in the title).
NTFY_PRIORITY = {"leaked": "5", "suspected": "4", "campaign": "4", "test": "3"}
NTFY_TAGS = {
    "leaked": "rotating_light,leaktrace",
    "suspected": "warning,leaktrace",
    "campaign": "loudspeaker,leaktrace",
    "test": "white_check_mark,leaktrace",
}

Sender = Callable[[Target, Alert, float], None]


def _secret(target: Target, option: str) -> str | None:
    """The secret a target's option names, from the environment; None when it names none."""
    name = target.options.get(option)
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise DeliveryError(key="err_delivery_env_unset", name=name, target=target.id)
    return value


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> None:
    """POST ``body`` to the target's URL; anything but a 2xx answer is a DeliveryError."""
    headers = {"User-Agent": USER_AGENT, **headers}
    token = _secret(target, "token_env")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(target.address, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip()
        if detail:
            raise DeliveryError(
                key="err_delivery_http_detail", code=exc.code, reason=exc.reason, detail=detail
            ) from None
        raise DeliveryError(key="err_delivery_http", code=exc.code, reason=exc.reason) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(
            key="err_delivery_unreachable", address=target.address, error=str(exc.reason)
        ) from None
    except TimeoutError:
        raise DeliveryError(
            key="err_delivery_no_answer", address=target.address, timeout=timeout
        ) from None
    except (OSError, ValueError) as exc:  # a reset connection, a malformed URL
        raise DeliveryError(
            key="err_delivery_failed", address=target.address, error=str(exc)
        ) from None


def send_webhook(target: Target, alert: Alert, timeout: float) -> None:
    """The generic JSON webhook."""
    body = json.dumps(alert.as_json(), ensure_ascii=False).encode()
    post(target, body, {"Content-Type": "application/json; charset=utf-8"}, timeout)


def rfc2047(text: str) -> str:
    """A header value ASCII as it is, else as an RFC 2047 encoded word (UTF-8, base64)."""
    if text.isascii():
        return text
    return Header(text, "utf-8").encode(maxlinelen=10_000)


def send_ntfy(target: Target, alert: Alert, timeout: float) -> None:
    """ntfy's publish API: the text as the body, the rest in headers."""
    level = alert.verdict if alert.event == "verdict" else alert.event
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": rfc2047(alert.title),
        "Priority": NTFY_PRIORITY.get(level or "", "3"),
        "Tags": NTFY_TAGS.get(level or "", "leaktrace"),
    }
    post(target, alert.text.encode(), headers, timeout)


def slack_escape(text: str) -> str:
    """Text for Slack's mrkdwn: the three characters it reads as markup, escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_slack(target: Target, alert: Alert, timeout: float) -> None:
    """A Slack-compatible incoming webhook: ``{"text": ...}``, the title in bold."""
    text = f"*{slack_escape(alert.title)}*\n{slack_escape(alert.text)}"
    body = json.dumps({"text": text}, ensure_ascii=False).encode()
    post(target, body, {"Content-Type": "application/json; charset=utf-8"}, timeout)


def email_message(target: Target, alert: Alert) -> EmailMessage:
    """The alert as an e-mail: UTF-8 subject (RFC 2047 on the wire) and UTF-8 text body."""
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = target.options["from"]
    message["To"] = target.address
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=target.options["from"].rpartition("@")[2])
    # Quoted-printable: 7-bit on the wire for any server, the ASCII parts still legible.
    message.set_content(
        f"{alert.text}\n\n-- \nleaktrace alert ({alert.event}, {alert.at})\n",
        cte="quoted-printable",
    )
    return message


def send_email(target: Target, alert: Alert, timeout: float) -> None:
    """Send the alert over SMTP: STARTTLS or implicit TLS as configured, login if a user."""
    o = target.options
    password = _secret(target, "password_env") if o.get("smtp_user") else None
    message = email_message(target, alert)
    context = ssl.create_default_context()
    try:
        if o.get("ssl"):
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                o["smtp_host"], o["smtp_port"], timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(o["smtp_host"], o["smtp_port"], timeout=timeout)
        with smtp:
            if o.get("starttls") and not o.get("ssl"):
                smtp.starttls(context=context)
            if o.get("smtp_user"):
                smtp.login(o["smtp_user"], password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace").rstrip() if exc.smtp_error else ""
        if text:
            raise DeliveryError(
                key="err_delivery_smtp_reply", code=exc.smtp_code, reply=text
            ) from None
        raise DeliveryError(key="err_delivery_smtp_code", code=exc.smtp_code) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            key="err_delivery_smtp_refused", recipients=", ".join(exc.recipients)
        ) from None
    except TimeoutError:
        raise DeliveryError(
            key="err_delivery_no_answer",
            address=f"{o['smtp_host']}:{o['smtp_port']}",
            timeout=timeout,
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            key="err_delivery_smtp_failed",
            host=o["smtp_host"],
            port=o["smtp_port"],
            error=str(exc),
        ) from None
    if refused:
        raise DeliveryError(key="err_delivery_smtp_refused", recipients=", ".join(refused))


SENDERS: dict[str, Sender] = {
    "webhook": send_webhook,
    "ntfy": send_ntfy,
    "slack": send_slack,
    "email": send_email,
}


def send(target: Target, alert: Alert, timeout: float) -> None:
    """Send ``alert`` to ``target`` once, within ``timeout`` seconds per network step."""
    SENDERS[target.kind](target, alert, timeout)
