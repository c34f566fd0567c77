"""Templates in a real store: clustering, incremental runs, rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store
from leaktrace.templates.cluster import (
    TemplateEditError,
    cluster_messages,
    list_templates,
    split_template,
)
from leaktrace.templates.index import grouping_accuracy

SAMPLE = find_sample_data()


@pytest.fixture
def study(sample_copy: Store) -> Store:
    return sample_copy


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


@pytest.mark.slow
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


def add_message(store: Store, tmp_path: Path, body: str, second: int) -> None:
    """One new SMS to canary-001, as a CSV export."""
    from leaktrace.ingest.importer import ImportOptions, import_file

    with store.connect() as con:
        phone = con.execute("SELECT phone FROM canaries WHERE label = 'canary-001'").fetchone()[0]
    path = tmp_path / f"new-{second}.csv"
    path.write_text(
        "received_at,recipient,sender,body\n"
        f'2026-06-01T10:00:{second:02d}+08:00,{phone},1069000000{second},"{body}"\n',
        encoding="utf-8",
    )
    assert import_file(store, path, ImportOptions()).inserted == 1


def template_of_last(store: Store) -> int:
    with store.connect() as con:
        return con.execute(
            "SELECT template_id FROM message_templates ORDER BY message_id DESC LIMIT 1"
        ).fetchone()[0]


def test_a_hand_merge_holds_for_later_messages(study, tmp_path, cli, monkeypatch):
    cluster_messages(study)
    first, second = list_templates(study, limit=2)
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    code, out = cli("merge-templates", str(first.id), str(second.id))
    assert code == 0 and f"{first.size} messages moved" in out
    assert [t.id for t in list_templates(study, limit=100)].count(first.id) == 0
    merged = next(t for t in list_templates(study, limit=100) if t.id == second.id)
    assert merged.size == first.size + second.size
    with study.connect() as con:
        body = con.execute(
            "SELECT m.body FROM messages m JOIN message_templates t ON t.message_id = m.id"
            " WHERE t.skeleton = ? LIMIT 1",
            [first.text],
        ).fetchone()
    body = body[0] if body else None
    assert body is not None
    add_message(study, tmp_path, body, 1)  # the same wording: a known skeleton
    cluster_messages(study)
    assert template_of_last(study) == second.id
    add_message(study, tmp_path, body.replace("，", "。", 1) + "！", 2)  # a new variant
    cluster_messages(study)
    assert template_of_last(study) == second.id
    code, out = cli("merge-templates", str(first.id), str(second.id))
    assert code == 1 and "was merged into" in out


def test_a_hand_split_gives_a_wording_its_own_template_now_and_later(study, tmp_path):
    cluster_messages(study)
    with study.connect() as con:
        template, skeleton, message, body = con.execute(
            """
            SELECT t.template_id, t.skeleton, t.message_id, m.body
            FROM message_templates t JOIN messages m ON m.id = t.message_id
            WHERE t.template_id IN (SELECT template_id FROM template_skeletons
                                    GROUP BY template_id HAVING count(*) > 1)
              AND t.skeleton <> (SELECT text FROM templates WHERE id = t.template_id)
            ORDER BY t.message_id LIMIT 1
            """
        ).fetchone()
    new, moved = split_template(study, message)
    assert moved >= 1
    with study.connect() as con:
        assert con.execute(
            "SELECT DISTINCT template_id FROM message_templates WHERE skeleton = ?", [skeleton]
        ).fetchall() == [(new,)]
    add_message(study, tmp_path, body, 3)
    cluster_messages(study)
    assert template_of_last(study) == new
    assert new != template
    with pytest.raises(TemplateEditError, match="only this skeleton"):
        split_template(study, message)


def clustered_upto(store: Store) -> int:
    with store.connect() as con:
        return con.execute(
            "SELECT value::BIGINT FROM clustering_settings WHERE name = 'clustered_upto'"
        ).fetchone()[0]


def last_id(store: Store) -> int:
    with store.connect() as con:
        return con.execute("SELECT max(id) FROM messages").fetchone()[0]


def test_a_message_left_unclustered_below_the_mark_is_still_clustered(study):
    cluster_messages(study)
    assert clustered_upto(study) == last_id(study)
    before = partition(study)
    # What a message committed late below the mark looks like: no template, id under it.
    with study.connect() as con:
        stragglers = con.execute("SELECT id FROM messages WHERE id IN (7, 1500)").fetchall()
        con.execute("DELETE FROM message_templates WHERE message_id IN (7, 1500)")
    assert len(stragglers) == 2
    result = cluster_messages(study)
    assert result.messages == 2 and result.new_templates == 0
    assert partition(study) == before
    assert cluster_messages(study).messages == 0


def test_the_mark_stays_below_a_message_whose_time_cannot_be_analysed_yet(study, tmp_path):
    cluster_messages(study)
    add_message(study, tmp_path, "您有30000元备用金额度,回T退订", 1)
    odd = last_id(study)
    with study.connect() as con:  # a time no message can carry today
        con.execute("UPDATE messages SET received_at = now() + INTERVAL 3 YEAR WHERE id = ?", [odd])
    add_message(study, tmp_path, "您有50000元备用金额度,回T退订", 2)
    assert cluster_messages(study).messages == 1  # the plausible one only
    assert clustered_upto(study) == odd - 1
    add_message(study, tmp_path, "您有70000元备用金额度,回T退订", 3)
    assert cluster_messages(study).messages == 1  # the mark did not skip the new one
    assert clustered_upto(study) == odd - 1
    # Its time becomes one a message can carry (the clock moved, or it was corrected).
    with study.connect() as con:
        con.execute(
            "UPDATE messages SET received_at = TIMESTAMPTZ '2026-06-01 10:00:00+08' WHERE id = ?",
            [odd],
        )
    assert cluster_messages(study).messages == 1
    assert clustered_upto(study) == last_id(study)
    with study.connect() as con:
        assert con.execute(
            "SELECT count(*) FROM message_templates WHERE message_id = ?", [odd]
        ).fetchone() == (1,)
