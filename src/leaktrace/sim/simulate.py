"""The leak-ecosystem simulator: a study with ground truth, in the real import formats.

Sources leak (a database copy sold on one date, or an insider selling new
sign-ups every week), brokers merge the lists, bulk-SMS senders run campaigns
over them from templates with slots, background spam reaches every number,
controls included, and each plant brings first-party messages. The world is
drawn from the seed (``sim_world``), messages are rendered with a second seeded
stream (``sim_render``) and streamed day by day to the writers (``sim_writers``),
so memory stays bounded however many messages are asked for.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from leaktrace.model import Canary, Plant, Source, SourceCategory
from leaktrace.roster.csvfiles import write_roster
from leaktrace.sim.config import SECOND_WORLD_KNOBS, SimConfig
from leaktrace.sim.render import (
    Infra,
    OneOffs,
    add_noise,
    bank,
    fill,
    obfuscate,
    signature_text,
)
from leaktrace.sim.world import DAY, Campaign, SimSource, World, build_world
from leaktrace.sim.writers import CsvWriter, MboxWriter, SmsBackupWriter, TruthWriter, epoch_ms

__all__ = ["SimConfig", "SimResult", "simulate"]

_DEFAULTS = SimConfig()


@dataclass(frozen=True)
class Event:
    """One message to send: who gets it, when, and why (its ground truth)."""

    when: datetime
    contact: str
    canary: str
    kind: str  # "campaign" | "background" | "first_party" | "small" | "one_off"
    campaign: str | None
    template: str  # for a one-off, its language ("zh" or "en")
    source: str | None
    name: str = ""


@dataclass(frozen=True)
class SimResult:
    """What a simulation wrote."""

    directory: Path
    messages: int
    by_kind: dict[str, int]
    sources: int
    canaries: int
    controls: int
    leaking_sources: int


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _copies(rng: random.Random, scale: float) -> int:
    """How many copies of one send go out at volume ``scale`` (1 on average at 1.0)."""
    whole = math.floor(scale)
    return whole + (1 if rng.random() < scale - whole else 0)


def _daytime(rng: random.Random, day: datetime) -> datetime:
    """A sending time between 09:00 and 21:00 China time (01:00–13:00 UTC)."""
    return day + timedelta(
        hours=1, seconds=rng.randrange(12 * 3600), milliseconds=rng.randrange(1000)
    )


def schedule(world: World, scale: float, tail_rate: float = 0.0) -> Iterator[Event]:
    """Every message of the study in time order, day by day."""
    cfg = world.config
    rng = random.Random(cfg.seed * 7919 + 1)
    # Its own stream: the schedule's other draws stay as they were (rendering a one-off
    # draws from the renderer's stream, so with a tail later texts differ).
    tail_rng = random.Random(cfg.seed * 6007 + 11)
    contacts = [(c.phone or c.email or "", c.label) for c in world.canaries]
    background = [c for c in world.campaigns if c.kind == "background"]
    small = [c for c in world.campaigns if c.kind == "small"]
    own = [s for s in world.sources if s.own_sends]
    for day_index in range(cfg.days):
        day = world.t0 + DAY * day_index
        events: list[Event] = []
        for plant in world.plants:
            contact = plant.contact
            sends = []
            if day <= plant.planted_at < day + DAY:
                verify_at = plant.planted_at + timedelta(seconds=rng.randint(5, 90))
                sends.append((verify_at, "fp-verification"))
            sends += [
                (when, "fp-marketing") for when in plant.marketing_at if day <= when < day + DAY
            ]
            for when, template in sends:
                events.append(
                    Event(
                        when,
                        contact,
                        plant.canary.label,
                        "first_party",
                        None,
                        template,
                        plant.source.name,
                    )
                )
        events += _fixed_sends(small, own, day)
        for campaign in world.campaigns:
            if campaign.kind != "leak" or not _runs_on(campaign, day_index):
                continue
            for item in campaign.items:
                if item.available_at > day or rng.random() >= campaign.reach:
                    continue
                for _ in range(_copies(rng, scale)):
                    events.append(
                        Event(
                            _daytime(rng, day),
                            item.contact,
                            item.canary,
                            "campaign",
                            campaign.id,
                            rng.choice(campaign.templates),
                            item.source,
                            item.name,
                        )
                    )
        for contact, label in contacts:
            for _ in range(_poisson(rng, cfg.background_rate * scale)):
                campaign = rng.choice(background)
                events.append(
                    Event(
                        _daytime(rng, day),
                        contact,
                        label,
                        "background",
                        campaign.id,
                        campaign.templates[0],
                        None,
                    )
                )
            for _ in range(_poisson(tail_rng, tail_rate) if tail_rate else 0):
                lang = "en" if tail_rng.random() < cfg.en_share else "zh"
                events.append(
                    Event(_daytime(tail_rng, day), contact, label, "one_off", None, lang, None)
                )
        events.sort(key=lambda e: (e.when, e.contact, e.kind))
        yield from events


def _fixed_sends(small: list[Campaign], own: list[SimSource], day: datetime) -> list[Event]:
    """The day's small-campaign and own-marketing sends, drawn with the world."""
    events = [
        Event(when, contact, label, "small", c.id, c.templates[0], None)
        for c in small
        for when, contact, label in c.sends
        if day <= when < day + DAY
    ]
    events += [
        Event(when, p.contact, p.canary.label, "first_party", None, "fp-own-marketing", s.name)
        for s in own
        for when, p in s.own_sends
        if day <= when < day + DAY
    ]
    return events


