"""What attribution takes and returns: its settings, per-pair tests, verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Settings:
    """Thresholds of the verdicts (the defaults are the ones the accuracy bench measures)."""

    # Family-wise (Holm) adjusted p at or below which a unit shows a leak: the chance that
    # a study calls any clean source leaked stays below it, however many sources leak.
    # (Benjamini–Hochberg at 0.01 loosens with every real leak: one clean source in ~200
    # simulated studies was called leaked at q = 0.008 beside 50 real detections.)
    alpha: float = 0.01
    suspect_q: float = 0.1  # false-discovery q (Benjamini–Hochberg) for suspected
    min_hits: int = 2  # distinct canaries a unit must reach to show a leak
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

# Every verdict, strongest first, and the one colour each has wherever it is drawn
# (dashboard charts, the evidence report): leaked red, suspected amber, clean green,
# insufficient data grey.
VERDICT_COLOURS = {
    "leaked": "#dc2626",
    "suspected": "#d97706",
    "clean": "#16a34a",
    "insufficient data": "#6b7280",
}
VERDICTS = tuple(VERDICT_COLOURS)


@dataclass(frozen=True, order=True)
class Unit:
    """What attribution tests: a campaign, or a template outside any campaign.

    The store keys a unit as one text (``c12``, ``t40``: see view ``message_units``)
    so joins stay on one column; this is the only place that key is made or read.
    """

    kind: Literal["campaign", "template"]
    id: int

    @property
    def key(self) -> str:
        """The unit's key in the store."""
        return f"{self.kind[0]}{self.id}"

    @classmethod
    def from_key(cls, key: str) -> Unit:
        """The unit a store key names."""
        kind = {"c": "campaign", "t": "template"}.get(key[:1])
        if kind is None or not key[1:].isdigit():
            raise ValueError(f"not a unit key: {key!r}")
        return cls(kind, int(key[1:]))  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.kind.capitalize()} {self.id}"


@dataclass(frozen=True)
class UnitExposure:
    """One unit at one source: the test and its outcome."""

    unit: str  # the unit's store key; Unit.from_key(unit) gives kind and id
    source_id: int
    planted: int  # S's canaries in the test
    hit: int
    others: int  # comparison canaries (other sources' and controls)
    others_hit: int
    controls_hit: int
    p_value: float  # one-sided exposure-time test (Poisson-binomial tail)
    p_adjusted: float  # Holm (family-wise) over the tested family; 1 outside it
    lift: float  # hits over the hits expected under the null
    significant: bool
    hit_canaries: tuple[int, ...]
    expected: float = 0.0  # hits expected if the unit reached S's canaries like anyone's
    tested: bool = False  # in the family Tarone's rule chose from the margins
    q_value: float = 1.0  # Benjamini–Hochberg over the tested family; 1 outside it


@dataclass
class SourceVerdict:
    """What attribution concludes about one source."""

    source_id: int
    name: str
    category: str
    verdict: str  # leaked | suspected | clean | insufficient data
    reason: str
    score: float  # 1 − the best adjusted p; 1 with a name marker
    p_adjusted: float | None  # the best adjusted p of its units
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
    reason_key: str = ""  # the reason's key in the string table (leaktrace.i18n)
    reason_args: dict = field(default_factory=dict)  # what fills the key's placeholders


@dataclass
class Attribution:
    """A whole run: verdicts per source, the exposure table, broker overlap edges."""

    as_of: datetime | None
    verdicts: list[SourceVerdict]
    exposures: list[UnitExposure]
    background: list[str]
    controls: int  # canaries never planted (reserved controls and unplanted canaries)
    overlap: list[tuple[int, int, list[str]]]  # source a, source b, units reaching both
    family: int = 0  # (unit, source) pairs the adjustment is over
