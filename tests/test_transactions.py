"""One nestable Store.transaction, deferred follow-ups, and one canary lookup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leaktrace import roster
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.quarantine import assign
from leaktrace.model import Source, SourceCategory
from leaktrace.roster import RosterError
from leaktrace.store import Store, TransactionAborted


def count(store: Store, table: str) -> int:
    with store.connect() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def shop(name: str) -> Source:
    return Source(name=name, category=SourceCategory.ECOMMERCE)


def test_nested_transactions_share_one_connection_and_commit_together(store):
    with store.transaction() as outer:
        roster.add_source(store, shop("a"))
        with store.transaction() as inner, store.connect() as reader:
            assert inner is outer and reader is outer
            roster.add_source(store, shop("b"))
            assert count(store, "sources") == 2  # reads its own writes
    assert count(store, "sources") == 2


def test_an_error_leaving_the_outer_block_rolls_back_every_nested_step(store):
    with pytest.raises(RuntimeError), store.transaction():
        roster.add_source(store, shop("a"))
        with store.transaction():
            roster.add_source(store, shop("b"))
        raise RuntimeError("boom")
    assert count(store, "sources") == 0


def test_a_bug_in_a_nested_block_dooms_the_transaction_even_when_caught(store):
    with pytest.raises(TransactionAborted), store.transaction():
        roster.add_source(store, shop("a"))
        try:
            with store.transaction():
                roster.add_source(store, shop("b"))
                raise KeyError("a bug half-way")
        except KeyError:
            pass
    assert count(store, "sources") == 0


def test_a_refusal_in_a_nested_step_can_be_caught_and_the_rest_commits(store):
    with store.transaction():
        roster.add_source(store, shop("a"))
        with pytest.raises(RosterError, match="already exists"):
            roster.add_source(store, shop("a"))
        roster.add_source(store, shop("b"))
    assert count(store, "sources") == 2


def test_deferred_work_runs_once_per_key_with_every_item_before_commit(store):
    seen: list[list] = []
    with store.transaction():
        for item in (1, 2, 2):
            store.defer("k", lambda con, items: seen.append(list(items)), item)
        assert seen == []
    assert seen == [[1, 2, 2]]
    with pytest.raises(RuntimeError, match="open transaction"):
        store.defer("k", lambda con, items: None)


def test_a_store_can_be_pickled_for_worker_processes(store):
    import pickle

    copy = pickle.loads(pickle.dumps(store))
    assert copy.path == store.path and copy.transaction


@pytest.mark.parametrize(
    "ref",
    ["canary-001", "+8613800138001", "13800138001", "+86 138-0013-8001", "0086 138 0013 8001"],
)
def test_a_canary_is_found_by_label_or_any_spelling_of_its_phone(store, ref):
    roster.new_canary(store, phone="13800138001", label="canary-001", seed=1)
    assert roster.find_canary(store, ref).label == "canary-001"


@pytest.mark.parametrize("ref", ["A.Person@Example.org", " a.person@example.org "])
def test_a_canary_is_found_by_its_email_in_any_case(store, ref):
    roster.new_canary(store, email="a.person@example.org", label="mail-1", seed=1)
    assert roster.find_canary(store, ref).label == "mail-1"


def test_an_unknown_canary_is_one_clear_error(store):
    with pytest.raises(RosterError, match="unknown canary 'nobody'"):
        roster.find_canary(store, "nobody")


def sms_backup(path: Path, bodies: list[str]) -> Path:
    lines = "".join(
        f'<sms address="10690001" date="{1767576142490 + i}" type="1" body="{b}" />\n'
        for i, b in enumerate(bodies)
    )
    path.write_text(f'<?xml version="1.0"?>\n<smses count="{len(bodies)}">\n{lines}</smses>\n')
    return path


@pytest.mark.parametrize("spelling", ["13800138000", "+86 138 0013 8000", "canary-001"])
def test_quarantine_assign_takes_the_canary_as_plant_does(store, tmp_path, spelling):
    roster.add_source(store, shop("a"))
    roster.new_canary(store, phone="+8613800138000", label="canary-001", seed=1)
    path = sms_backup(tmp_path / "x.xml", ["您有30000元备用金额度", "回T退订"])
    import_file(store, path, ImportOptions(recipient="+8613900139000"))
    assert count(store, "quarantine") == 2
    assert assign(store, "+8613900139000", spelling) == 2
    assert count(store, "quarantine") == 0
    roster.plant(store, spelling, "a", datetime(2026, 1, 1, tzinfo=UTC))
    assert [p.canary for p in roster.list_plants(store)] == ["canary-001"]
