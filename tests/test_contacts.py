import pytest

from leaktrace.roster.contacts import (
    InvalidContact,
    normalize_email,
    normalize_phone,
    split_plus_tag,
    with_plus_tag,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", "US", "+8613800138000"),
        ("8613800138000", "CN", "+8613800138000"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("+44 7400 123456", "CN", "+447400123456"),
    ],
)
def test_phones_are_normalised_to_e164(raw, region, e164):
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize("raw", ["12345", "not a phone", "", "+86 1380013800099", "95588"])
def test_invalid_phones_are_refused_with_a_reason(raw):
    with pytest.raises(InvalidContact, match="phone number"):
        normalize_phone(raw)


def test_emails_are_lowercased_and_checked():
    assert normalize_email("  Alice@Example.ORG ") == "alice@example.org"
    with pytest.raises(InvalidContact):
        normalize_email("alice.example.org")


def test_plus_tags_round_trip():
    tagged = with_plus_tag("alice@example.org", "qcc")
    assert tagged == "alice+qcc@example.org"
    assert split_plus_tag(tagged) == ("alice@example.org", "qcc")
    assert split_plus_tag("alice@example.org") == ("alice@example.org", None)


def test_fictional_drama_numbers_are_accepted_for_simulated_studies():
    assert normalize_phone("07700 900123", "GB") == "+447700900123"
    with pytest.raises(InvalidContact):
        normalize_phone("07700 901123", "GB")
