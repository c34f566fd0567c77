"""Fuzz: any input to any reader or the receiver gives imported records, record-level
rejects or one clear error; never a traceback or a hang, never a record after a bad one
lost, never an acknowledged message the drain cannot import (issue: hostile input).

`make test` tries each property on 40 examples; `make fuzz` on 3,000
(LEAKTRACE_FUZZ_EXAMPLES) and prints how many inputs each reader was given.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from leaktrace import roster
from leaktrace.ingest.formats.tabular import check_record
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.inbox import Inbox, inbox_dir
from leaktrace.ingest.records import IngestError
from leaktrace.pipeline import analyse
from leaktrace.store import Store

pytestmark = pytest.mark.fuzz
EXAMPLES = settings(max_examples=int(os.environ.get("LEAKTRACE_FUZZ_EXAMPLES", "40")))
PHONE = "+8613800138000"
TRIED: dict[str, int] = {}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """One store every fuzz input is imported into; it must stay usable throughout."""
    store = Store(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb", lock_timeout=60)
    roster.new_canary(store, phone=PHONE, label="phone-1", seed=1)
    roster.new_canary(store, email="ada@example.org", label="mail-1", seed=2)
    return store


def attempt(store: Store, name: str, data: bytes, options: ImportOptions) -> object:
    """Import ``data`` as a file called ``name``: a result or one IngestError, nothing else."""
    TRIED[name.rsplit(".", 1)[-1]] = TRIED.get(name.rsplit(".", 1)[-1], 0) + 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return import_file(store, path, options)
        except IngestError as exc:
            assert "\n" not in str(exc).strip(), "an error is one line"
            return exc


anything = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@EXAMPLES
@given(data=anything, fmt=st.sampled_from(["xml", "csv", "jsonl", "mbox", "eml"]))
def test_any_bytes_in_any_format_import_or_fail_in_one_line(store, data, fmt):
    attempt(store, f"x.{fmt}", data, ImportOptions(recipient="phone-1"))


body = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=60)


@EXAMPLES
@given(bad=st.text(max_size=80), position=st.integers(0, 5))
def test_jsonl_loses_no_record_after_a_bad_row(store, bad, position):
    good = [
        {"recipient": PHONE, "sender": f"1069{i}", "received_at": f"2026-01-0{i + 1}T10:00:00Z",
         "body": f"row {i}"}
        for i in range(6)
    ]  # fmt: skip
    lines = [json.dumps(r) for r in good]
    lines.insert(position, bad.replace("\n", " "))
    result = attempt(store, "r.jsonl", ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"),
                     ImportOptions())  # fmt: skip
    assert not isinstance(result, Exception)
    assert result.inserted + result.duplicate >= 6


@EXAMPLES
@given(subject=body, text=body, charset=st.sampled_from(["utf-8", "x-gbk", "bogus", "latin-1"]))
def test_mbox_loses_no_message_after_an_odd_one(store, subject, text, charset):
    def message(n: int, extra: str = "", payload: bytes = b"fine") -> bytes:
        head = (
            f"From a@x.example Mon Jan  5 10:00:0{n} 2026\nFrom: a@x.example\nTo: ada@example.org\n"
        )
        return head.encode() + extra.encode("utf-8", "surrogatepass") + b"\n" + payload + b"\n\n"

    odd_subject = subject.replace("\n", " ")
    odd = message(2, f"Subject: {odd_subject}\nContent-Type: text/plain; charset={charset}\n",
                  text.replace("\nFrom ", "\n>From ").encode("utf-8", "surrogatepass"))  # fmt: skip
    result = attempt(store, "m.mbox", message(1) + odd + message(3), ImportOptions())
    assert not isinstance(result, Exception)
    assert result.inserted + result.duplicate + result.rejected == 3
    note(str(result.problems))


scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_value = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
times = st.sampled_from(["2026-01-05T10:00:00Z", "1767576142490"])
record = st.fixed_dictionaries(
    {
        "recipient": st.sampled_from([PHONE, "13800138000", "x", ""]),
        "sender": st.text(max_size=20),
        "body": st.text(max_size=100),
    },
    optional={
        "received_at": json_value | times,
        "channel": json_value | st.sampled_from(["sms", "email", "mms", "fax"]),
        "subject": json_value,
        "id": json_value,
    },
)


@EXAMPLES
@given(record=record)
def test_what_the_receiver_acknowledges_the_drain_imports(store, record):
    """check_record() says yes only to records the drain lands (never the dead-letter file)."""
    TRIED["receiver"] = TRIED.get("receiver", 0) + 1
    if check_record(record) is not None:
        return
    inbox = Inbox(inbox_dir(store.path))
    inbox.append([record])
    results = inbox.drain(store)
    assert sum(r.inserted + r.duplicate for r in results) == 1, [r.problems for r in results]
    assert not any(r.problems for r in results)


def test_after_all_that_the_store_still_analyses(store):
    analyse(store)
    assert store.table_counts()["messages"] >= 0
    print(f"fuzz inputs tried: {TRIED}")
