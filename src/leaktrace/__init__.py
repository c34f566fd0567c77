"""leaktrace: plant canary identities, log the spam they get, find who leaked them.

The public API is below; each name is imported when first used, so that
``import leaktrace`` (and every CLI command) starts without loading the
heavy libraries the analysis needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_API = {
    "LeaktraceError": "leaktrace.errors",
    "Store": "leaktrace.store",
    "StoreBusy": "leaktrace.store",
    "Source": "leaktrace.model",
    "SourceCategory": "leaktrace.model",
    "Canary": "leaktrace.model",
    "Persona": "leaktrace.model",
    "Plant": "leaktrace.model",
    "Field": "leaktrace.model",
    "add_source": "leaktrace.roster",
    "new_canary": "leaktrace.roster",
    "plant": "leaktrace.roster",
    "import_roster": "leaktrace.roster.csvfiles",
    "export_roster": "leaktrace.roster.csvfiles",
    "ImportOptions": "leaktrace.ingest.importer",
    "import_file": "leaktrace.ingest.importer",
    "analyse": "leaktrace.pipeline",
    "source_reports": "leaktrace.attribution.verdicts",
    "build_pack": "leaktrace.evidence.pack",
    "export_study": "leaktrace.evidence.pack",
    "verify_store": "leaktrace.evidence.verify",
    "verify_pack": "leaktrace.evidence.verify",
    "simulate": "leaktrace.sim.simulate",
    "build_demo": "leaktrace.sim.demo",
}

__all__ = [
    "Canary",
    "Field",
    "ImportOptions",
    "LeaktraceError",
    "Persona",
    "Plant",
    "Source",
    "SourceCategory",
    "Store",
    "StoreBusy",
    "__version__",
    "add_source",
    "analyse",
    "build_demo",
    "build_pack",
    "export_roster",
    "export_study",
    "import_file",
    "import_roster",
    "new_canary",
    "plant",
    "simulate",
    "source_reports",
    "verify_pack",
    "verify_store",
]

if TYPE_CHECKING:  # pragma: no cover
    from leaktrace.attribution.verdicts import source_reports
    from leaktrace.errors import LeaktraceError
    from leaktrace.evidence.pack import build_pack, export_study
    from leaktrace.evidence.verify import verify_pack, verify_store
    from leaktrace.ingest.importer import ImportOptions, import_file
    from leaktrace.model import Canary, Field, Persona, Plant, Source, SourceCategory
    from leaktrace.pipeline import analyse
    from leaktrace.roster import add_source, new_canary, plant
    from leaktrace.roster.csvfiles import export_roster, import_roster
    from leaktrace.sim.demo import build_demo
    from leaktrace.sim.simulate import simulate
    from leaktrace.store import Store, StoreBusy


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            globals()[name] = version("leaktrace")
        except PackageNotFoundError:  # pragma: no cover - a source tree never installed
            globals()[name] = "0+unknown"
        return globals()[name]
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'leaktrace' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API, for tab completion."""
    return sorted(__all__)
