"""One spelling per message text before comparison: NFKC, no invisible characters, no emoji.

NFKC folds full-width Latin letters, digits and punctuation (Ｖ，１２３) to their
ASCII forms, so spam that swaps widths to dodge filters compares equal. Zero-width
characters, which spammers insert for the same reason, and emoji, which vary per
message, are dropped. Chinese has no spaces, so runs of whitespace collapse to one.

Spammers also break what filters look for; those spellings are undone here, so
masking and clustering see one form (the stored message keeps what was sent):
- separators between Chinese characters (贷*款, 贷 款, 贷.款, 贷·款) are taken out;
- an ideographic full stop inside a host (t。cn) is a dot;
- broken or spelled-out link schemes (http:/, http//, hxxp://, h t t p s ://) are
  written ``http://`` / ``https://``;
- a word mixing Latin with Cyrillic or Greek look-alikes (cаsh with a Cyrillic а)
  is written in Latin letters.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import emoji

from leaktrace.charsets import fold_homoglyphs

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_HAN_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[\s*.·•_|~]+(?=[\u4e00-\u9fff])")
_HOST_DOT = re.compile(r"(?<=[A-Za-z0-9])。(?=[A-Za-z0-9])")
_GREEK_CYRILLIC = re.compile(r"[\u0370-\u04ff]")
_LETTERS = re.compile(r"[A-Za-z\u0370-\u04ff]+")
_SCHEME = re.compile(
    r"(?<![A-Za-z])h\s?[tx]\s?[tx]\s?p\s?(s?)\s?(?::\s?/\s?/?|/\s?/)\s?", re.IGNORECASE
)


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


def _latin_if_mixed(word: re.Match[str]) -> str:
    """A word of Latin and Greek or Cyrillic letters in Latin letters; others as they are."""
    text = word[0]
    if text.isascii() or not re.search("[A-Za-z]", text):
        return text
    return fold_homoglyphs(text)


# Full-width punctuation Chinese text is written with, and its NFKC form (one ASCII
# character each, which changes nothing else NFKC does to the text around it).
_FULL_WIDTH = tuple((chr(ord(c) + 0xFEE0), c) for c in ",:;!?()")


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, in a seventh of the time for most messages.

    Nine in ten Chinese messages are NFKC but for their full-width commas and colons:
    those are replaced, and the text is normalised only when something else is left.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    for wide, narrow in _FULL_WIDTH:
        text = text.replace(wide, narrow)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """The comparable form of a message text."""
    # The checks before each step cost a fraction of the step, and most texts need few
    # of them: masking spent nearly a third of its time here.
    text = _nfkc(text)
    text = _INVISIBLE.sub("", text)
    text = strip_emoji(text)
    text = " ".join(text.split())  # runs of whitespace as one space (str.isspace is re's \s)
    if not text.isascii():
        text = _HAN_GAP.sub("", text)
        if "。" in text:  # NFKC made every halfwidth ｡ this one
            text = _HOST_DOT.sub(".", text)
        if _GREEK_CYRILLIC.search(text):
            text = _LETTERS.sub(_latin_if_mixed, text)
    if "/" in text:
        text = _SCHEME.sub(lambda m: f"http{m[1].lower()}://", text)
    return text
