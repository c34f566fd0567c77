"""The simulated leak ecosystem: sources, canaries, plants, leaks, brokers, campaigns.

Everything here is drawn from one seeded ``random.Random`` so that a seed gives
the same world on every run; nothing depends on today's date.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pypinyin import lazy_pinyin

from leaktrace.model import Field, Persona, SourceCategory
from leaktrace.roster.contacts import fictional_phone
from leaktrace.roster.markers import propose_name
from leaktrace.roster.personas import make_persona
from leaktrace.sim.config import SimConfig, check_config
from leaktrace.sim.render import Infra, bank

DAY = timedelta(days=1)
# Sources that ask for the resident ID number when you sign up.
_ID_CATEGORIES = {"credit_inquiry", "loan_platform", "bank", "insurance"}


@dataclass
class SimSource:
    """A simulated source and, if it leaks, how."""

    name: str
    category: str
    lang: str
    url: str
    sender_id: str
    mail_domain: str
    leak: Leak | None = None
    # Its own marketing from a second channel the roster does not list (own_marketing_share).
    own_channel: str | None = None
    own_mail: str | None = None
    own_days: list[int] = field(default_factory=list)
    own_sends: list[tuple[datetime, SimPlant]] = field(default_factory=list)


@dataclass
class SimCanary:
    """A simulated canary or control with its contacts."""

    label: str
    persona_seed: int
    locale: str
    phone: str | None
    email: str | None
    is_control: bool
    emoji_refs: bool = False


@dataclass
class SimPlant:
    """A simulated plant."""

    canary: SimCanary
    source: SimSource
    planted_at: datetime
    fields: tuple[Field, ...]
    name_used: str
    email_used: str | None
    marketing_at: list[datetime] = field(default_factory=list)

    @property
    def contact(self) -> str:
        """The contact as given to the source (the plus-tagged e-mail, else the phone)."""
        return self.email_used or self.canary.phone or ""


@dataclass
class Leak:
    """How a source's list leaves: one database copy, or an insider's weekly sales."""

    kind: str  # "batch" | "continuous"
    start: datetime
    interval_days: int
    delay_days: int
    brokers: list[int]
    sales: list[tuple[datetime, list[SimPlant]]] = field(default_factory=list)
    small: bool = False  # cut down to two canaries (small_leak_share)


@dataclass(frozen=True)
class ListItem:
    """One line of a broker's list: a contact as the leaking source knew it."""

    contact: str
    canary: str
    name: str
    source: str
    available_at: datetime


@dataclass
class Campaign:
    """A bulk-SMS sender's campaign, run from templates over a list (or random dialing)."""

    id: str
    kind: str  # "leak" | "background" | "small"
    broker: int | None
    lang: str
    templates: list[str]
    infra: Infra
    channels: list[str]
    start_day: int
    end_day: int
    run_every: int
    reach: float
    items: list[ListItem] = field(default_factory=list)
    # A small campaign's sends: (when, contact, canary label), all on its one day.
    sends: list[tuple[datetime, str, str]] = field(default_factory=list)


@dataclass
class World:
    """The whole simulated study."""

    config: SimConfig
    sources: list[SimSource]
    canaries: list[SimCanary]
    plants: list[SimPlant]
    campaigns: list[Campaign]
    personas: dict[str, Persona]

    @property
    def t0(self) -> datetime:
        """The study's first instant (UTC)."""
        return self.config.t0


def _slug(name: str) -> str:
    letters = "".join(lazy_pinyin(name)) if not name.isascii() else name
    return "".join(ch for ch in letters.lower() if ch.isalnum())


def _host(rng: random.Random) -> str:
    # Reserved ".test" names: the sample never points at a real site.
    chars = string.ascii_lowercase + string.digits
    return "".join(rng.choice(chars) for _ in range(4)) + ".test"


def _pick_lang(cfg: SimConfig, rng: random.Random) -> str:
    """English with probability ``en_share`` when both languages are on, else the one on."""
    lang = "en" if "en" in cfg.languages and rng.random() < cfg.en_share else "zh"
    return lang if lang in cfg.languages else cfg.languages[0]


