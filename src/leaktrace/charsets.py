"""Character classes shared by the stages: Han script, and the look-alikes spammers use."""

from __future__ import annotations

import re

# CJK Unified Ideographs: the characters of Chinese names and spam text.
HAN = re.compile(r"[\u4e00-\u9fff]")

# Spammers write Latin names with look-alike digits and signs (W0ods, J3nnifer) to slip
# past filters. Each letter with the characters that stand in for it; masking accepts
# them in names (text/slots.py) and marker matching folds them back (attribution).
LOOKALIKES = {"o": "0", "i": "1l!|", "l": "1|", "e": "3", "a": "4@", "s": "5$", "t": "7", "b": "8"}


def _fold_table() -> tuple[str, str]:
    """(from, to) for SQL ``translate``: every look-alike class to its first letter."""
    classes: list[set[str]] = []
    for letter, alikes in LOOKALIKES.items():
        members = {letter, *alikes}
        joined = [c for c in classes if c & members]
        for c in joined:
            classes.remove(c)
            members |= c
        classes.append(members)
    pairs = []
    for members in classes:
        rep = min(c for c in members if c.isalpha())
        pairs += [(c, rep) for c in sorted(members) if c != rep]
    return "".join(a for a, _ in pairs), "".join(b for _, b in pairs)


_FROM, _TO = _fold_table()


def fold_lookalikes(text: str) -> str:
    """Lower-case ``text`` and fold each look-alike to its letter (W0ods -> woods)."""
    return text.lower().translate(str.maketrans(_FROM, _TO))


def fold_lookalikes_sql(expr: str) -> str:
    """The SQL of :func:`fold_lookalikes` over the SQL expression ``expr``."""
    return f"translate(lower({expr}), '{_FROM}', '{_TO}')"


# Cyrillic and Greek letters drawn like Latin ones (саsh, lоan with Cyrillic а, о):
# folded to Latin where words are matched (categories), never in stored text.
HOMOGLYPHS = str.maketrans(
    "аеорсхуіјѕкмтвнАЕОРСХУІЈЅКМТВНαορτυνΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcxyijskmtbhAEOPCXYIJSKMTBHaoptuvABEHIKMNOPTYX",
)


def fold_homoglyphs(text: str) -> str:
    """Cyrillic and Greek look-alikes of Latin letters as the Latin letters."""
    return text.translate(HOMOGLYPHS)
