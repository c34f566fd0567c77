"""Reading the many ways message files write a time; naive times get a zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_epoch(seconds: float, epoch: datetime = EPOCH) -> datetime:
    """``epoch`` plus ``seconds``; a ValueError naming the value when no calendar holds it."""
    try:
        return epoch + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise ValueError(f"{seconds:g} seconds after {epoch:%Y-%m-%d} is no time") from None


def from_epoch_ms(ms: int) -> datetime:
    """1970 plus ``ms`` whole milliseconds, exactly (no float); a ValueError as ``from_epoch``."""
    try:
        return EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        raise ValueError(f"{ms / 1000:g} seconds after 1970-01-01 is no time") from None


def epoch_number(text: str) -> int:
    """The integer an epoch column holds; a ValueError for one too long to be a time."""
    if len(text) > 20:
        raise ValueError(f"{text[:24]}… is no time (an epoch of {len(text)} digits)")
    return int(text)


def parse_time(value: str, tz: tzinfo) -> tuple[datetime, bool]:
    """An aware time from ISO 8601, epoch seconds/ms or a common layout; True if ``tz`` applied."""
    text = value.strip()
    if not text:
        raise ValueError("no time given")
    if text.lstrip("-").isdigit():
        number = epoch_number(text)
        seconds = number / 1000 if abs(number) >= 10**11 else number
        return from_epoch(seconds), False
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