def _sources(cfg: SimConfig, rng: random.Random) -> list[SimSource]:
    names = bank()["sources"]
    categories = [c.value for c in SourceCategory if c.value != "other"]
    weights = [4 if c in ("credit_inquiry", "loan_platform") else 1 for c in categories]
    out: list[SimSource] = []
    used: set[str] = set()
    en_pool = list(names["en_names"])
    while len(out) < cfg.sources:
        category = rng.choices(categories, weights)[0]
        lang = _pick_lang(cfg, rng)
        if lang == "en" and not en_pool:  # the bank's English names are used up
            lang = "zh"
        if lang == "en":
            name = en_pool.pop(rng.randrange(len(en_pool)))
        else:
            name = (
                rng.choice(names["prefixes"])
                + rng.choice(names["middles"])
                + rng.choice(names["suffixes"][category])
            )
        if name in used:
            continue
        used.add(name)
        slug = _slug(name)
        sender = rng.choice(["955", "956"]) + f"{rng.randrange(100):02d}"
        if category != "bank":
            sender = f"10690{rng.randrange(10**5):05d}"
        out.append(
            SimSource(
                name, category, lang, f"https://www.{slug}.example", sender, f"{slug}.example"
            )
        )
    return out


def _canaries(cfg: SimConfig, rng: random.Random, planted: int) -> list[SimCanary]:
    out = []
    for i in range(planted + cfg.controls):
        control = i >= planted
        locale = "en_US" if _pick_lang(cfg, rng) == "en" else "zh_CN"
        prefix, n = ("control", i - planted + 1) if control else ("canary", i + 1)
        label = f"{prefix}-{n:03d}"
        by_email = rng.random() < cfg.email_share
        out.append(
            SimCanary(
                label=label,
                persona_seed=rng.randrange(1, 2**31),
                locale=locale,
                phone=None if by_email else fictional_phone(i),
                email=f"{label}@example.org" if by_email else None,
                is_control=control,
                emoji_refs=rng.random() < cfg.emoji_refs_share,
            )
        )
    return out


def _plant(
    rng: random.Random,
    canary: SimCanary,
    source: SimSource,
    at: datetime,
    names: set[str],
    persona_name: str,
    days: int,
    markers: bool = True,
) -> SimPlant:
    fields = [Field.NAME, Field.EMAIL if canary.email else Field.PHONE]
    if source.category in _ID_CATEGORIES:
        fields.append(Field.ID_NUMBER)
    # Without markers every source gets the plain name and the plain address.
    name = propose_name(persona_name, names) if markers else persona_name
    names.add(name)
    email = canary.email
    if canary.email and markers:
        local, host = canary.email.split("@")
        email = f"{local}+{_slug(source.name)[:12]}@{host}"
    marketing = sorted(at + DAY * rng.uniform(3, days) for _ in range(rng.randint(1, 3)))
    return SimPlant(canary, source, at, tuple(fields), name, email, marketing)


def _leaks(cfg: SimConfig, rng: random.Random, world_sources, plants, t0: datetime) -> None:
    leakers = rng.sample(world_sources, round(cfg.leak_share * len(world_sources)))
    for n, source in enumerate(leakers):
        brokers = sorted({n % cfg.brokers} | {rng.randrange(cfg.brokers)})
        mine = [p for p in plants if p.source is source]
        if rng.random() < cfg.batch_share:
            when = t0 + DAY * rng.uniform(cfg.days * 0.2, cfg.days * 0.75)
            leak = Leak("batch", when, 0, rng.randint(1, 10), brokers)
            leak.sales.append((when, [p for p in mine if p.planted_at < when]))
        else:
            start = t0 + DAY * rng.uniform(0, cfg.days * 0.3)
            leak = Leak("continuous", start, rng.randint(5, 9), rng.randint(1, 5), brokers)
            previous, when = start, start + DAY * leak.interval_days
            while when < t0 + DAY * cfg.days:
                sold = [p for p in mine if previous < p.planted_at <= when]
                if sold:
                    leak.sales.append((when, sold))
                previous, when = when, when + DAY * leak.interval_days
        source.leak = leak


