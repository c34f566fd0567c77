"""CSV that is safe to open in a spreadsheet: spam text is attacker-written.

A text cell starting with a formula character gets a leading apostrophe, which
spreadsheets read as "this is text" and do not show. Cells that already start with
an apostrophe get one more, so ``restore`` gives back exactly what was written.
"""

from __future__ import annotations

import pandas as pd

# A cell starting with one of these is read as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_START = (*_FORMULA_START, "'")


def neutralise(value: object) -> object:
    """A text cell that would start a formula (or starts with an apostrophe) gets one."""
    if isinstance(value, str) and value.startswith(_ESCAPED_START):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The text ``neutralise`` was given, from the cell it wrote."""
    return value[1:] if value.startswith("'") else value


def neutralise_sql(column: str) -> str:
    """The SQL expression doing ``neutralise`` on a VARCHAR column (for DuckDB's COPY)."""
    starts = ", ".join(f"chr({ord(c)})" for c in _ESCAPED_START)
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN chr(39) || {column} ELSE {column} END"


def safe_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV (with BOM, for spreadsheets) with formula cells neutralised."""
    cleaned = frame.copy()
    for column in cleaned.columns:
        if cleaned[column].dtype == object or pd.api.types.is_string_dtype(cleaned[column]):
            cleaned[column] = cleaned[column].map(neutralise)
    return cleaned.to_csv(index=False).encode("utf-8-sig")
