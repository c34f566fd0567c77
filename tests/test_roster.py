from datetime import UTC, datetime

import pytest

from leaktrace.model import Field, Source, SourceCategory
from leaktrace.roster.actions import (
    RosterError,
    add_source,
    list_canaries,
    list_plants,
    new_canary,
    plant,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def study(store):
    add_source(store, Source("企查查", SourceCategory.CREDIT_INQUIRY, signatures=("【企查查】",)))
    add_source(store, Source("Lendly", SourceCategory.LOAN_PLATFORM))
    add_source(store, Source("ShopA", SourceCategory.ECOMMERCE))
    return store


def test_canary_binds_a_normalised_contact_to_a_stored_persona(study):
    canary = new_canary(study, phone="138 0013 8000", seed=5)
    stored = list_canaries(study)[0]
    assert stored.phone == "+8613800138000"
    assert stored.persona == canary.persona
    assert stored.label == "canary-001"


def test_contact_already_bound_is_refused(study):
    new_canary(study, phone="13800138000")
    with pytest.raises(RosterError, match="already bound"):
        new_canary(study, phone="+86 138 0013 8000")


def test_canary_without_contact_is_refused(study):
    with pytest.raises(RosterError, match="contact you control"):
        new_canary(study)


def test_pool_gives_the_first_free_contact(study):
    pool = ["13800138000", "alice@example.org", "13900139000"]
    first = new_canary(study, pool=pool)
    second = new_canary(study, pool=pool)
    assert (first.phone, second.email) == ("+8613800138000", "alice@example.org")


def test_planting_a_control_is_refused(study):
    new_canary(study, phone="13800138000", control=True)
    with pytest.raises(RosterError, match="control"):
        plant(study, "control-001", "Lendly", T0)
    assert list_plants(study) == []


def test_second_plant_warns_and_gets_its_own_spelling(study):
    canary = new_canary(study, phone="13800138000", seed=1)
    first = plant(study, canary.label, "企查查", T0)
    second = plant(study, "+8613800138000", "Lendly", T0)
    assert first.warnings == []
    assert "already planted at 企查查" in second.warnings[0]
    assert first.plant.name_used == canary.persona.name
    assert second.plant.name_used != first.plant.name_used


def test_a_spelling_given_at_two_sources_is_kept_and_marks_neither(study):
    canary = new_canary(study, phone="13800138000", seed=1)
    plant(study, canary.label, "企查查", T0, name_used="王某")
    second = plant(study, canary.label, "Lendly", T0, name_used="王某")
    assert second.plant.name_used == "王某" and second.plant.marker is None
    assert any("marks neither" in w for w in second.warnings)
    assert len(list_plants(study)) == 2


def test_email_plants_get_a_plus_tag_per_source(study):
    new_canary(study, email="alice@example.org", locale="en_US", seed=2)
    fields = (Field.NAME, Field.EMAIL)
    a = plant(study, "alice@example.org", "Lendly", T0, fields).plant
    b = plant(study, "alice@example.org", "ShopA", T0, fields).plant
    assert a.email_used == "alice+lendly@example.org"
    assert b.email_used == "alice+shopa@example.org"
    assert "+shopa" in b.marker


def test_plant_needs_a_time_zone(study):
    new_canary(study, phone="13800138000")
    with pytest.raises(RosterError, match="time zone"):
        plant(study, "canary-001", "Lendly", datetime(2026, 3, 1))


@pytest.mark.parametrize(
    ("canary", "source", "message"),
    [("nobody", "Lendly", "unknown canary"), ("canary-001", "Nowhere", "unknown source")],
)
def test_unknown_names_are_refused(study, canary, source, message):
    new_canary(study, phone="13800138000")
    with pytest.raises(RosterError, match=message):
        plant(study, canary, source, T0)


def test_planting_twice_at_one_source_is_refused(study):
    new_canary(study, phone="13800138000")
    plant(study, "canary-001", "Lendly", T0)
    with pytest.raises(RosterError, match="already planted at Lendly"):
        plant(study, "canary-001", "Lendly", T0)


def test_duplicate_source_is_refused(study):
    with pytest.raises(RosterError, match="already exists"):
        add_source(study, Source("lendly", SourceCategory.OTHER))
