"""Rendering simulated messages: template slots filled, then realistic noise."""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from leaktrace.charsets import HAN

_FULL_TO_HALF = {"，": ",", "！": "!", "：": ":", "（": "(", "）": ")", "；": ";", "？": "?"}
_HALF_TO_FULL = {v: k for k, v in _FULL_TO_HALF.items()}
# Typos people and spam kits really make: look-alike or same-key characters.
_TYPOS = {
    "额": "頟",
    "度": "渡",
    "您": "你",
    "款": "疑",
    "领": "零",
    "取": "娶",
    "贷": "货",
    "借": "错",
    "o": "0",
    "l": "1",
    "e": "3",
    "a": "@",
}


@cache
def bank() -> dict[str, Any]:
    """The simulator's template bank (a data file shipped with the package)."""
    text = resources.files("leaktrace.data").joinpath("sim_templates.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Infra:
    """What a campaign sends from and links to: the indicators attribution looks for."""

    signature: str
    url_host: str
    reply: str
    callback: str


def short_url(rng: random.Random, host: str) -> str:
    """A short link on ``host`` with a random path."""
    path = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(6))
    return f"https://{host}/{path}"


def signature_text(name: str, lang: str) -> str:
    """A sender's signature as it stands in its texts: 【name】 in Chinese, [name] in English."""
    return f"【{name}】" if lang == "zh" else f"[{name}]"


def fill(
    rng: random.Random,
    text: str,
    lang: str,
    infra: Infra,
    when: datetime,
    *,
    name: str = "",
    platform: str = "",
    code: str = "",
) -> str:
    """Fill a template's slots; amounts and dates vary per message."""
    slots = bank()["slots"]
    due = when + timedelta(days=rng.randint(2, 20))
    date = (
        rng.choice([f"{due.month}月{due.day}日", f"{due:%Y-%m-%d}"])
        if lang == "zh"
        else f"{due:%b} {due.day}"
    )
    return text.format(
        sig=signature_text(infra.signature, lang),
        name=name or ("客户" if lang == "zh" else "customer"),
        amount=rng.choice(slots["amount"][lang]),
        date=date,
        url=short_url(rng, infra.url_host),
        reply=infra.reply,
        callback=infra.callback,
        code=code,
        platform=platform,
    )


def add_noise(rng: random.Random, text: str, level: float) -> str:
    """Typos, a dropped character, punctuation width changes, a trailing emoji."""
    if rng.random() < level:
        urls = _url_positions(text)
        plain = [i for i, ch in enumerate(text) if ch in _TYPOS and i not in urls]
        if plain:
            i = rng.choice(plain)
            text = text[:i] + _TYPOS[text[i]] + text[i + 1 :]
    if rng.random() < level:
        plain = [i for i, ch in enumerate(text) if HAN.match(ch)]
        if len(plain) > 10:
            i = rng.choice(plain)
            text = text[:i] + text[i + 1 :]
    if rng.random() < level:
        table = _FULL_TO_HALF if rng.random() < 0.5 else _HALF_TO_FULL
        urls = _url_positions(text)
        text = "".join(ch if i in urls else table.get(ch, ch) for i, ch in enumerate(text))
    if rng.random() < level:
        text = text + rng.choice(bank()["slots"]["emoji"])
    return text


# What spam kits do to slip past keyword filters (issue: templates on real spam), each
# drawn with the given chance: a broken or spelled-out link scheme, or none at all; an
# ideographic dot in the host; a separator between two Chinese characters; Cyrillic
# look-alikes in a Latin word; digits of a phone number written as x; 卡 as 咔.
_SCHEMES = ("http:/", "http//", "hxxp://", "h t t p://", "")
_SEPARATORS = ("*", " ", ".", "-", "|")
_CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у"}
_PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|400-?\d{3}-?\d{4})(?!\d)")
_LATIN_WORD = re.compile(r"\b[a-z]{4,}\b")


def obfuscate(rng: random.Random, text: str, level: float, keep: str = "") -> str:
    """Spammers' obfuscations, each with chance ``level``; ``keep`` (the name) is left whole."""
    # Look-alikes first, while links are still whole and easy to leave alone.
    if rng.random() < level:
        urls = _url_positions(text) | _spans(keep, text) | _spans("@", text, word=True)
        words = [
            m
            for m in _LATIN_WORD.finditer(text)
            if set(m.group(0)) & set(_CYRILLIC) and m.start() not in urls
        ]
        if words:
            m = rng.choice(words)
            word = "".join(_CYRILLIC.get(ch, ch) if rng.random() < 0.5 else ch for ch in m[0])
            text = text[: m.start()] + word + text[m.end() :]
    link = _URL.search(text)
    if link and rng.random() < level:
        url = link.group(0)
        host_path = url.removeprefix("https://")
        if rng.random() < 0.3:
            host_path = host_path.replace(".", "。", 1)
        text = text[: link.start()] + rng.choice(_SCHEMES) + host_path + text[link.end() :]
    if rng.random() < level:
        urls = _url_positions(text) | _spans(keep, text)
        pairs = [
            i
            for i in range(len(text) - 1)
            if HAN.match(text[i]) and HAN.match(text[i + 1]) and not {i, i + 1} & urls
        ]
        if pairs:
            i = rng.choice(pairs)
            text = text[: i + 1] + rng.choice(_SEPARATORS) + text[i + 1 :]
    if rng.random() < level:
        numbers = list(_PHONE.finditer(text))
        if numbers:
            m = rng.choice(numbers)
            digits = "".join("x" if i in (4, 5, 6) else ch for i, ch in enumerate(m[0]))
            text = text[: m.start()] + digits + text[m.end() :]
    if rng.random() < level and "卡" not in keep:
        text = text.replace("卡", "咔")
    return text


def _spans(part: str, text: str, word: bool = False) -> set[int]:
    """Indices of ``text`` inside each occurrence of ``part`` (with ``word``: its whole word)."""
    if not part:
        return set()
    pattern = rf"\S*{re.escape(part)}\S*" if word else re.escape(part)
    return {i for m in re.finditer(pattern, text) for i in range(*m.span())}


_URL = re.compile(r"(https://[A-Za-z0-9:/._-]+)")


def _url_positions(text: str) -> set[int]:
    """Indices of ``text`` inside links, which noise must leave alone."""
    return {i for m in _URL.finditer(text) for i in range(m.start(), m.end())}


class OneOffs:
    """Texts sent once (the long tail of a real inbox): distinct words, real SMS lengths.

    Faker sentences in the persona's language, sometimes with an amount, a phone
    number, a link or a code, as people, shops and one-off spammers write them.
    """

    def __init__(self, rng: random.Random) -> None:
        from faker import Faker

        self.rng = rng
        self.fakers = {"zh": Faker("zh_CN"), "en": Faker("en_US")}
        for faker in self.fakers.values():
            faker.seed_instance(rng.randrange(2**32))

    def text(self, lang: str) -> str:
        """One text: 1-4 sentences and at most two slot-like values."""
        rng, fake = self.rng, self.fakers[lang]
        sentences = [fake.sentence(nb_words=rng.randint(3, 14)) for _ in range(rng.randint(1, 4))]
        extras = [
            f"{rng.randint(1, 500) * 100}{'元' if lang == 'zh' else ' GBP'}",
            f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
            f"http://{fake.domain_name()}/{rng.randrange(36**5):x}",
            f"{rng.randrange(10**6):06d}",
        ]
        for extra in rng.sample(extras, rng.choice((0, 0, 1, 2))):
            sentences.insert(rng.randrange(len(sentences) + 1), extra)
        return ("" if lang == "zh" else " ").join(sentences)
