"""Template categories from keyword lexicons kept as data (``data/categories.toml``).

Keywords match as words, not as substrings: a Latin keyword only where no letter or
digit touches it ("bet" is not in "better", "apr" not in "April"), after the
look-alikes spammers swap in are folded (l0an, Cyrillic саsh). Chinese keywords
match in the text with the separators spammers put between characters taken out
(贷*款, 贷 款, 贷.款, 【信】【用】【咔】; not punctuation, which ends a clause)
and the variant characters of the lexicon's ``[fold]`` table folded (咔 → 卡), so
phrase lists survive the obfuscations.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from leaktrace.charsets import fold_homoglyphs, fold_lookalikes

OTHER = "other"
# Confidence saturates once the winner's keyword weight reaches this.
SATURATION = 4.0


@dataclass(frozen=True)
class Category:
    """A category name and how sure the lexicon is (0 to 1)."""

    name: str
    confidence: float


Lexicon = dict[str, dict[str, float]]


@cache
def _data() -> dict:
    return tomllib.loads(
        resources.files("leaktrace").joinpath("data/categories.toml").read_text(encoding="utf-8")
    )


@cache
def builtin_lexicon() -> Lexicon:
    """The shipped lexicon: category → keyword → weight."""
    return {name: dict(entry["keywords"]) for name, entry in _data().items() if "keywords" in entry}


@cache
def _han_fold() -> dict[int, str]:
    return str.maketrans(dict(_data().get("fold", {}).get("characters", {})))


def load_lexicon(extra: Path | None = None) -> Lexicon:
    """The shipped lexicon, with the keywords of a user's file of the same shape added."""
    lexicon = {name: dict(words) for name, words in builtin_lexicon().items()}
    if extra is not None:
        data = tomllib.loads(extra.read_text(encoding="utf-8"))
        for name, entry in data.items():
            if "keywords" in entry:
                lexicon.setdefault(name, {}).update(entry["keywords"])
    return lexicon


_HAN_GAP = re.compile(
    r"(?<=[\u4e00-\u9fff])[\s*.·•_\-|/\\~+【】\[\]()（）「」『』]+(?=[\u4e00-\u9fff])"
)


def category_text(text: str) -> str:
    """The text keywords are matched in: look-alikes folded, separators between Han out."""
    folded = fold_lookalikes(fold_homoglyphs(text))
    return _HAN_GAP.sub("", folded).translate(_han_fold())


@cache
def _pattern(word: str) -> re.Pattern[str]:
    """A keyword as a word pattern over :func:`category_text` output."""
    key = category_text(word)
    if re.search(r"[a-z0-9]", key) and key.isascii():
        # Placeholders like <code> match as written; words need a boundary each side.
        left = "" if not key[:1].isalnum() else r"(?<![a-z0-9])"
        right = "" if not key[-1:].isalnum() else r"(?![a-z0-9])"
        return re.compile(f"{left}{re.escape(key)}{right}")
    return re.compile(re.escape(key))


def categorize(text: str, lexicon: Lexicon | None = None) -> Category:
    """The category of a template text, by weighted keyword hits."""
    folded = category_text(text)
    scores = {
        name: sum(weight for word, weight in words.items() if _pattern(word).search(folded))
        for name, words in (lexicon or builtin_lexicon()).items()
    }
    best = max(scores, key=lambda name: scores[name], default=OTHER)
    total = sum(scores.values())
    if not total:
        return Category(OTHER, 0.0)
    share = scores[best] / total
    return Category(best, round(share * min(1.0, scores[best] / SATURATION), 3))
