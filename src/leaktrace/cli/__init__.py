"""The ``leaktrace`` command line: one module per command group over the library."""

from leaktrace.cli.main import app

__all__ = ["app"]
