"""Build the demo study from ``sample_data/`` through the normal user paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from leaktrace.ingest.importer import ImportOptions, ImportResult, import_file, load_book
from leaktrace.pipeline import AnalysisResult, analyse
from leaktrace.roster.csvfiles import ImportReport, import_roster
from leaktrace.store import Store


def find_sample_data() -> Path:
    """The demo study: ``sample_data/`` of the checkout, shipped in the wheel as package data."""
    return Path(str(resources.files("leaktrace.sample_data")))


@dataclass(frozen=True)
class DemoResult:
    """What the demo built."""

    store: Path
    roster: ImportReport
    counts: dict[str, int]
    imports: list[ImportResult] = field(default_factory=list)
    analysis: AnalysisResult | None = None


def sample_message_files(sample: Path) -> list[tuple[Path, ImportOptions]]:
    """The sample's exports as a user would import them: one backup per phone, one mbox."""
    files = [
        (path, ImportOptions(recipient=path.stem))
        for path in sorted((sample / "sms").glob("*.xml"))
    ]
    files += [(path, ImportOptions()) for path in sorted((sample / "email").glob("*.mbox"))]
    return files


def import_study(store: Store, sample: Path) -> tuple[ImportReport, list[ImportResult]]:
    """Import a (simulated) study's roster, SMS backups and mailbox as a user would."""
    # The sample's times carry offsets; the zone only matters for hand-edited rows.
    report = import_roster(store, sample, ZoneInfo("Asia/Shanghai"))
    book = load_book(store)
    imports = [
        import_file(store, path, options, book=book)
        for path, options in sample_message_files(sample)
    ]
    return report, imports


def build_demo(store: Store, sample: Path) -> DemoResult:
    """Import the sample study, then cluster, link campaigns and attribute."""
    report, imports = import_study(store, sample)
    analysed = analyse(store)
    return DemoResult(store.path, report, store.table_counts(), imports, analysed)
