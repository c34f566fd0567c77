"""Build the demo study from ``sample_data/`` through the normal user paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from leaktrace.roster_csv import ImportReport, import_roster
from leaktrace.store import Store


def find_sample_data() -> Path | None:
    """The sample study shipped in a source checkout, if this is one."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "sample_data"
        if (candidate / "truth.json").is_file():
            return candidate
    return None


@dataclass(frozen=True)
class DemoResult:
    """What the demo built."""

    store: Path
    roster: ImportReport
    counts: dict[str, int]


def build_demo(store: Store, sample: Path) -> DemoResult:
    """Import the sample study's roster (and, as ingestion lands, its messages)."""
    # The sample's times carry offsets; the zone only matters for hand-edited rows.
    report = import_roster(store, sample, ZoneInfo("Asia/Shanghai"))
    return DemoResult(store.path, report, store.table_counts())
