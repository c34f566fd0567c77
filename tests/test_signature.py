"""The sender's signature: 【…】 or […] first or last in a text, found without a full scan."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from leaktrace.text.signature import find_signature

# One search over the whole text: the definition the faster search must agree with.
_REFERENCE = re.compile(
    r"^\s*(?:【([^】]{1,30})】|\[([^\]]{1,30})\])|(?:【([^】]{1,30})】|\[([^\]]{1,30})\])\s*$"
)


def reference(text: str) -> tuple | None:
    found = _REFERENCE.search(text)
    if found is None:
        return None
    index = next(i for i, group in enumerate(found.groups()) if group is not None)
    return found.groups()[index], index in (0, 2), *found.span()


def found(text: str) -> tuple | None:
    sig = find_signature(text)
    return None if sig is None else (sig.name, sig.full_width, sig.start, sig.end)


@given(st.lists(st.sampled_from(list("【】[] \t\nab中1")), max_size=80).map("".join))
def test_the_signature_is_the_one_a_search_of_the_whole_text_finds(text):
    assert found(text) == reference(text)


def test_signatures_first_last_and_neither():
    assert found("【招联金融】您有额度") == ("招联金融", True, 0, 6)
    assert found("Your code is 1234 [Bank] ") == ("Bank", False, 18, 25)
    assert found("【甲】中间【乙】") == ("甲", True, 0, 3)  # the start's wins
    assert found("【x【b】") == ("x【b", True, 0, 5)  # as the whole-text search reads it
    assert found("no signature 【here】 inside") is None
    assert found("[" + "a" * 31 + "]") is None  # longer than a signature
