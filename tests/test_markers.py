import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from leaktrace.roster.markers import (
    MarkersExhausted,
    name_variants,
    propose_name,
    propose_tag,
    source_tag,
)
from leaktrace.roster.personas import make_persona


def _toneless(text: str) -> list[str]:
    return lazy_pinyin(text, style=Style.NORMAL)


@pytest.mark.parametrize("seed", range(40))
def test_chinese_variants_are_homophones_differing_in_one_character(seed):
    name = make_persona("zh_CN", seed).name
    variants = list(name_variants(name))
    assert len(variants) >= 2, name
    for variant in variants:
        assert _toneless(variant) == _toneless(name)
        assert sum(a != b for a, b in zip(variant, name, strict=True)) == 1


def test_latin_variants_add_a_middle_initial():
    variants = list(name_variants("John Smith"))
    assert variants[:2] == ["John A. Smith", "John B. Smith"]
    assert len(set(variants)) == 26


@given(st.integers(0, 10_000), st.integers(1, 8))
def test_proposed_spellings_never_repeat_within_a_contact(seed, plants):
    name = make_persona("zh_CN", seed).name
    taken: set[str] = set()
    for _ in range(plants):
        try:
            spelling = propose_name(name, taken)
        except MarkersExhausted:
            break
        assert spelling not in taken
        taken.add(spelling)
    assert name in taken


def test_exhausted_spellings_raise():
    taken = {"Jo"} | set(name_variants("Jo"))
    with pytest.raises(MarkersExhausted):
        propose_name("Jo", taken)


def test_plus_tags_are_unique_and_ascii():
    assert source_tag("企查查").isascii()
    assert source_tag("Credit Karma") == "creditkarma"
    assert propose_tag("Credit Karma", {"creditkarma"}) == "creditkarma2"
