"""Template categories from keyword lexicons kept as data (``data/categories.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

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
def builtin_lexicon() -> Lexicon:
    """The shipped lexicon: category → keyword → weight."""
    data = tomllib.loads(
        resources.files("leaktrace").joinpath("data/categories.toml").read_text(encoding="utf-8")
    )
    return {name: dict(entry["keywords"]) for name, entry in data.items()}


def load_lexicon(extra: Path | None = None) -> Lexicon:
    """The shipped lexicon, with the keywords of a user's file of the same shape added."""
    lexicon = {name: dict(words) for name, words in builtin_lexicon().items()}
    if extra is not None:
        data = tomllib.loads(extra.read_text(encoding="utf-8"))
        for name, entry in data.items():
            lexicon.setdefault(name, {}).update(entry.get("keywords", {}))
    return lexicon


def categorize(text: str, lexicon: Lexicon | None = None) -> Category:
    """The category of a template text, by weighted keyword hits."""
    lower = text.lower()
    scores = {
        name: sum(weight for word, weight in words.items() if word.lower() in lower)
        for name, words in (lexicon or builtin_lexicon()).items()
    }
    best = max(scores, key=lambda name: scores[name], default=OTHER)
    total = sum(scores.values())
    if not total:
        return Category(OTHER, 0.0)
    share = scores[best] / total
    return Category(best, round(share * min(1.0, scores[best] / SATURATION), 3))
