"""What attribution takes and returns: its settings, per-pair tests, verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Settings:
    """Thresholds of the verdicts (the defaults are the ones the accuracy bench measures)."""

    alpha: float = 0.01  # adjusted p at or below which a unit shows a leak
    suspect_alpha: float = 0.1  # adjusted p at or below which a source is suspected
    min_hits: int = 2  # canaries a unit must reach to show a leak
    min_lift: float = 2.0
    background_rate: float = 0.1  # share of controls a background unit reaches
    min_canaries: int = 3  # fewer planted canaries: insufficient data
    min_days: float = 14.0  # median days since planting below this: insufficient data
    min_controls: int = 3  # fewer controls: background cannot be told apart
    use_markers: bool = True  # off: statistics alone (the bench measures both)
    # The usual time from a leak to its first spam (a list changes hands, a campaign
    # runs): the point estimate of a leak date, inside the window the data allow.
    leak_lag_days: float = 7.0


DEFAULTS = Settings()


@dataclass(frozen=True)
class UnitExposure:
    """One unit at one source: the test and its outcome."""

    unit: str
    source_id: int
    planted: int  # S's canaries in the test
    hit: int
    others: int  # comparison canaries (other sources' and controls)
    others_hit: int
    controls_hit: int
    p_value: float
    q_value: float  # Benjamini–Hochberg adjusted
    lift: float
    significant: bool
    hit_canaries: tuple[int, ...]


@dataclass
class SourceVerdict:
    """What attribution concludes about one source."""

    source_id: int
    name: str
    category: str
    verdict: str  # leaked | suspected | clean | insufficient data
    reason: str
    score: float  # 1 − the best adjusted p; 1 with a name marker
    p_value: float | None  # the best adjusted p of its units
    canaries_planted: int
    canaries_hit: int  # reached by a significant unit or a marker after planting
    controls_hit: int  # controls reached by its significant units
    first_leak_seen: datetime | None
    estimated_leak_date: datetime | None
    leak_window: tuple[datetime, datetime] | None
    leak_pattern: str | None  # batch | continuous
    not_hit_after: int  # canaries planted after the estimated batch date and never hit
    fields_leaked: list[str]
    top_units: list[UnitExposure]
    marker_messages: list[int]
    timeline: list[dict] = field(default_factory=list)  # per canary: plant → first spam


@dataclass
class Attribution:
    """A whole run: verdicts per source, the exposure table, broker overlap edges."""

    as_of: datetime | None
    verdicts: list[SourceVerdict]
    exposures: list[UnitExposure]
    background: list[str]
    controls: int
    overlap: list[tuple[int, int, list[str]]]  # source a, source b, units reaching both
