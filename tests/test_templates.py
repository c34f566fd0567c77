"""Templates in a real store: clustering, incremental runs, rebuilds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from leaktrace.cluster import grouping_accuracy
from leaktrace.demo import find_sample_data
from leaktrace.store import Store
from leaktrace.templates import cluster_messages, list_templates

SAMPLE = find_sample_data()


@pytest.fixture
def study(tmp_path: Path, sample_store_file: Path) -> Store:
    shutil.copyfile(sample_store_file, tmp_path / "s.duckdb")
    return Store(tmp_path / "s.duckdb")


def partition(store: Store) -> dict[tuple[str, int], int]:
    """(canary label, received ms) → template id, for every clustered message."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT c.label, epoch_ms(m.received_at) // 1000, t.template_id"
            " FROM message_templates t JOIN messages m ON m.id = t.message_id"
            " JOIN canaries c ON c.id = m.canary_id"
        ).fetchall()
    return {(label, s): tid for label, s, tid in rows}


def test_every_message_gets_a_template_matching_the_true_ones(study):
    result = cluster_messages(study)
    assert result.messages == 2970 and not result.rebuilt
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    true = {(m["canary"], m["received_at_ms"] // 1000): m["template"] for m in truth["messages"]}
    got = partition(study)
    assert len(got) == len(true)
    keys = sorted(true)
    assert grouping_accuracy([got[k] for k in keys], [true[k] for k in keys]) >= 0.95
    biggest = list_templates(study, limit=1)[0]
    assert biggest.size > 300 and "<AMOUNT>" in biggest.text
    assert biggest.category == "loan" and biggest.category_confidence > 0.5


def test_a_second_run_clusters_only_new_messages_and_a_rebuild_agrees(study):
    first = cluster_messages(study)
    again = cluster_messages(study)
    assert (again.messages, again.new_templates) == (0, 0)
    incremental = partition(study)
    rebuilt = cluster_messages(study, rebuild=True)
    assert rebuilt.rebuilt and rebuilt.templates == first.templates
    fresh = partition(study)
    keys = sorted(incremental)
    assert grouping_accuracy([incremental[k] for k in keys], [fresh[k] for k in keys]) == 1.0


def test_new_messages_join_existing_templates(study, tmp_path):
    with study.connect() as con:
        con.execute("DELETE FROM messages WHERE id > 2000")
    cluster_messages(study)
    with study.connect() as con:
        before = con.execute("SELECT count(*) FROM templates").fetchone()[0]
    from leaktrace.ingest.importer import ImportOptions, import_file

    for path in sorted((SAMPLE / "sms").glob("canary-1*.xml")):
        import_file(study, path, ImportOptions(recipient=path.stem))
    result = cluster_messages(study)
    assert result.messages > 0 and result.templates == before


def test_changing_the_threshold_rebuilds(study):
    cluster_messages(study)
    result = cluster_messages(study, threshold=95)
    assert result.rebuilt and result.templates > 23