def _infra(rng: random.Random, lang: str) -> Infra:
    slots = bank()["slots"]
    return Infra(
        signature=rng.choice(bank()["signatures"][lang]),
        url_host=_host(rng),
        reply=rng.choice(slots["reply"][lang]),
        callback=f"400-{rng.randrange(100, 1000)}-{rng.randrange(10**4):04d}",
    )


def _campaigns(cfg: SimConfig, rng: random.Random) -> list[Campaign]:
    templates = bank()["campaign"]
    by_lang = {lang: [t["id"] for t in templates if t["lang"] == lang] for lang in ("zh", "en")}
    loans = {
        lang: [t["id"] for t in templates if t["lang"] == lang and t["category"] == "loan"]
        for lang in ("zh", "en")
    }
    out: list[Campaign] = []
    for broker in range(cfg.brokers):
        for n in range(cfg.campaigns_per_broker):
            lang = _pick_lang(cfg, rng)
            start = rng.randrange(0, max(1, cfg.days // 2))
            out.append(
                Campaign(
                    id=f"b{broker + 1}-c{n + 1}",
                    kind="leak",
                    broker=broker,
                    lang=lang,
                    templates=rng.sample(loans[lang], rng.randint(1, 2)),
                    infra=_infra(rng, lang),
                    channels=[f"1069{rng.randrange(10**6):06d}" for _ in range(rng.randint(1, 2))],
                    start_day=start,
                    end_day=min(cfg.days, start + rng.randint(30, cfg.days)),
                    run_every=rng.randint(3, 7),
                    reach=rng.uniform(0.3, 0.7),
                )
            )
    for n in range(cfg.background_campaigns):
        lang = _pick_lang(cfg, rng)
        out.append(
            Campaign(
                id=f"bg-{n + 1}",
                kind="background",
                broker=None,
                lang=lang,
                templates=[rng.choice(by_lang[lang])],
                infra=_infra(rng, lang),
                channels=[f"106{rng.choice('59')}{rng.randrange(10**6):06d}"],
                start_day=0,
                end_day=cfg.days,
                run_every=1,
                reach=0.0,
            )
        )
    return out


def _stream(cfg: SimConfig, knob: int) -> random.Random:
    """A second-world knob's own stream, apart from the main one (defaults draw nothing)."""
    return random.Random(cfg.seed * 6151 + 17 + knob)


def _shrink_leaks(cfg: SimConfig, rng: random.Random, world_sources, plants) -> None:
    """Cut a share of the leaks down to two planted canaries of the leaking source."""
    leakers = [s for s in world_sources if s.leak is not None]
    for source in rng.sample(leakers, round(cfg.small_leak_share * len(leakers))):
        leak = source.leak
        sold = [p for _, batch in leak.sales for p in batch]
        mine = [p for p in plants if p.source is source]
        pool = sold if len(sold) >= 2 else mine
        if len(pool) < 2:  # a source given one canary cannot leak two
            continue
        keep = {id(p) for p in rng.sample(pool, 2)}
        leak.small = True
        if pool is sold:
            cut = [(when, [p for p in batch if id(p) in keep]) for when, batch in leak.sales]
            leak.sales = [(when, batch) for when, batch in cut if batch]
            continue
        # Too few were sold: the two are sold together a day after the later plant.
        chosen = [p for p in mine if id(p) in keep]
        when = max(p.planted_at for p in chosen) + DAY * rng.uniform(1, 3)
        if leak.kind == "batch":
            leak.start = when
        leak.sales = [(when, chosen)]


def _small_campaigns(cfg: SimConfig, rng: random.Random, canaries, t0) -> list[Campaign]:
    """Campaigns that reach 2–5 random phones once each, on one day: no leak behind them."""
    templates = bank()["campaign"]
    phones = [c for c in canaries if c.phone]
    out: list[Campaign] = []
    for n in range(cfg.small_campaigns):
        lang = _pick_lang(cfg, rng)
        day = rng.randrange(cfg.days)
        campaign = Campaign(
            id=f"sm-{n + 1}",
            kind="small",
            broker=None,
            lang=lang,
            templates=[rng.choice([t["id"] for t in templates if t["lang"] == lang])],
            infra=_infra(rng, lang),
            channels=[f"106{rng.choice('59')}{rng.randrange(10**6):06d}"],
            start_day=day,
            end_day=day + 1,
            run_every=1,
            reach=0.0,
        )
        sent = t0 + DAY * day + timedelta(hours=1, seconds=rng.randrange(12 * 3600))
        reached = rng.sample(phones, min(len(phones), rng.randint(2, 5)))
        campaign.sends = sorted(
            (sent + timedelta(seconds=rng.randrange(600)), c.phone or "", c.label) for c in reached
        )
        out.append(campaign)
    return out


def _own_marketing(cfg: SimConfig, rng: random.Random, world_sources, plants, t0) -> None:
    """A share of sources market to every canary planted there from a second channel."""
    # Every plant falls in the study's first half, so a run in the second half reaches all.
    days = list(range(math.ceil(cfg.days * 0.5), cfg.days)) or [cfg.days - 1]
    for source in rng.sample(world_sources, round(cfg.own_marketing_share * len(world_sources))):
        # "1068" + 8 digits: never the roster's 10690xxxxx or 955xx/956xx sender id.
        source.own_channel = f"1068{rng.randrange(10**8):08d}"
        source.own_mail = f"news@{_host(rng)}"
        source.own_days = sorted(rng.sample(days, min(len(days), rng.randint(2, 4))))
        mine = [p for p in plants if p.source is source]
        for day in source.own_days:
            sent = t0 + DAY * day + timedelta(hours=1, seconds=rng.randrange(12 * 3600))
            for plant in mine:
                when = sent + timedelta(seconds=rng.randrange(600))
                if when > plant.planted_at:
                    source.own_sends.append((when, plant))
        source.own_sends.sort(key=lambda s: (s[0], s[1].contact))


def _fill_lists(world_sources: list[SimSource], campaigns: list[Campaign]) -> None:
    by_broker: dict[int, list[ListItem]] = {}
    for source in world_sources:
        if source.leak is None:
            continue
        for when, sold in source.leak.sales:
            for plant in sold:
                item = ListItem(
                    contact=plant.contact,
                    canary=plant.canary.label,
                    name=plant.name_used,
                    source=source.name,
                    available_at=when + DAY * source.leak.delay_days,
                )
                for broker in source.leak.brokers:
                    by_broker.setdefault(broker, []).append(item)
    for campaign in campaigns:
        if campaign.broker is not None:
            campaign.items = sorted(
                by_broker.get(campaign.broker, []), key=lambda i: (i.available_at, i.contact)
            )


def build_world(cfg: SimConfig) -> World:
    """Draw a whole study from ``cfg.seed``: who is planted where, who leaks, who sends."""
    check_config(cfg)
    rng = random.Random(cfg.seed)
    t0 = cfg.t0
    sources = _sources(cfg, rng)
    canaries = _canaries(cfg, rng, cfg.planted)
    personas = {c.label: make_persona(c.locale, c.persona_seed) for c in canaries}
    plants: list[SimPlant] = []
    for i, canary in enumerate(c for c in canaries if not c.is_control):
        names: set[str] = set()
        name = personas[canary.label].name
        home = sources[i % len(sources)]
        at = t0 + DAY * rng.uniform(0, cfg.days * 0.5)
        plants.append(_plant(rng, canary, home, at, names, name, cfg.days, cfg.markers))
        if rng.random() < cfg.double_plant_share:
            other = rng.choice([s for s in sources if s is not home])
            at2 = t0 + DAY * rng.uniform(0, cfg.days * 0.5)
            plants.append(_plant(rng, canary, other, at2, names, name, cfg.days, cfg.markers))
    plants.sort(key=lambda p: p.planted_at)
    _leaks(cfg, rng, sources, plants, t0)
    campaigns = _campaigns(cfg, rng)
    # The second-world knobs, each from its own stream and only when set.
    if cfg.small_leak_share:
        _shrink_leaks(cfg, _stream(cfg, 0), sources, plants)
    if cfg.small_campaigns:
        campaigns += _small_campaigns(cfg, _stream(cfg, 1), canaries, t0)
    if cfg.own_marketing_share:
        _own_marketing(cfg, _stream(cfg, 2), sources, plants, t0)
    _fill_lists(sources, campaigns)
    return World(cfg, sources, canaries, plants, campaigns, personas)
