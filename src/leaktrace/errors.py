"""The one base class of the errors a user can act on; the CLI and the dashboard catch it.

Every domain error subclasses :class:`LeaktraceError` and says in one line what went
wrong and what to try. Anything else that escapes is a bug and keeps its traceback.

An error raised with a key of the string table (``data/i18n/errors_*.toml``) and its
values, ``RosterError(key="err_roster_no_source", name=name)``, takes its English text from
the table, and a front end can say it in the reader's language (:meth:`said`). An error
raised with a message only is English wherever it is shown.
"""

from __future__ import annotations

from typing import Any, Self


class LeaktraceError(Exception):
    """An error to show as one line, without a traceback."""

    def __init__(self, message: str = "", /, *, key: str | None = None, **values: Any) -> None:
        if key is not None and not message:
            from leaktrace import i18n

            message = i18n.text("en", key, **values)
        super().__init__(message)
        self.key, self.values = key, values

    @classmethod
    def saying(cls, other: LeaktraceError) -> Self:
        """An error of this kind that says what ``other`` says, in any language."""
        return cls(str(other), key=other.key, **other.values)

    def said(self, lang: str) -> str:
        """The error in ``lang`` (``zh`` or ``en``); its English text when it has no key."""
        if self.key is None:
            return str(self)
        from leaktrace import i18n

        return i18n.text(lang, self.key, **self.values)
