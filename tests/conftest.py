"""Shared fixtures: real stores in temporary directories."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leaktrace.cli import app
from leaktrace.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A fresh store at the latest schema version."""
    return Store(tmp_path / "study.duckdb", lock_timeout=10)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``leaktrace`` commands against a temporary store; returns (exit code, output)."""
    monkeypatch.setenv("LEAKTRACE_DB", str(tmp_path / "cli.duckdb"))
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    return run
