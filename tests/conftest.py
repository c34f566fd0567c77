"""Shared fixtures: real stores in temporary directories."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from leaktrace.cli import app
from leaktrace.store import Store

# Property tests import real files into real stores: no per-example deadline.
settings.register_profile(
    "leaktrace",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("leaktrace")


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


@pytest.fixture(scope="session")
def sample_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the whole sample study (roster, SMS backups, mbox), built once."""
    from zoneinfo import ZoneInfo

    from leaktrace.ingest.importer import import_file, load_book
    from leaktrace.roster.csvfiles import import_roster
    from leaktrace.sim.demo import find_sample_data, sample_message_files

    sample = find_sample_data()
    store = Store(tmp_path_factory.mktemp("sample") / "sample.duckdb")
    import_roster(store, sample, ZoneInfo("Asia/Shanghai"))
    book = load_book(store)
    for path, options in sample_message_files(sample):
        import_file(store, path, options, book=book)
    return store.path


@pytest.fixture(scope="session")
def analysed_store_file(sample_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample study's store after clustering, campaign linking and attribution."""
    import shutil

    from leaktrace.pipeline import analyse

    path = tmp_path_factory.mktemp("analysed") / "analysed.duckdb"
    shutil.copyfile(sample_store_file, path)
    analyse(Store(path))
    return path


@pytest.fixture
def sample_copy(tmp_path: Path, sample_store_file: Path) -> Store:
    """A private copy of the sample study's store, for a test that writes to it."""
    import shutil

    shutil.copyfile(sample_store_file, tmp_path / "sample-copy.duckdb")
    return Store(tmp_path / "sample-copy.duckdb")
