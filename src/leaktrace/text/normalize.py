"""One spelling per message text before comparison: NFKC, no invisible characters, no emoji.

NFKC folds full-width Latin letters, digits and punctuation (Ｖ，１２３) to their
ASCII forms, so spam that swaps widths to dodge filters compares equal. Zero-width
characters, which spammers insert for the same reason, and emoji, which vary per
message, are dropped. Chinese has no spaces, so runs of whitespace collapse to one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import emoji

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_SPACE = re.compile(r"\s+")


# Every emoji code point above the BMP lies in these two blocks (pictographs and
# tag characters, checked against the emoji package's data in the tests); one range
# each keeps the regex's character test constant-time instead of hundreds of ranges.
ASTRAL_EMOJI = ((0x1F000, 0x1FAFF), (0xE0020, 0xE007F))


@cache
def _emoji_chars() -> re.Pattern[str]:
    """Every non-ASCII code point used by an emoji sequence, from the emoji package's data."""
    points = sorted({ord(ch) for e in emoji.EMOJI_DATA for ch in e if 0x7F < ord(ch) <= 0xFFFF})
    ranges, start, end = [], points[0], points[0]
    for point in points[1:]:
        if point == end + 1:
            end = point
            continue
        ranges.append((start, end))
        start = end = point
    ranges.append((start, end))
    ranges.extend(ASTRAL_EMOJI)
    body = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )
    return re.compile(f"[{body}\ufe0e\ufe0f]+")


def strip_emoji(text: str) -> str:
    """``text`` without emoji (skin tones, joiners and variation selectors included)."""
    if text.isascii():  # the emoji class holds no ASCII code point
        return text
    return _emoji_chars().sub("", text)


def normalize(text: str) -> str:
    """The comparable form of a message text."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = strip_emoji(text)
    return _SPACE.sub(" ", text).strip()
