"""``python -m leaktrace.cli``: the same command line as ``leaktrace``."""

from leaktrace.cli.main import app

app()
