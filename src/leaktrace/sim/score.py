"""Scoring attribution against a simulated study's truth, for the tests and the bench.

A study is imported the way a user would import an export: the roster CSVs, then
``messages.csv`` through the CSV reader (one file, so a score costs seconds), then
the analysis chain. Verdicts are scored per source against ``truth.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from leaktrace.attribution.exposure import load_frames
from leaktrace.attribution.statistics import SourceVerdict, attribute
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.pipeline import analyse
from leaktrace.roster.csvfiles import import_roster
from leaktrace.store import Store


@dataclass(frozen=True)
class Score:
    """Verdicts against the truth: ``leaked`` counted as the positive call."""

    true_leaks: int
    called_leaked: int
    right: int  # called leaked and truly leaked
    clean_called_leaked: int  # truly clean sources called leaked (false alarms)
    delays: tuple[float, ...]  # days from each true leak to the first day it was called
    shared_leaks: int = 0  # true leaks whose every sold canary was planted elsewhere too
    right_shared: int = 0  # of those, the ones called leaked

    @property
    def precision(self) -> float:
        """Of the sources called leaked, the share that leaked."""
        return self.right / self.called_leaked if self.called_leaked else 1.0

    @property
    def recall(self) -> float:
        """Of the sources that leaked, the share called leaked."""
        return self.right / self.true_leaks if self.true_leaks else 1.0

    @property
    def recall_own(self) -> float:
        """Recall over the leaks that sold at least one canary planted at that source alone."""
        own = self.true_leaks - self.shared_leaks
        return (self.right - self.right_shared) / own if own else 1.0


def import_simulated(store: Store, directory: Path) -> None:
    """Roster CSVs, then messages.csv, then templates, campaigns and attribution."""
    import_roster(store, directory, ZoneInfo("Asia/Shanghai"))
    import_file(store, directory / "messages.csv", ImportOptions())
    analyse(store)


def true_leaks(directory: Path) -> dict[str, datetime]:
    """Each truly leaking source's name and when its leak began."""
    truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    return {
        s["name"]: datetime.fromisoformat(s["leak"]["start"])
        for s in truth["sources"]
        if s["leaked"]
    }


def shared_only_leaks(directory: Path) -> set[str]:
    """The leaking sources whose every sold canary was planted at another source as well.

    Without name markers such a leak cannot be told from the other source's: each
    spam it brings reaches a contact both had. A leak that sold nobody is not one.
    """
    truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    sources_of: dict[str, set[str]] = {}
    for plant in truth["plants"]:
        sources_of.setdefault(plant["canary"], set()).add(plant["source"])
    shared = set()
    for source in truth["sources"]:
        if not source["leaked"]:
            continue
        sold = [c for sale in source["leak"]["sales"] for c in sale["canaries"]]
        if sold and all(len(sources_of.get(canary, ())) > 1 for canary in sold):
            shared.add(source["name"])
    return shared


def score(
    verdicts: list[SourceVerdict],
    leaks: dict[str, datetime],
    delays: Iterable[float] = (),
    shared: set[str] = frozenset(),
) -> Score:
    """Count right and wrong ``leaked`` calls (``shared``: see ``shared_only_leaks``)."""
    called = {v.name for v in verdicts if v.verdict == "leaked"}
    return Score(
        true_leaks=len(leaks),
        called_leaked=len(called),
        right=len(called & leaks.keys()),
        clean_called_leaked=len(called - leaks.keys()),
        delays=tuple(delays),
        shared_leaks=len(shared & leaks.keys()),
        right_shared=len(shared & called & leaks.keys()),
    )


def detection_delays(store: Store, leaks: dict[str, datetime], step_days: int = 1) -> list[float]:
    """Days from each true leak to the first day its source's verdict is ``leaked``.

    Attribution is replayed as the study stood at the end of each day. Leaks never
    called leaked add no delay (recall counts them).
    """
    frames = load_frames(store)
    start = min(frames.plants["planted_at"]).to_pydatetime()
    end = frames.latest
    first_called: dict[str, datetime] = {}
    day = start + timedelta(days=1)
    while day <= end + timedelta(days=step_days) and len(first_called) < len(leaks):
        result = attribute(frames, as_of=min(day, end))
        for v in result.verdicts:
            if v.verdict == "leaked" and v.name in leaks and v.name not in first_called:
                first_called[v.name] = min(day, end)
        day += timedelta(days=step_days)
    return [
        max(0.0, (first_called[name] - leaks[name]).total_seconds() / 86_400)
        for name in sorted(first_called)
    ]


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return float(np.median(values)) if values else None
