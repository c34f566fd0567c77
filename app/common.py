"""What every page shares: the store, cached queries keyed by the store's version, and the
reader's language (every word on a page comes from :mod:`leaktrace.i18n`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st

from leaktrace import i18n, views
from leaktrace.store import Store, default_db_path

T = TypeVar("T")

# What Markdown (and Streamlit's :color[] and $math$) reads anywhere in a line, and what
# it reads only at a line's start (headings, lists, quotes).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()!|<>~:$=&\"'])")
_LINE_START = re.compile(r"^(\s*)([#>+\-]|\d+[.)])", re.M)


def said(exc: Exception) -> str:
    """An error in the reader's language (its English text when the library gave no key)."""
    from leaktrace.errors import LeaktraceError

    return exc.said(language()) if isinstance(exc, LeaktraceError) else str(exc)


def md(text: object) -> str:
    """Text from a file, a spammer or a user, safe inside a Markdown string: shown, not obeyed."""
    escaped = _MARKDOWN.sub(r"\\\1", str(text))
    return _LINE_START.sub(lambda m: m[1] + "\\" + m[2], escaped)


def _args() -> argparse.Namespace:
    """``--db`` and ``--lang`` after ``--`` on the streamlit command line."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--lang")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known


def db_path() -> Path:
    """``--db`` after ``--`` on the streamlit command line, else ``LEAKTRACE_DB``/the default."""
    known = _args()
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


def writer() -> Store:
    """The store for a page's action (an import, an edit, an analysis, a pack).

    A page run holds one connection to save openings (``main.py``); an action gives it
    back first, so a long import or an analysis that sends alerts does not keep the
    CLI or the receiver waiting, and settings it makes end with its own connection.
    """
    current = store()
    current.release()
    return current


def analyse() -> Any:
    """The whole analysis of this store (``pipeline.analyse``); the pipeline and the
    libraries it uses load when a page first asks for it, not with every page."""
    from leaktrace.pipeline import analyse as run

    return run(writer())


def changed() -> None:
    """After a write: drop cached query results (the file version also changes)."""
    _cached.clear()


def default_language() -> str:
    """``--lang``, else the browser's language, else that of most personas."""
    return i18n.choose_language(
        _args().lang, st.context.locale, default=query(views.report_language)
    )


def language() -> str:
    """The reader's language: the sidebar switch, remembered in the URL (``?lang=``)."""
    if st.session_state.get("lang") not in i18n.LANGUAGES:
        st.session_state["lang"] = i18n.language(st.query_params.get("lang")) or (
            default_language()
        )
    return st.session_state["lang"]


def _switched() -> None:
    st.session_state["lang"] = st.session_state["lang-switch"]


def language_switch() -> str:
    """The sidebar's 中文 / English switch; the choice is kept in the session and the URL."""
    lang = language()
    st.sidebar.radio(
        "语言 · Language",
        i18n.LANGUAGES,
        index=i18n.LANGUAGES.index(lang),
        format_func=i18n.LANGUAGE_NAMES.get,
        horizontal=True,
        key="lang-switch",
        on_change=_switched,
    )
    st.query_params["lang"] = lang
    return lang


def t(key: str, /, **args: Any) -> str:
    """The string ``key`` in the reader's language, ``{placeholders}`` filled from ``args``."""
    return i18n.text(language(), key, **args)


def label(kind: str, value: object) -> str:
    """The display word of a stored value (verdict, category…) in the reader's language."""
    return i18n.label(language(), kind, value)


def words(kind: str, values: Iterable[object]) -> dict:
    """``{value: its display word}``, for a select box's ``format_func``."""
    return {v: label(kind, v) for v in values}


def date_axis(title_key: str = "chart_day") -> Any:
    """A chart's time axis titled and with dates in the reader's language."""
    import altair as alt

    return alt.Axis(title=t(title_key), format=t("chart_date_format"))


def analysis_summary(result: Any) -> str:
    """What an analysis (``pipeline.analyse``) did, in one line in the reader's language."""
    counts: dict[str, int] = {}
    for v in result.attribution.verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    verdicts = t("list_separator").join(
        t("analysed_verdict", sources=n, verdict=label("verdict", name))
        for name, n in sorted(counts.items())
    )
    text = t(
        "analysed",
        messages=result.clustering.messages,
        templates=result.clustering.templates,
        campaigns=result.campaigns.campaigns,
        verdicts=verdicts or t("none"),
    )
    if result.channels:
        text += t("analysed_channels", channels=len(result.channels))
    if result.alerts:
        text += t("analysed_alerts", alerts=result.alerts)
    return text


def unit_name(key: str) -> str:
    """A campaign's or template's store key (``c31``) as the reader says it."""
    from leaktrace.attribution.model import Unit

    unit = Unit.from_key(key)
    return t(f"unit_{unit.kind}", id=unit.id)


def reason(report: dict) -> str:
    """A verdict's reason sentence in the reader's language."""
    return i18n.report_reason(language(), report)


