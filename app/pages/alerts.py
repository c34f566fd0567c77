"""Alerts: where word of a newly suspected or leaked source goes; a test send; what was sent."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from common import done, env_note, flash, grid, md, said, store, t, words, writer
from leaktrace.alerts import (
    KINDS,
    add_target,
    alert_log,
    list_targets,
    remove_target,
    send_test,
)
from leaktrace.errors import LeaktraceError

st.title(t("alerts_title"))
env_note()
flash()
st.caption(t("alerts_help"))

with (
    st.expander(t("alerts_add_target"), expanded=not list_targets(store())),
    st.form("alert-target", clear_on_submit=True),
):
    c1, c2 = st.columns([1, 3])
    kind = c1.selectbox(
        t("alerts_kind"), KINDS, format_func=words("alert_kind", KINDS).get, key="alert-kind"
    )
    address = c2.text_input(
        t("alerts_address"),
        placeholder="https://ntfy.sh/my-topic · https://hooks.slack.com/… · me@example.org",
        key="alert-address",
    )
    st.caption(t("alerts_email_only"))
    s1, s2, s3 = st.columns([3, 1, 2])
    smtp_host = s1.text_input(t("alerts_smtp_host"), key="alert-smtp-host")
    smtp_port = s2.number_input(t("alerts_smtp_port"), 0, 65535, 0, key="alert-smtp-port")
    security = s3.selectbox(
        t("alerts_security"),
        ["STARTTLS", "SSL", "none"],
        format_func={"STARTTLS": "STARTTLS", "SSL": "SSL", "none": t("alerts_security_none")}.get,
        key="alert-security",
    )
    s4, s5, s6 = st.columns(3)
    smtp_user = s4.text_input(t("alerts_smtp_user"), key="alert-smtp-user")
    sender = s5.text_input(t("alerts_from"), key="alert-from")
    password_env = s6.text_input(
        t("alerts_password_env"),
        placeholder="LEAKTRACE_SMTP_PASSWORD",
        key="alert-password-env",
    )
    if st.form_submit_button(t("alerts_add"), key="alert-add") and address:
        email = kind == "email"
        try:
            target = add_target(
                writer(),
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
            st.error(md(said(exc)))
        else:
            done(t("alerts_added", id=target.id, target=md(target.describe())))

st.subheader(t("alerts_targets"))
targets = list_targets(store())
if not targets:
    st.caption(t("alerts_no_targets"))
else:
    grid(
        pd.DataFrame(
            [(x.id, x.kind, x.address, x.settings(), x.enabled) for x in targets],
            columns=["id", "kind", "address", "settings", "enabled"],
        ),
        {"kind": "alert_kind"},
    )
    by_id = {x.id: x for x in targets}
    with st.form("alert-actions"):
        picked = st.selectbox(
            t("alerts_target"),
            list(by_id),
            format_func=lambda i: f"{i}: {by_id[i].describe()}",
            key="alert-pick",
        )
        b1, b2 = st.columns(2)
        test = b1.form_submit_button(t("alerts_test"), key="alert-test")
        remove = b2.form_submit_button(t("alerts_remove"), key="alert-remove")
    if test and picked is not None:
        with st.spinner(t("alerts_sending")):
            ((target, error),) = send_test(writer(), int(picked))
        if error is None:
            st.success(t("alerts_test_sent", target=md(target.describe())))
        else:
            st.error(t("alerts_test_failed", target=md(target.describe()), error=md(said(error))))
    if remove and picked is not None:
        try:
            target = remove_target(writer(), int(picked))
        except LeaktraceError as exc:
            st.error(md(said(exc)))
        else:
            done(t("alerts_removed", id=target.id, target=md(target.describe())))

st.subheader(t("alerts_log"))
entries = alert_log(store(), 500)
if not entries:
    st.caption(t("alerts_no_alerts"))
else:
    grid(
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
        {"status": "alert_status"},
    )
