"""Mainland China resident identity numbers (GB 11643-1999): build and check."""

from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# Province-level prefixes of GB/T 2260 (mainland, plus 71/81/82 for residence permits).
PROVINCE_CODES = frozenset(
    str(code)
    for code in (
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    )
)


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def make_resident_id(region: str, birth: date, sequence: int, female: bool) -> str:
    """Build an 18-character ID: region, birth date, sequence (odd for men), check."""
    if len(region) != 6 or not region.isdigit():
        raise ValueError(f"region code must be six digits, got {region!r}")
    seq = sequence % 100 * 10 + (sequence % 5) * 2 + (0 if female else 1)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + check_digit(body)


def is_valid_resident_id(value: str) -> bool:
    """Tell whether ``value`` has a known province, a real birth date and a right check."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    if value[:2] not in PROVINCE_CODES or value[4:6] == "00":
        return False
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= birth <= date.today():
        return False
    return check_digit(value[:17]) == value[17].upper()
