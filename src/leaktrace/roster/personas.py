"""Faker personas for canaries: reproducible from a seed, stored once made."""

from __future__ import annotations

import random
from datetime import date
from functools import cache

from leaktrace.model import Persona
from leaktrace.roster.resident_id import make_resident_id


@cache
def _county_codes() -> tuple[str, ...]:
    """County-level codes only: real resident IDs never end their region in "00"."""
    from faker.providers.ssn.zh_CN import Provider

    return tuple(code for code in Provider.area_codes if not code.endswith("00"))


# Birth dates come from a fixed window, not from "today": the same seed gives
# the same persona on any day (Faker's own ssn() drifts with the date).
_BORN_FROM, _BORN_TO = date(1960, 1, 1), date(2004, 12, 31)


def new_seed() -> int:
    """A fresh random seed, recorded with the persona so it can be reproduced."""
    return random.SystemRandom().randrange(1, 2**31)


def make_persona(locale: str = "zh_CN", seed: int | None = None) -> Persona:
    """Generate a persona in ``locale``; the same seed and Faker version give the same one."""
    from faker import Faker  # loaded when a persona is made, not by every command

    seed = new_seed() if seed is None else seed
    fake = Faker(locale)
    fake.seed_instance(seed)
    female = fake.boolean()
    name = fake.name_female() if female else fake.name_male()
    birth = fake.date_between(_BORN_FROM, _BORN_TO)
    id_number = None
    if locale == "zh_CN":
        region = fake.random_element(_county_codes())
        id_number = make_resident_id(region, birth, fake.random_int(0, 499), female)
    return Persona(
        locale=locale,
        name=name,
        gender="F" if female else "M",
        birth_date=birth,
        id_number=id_number,
        company=fake.company(),
        address=fake.address().replace("\n", ", "),
        seed=seed,
    )
