"""Import a simulated study into a store as a user would (roster, then every export)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from leaktrace.sim.demo import import_study
from leaktrace.store import Store


def main() -> None:
    """``python -m bench.build_store STUDY_DIR STORE``."""
    started = time.perf_counter()
    _, imports = import_study(Store(Path(sys.argv[2])), Path(sys.argv[1]))
    inserted = sum(r.inserted for r in imports)
    print(f"imported {inserted:,} messages in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
