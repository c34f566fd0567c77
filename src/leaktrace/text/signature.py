"""The sender's signature: 【平台名】 (or [Name] in English SMS), first or last in a text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIGNATURE = re.compile(
    r"^\s*(?:【([^】]{1,30})】|\[([^\]]{1,30})\])|(?:【([^】]{1,30})】|\[([^\]]{1,30})\])\s*$"
)


@dataclass(frozen=True)
class Signature:
    """A signature found in a text: its name, bracket style and where it stood."""

    name: str
    full_width: bool  # 【…】 rather than […]
    start: int
    end: int

    @property
    def text(self) -> str:
        """The signature with its brackets, as written."""
        return f"【{self.name}】" if self.full_width else f"[{self.name}]"


def find_signature(text: str) -> Signature | None:
    """The signature at the start or the end of ``text``, if it has one."""
    found = _SIGNATURE.search(text)
    if found is None:
        return None
    index = next(i for i, group in enumerate(found.groups()) if group is not None)
    return Signature(found.groups()[index], index in (0, 2), *found.span())
