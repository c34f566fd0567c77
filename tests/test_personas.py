import pytest

from leaktrace.roster.personas import make_persona


@pytest.mark.parametrize("locale", ["zh_CN", "en_US", "de_DE", "ja_JP"])
def test_same_seed_gives_same_persona(locale):
    assert make_persona(locale, 1234) == make_persona(locale, 1234)


def test_different_seeds_give_different_people():
    names = {make_persona("zh_CN", seed).id_number for seed in range(50)}
    assert len(names) == 50


def test_persona_without_seed_records_the_seed_it_used():
    persona = make_persona("en_US")
    assert persona.seed is not None
    assert make_persona("en_US", persona.seed) == persona


def test_only_chinese_personas_get_a_resident_id():
    assert make_persona("en_US", 1).id_number is None
    assert make_persona("zh_CN", 1).id_number is not None
