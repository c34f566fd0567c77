"""Reading the many ways message files write a time; naive times get a zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
)


def parse_time(value: str, tz: tzinfo) -> tuple[datetime, bool]:
    """An aware time from ISO 8601, epoch seconds/ms or a common layout; True if ``tz`` applied."""
    text = value.strip()
    if not text:
        raise ValueError("no time given")
    if text.lstrip("-").isdigit():
        number = int(text)
        seconds = number / 1000 if abs(number) >= 10**11 else number
        return datetime.fromtimestamp(seconds, tz=UTC), False
    try:
        parsed = datetime.fromisoformat(text.replace(" UTC", "+00:00"))
    except ValueError:
        for layout in _FORMATS:
            try:
                parsed = datetime.strptime(text, layout)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{value!r} is not a time leaktrace can read") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz), True
    return parsed, False
