"""The sender's signature: 【平台名】 (or [Name] in English SMS), first or last in a text."""

from __future__ import annotations

import re
from typing import NamedTuple

_BRACKETED = r"(?:【([^】]{1,30})】|\[([^\]]{1,30})\])"
_AT_START = re.compile(rf"\s*{_BRACKETED}")
_AT_END = re.compile(rf"{_BRACKETED}\s*$")
_LONGEST = 32  # a signature with its brackets: an end one starts this close to the end


class Signature(NamedTuple):
    """A signature found in a text: its name, bracket style and where it stood.

    A named tuple: found in every message staged and masked, it is made a million times.
    """

    name: str
    full_width: bool  # 【…】 rather than […]
    start: int
    end: int

    @property
    def text(self) -> str:
        """The signature with its brackets, as written."""
        return f"【{self.name}】" if self.full_width else f"[{self.name}]"


def find_signature(text: str) -> Signature | None:
    """The signature at the start or the end of ``text``, if it has one (the start's first)."""
    found = _AT_START.match(text)
    if found is None:
        # Only the last characters can open an end signature: search there, not everywhere.
        found = _AT_END.search(text, max(0, len(text.rstrip()) - _LONGEST))
        if found is None:
            return None
    full, square = found.groups()
    return Signature(full if full is not None else square, full is not None, *found.span())


def signature_text(text: str) -> str | None:
    """The signature of ``text`` with its brackets (``【平台名】``), if it has one."""
    found = find_signature(text)
    return found.text if found else None
