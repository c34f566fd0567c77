"""Per-plant markers: a name spelling and an e-mail plus-tag unique to one plant.

When one contact is planted at several sources, a message that comes back
addressed to the spelling given to only one of them names the leaker. For
Chinese names one character is swapped for a homophone (same pinyin, so the
variant reads like an ordinary typo); Latin names get a middle initial.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from functools import cache
from importlib import resources

from leaktrace.charsets import HAN
from leaktrace.errors import LeaktraceError


class MarkersExhausted(LeaktraceError, ValueError):
    """No unused name spelling or plus-tag is left for this contact."""


def _pinyin(text: str, *, initials: bool = False) -> list[str]:
    """Toneless pinyin of each character (or its first letter); pypinyin loads on first use."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.FIRST_LETTER if initials else Style.NORMAL)


@cache
def _homophones() -> dict[str, tuple[str, ...]]:
    """Map each toneless pinyin syllable to the name characters that read so."""
    text = resources.files("leaktrace.data").joinpath("name_chars.txt").read_text("utf-8")
    chars = dict.fromkeys(
        ch for line in text.splitlines() if not line.startswith("#") for ch in line.strip()
    )
    groups: dict[str, list[str]] = {}
    for ch in chars:
        groups.setdefault(_pinyin(ch)[0], []).append(ch)
    return {syllable: tuple(group) for syllable, group in groups.items()}


def _chinese_variants(name: str) -> Iterator[str]:
    """Spellings of a Chinese name with one character swapped for a homophone."""
    groups = _homophones()
    # Given-name characters first (from the last), the surname last: a changed
    # surname is the most conspicuous typo.
    for index in reversed(range(len(name))):
        ch = name[index]
        if not HAN.match(ch):
            continue
        for alt in groups.get(_pinyin(ch)[0], ()):
            if alt != ch:
                yield name[:index] + alt + name[index + 1 :]


def _latin_variants(name: str) -> Iterator[str]:
    """Spellings of a Latin name with a middle initial added."""
    parts = name.split()
    if len(parts) < 2:
        parts = [name, ""]
    first, rest = parts[0], " ".join(parts[1:])
    for letter in string.ascii_uppercase:
        yield f"{first} {letter}. {rest}".strip()


def name_variants(name: str) -> Iterator[str]:
    """All marker spellings of ``name``, in the order they are proposed."""
    if HAN.search(name):
        yield from _chinese_variants(name)
    else:
        yield from _latin_variants(name)


def propose_name(name: str, taken: set[str]) -> str:
    """The canonical name if unused, else the first unused variant spelling."""
    if name not in taken:
        return name
    for variant in name_variants(name):
        if variant not in taken:
            return variant
    raise MarkersExhausted(key="err_marker_no_spelling", name=name)


def source_tag(source_name: str) -> str:
    """A short ASCII plus-tag for a source (pinyin initials for Chinese names)."""
    if HAN.search(source_name):
        letters = "".join(_pinyin(source_name, initials=True))
    else:
        letters = source_name
    tag = re.sub(r"[^a-z0-9]", "", letters.lower())[:12]
    return tag or "src"


def propose_tag(source_name: str, taken: set[str]) -> str:
    """A plus-tag for ``source_name`` not yet used by this contact."""
    base = source_tag(source_name)
    if base not in taken:
        return base
    for n in range(2, 1000):
        if f"{base}{n}" not in taken:
            return f"{base}{n}"
    raise MarkersExhausted(key="err_marker_no_tag", source=source_name)
