"""Typed slot masking: the variable parts of a message become <KIND>, their values kept.

The slot kinds and their patterns are data (``data/slots.toml``), applied in
order like Drain3's masking instructions. Before them come the two slots that
need more than a pattern: the signature (split off and kept as an indicator)
and the recipient's own persona name or the name variant a source was given
(the strongest evidence attribution gets, so the exact spelling is kept).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import NamedTuple

from leaktrace.charsets import LOOKALIKES
from leaktrace.text.normalize import normalize
from leaktrace.text.signature import find_signature

_PRIVATE = 0xF0000  # supplementary private-use plane: never in real messages after NFKC
_MAX_SLOTS = 4096
# A JSON string as json.dumps(..., ensure_ascii=False) writes it.
_json_string = json.encoder.encode_basestring
_DIGIT = re.compile(r"\d")
_TOKEN = re.compile("[\U000f0000-\U000f0fff]")
_REPEATED = re.compile(r"(<[A-Z_0-9]+>)(?:[ ,;。，、]*\1)+")


class Slot(NamedTuple):
    """One masked value: its kind (URL, AMOUNT, …) and the text it stood for."""

    kind: str
    value: str


@dataclass(frozen=True)
class Masked:
    """A message text as a template skeleton plus what was taken out of it."""

    skeleton: str
    signature: str | None
    slots: tuple[Slot, ...] = field(default_factory=tuple)

    def values(self, kind: str) -> list[str]:
        """The values of one slot kind, in order."""
        return [s.value for s in self.slots if s.kind == kind]

    @cached_property
    def slots_json(self) -> str:
        """The slots as stored: JSON ``[[kind, value], …]`` in text order."""
        # json.dumps(self.slots, ensure_ascii=False), written out: half the time, and
        # masking a million texts writes this for each.
        pairs = ", ".join(
            f"[{_json_string(kind)}, {_json_string(value)}]" for kind, value in self.slots
        )
        return f"[{pairs}]"


@dataclass(frozen=True)
class Instruction:
    """One slot kind's pattern, the groups holding its value, and its cheap pre-checks."""

    kind: str
    pattern: re.Pattern[str]  # as written in slots.toml
    scan: re.Pattern[str]  # the same behind a lookahead for the characters a match starts with
    value_groups: tuple[str, ...]  # named groups v, v2: only they are the value
    requires: re.Pattern[str] | None  # one of these must occur in the lower-cased text
    needs_digit: bool = False  # every match starts with a digit


def _behind_lookahead(pattern: str, starts: str | None) -> re.Pattern[str]:
    flags = 0
    if pattern.startswith("(?i)"):
        pattern, flags = pattern[4:], re.IGNORECASE
    return re.compile(f"(?=[{starts}])(?:{pattern})" if starts else pattern, flags)


def _digit_led(starts: str) -> bool:
    """Whether a character class of first characters (``\\d``, ``48``, ``+\\d``) is digits only."""
    rest = starts.removeprefix("+").replace("\\d", "")  # a leading + is a phone's, before digits
    return bool(starts) and all(ch in "0123456789" for ch in rest)


@cache
def instructions() -> tuple[Instruction, ...]:
    """The ordered masking instructions from ``data/slots.toml``."""
    data = tomllib.loads(
        resources.files("leaktrace").joinpath("data/slots.toml").read_text(encoding="utf-8")
    )
    out = []
    for entry in data["slot"]:
        pattern = re.compile(entry["pattern"])
        requires = entry.get("requires")
        out.append(
            Instruction(
                kind=entry["kind"],
                pattern=pattern,
                scan=_behind_lookahead(entry["pattern"], entry.get("starts")),
                value_groups=tuple(g for g in ("v", "v2") if g in pattern.groupindex),
                requires=re.compile("|".join(map(re.escape, requires))) if requires else None,
                needs_digit=_digit_led(entry.get("starts", "")),
            )
        )
    return tuple(out)


def url_host(url: str) -> str:
    """The host of a link, lower-cased, with or without a scheme."""
    rest = url.split("://", 1)[-1]
    return re.split(r"[/?#:]", rest, maxsplit=1)[0].lower()


# A Latin name still matches when spelled with look-alikes (W0ods); Chinese names
# match exactly.


