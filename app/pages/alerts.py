"""Alerts: where word of a newly suspected or leaked source goes; a test send; what was sent."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from common import done, env_note, flash, md, store
from leaktrace.alerts import (
    KINDS,
    add_target,
    alert_log,
    list_targets,
    remove_target,
    send_test,
)
from leaktrace.errors import LeaktraceError

st.title("Alerts")
env_note()
flash()
st.caption(
    "After every analysis (an import here or from the CLI, the receiver's drains) each"
    " source that becomes suspected or leaked, and each campaign newly reaching a source's"
    " canaries, is sent once to every target below. A target that cannot be reached is"
    " tried again after the next analysis; the log says what is still pending and why."
)

with (
    st.expander("Add a target", expanded=not list_targets(store())),
    st.form("alert-target", clear_on_submit=True),
):
    c1, c2 = st.columns([1, 3])
    kind = c1.selectbox("Kind", KINDS, key="alert-kind")
    address = c2.text_input(
        "URL or e-mail address",
        placeholder="https://ntfy.sh/my-topic · https://hooks.slack.com/… · me@example.org",
        key="alert-address",
    )
    st.caption("E-mail only (the password is read from the environment, never stored):")
    s1, s2, s3 = st.columns([3, 1, 2])
    smtp_host = s1.text_input("SMTP server", key="alert-smtp-host")
    smtp_port = s2.number_input("Port (0: default)", 0, 65535, 0, key="alert-smtp-port")
    security = s3.selectbox("Security", ["STARTTLS", "SSL", "none"], key="alert-security")
    s4, s5, s6 = st.columns(3)
    smtp_user = s4.text_input("Login (optional)", key="alert-smtp-user")
    sender = s5.text_input("From (optional)", key="alert-from")
    password_env = s6.text_input(
        "Password variable",
        placeholder="LEAKTRACE_SMTP_PASSWORD",
        key="alert-password-env",
    )
    if st.form_submit_button("Add target", key="alert-add") and address:
        email = kind == "email"
        try:
            target = add_target(
                store(),
                kind,
                address,
                smtp_host=(smtp_host or None) if email else None,
                smtp_port=(int(smtp_port) or None) if email else None,
                smtp_user=(smtp_user or None) if email else None,
                sender=(sender or None) if email else None,
                starttls=security == "STARTTLS",
                ssl=email and security == "SSL",
                password_env=(password_env or None) if email else None,
            )
        except LeaktraceError as exc:
            st.error(md(exc))
        else:
            done(f"Added target {target.id}: {md(target.describe())}.")

st.subheader("Targets")
targets = list_targets(store())
if not targets:
    st.caption("No targets yet: alerts are kept in the log below but sent nowhere.")
else:
    st.dataframe(
        pd.DataFrame(
            [(t.id, t.kind, t.address, t.settings(), t.enabled) for t in targets],
            columns=["id", "kind", "address", "settings", "enabled"],
        ),
        hide_index=True,
        width="stretch",
    )
    by_id = {t.id: t for t in targets}
    with st.form("alert-actions"):
        picked = st.selectbox(
            "Target",
            list(by_id),
            format_func=lambda i: f"{i}: {by_id[i].describe()}",
            key="alert-pick",
        )
        b1, b2 = st.columns(2)
        test = b1.form_submit_button("Send a test alert", key="alert-test")
        remove = b2.form_submit_button("Remove", key="alert-remove")
    if test and picked is not None:
        with st.spinner("Sending…"):
            ((target, error),) = send_test(store(), int(picked))
        if error is None:
            st.success(f"Test alert sent to {md(target.describe())}.")
        else:
            st.error(f"Test alert to {md(target.describe())} failed: {md(error)}")
    if remove and picked is not None:
        try:
            target = remove_target(store(), int(picked))
        except LeaktraceError as exc:
            st.error(md(exc))
        else:
            done(f"Removed target {target.id}: {md(target.describe())}.")

st.subheader("Log")
entries = alert_log(store(), 500)
if not entries:
    st.caption("No alerts yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                (
                    e.alert_id,
                    e.created_at,
                    e.title,
                    e.target or "",
                    e.status,
                    e.attempts,
                    e.last_error or "",
                    e.delivered_at,
                )
                for e in entries
            ],
            columns=["alert", "found", "title", "target", "status", "tries", "last error", "sent"],
        ),
        hide_index=True,
        width="stretch",
    )
