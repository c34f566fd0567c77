"""The settings of a simulated study, apart from the simulator so the CLI starts fast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from leaktrace.errors import LeaktraceError


@dataclass(frozen=True)
class SimConfig:
    """Every knob of the simulator, with the defaults of the sample study."""

    seed: int = 7
    sources: int = 30
    canaries: int = 130
    canaries_per_source: int | None = None
    controls: int = 20
    days: int = 90
    start: date = date(2026, 1, 5)
    leak_share: float = 0.4
    batch_share: float = 0.5
    brokers: int = 4
    campaigns_per_broker: int = 3
    background_rate: float = 0.15
    background_campaigns: int = 12
    noise: float = 0.1
    languages: tuple[str, ...] = ("zh", "en")
    en_share: float = 0.15
    email_share: float = 0.1
    double_plant_share: float = 0.0
    messages: int | None = None
    mms_share: float = 0.02
    emoji_refs_share: float = 0.3
    # Knobs of a "second world" the attribution was not tuned on. At their defaults
    # they draw nothing, so a seed gives the same bytes as before they existed.
    roster_ids: bool = True
    flag_controls: bool = True
    small_campaigns: int = 0
    own_marketing_share: float = 0.0
    small_leak_share: float = 0.0
    markers: bool = True
    obfuscation: float = 0.0  # chance of each spammer obfuscation (render.obfuscate)
    long_tail: float = 0.0  # share of the messages that are one-off texts, each sent once

    @property
    def planted(self) -> int:
        """How many canaries are planted (the rest of the contacts are controls)."""
        return (
            self.canaries_per_source * self.sources if self.canaries_per_source else self.canaries
        )

    @property
    def t0(self) -> datetime:
        """The study's first instant (UTC)."""
        return datetime.combine(self.start, datetime.min.time(), tzinfo=UTC)


# The knobs of a world the attribution was not tuned on; truth.json lists them only when set.
SECOND_WORLD_KNOBS = (
    "roster_ids",
    "flag_controls",
    "small_campaigns",
    "own_marketing_share",
    "small_leak_share",
    "markers",
    "obfuscation",
    "long_tail",
)


class SimulationError(LeaktraceError, ValueError):
    """A simulator setting that cannot make a study, with what to change."""


def check_config(cfg: SimConfig) -> None:
    """Refuse settings that cannot make a study, naming the option to change."""
    from leaktrace.roster.contacts import FICTIONAL_COUNT

    planted = cfg.planted
    problems = []
    if planted + cfg.controls > FICTIONAL_COUNT:
        problems.append("--canaries plus --controls is limited to 1000 (fictional numbers)")
    if min(cfg.sources, cfg.days, cfg.brokers, cfg.background_campaigns) < 1:
        problems.append("--sources, --days and --brokers must be at least 1")
    if planted < 1 or cfg.controls < 0:
        problems.append("--canaries must be at least 1 and --controls not negative")
    shares = {
        "--leak-share": cfg.leak_share,
        "--batch-share": cfg.batch_share,
        "--noise": cfg.noise,
        "--en-share": cfg.en_share,
        "--email-share": cfg.email_share,
        "--double-plant-share": cfg.double_plant_share,
        "--own-marketing-share": cfg.own_marketing_share,
        "--small-leak-share": cfg.small_leak_share,
        "--obfuscation": cfg.obfuscation,
    }
    problems += [f"{name} must be between 0 and 1" for name, v in shares.items() if not 0 <= v <= 1]
    if not 0 <= cfg.long_tail < 1:
        problems.append("--long-tail must be at least 0 and below 1")
    if not cfg.languages or set(cfg.languages) - {"zh", "en"}:
        problems.append("--languages takes zh, en or zh,en")
    if cfg.double_plant_share and cfg.sources < 2:
        problems.append("--double-plant-share needs at least 2 sources")
    if cfg.background_rate < 0 or (cfg.messages is not None and cfg.messages < 0):
        problems.append("--background-rate and --messages cannot be negative")
    if cfg.small_campaigns < 0:
        problems.append("--small-campaigns cannot be negative")
    if problems:
        raise SimulationError("; ".join(problems))
