"""The words of leaktrace in Chinese and English: one table for the dashboard, the report
and the verdicts' reason sentences.

The table is data, ``data/i18n/*.toml``: each file holds an ``[en]`` and a ``[zh]`` table
with the same keys (a test checks keys and ``{placeholders}`` agree). The files are read
once, on first use, and merged into one table per language; a key defined in two files
is a bug and raises. Stored values (verdicts, categories) stay English; :func:`label`
gives their display words. A reason sentence is stored as a key and its arguments next
to its English text, so any front end can say it in the reader's language.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
FILES = (
    "report",
    "dashboard",
    "verdicts",
    # Errors a user can act on (LeaktraceError raised with a key), by the part raising them.
    "errors_roster",
    "errors_ingest",
    "errors_output",
)
# Sentence arguments holding a stored value, and the label table that says it.
STORED_ARGS = {"source_category": "source_category", "spam": "spam"}


@cache
def _tables() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {lang: {} for lang in LANGUAGES}
    for name in FILES:
        raw = resources.files("leaktrace.data").joinpath(f"i18n/{name}.toml").read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
        for lang in LANGUAGES:
            clash = merged[lang].keys() & data[lang].keys()
            if clash:
                raise RuntimeError(f"i18n/{name}.toml redefines {sorted(clash)}")
            merged[lang].update(data[lang])
    return merged


def language(tag: object) -> str | None:
    """``zh`` or ``en`` from a language tag (``zh-CN``, ``en_US``, ``zh``), else None."""
    if not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def choose_language(*candidates: object, default: str = "en") -> str:
    """The first candidate that names a known language, in the order given."""
    for candidate in candidates:
        found = language(candidate)
        if found:
            return found
    return default


def strings(lang: str) -> Mapping[str, Any]:
    """Every word in ``lang`` (``zh`` or ``en``), keyed as in the TOML files."""
    return _tables()[lang]


def text(lang: str, key: str, /, **args: Any) -> str:
    """The string ``key`` in ``lang`` with its ``{placeholders}`` filled from ``args``."""
    words = _tables()[lang]
    value = words[key] if key in words else _tables()["en"][key]
    return value.format(**args) if args else value


def label(lang: str, kind: str, value: object) -> str:
    """The display word of a stored value (``verdict``, ``category``…); the value if unknown."""
    words = _tables()[lang]
    table = words.get(kind)
    if isinstance(table, dict):
        return table.get(str(value), str(value))
    return words.get(f"{kind}_{value}", str(value))


def _unit(lang: str, args: Mapping[str, Any]) -> str:
    """``Campaign 3 (label)`` in ``lang`` from a reason's unit arguments."""
    kind = text(lang, f"unit_{args['unit_kind']}", id=args["unit_id"])
    label_ = args.get("unit_label")
    return text(lang, "unit_labelled", unit=kind, label=label_) if label_ else kind


def _canaries(lang: str, of: str | None) -> str:
    """``credit inquiry canaries`` in ``lang``; canaries of any source without a category."""
    if of is None:
        return text(lang, "rates_canaries")
    return text(lang, "rates_canaries_of", source_category=label(lang, "source_category", of))


def reason(lang: str, key: str, args: Mapping[str, Any]) -> str:
    """A sentence the library keyed (a verdict's reason, the spam-rate headline, a rate
    group's name) in ``lang`` from its key and arguments. Arguments that stand for words
    are said in ``lang``: ``unit_*`` as ``{unit}``, ``canaries_of`` as ``{canaries}``, and
    the stored values in :data:`STORED_ARGS` as their display words."""
    values = dict(args)
    if "unit_kind" in values:
        values["unit"] = _unit(lang, values)
    if "canaries_of" in values:
        values["canaries"] = _canaries(lang, values["canaries_of"])
    for name, kind in STORED_ARGS.items():
        if values.get(name) is not None:
            values[name] = label(lang, kind, values[name])
    return text(lang, key, **values)


def report_reason(lang: str, report: Mapping[str, Any]) -> str:
    """The reason of a stored verdict report in ``lang``; its English text when it has no key
    (reports stored before reasons were keyed) or the key is unknown to this version."""
    key = report.get("reason_key")
    if key and key in _tables()[lang]:
        try:
            return reason(lang, key, report.get("reason_args") or {})
        except (KeyError, IndexError, ValueError):
            pass
    return str(report.get("reason") or "")


def placeholders(value: object) -> set[str]:
    """The ``{names}`` a string (or each string of a list or table) expects."""
    if isinstance(value, str):
        return {name for _, name, _, _ in string.Formatter().parse(value) if name}
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    return set()
