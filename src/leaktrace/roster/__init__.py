"""The roster: sources, canaries with their personas and contacts, plants and markers.

The actions (``add_source``, ``new_canary``, ``plant``, ...) are imported on first
use, so modules that only need contacts or markers stay light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "PlantResult",
    "RosterError",
    "add_source",
    "find_canary",
    "list_canaries",
    "list_plants",
    "list_sources",
    "new_canary",
    "parse_category",
    "parse_fields",
    "plant",
    "read_pool",
]

if TYPE_CHECKING:  # pragma: no cover
    from leaktrace.roster.actions import (
        PlantResult,
        RosterError,
        add_source,
        find_canary,
        list_canaries,
        list_plants,
        list_sources,
        new_canary,
        parse_category,
        parse_fields,
        plant,
        read_pool,
    )


def __getattr__(name: str) -> Any:
    """Import an action from ``leaktrace.roster.actions`` on first use (PEP 562)."""
    if name in __all__:
        return getattr(import_module("leaktrace.roster.actions"), name)
    raise AttributeError(f"module 'leaktrace.roster' has no attribute {name!r}")
