"""How many processes parallel work should use, and keeping those processes lean."""

from __future__ import annotations

import os
import sys


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class _NoPandas:
    """A module finder that refuses pandas (see :func:`without_pandas`)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        """Refuse pandas and its modules; leave every other import to the usual finders."""
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is kept out of worker processes", name=name)


def without_pandas() -> None:
    """Keep pandas out of this (worker) process.

    pyarrow imports pandas the first time it builds an array from Python values, only to
    ask whether they are a DataFrame; a worker that stages Arrow chunks then carries
    pandas' ~50 MB for nothing. With the import refused, pyarrow goes on without it.
    """
    if not any(isinstance(finder, _NoPandas) for finder in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())
