from datetime import date

import pytest
from faker.providers.ssn.zh_CN import Provider as ZhSsn
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.roster.personas import make_persona
from leaktrace.roster.resident_id import check_digit, is_valid_resident_id, make_resident_id


def test_check_digit_matches_the_standards_example():
    # GB 11643-1999 works through 11010519491231002X.
    assert check_digit("11010519491231002") == "X"


@given(st.text("0123456789", min_size=17, max_size=17))
def test_check_digit_agrees_with_an_independent_formula(first17):
    # Faker's formula: the MOD 11-2 check read as a base-13 trick.
    expected = str((1 - 2 * int(first17, 13)) % 11).replace("10", "X")
    assert check_digit(first17) == expected


@given(
    region=st.sampled_from([c for c in ZhSsn.area_codes if not c.endswith("00")]),
    birth=st.dates(date(1930, 1, 1), date(2010, 12, 31)),
    sequence=st.integers(0, 10_000),
    female=st.booleans(),
)
def test_made_ids_validate_and_encode_gender(region, birth, sequence, female):
    value = make_resident_id(region, birth, sequence, female)
    assert is_valid_resident_id(value)
    assert value[6:14] == birth.strftime("%Y%m%d")
    assert int(value[16]) % 2 == (0 if female else 1)


@pytest.mark.parametrize(
    "bad",
    ["11010519491231002Y", "110105194912310021", "99010519491231002X", "11010519491331002X", "1"],
)
def test_invalid_ids_are_refused(bad):
    assert not is_valid_resident_id(bad)


@pytest.mark.parametrize("seed", range(25))
def test_persona_id_agrees_with_persona(seed):
    persona = make_persona("zh_CN", seed)
    assert is_valid_resident_id(persona.id_number)
    assert persona.id_number[:6] in ZhSsn.area_codes
    assert not persona.id_number[:6].endswith("00")
    assert persona.id_number[6:14] == persona.birth_date.strftime("%Y%m%d")
    assert int(persona.id_number[16]) % 2 == (0 if persona.gender == "F" else 1)