@cache
def _name_regex(name: str) -> str:
    if not name.isascii():
        return re.escape(name)
    parts = []
    for ch in name:
        if ch.isalpha():
            chars = {ch.lower(), ch.upper(), *LOOKALIKES.get(ch.lower(), "")}
            parts.append("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")
        elif ch.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


@cache
def _name_matcher(name: str) -> re.Pattern[str]:
    return re.compile(_name_regex(name))


def _first_characters(name: str) -> set[str]:
    """Every character a match of ``_name_regex(name)`` can begin with."""
    first = name[0]
    if name.isascii() and first.isalpha():
        return {first.lower(), first.upper(), *LOOKALIKES.get(first.lower(), "")}
    return {first}


@cache
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    unique = sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True)
    if not unique:
        return None
    either = "|".join(_name_regex(n) for n in unique)
    if any(n[0].isspace() for n in unique):  # \s+ can begin with many characters
        return re.compile(either)
    # Behind a lookahead for the characters a name begins with, as slots.toml's `starts`:
    # a study's 30 source names are looked for in every text, twice as fast so.
    starts = "".join(re.escape(c) for c in sorted(set().union(*map(_first_characters, unique))))
    return re.compile(f"(?=[{starts}])(?:{either})")


def mask(text: str, names: Iterable[str] = (), platforms: Iterable[str] = ()) -> Masked:
    """Normalise ``text`` and mask its signature, the given names and every typed slot.

    ``names`` are the recipient's persona name and the variants it was planted under;
    ``platforms`` the study's source names, which first-party texts spell out.
    """
    return mask_normalized(normalize(text), tuple(names), tuple(platforms))


def names_in(text: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The names that occur in ``text`` (normalised), in the given order."""
    return tuple(n for n in names if n in text or (n.isascii() and _name_matcher(n).search(text)))


def mask_normalized(text: str, names: tuple[str, ...], platforms: tuple[str, ...]) -> Masked:
    """``mask`` of a text that ``normalize`` already returned."""
    text = _TOKEN.sub("\ufffd", text)  # our placeholder range, if a text uses it
    signature = None
    found = find_signature(text)
    if found:
        signature = found.name
        bracket = "【<SIG>】" if found.full_width else "[<SIG>]"
        text = text[: found.start] + bracket + text[found.end :]
    # While masking, each slot is one private-use character, so later patterns never
    # see a placeholder's letters or digits; they become <KIND> at the end.
    taken: list[Slot] = []
    kind, groups = "", ()

    def replace(m: re.Match[str]) -> str:
        token = chr(_PRIVATE + len(taken))
        for group in groups:
            if m.group(group):
                taken.append(Slot(kind, m.group(group)))
                whole, at = m.group(0), m.start()
                return f"{whole[: m.start(group) - at]}{token}{whole[m.end(group) - at :]}"
        taken.append(Slot(kind, m.group(0).strip()))
        return token

    for name_kind, words in (("NAME", names_in(text, names)), ("PLATFORM", platforms)):
        kind = name_kind  # read by replace()
        pattern = _names_pattern(words)
        if pattern is not None:
            text = pattern.sub(replace, text)
    # The cheap checks look at the text as masked so far: a slot taken out often takes
    # the last digit or the only "." with it. Each is worked out again only after a step
    # took something out.
    lower: str | None = None
    digits: bool | None = None
    for step in instructions():
        if step.needs_digit:
            if digits is None:
                digits = _DIGIT.search(text) is not None
            if not digits:
                continue
        if step.requires is not None:
            if lower is None:
                lower = text.lower()
            if step.requires.search(lower) is None:
                continue
        if len(taken) >= _MAX_SLOTS:
            break
        kind, groups = step.kind, step.value_groups
        text, found = step.scan.subn(replace, text, count=_MAX_SLOTS - len(taken))
        if found:
            lower = digits = None
    if not taken:
        return Masked(_REPEATED.sub(r"\1", text), signature, ())
    ordered = [taken[ord(ch) - _PRIVATE] for ch in _TOKEN.findall(text)]
    skeleton = _TOKEN.sub(lambda m: f"<{taken[ord(m[0]) - _PRIVATE].kind}>", text)
    # "回Y领取,回T退订" is one reply instruction: runs of one slot kind read as one.
    skeleton = _REPEATED.sub(r"\1", skeleton)
    return Masked(skeleton, signature, tuple(ordered))