def _runs_on(campaign: Campaign, day_index: int) -> bool:
    if not campaign.start_day <= day_index < campaign.end_day:
        return False
    return (day_index - campaign.start_day) % campaign.run_every == 0


def _count(world: World) -> tuple[int, int]:
    """(unscaled, other) messages the schedule sends at volume 1.0."""
    first = other = 0
    for event in schedule(world, 1.0):
        if event.kind in ("first_party", "small"):
            first += 1
        else:
            other += 1
    return first, other


class _Renderer:
    """Turns events into sender, subject and text, with the second seeded stream."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = random.Random(world.config.seed * 104729 + 3)
        self.templates = {t["id"]: t for t in bank()["campaign"]}
        self.campaigns = {c.id: c for c in world.campaigns}
        self.sources = {s.name: s for s in world.sources}
        self._one_offs: OneOffs | None = None

    def render(self, event: Event, email: bool) -> tuple[str, str, str, str]:
        """(sender, subject, body, true template id) of one event."""
        rng, noise = self.rng, self.world.config.noise
        if event.kind == "first_party":
            source = self.sources[event.source]
            lang = source.lang
            key = "verification" if event.template == "fp-verification" else "marketing"
            own = event.template == "fp-own-marketing"
            texts = bank()["first_party"][key][lang]
            variant = rng.randrange(len(texts))  # the same draw as rng.choice(texts)
            text = texts[variant]
            reply = bank()["slots"]["reply"][lang][0]
            infra = Infra(source.name, source.mail_domain, reply, "")
            body = fill(
                rng,
                text,
                lang,
                infra,
                event.when,
                platform=source.name,
                code=f"{rng.randrange(10**6):06d}",
            )
            sender = f"noreply@{source.mail_domain}" if email else source.sender_id
            if own:  # its second channel, which the roster does not list
                sender = (source.own_mail if email else source.own_channel) or sender
            return sender, source.name, body, f"{event.template}-{lang}-{variant + 1}"
        if event.kind == "one_off":
            return self._one_off(event, email)
        campaign = self.campaigns[event.campaign]
        template = self.templates[event.template]
        body = fill(
            rng, template["text"], campaign.lang, campaign.infra, event.when, name=event.name
        )
        body = add_noise(rng, body, noise)
        if self.world.config.obfuscation:  # no draw at 0: a seed's bytes stay as they were
            body = obfuscate(rng, body, self.world.config.obfuscation, event.name)
        if email:
            sender = f"{campaign.infra.signature.lower()}@mail.{campaign.infra.url_host}"
            if not sender.isascii():
                sender = f"service{rng.randrange(100)}@mail.{campaign.infra.url_host}"
            subject = body.split("，")[0].split(",")[0][:40]
            return sender, subject, body, event.template
        channel = rng.choice(campaign.channels)
        return f"{channel}{rng.randrange(10**3):03d}", "", body, event.template

    def _one_off(self, event: Event, email: bool) -> tuple[str, str, str, str]:
        if self._one_offs is None:  # Faker loads only for a long tail
            self._one_offs = OneOffs(random.Random(self.world.config.seed * 15485863 + 7))
        rng = self.rng
        body = add_noise(rng, self._one_offs.text(event.template), self.world.config.noise)
        if self.world.config.obfuscation:
            body = obfuscate(rng, body, self.world.config.obfuscation)
        sender = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if email:
            sender = f"{sender}@{self._one_offs.fakers['en'].free_email_domain()}"
        return sender, body[:30] if email else "", body, "one-off"


def _roster(world: World, directory: Path) -> None:
    cfg = world.config
    sources = [
        Source(
            name=s.name,
            category=SourceCategory(s.category),
            url=s.url,
            sender_ids=(s.sender_id, s.mail_domain) if cfg.roster_ids else (),
            signatures=(signature_text(s.name, s.lang),) if cfg.roster_ids else (),
        )
        for s in world.sources
    ]
    canaries = [
        Canary(
            c.label, world.personas[c.label], c.phone, c.email, c.is_control and cfg.flag_controls
        )
        for c in world.canaries
    ]
    plants = [
        Plant(p.canary.label, p.source.name, p.planted_at, p.fields, p.name_used, p.email_used)
        for p in world.plants
    ]
    write_roster(directory, sources, canaries, plants)


def _campaign_truth(c: Campaign) -> dict:
    """One campaign in truth.json (a small campaign also lists whom it reached)."""
    entry = {
        "id": c.id,
        "kind": c.kind,
        "broker": None if c.broker is None else f"broker-{c.broker + 1}",
        "lang": c.lang,
        "templates": c.templates,
        "signature": c.infra.signature,
        "url_host": c.infra.url_host,
        "reply": c.infra.reply,
        "callback": c.infra.callback,
        "channels": c.channels,
    }
    if c.kind == "small":
        entry["canaries"] = [label for _, _, label in c.sends]
    return entry


def _truth_header(world: World) -> dict:
    cfg = asdict(world.config)
    for knob in SECOND_WORLD_KNOBS:  # listed only when set: old truth files stay the same
        if cfg[knob] == getattr(_DEFAULTS, knob):
            del cfg[knob]
    cfg["start"] = str(cfg["start"])
    cfg["languages"] = list(cfg["languages"])
    sources = []
    for s in world.sources:
        leak = None
        if s.leak:
            leak = {
                "kind": s.leak.kind,
                "start": s.leak.start.isoformat(),
                "interval_days": s.leak.interval_days,
                "delay_days": s.leak.delay_days,
                "brokers": [f"broker-{b + 1}" for b in s.leak.brokers],
                "sales": [
                    {"at": at.isoformat(), "canaries": [p.canary.label for p in sold]}
                    for at, sold in s.leak.sales
                ],
            }
            if s.leak.small:
                leak["small"] = True
        leaked = sorted(
            {p.canary.label for _, sold in (s.leak.sales if s.leak else []) for p in sold}
        )
        entry = {
            "name": s.name,
            "category": s.category,
            "leaked": s.leak is not None,
            "leak": leak,
            "leaked_canaries": leaked,
        }
        if s.own_channel:
            entry["own_marketing"] = {
                "channel": s.own_channel,
                "email_sender": s.own_mail,
                "days": [(world.t0 + DAY * d).date().isoformat() for d in s.own_days],
                "canaries": sorted({p.canary.label for _, p in s.own_sends}),
            }
        sources.append(entry)
    campaigns = [_campaign_truth(c) for c in world.campaigns]
    return {
        "config": cfg,
        "sources": sources,
        "campaigns": campaigns,
        "controls": [c.label for c in world.canaries if c.is_control],
        "plants": [
            {
                "canary": p.canary.label,
                "source": p.source.name,
                "planted_at": p.planted_at.isoformat(),
                "name_used": p.name_used,
            }
            for p in world.plants
        ],
    }


def simulate(config: SimConfig, directory: Path) -> SimResult:
    """Write a whole simulated study to ``directory``; the seed fixes every byte."""
    world = build_world(config)
    scale, tail_rate = 1.0, 0.0
    if config.messages is not None or config.long_tail:
        first, other = _count(world)
        kept = first + other  # the messages that are not the tail
        if config.messages is not None:
            kept = config.messages * (1 - config.long_tail)
            scale = max(0.0, (kept - first) / max(1, other))
        tail = kept * config.long_tail / (1 - config.long_tail)
        tail_rate = tail / (len(world.canaries) * config.days)
    directory.mkdir(parents=True, exist_ok=True)
    _roster(world, directory)
    end = world.t0 + DAY * config.days
    sms = SmsBackupWriter(directory / "sms", end)
    for canary in world.canaries:
        if canary.phone:
            sms.add_phone(canary.label, canary.emoji_refs)
    csv_out = CsvWriter(directory / "messages.csv")
    mbox = MboxWriter(directory / "email" / "canaries.mbox")
    truth = TruthWriter(directory / "truth.json", _truth_header(world))
    renderer = _Renderer(world)
    by_kind: dict[str, int] = {}
    mms_rng = random.Random(config.seed * 31 + 5)
    for n, event in enumerate(schedule(world, scale, tail_rate), start=1):
        email = "@" in event.contact
        sender, subject, body, template = renderer.render(event, email)
        if template == "one-off":
            template = f"one-off-{n}"  # each its own true template
        channel = "email" if email else "sms"
        if email:
            mbox.add(event.when, event.contact, sender, subject, body)
        elif event.kind == "campaign" and mms_rng.random() < config.mms_share:
            sms.mms(event.canary, sender, event.when, body)
            channel = "mms"
        else:
            sms.sms(event.canary, sender, event.when, body)
            if event.kind == "campaign" and mms_rng.random() < 0.01:
                sms.sms(event.canary, sender, event.when + timedelta(seconds=40), "T", kind=2)
        csv_out.row(event.when, event.contact, sender, body, channel, subject if email else "")
        by_kind[event.kind] = by_kind.get(event.kind, 0) + 1
        truth.message(
            {
                "id": n,
                "channel": channel,
                "recipient": event.contact,
                "canary": event.canary,
                "sender": sender,
                "received_at_ms": epoch_ms(event.when),
                "kind": event.kind,
                "campaign": event.campaign,
                "template": template,
                "source": event.source,
                "name_used": event.name or None,
            }
        )
    sms.close()
    csv_out.close()
    mbox.close()
    total = sum(by_kind.values())
    truth.close({"message_count": total, "messages_by_kind": by_kind, "scale": round(scale, 6)})
    return SimResult(
        directory=directory,
        messages=total,
        by_kind=by_kind,
        sources=len(world.sources),
        canaries=sum(not c.is_control for c in world.canaries),
        controls=sum(c.is_control for c in world.canaries),
        leaking_sources=sum(s.leak is not None for s in world.sources),
    )
