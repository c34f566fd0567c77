import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import store_worker
from leaktrace.store import Store, StoreBusy
from leaktrace.store.connection import open_with_retry
from leaktrace.store.migrations import available_migrations

WORKER = str(Path(__file__).with_name("store_worker.py"))


def test_migrations_are_numbered_without_gaps():
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_store_at_migration_1_upgrades_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    old = Store(path, migrate_to=1)
    assert old.schema_version() == 1
    with old.transaction() as con:
        con.execute("INSERT INTO sources (name, category) VALUES ('企查查', 'credit_inquiry')")
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert "messages" not in tables

    upgraded = Store(path)
    latest = available_migrations()[-1].version
    assert upgraded.schema_version() == latest
    with upgraded.connect() as con:
        assert con.execute("SELECT name FROM sources").fetchall() == [("企查查",)]
        assert con.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        applied = con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert [v for (v,) in applied] == list(range(1, latest + 1))


def test_reopening_applies_nothing(store):
    assert store.upgrade() == []


def test_a_store_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    Store(path)
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
    with pytest.raises(RuntimeError, match="upgrade leaktrace"):
        Store(path)


def test_busy_store_gives_a_clear_error_after_the_timeout(tmp_path):
    path = tmp_path / "busy.duckdb"
    Store(path)
    holder = store_worker.start_holding(path)
    try:
        with pytest.raises(StoreBusy, match=r"busy for 0 s .* LEAKTRACE_LOCK_TIMEOUT"):
            open_with_retry(path, lock_timeout=0.3)
        store_worker.release(holder)
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone the store opens at the first attempt.
    open_with_retry(path, lock_timeout=0).close()


@pytest.mark.slow
def test_separate_processes_share_one_store_without_lock_errors_or_lost_writes(tmp_path):
    path = tmp_path / "shared.duckdb"
    Store(path)
    holder = store_worker.start_holding(path)
    others = [
        subprocess.Popen(
            [sys.executable, WORKER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (
            ["write", str(path), "a", "60"],
            ["write", str(path), "b", "60"],
            ["read", str(path), "60"],
        )
    ]
    try:
        # Each one found the store locked and is waiting for it, not failing.
        for process in others:
            assert process.stdout.readline().strip() == "waiting", process.communicate(timeout=120)
        assert all(process.poll() is None for process in others)
        store_worker.release(holder)
        for process in others:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
            assert "lock" not in stderr.lower()
    finally:
        for process in [holder, *others]:
            process.kill()
            process.wait()
    with duckdb.connect(str(path), read_only=True) as con:
        keys = {k for (k,) in con.execute("SELECT message_key FROM messages").fetchall()}
    expected = {0} | {store_worker.key(f"{w}-{i}") for w in "ab" for i in range(60)}
    assert keys == expected


def test_a_held_store_gives_every_step_one_connection_and_others_wait_for_the_block(store):
    with store.held():
        with store.connect() as first, store.connect() as second:
            assert first is second
        with store.held(), store.connect() as nested:  # a nested hold joins the outer one
            assert nested is first
        reader = subprocess.Popen(
            [sys.executable, WORKER, "read", str(store.path), "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Between two steps of the block the store stays locked for other processes.
            assert reader.stdout.readline().strip() == "waiting", reader.communicate(timeout=60)
            assert reader.poll() is None
        except BaseException:
            reader.kill()
            raise
    _, stderr = reader.communicate(timeout=120)
    assert reader.returncode == 0, stderr
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")  # the block closed it
    with store.connect() as after:
        assert after is not first


def reader_done(path: Path) -> tuple[str, int]:
    """(what a separate reading process printed, its exit code) once it is done."""
    done = subprocess.run(
        [sys.executable, WORKER, "read", str(path), "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip(), done.returncode


def test_a_held_block_opens_the_store_at_its_first_step_and_release_gives_it_back(store):
    with store.held():
        assert reader_done(store.path) == ("", 0)  # nothing opened yet: nobody waits
        with store.connect() as held:
            pass
        store.release()  # e.g. before an import started from a dashboard page
        with pytest.raises(duckdb.ConnectionException):
            held.execute("SELECT 1")
        assert reader_done(store.path) == ("", 0)
        with store.connect() as first, store.connect() as second:
            assert first is not second  # each step on its own connection now
        with store.held(), store.connect() as inner, store.connect() as again:
            assert inner is again  # a hold inside holds for itself
        with store.transaction() as con:
            store.release()  # inside a transaction: nothing to give back
            con.execute("SELECT 1")
