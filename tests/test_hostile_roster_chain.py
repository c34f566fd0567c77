"""Class: evidence changed unseen, the roster side. A plant's date moved back, a source's
sender IDs edited, a plant deleted or slipped in: verify names each (issue: hostile input)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from leaktrace import roster
from leaktrace.evidence.verify import verify_store
from leaktrace.model import Source, SourceCategory
from leaktrace.roster.csvfiles import import_roster
from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store


@pytest.fixture
def study(store: Store) -> Store:
    roster.add_source(store, Source(name="易信贷", category=SourceCategory.LOAN_PLATFORM,
                                    sender_ids=("10690001",)))  # fmt: skip
    for n in (1, 2):
        roster.new_canary(store, phone=f"+861380013800{n}", label=f"canary-00{n}", seed=n)
        roster.plant(store, f"canary-00{n}", "易信贷", datetime(2026, 1, n, tzinfo=UTC))
    # Rows nothing refers to yet (DuckDB refuses to update a row a foreign key points at).
    roster.add_source(
        store, Source(name="银行", category=SourceCategory.BANK, sender_ids=("95588",))
    )
    roster.new_canary(store, phone="+8613800138003", label="canary-003", seed=3)
    return store


def problems(store: Store) -> list[tuple[str, str, int | None]]:
    return [(p.kind, p.where, p.record) for p in verify_store(store).problems]


def test_a_fresh_roster_verifies(study):
    assert problems(study) == []
    with study.connect() as con:
        assert con.execute("SELECT count(*) FROM roster_chain").fetchone()[0] == 7


@pytest.mark.parametrize(
    "edit, expected",
    [
        ("UPDATE plants SET planted_at = planted_at - INTERVAL 30 DAY WHERE id = 1",
         ("altered", "store: plant", 1)),
        ("UPDATE plants SET marker = 'x' WHERE id = 2", ("altered", "store: plant", 2)),
        ("UPDATE sources SET sender_ids = ['10690001'] WHERE name = '银行'",
         ("altered", "store: source", 2)),
        ("UPDATE canaries SET phone = '+8613900139000' WHERE label = 'canary-003'",
         ("altered", "store: canary", 3)),
        ("DELETE FROM plants WHERE id = 2", ("missing", "store: plant", 2)),
        ("INSERT INTO plants (canary_id, source_id, planted_at, fields) VALUES "
         "(1, 1, TIMESTAMPTZ '2025-01-01 00:00:00+00', ['phone']) ON CONFLICT DO NOTHING;"
         " DELETE FROM plants WHERE id = 1; INSERT INTO plants (id, canary_id, source_id,"
         " planted_at, fields) VALUES (99, 1, 1, TIMESTAMPTZ '2025-01-01 00:00:00+00', ['phone'])",
         ("added", "store: plant", 99)),
    ],
)  # fmt: skip
def test_an_edit_to_a_roster_fact_is_named(study, edit, expected):
    with study.connect() as con:
        con.execute(edit)
    assert expected in problems(study)


def test_an_edited_chain_row_is_named(study):
    with study.connect() as con:
        con.execute("UPDATE roster_chain SET record_sha256 = repeat('0', 64) WHERE seq = 2")
    kinds = {p[0] for p in problems(study)}
    assert {"chain", "altered"} <= kinds


def test_a_store_from_before_the_roster_chain_is_chained_once_on_opening(tmp_path, monkeypatch):
    old = Store(tmp_path / "old.duckdb", migrate_to=11)
    # Today's first-party SQL reads tables a version-11 store lacks; with no messages
    # yet there is nothing to flag, as the code of that version would have found.
    monkeypatch.setattr("leaktrace.roster.actions.reflag_first_party", lambda *a, **k: 0)
    import_roster(old, find_sample_data(), ZoneInfo("Asia/Shanghai"))
    monkeypatch.undo()
    upgraded = Store(old.path)
    assert upgraded.schema_version() >= 12 and problems(upgraded) == []
    with upgraded.connect() as con:
        chained, plants = con.execute(
            "SELECT (SELECT count(*) FROM roster_chain WHERE kind = 'plant'),"
            " (SELECT count(*) FROM plants)"
        ).fetchone()
    assert chained == plants > 0


def test_a_roster_imported_in_one_transaction_is_chained(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    import_roster(store, find_sample_data(), ZoneInfo("Asia/Shanghai"))
    assert problems(store) == []


def test_a_row_slipped_in_by_hand_stays_named_after_later_roster_steps(study):
    with study.connect() as con:
        con.execute(
            "INSERT INTO plants (id, canary_id, source_id, planted_at, fields) VALUES"
            " (77, 3, 1, TIMESTAMPTZ '2025-01-01 00:00:00+00', ['phone'])"
        )
    roster.add_source(study, Source(name="商城", category=SourceCategory.ECOMMERCE))
    roster.new_canary(study, phone="+8613800138009", label="canary-009", seed=9)
    roster.plant(study, "canary-009", "商城", datetime(2026, 2, 1, tzinfo=UTC))
    assert problems(study) == [("added", "store: plant", 77)]
