"""The corpus of hostile files in tests/hostile/: each imports or fails in one line, and
the store keeps working (issue: hostile input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaktrace import roster
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.records import IngestError
from leaktrace.pipeline import analyse
from leaktrace.store import Store

CORPUS = sorted(p for p in (Path(__file__).parent / "hostile").iterdir() if p.suffix != ".md")

# What each file must give: (messages stored, at least this many rejects), or the error.
EXPECTED = {
    "xxe.xml": (2, 0),  # the reference is neutralised: no file is read
    "entity-bomb.xml": (2, 0),
    "control-characters.xml": (5, 0),
    "broken-quote.xml": (2, 1),
    "impossible-dates.xml": (1, 2),
    "truncated.xml": (2, 0),
    "times.csv": (1, 3),
    "markup.jsonl": (1, 0),
    "deep.jsonl": (1, 1),
    "unknown-charset.mbox": (2, 1),
    "gbk-declared-utf8.xml": "encoding",
    "not-a-message.csv": "no column",
    "empty.jsonl": "empty",
}


def test_every_corpus_file_has_an_expectation():
    assert {p.name for p in CORPUS} == set(EXPECTED)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("corpus") / "s.duckdb")
    roster.new_canary(store, phone="+8613800138000", label="phone-1", seed=1)
    roster.new_canary(store, email="ada@example.org", label="mail-1", seed=2)
    return store


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_a_hostile_file_imports_or_fails_in_one_line(store, path):
    expected = EXPECTED[path.name]
    if isinstance(expected, str):
        with pytest.raises(IngestError, match=expected):
            import_file(store, path, ImportOptions(recipient="phone-1"))
        return
    result = import_file(store, path, ImportOptions(recipient="phone-1"))
    stored, rejected = expected
    landed = result.inserted + result.duplicate  # the corpus shares some records
    assert (landed, result.rejected >= rejected) == (stored, True), result.problems
    if path.name == "xxe.xml":
        assert "root:" not in json.dumps(result.as_dict())


def test_the_store_analyses_after_the_corpus(store):
    analyse(store)
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM message_templates").fetchone()[0] > 0