def zone() -> ZoneInfo:
    """The zone times are shown in: the study's; before its first canary, China's for a
    reader of Chinese, else UTC."""
    name = query(views.time_zone) or ("Asia/Shanghai" if language() == "zh" else "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_name() -> str:
    """The study's zone as the pages name it: ``Asia/Shanghai (UTC+08:00)``."""
    from datetime import datetime

    offset = datetime.now(zone()).strftime("%z")
    return f"{zone().key} (UTC{offset[:3]}:{offset[3:]})"


def local_time(value: Any) -> Any:
    """One time in the study's zone (naive times are UTC); missing stays missing."""
    if value is None or value is pd.NaT:
        return value
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(zone())


def shown(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """A view's rows as the reader sees them: times in the study's zone, stored values
    (``labels``: column → kind; the verdict always) in words. Column names stay."""
    out = frame.copy()
    for column in out.select_dtypes(include=["datetimetz"]).columns:
        out[column] = out[column].dt.tz_convert(zone())
    for column, kind in {"verdict": "verdict", **(labels or {})}.items():
        if column in out:
            # One lookup per distinct value, not per row (a table holds thousands).
            words_of = {v: label(kind, v) for v in out[column].dropna().unique()}
            out[column] = out[column].map(words_of, na_action="ignore")
    return out


def headers(frame: pd.DataFrame, config: dict | None = None) -> dict:
    """``column_config`` naming every column in the reader's language, on top of ``config``."""
    out = dict(config or {})
    for column in frame.columns:
        header = label("col", column)
        given = out.get(column)
        out[column] = {**given, "label": header} if isinstance(given, dict) else header
    return out


def grid(
    frame: pd.DataFrame,
    labels: dict[str, str] | None = None,
    config: dict | None = None,
    **kwargs: Any,
) -> Any:
    """Draw a view's table as the reader sees it (:func:`shown`, :func:`headers`)."""
    kwargs.setdefault("width", "stretch")
    return st.dataframe(
        shown(frame, labels), hide_index=True, column_config=headers(frame, config), **kwargs
    )


def empty_store_guide() -> bool:
    """On a store with no canaries, show the first steps and return True."""
    if query(views.overview, zone().key).counts.get("canaries", 0):
        return False
    st.info(t("guide_empty_store"))
    return True


def env_note() -> None:
    """Where this dashboard reads from and the zone times are shown in, in the sidebar."""
    st.sidebar.caption(t("sidebar_store", path=store().path))
    if os.environ.get("LEAKTRACE_DB"):
        st.sidebar.caption(t("sidebar_store_env"))
    st.sidebar.caption(t("sidebar_zone", zone=zone_name()))


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


def picked_row(
    table: pd.DataFrame, key: str, column_config: dict, labels: dict[str, str] | None = None
) -> int | None:
    """Draw ``table`` with one selectable row; the index of the row picked, if any."""
    picked = grid(
        table,
        labels,
        column_config,
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    rows = picked.selection.rows if picked else []
    return rows[0] if rows else None


def sentence(key: str, args: dict) -> str:
    """A sentence the library keyed (a reason, the spam-rate headline) in the reader's language."""
    return i18n.reason(language(), key, args)


def group_name(group: str, source_category: str | None = None) -> str:
    """A spam-rate group's name (stored in English) in the reader's language."""
    from leaktrace.attribution.rates import group_words

    words = group_words(group, source_category)
    return sentence(*words) if words else group


def group_names(rates: pd.DataFrame) -> dict[str, str]:
    """``{group: its name in the reader's language}`` for a rates table, in its order."""
    pairs = rates[["group", "source_category"]].drop_duplicates("group")
    return {
        g: group_name(g, None if pd.isna(c) else c)
        for g, c in zip(pairs["group"], pairs["source_category"], strict=True)
    }


def spam_rates(rates: pd.DataFrame, key: str, source: str | None = None) -> None:
    """Draw spam per canary-week; a clicked bar (or the two boxes) lists the messages behind it."""
    from charts import RATE_PICK, rates_chart, spam_categories

    event = st.altair_chart(rates_chart(rates), on_select="rerun", key=f"{key}-chart")
    clicked = (event.selection.get(RATE_PICK) or [None])[0] if event else None
    names = group_names(rates)
    categories = spam_categories(rates)
    # A new click picks what the boxes show; the boxes can pick any bar by hand too.
    if clicked and clicked != st.session_state.get(f"{key}-clicked"):
        st.session_state[f"{key}-clicked"] = clicked
        st.session_state[f"{key}-group"] = clicked.get("group")
        st.session_state[f"{key}-category"] = clicked.get("category")
    left, right = st.columns(2)
    group = left.selectbox(
        t("rates_pick_group"),
        list(names),
        index=None,
        format_func=names.get,
        placeholder=t("rates_pick_placeholder"),
        key=f"{key}-group",
    )
    category = right.selectbox(
        t("rates_pick_category"),
        categories,
        index=None,
        format_func=words("category", categories).get,
        placeholder=t("rates_pick_placeholder"),
        key=f"{key}-category",
    )
    if group and category:
        behind = query(views.rate_messages, group, category, source)
        row = rates[(rates["group"] == group) & (rates["category"] == category)]
        total = int(row["messages"].iat[0]) if len(row) else len(behind)
        st.caption(
            t(
                "rates_behind",
                group=md(names[group]),
                category=md(label("category", category)),
                messages=total,
            )
            + (t("rates_behind_first", shown=len(behind)) if len(behind) < total else "")
        )
        grid(
            behind,
            {"category": "category"},
            {"body": st.column_config.TextColumn(width="large")},
        )
