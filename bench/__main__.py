"""Run every benchmark in bench/ (``make bench``); each prints ours beside its baseline."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    """Import each ``bench_*`` module of this folder and call its ``run()``."""
    folder = Path(__file__).parent
    sys.path.insert(0, str(folder.parent))
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_")
    )
    for name in names:
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
