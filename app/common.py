"""What every page shares: the store, cached queries keyed by the store's version."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import streamlit as st

from leaktrace import views
from leaktrace.store import Store, default_db_path

T = TypeVar("T")

# What Markdown (and Streamlit's :color[] and $math$) reads anywhere in a line, and what
# it reads only at a line's start (headings, lists, quotes).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()!|<>~:$=&\"'])")
_LINE_START = re.compile(r"^(\s*)([#>+\-]|\d+[.)])", re.M)


def md(text: object) -> str:
    """Text from a file, a spammer or a user, safe inside a Markdown string: shown, not obeyed."""
    escaped = _MARKDOWN.sub(r"\\\1", str(text))
    return _LINE_START.sub(lambda m: m[1] + "\\" + m[2], escaped)


def db_path() -> Path:
    """``--db`` after ``--`` on the streamlit command line, else ``LEAKTRACE_DB``/the default."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return Path(known.db).expanduser() if known.db else default_db_path()


@st.cache_resource
def _store(path: str) -> Store:
    # A Store holds a path; every operation opens and closes its own connection, so
    # the CLI and the receiver can import into the same file while this app runs.
    return Store(Path(path))


def store() -> Store:
    """The store this dashboard shows."""
    return _store(str(db_path()))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(name: str, version: tuple, args: tuple):
    return getattr(views, name)(store(), *args)


def query(view: Callable[..., T], *args) -> T:
    """``view(store, *args)``, cached until the store file changes."""
    return _cached(view.__name__, views.store_version(store().path), args)


def changed() -> None:
    """After a write: drop cached query results (the file version also changes)."""
    _cached.clear()


def empty_store_guide() -> bool:
    """On a store with no canaries, show the first steps and return True."""
    if query(views.overview).counts.get("canaries", 0):
        return False
    st.info(
        "This store is empty. Plant your first canary: add a source on **Sources & canaries**,"
        " make a canary bound to a phone number or e-mail address you control, record where"
        " you gave it, then import what that phone or mailbox receives on **Messages**."
        " Or run `leaktrace demo` for a simulated study."
    )
    return True


def env_note() -> None:
    """Where this dashboard reads from, in the sidebar."""
    st.sidebar.caption(f"store: `{store().path}`")
    if os.environ.get("LEAKTRACE_DB"):
        st.sidebar.caption("(from LEAKTRACE_DB)")


def done(message: str) -> None:
    """After a write shown on this page: say so, drop the cache and draw the page again."""
    st.session_state["flash"] = message
    changed()
    st.rerun()


def flash() -> None:
    """The message a write left before the page was drawn again."""
    message = st.session_state.pop("flash", None)
    if message:
        st.success(message)


def picked_row(table: pd.DataFrame, key: str, column_config: dict) -> int | None:
    """Draw ``table`` with one selectable row; the index of the row picked, if any."""
    picked = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
        column_config=column_config,
    )
    rows = picked.selection.rows if picked else []
    return rows[0] if rows else None


def spam_rates(rates: pd.DataFrame, key: str, source: str | None = None) -> None:
    """Draw spam per canary-week; a clicked bar (or the two boxes) lists the messages behind it."""
    from charts import RATE_PICK, rates_chart, spam_categories

    event = st.altair_chart(rates_chart(rates), on_select="rerun", key=f"{key}-chart")
    clicked = (event.selection.get(RATE_PICK) or [None])[0] if event else None
    groups = list(dict.fromkeys(rates["group"]))
    categories = spam_categories(rates)
    # A new click picks what the boxes show; the boxes can pick any bar by hand too.
    if clicked and clicked != st.session_state.get(f"{key}-clicked"):
        st.session_state[f"{key}-clicked"] = clicked
        st.session_state[f"{key}-group"] = clicked.get("group")
        st.session_state[f"{key}-category"] = clicked.get("category")
    left, right = st.columns(2)
    group = left.selectbox("Messages behind the bar of", groups, index=None, key=f"{key}-group")
    category = right.selectbox("Category", categories, index=None, key=f"{key}-category")
    if group and category:
        shown = query(views.rate_messages, group, category, source)
        row = rates[(rates["group"] == group) & (rates["category"] == category)]
        total = int(row["messages"].iat[0]) if len(row) else len(shown)
        st.caption(
            f"{md(group)} · {md(category)}: {total:,} messages"
            + (f" (the first {len(shown):,} shown)" if len(shown) < total else "")
        )
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={"body": st.column_config.TextColumn("text", width="large")},
        )
