"""Class: one huge message never takes the machine; it is stored whole and analysed by
its start (issue: hostile input)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from leaktrace import roster
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.pipeline import analyse
from leaktrace.templates.cluster import ANALYSED_CHARS, list_templates

PHONE = "+8613800138000"


def rows(n: int, big: str) -> list[dict]:
    out = [
        {
            "recipient": PHONE,
            "sender": f"1069000{i}",
            "received_at": f"2026-01-{i + 2:02d}T10:00:00+08:00",
            "body": f"您有{i}0000元备用金额度，回T退订",
        }
        for i in range(n)
    ]
    out.insert(2, {**out[0], "sender": "10690099", "body": big})
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_huge_body_is_stored_whole_and_clustered_by_its_start(store, tmp_path, fmt):
    roster.new_canary(store, phone=PHONE, seed=1)
    big = "贷款" * 1_000_000  # 2 million characters, 6 MB
    path = tmp_path / f"m.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows(5, big)))
    else:
        import csv

        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["recipient", "sender", "received_at", "body"])
            writer.writeheader()
            writer.writerows(rows(5, big))
    result = import_file(store, path, ImportOptions())
    assert result.inserted == 6 and result.rejected == 0
    with store.connect() as con:
        assert con.execute("SELECT max(length(body)) FROM messages").fetchone()[0] == len(big)
    analyse(store)
    assert max(len(t.text) for t in list_templates(store, 50)) <= ANALYSED_CHARS


PEAK = """
import json, resource
from leaktrace.cli import app
for args in json.loads({commands!r}):
    try:
        app(args)
    except SystemExit as exc:
        assert not exc.code, (args, exc.code)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_analysis_memory_does_not_grow_with_one_message(tmp_path):
    """Peak memory of `leaktrace ingest` (with analysis) of a 30 MB body stays near a small one."""
    peaks = {}
    for label, size in (("small", 10), ("huge", 10_000_000)):
        db = tmp_path / f"{label}.duckdb"
        path = tmp_path / f"{label}.jsonl"
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows(5, "贷" * size))
        )
        commands = [
            ["--db", str(db), "canary", "new", "--phone", PHONE, "--seed", "1"],
            ["--db", str(db), "ingest", str(path)],
            ["--db", str(db), "attribute"],
        ]
        script = PEAK.format(commands=json.dumps(commands))
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
        )
        peaks[label] = int(done.stdout.strip().splitlines()[-1]) / 1024  # MB
    # The huge body is read, keyed, stored and chained (a few copies of 30 MB), never more.
    assert peaks["huge"] - peaks["small"] < 400, peaks
