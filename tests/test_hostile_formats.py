"""Classes: odd but real file content gets a record-level reject or a repair, never a
traceback; two processes at once never fail or double-count (issue: hostile input)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leaktrace import roster
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.inbox import Inbox, inbox_dir
from leaktrace.ingest.records import IngestError
from leaktrace.store import Store

PHONE = "+8613800138000"


@pytest.fixture
def study(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s.duckdb", lock_timeout=60)
    roster.new_canary(store, phone=PHONE, label="phone-1", seed=1)
    roster.new_canary(store, email="ada@example.org", label="mail-1", seed=2)
    return store


def bodies(store: Store) -> list[str]:
    with store.connect() as con:
        return [r[0] for r in con.execute("SELECT body FROM messages ORDER BY id").fetchall()]


def mbox_message(n: int, headers: str, body: bytes) -> bytes:
    head = f"From spam{n}@x.example Mon Jan  5 10:00:0{n} 2026\nFrom: spam{n}@x.example\n"
    return head.encode() + b"To: ada@example.org\n" + headers.encode() + b"\n\n" + body + b"\n\n"


@pytest.mark.parametrize(
    "charset, payload, expected",
    [
        ("x-gbk", "你好，贷款".encode("gbk"), "你好，贷款"),
        ("x-gb18030", "额度".encode("gb18030"), "额度"),
        ("unknown-8bit", b"hello \xff", "hello \ufffd"),
        ("no-such-charset", b"plain", "plain"),
    ],
)
def test_a_mail_in_an_unknown_charset_is_read_with_what_can_be_read(
    study, tmp_path, charset, payload, expected
):
    path = tmp_path / "m.mbox"
    path.write_bytes(
        mbox_message(1, "Subject: ok\nDate: Mon, 05 Jan 2026 10:00:00 +0800", b"first")
        + mbox_message(2, f'Subject: x\nContent-Type: text/plain; charset="{charset}"', payload)
    )
    result = import_file(study, path, ImportOptions())
    assert result.inserted == 2 and result.rejected == 0
    assert bodies(study)[1] == expected


def test_an_mbox_message_timed_only_by_its_from_line_lands(study, tmp_path):
    path = tmp_path / "m.mbox"
    path.write_bytes(b"".join(mbox_message(n, f"Subject: s{n}", b"body") for n in range(1, 4)))
    result = import_file(study, path, ImportOptions())
    assert result.inserted == 3
    with study.connect() as con:
        times = [
            r[0] for r in con.execute("SELECT received_at FROM messages ORDER BY id").fetchall()
        ]
    assert [(t.year, t.month, t.day, t.second) for t in times] == [
        (2026, 1, 5, s) for s in (1, 2, 3)
    ]


def test_jsonl_lines_nested_too_deep_or_with_lone_surrogates_lose_only_themselves(study, tmp_path):
    good = {"recipient": PHONE, "sender": "10690001", "received_at": "2026-01-05T10:00:00Z"}
    lines = [
        json.dumps({**good, "body": "first"}),
        '{"body": ' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({**good, "body": "lone \ud800 surrogate", "sender": "10690002"}),
        json.dumps({**good, "body": "last", "sender": "10690003"}),
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    result = import_file(study, path, ImportOptions())
    assert result.inserted == 3 and result.problems == ["m.jsonl:2: JSON nested too deep"]
    assert bodies(study) == ["first", "lone \ufffd surrogate", "last"]


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "/proc/self/status"])
def test_device_and_special_files_get_one_line(study, path):
    if not Path(path).exists():
        pytest.skip(f"{path} is not on this system")
    with pytest.raises(IngestError):
        import_file(study, Path(path), ImportOptions(recipient="phone-1"))


def _leaktrace(db: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "LEAKTRACE_LOCK_TIMEOUT": "120"}
    return subprocess.Popen(
        [sys.executable, "-m", "leaktrace.cli", "--db", str(db), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_inbox_drains_at_once_store_each_message_once(study):
    inbox = Inbox(inbox_dir(study.path))
    for k in range(6):
        records = [
            {"recipient": PHONE, "sender": f"1069{k:02d}{i:03d}", "body": f"您有{i}元额度",
             "received_at": f"2026-01-05T10:{k:02d}:{i % 60:02d}Z"}
            for i in range(200)
        ]  # fmt: skip
        (inbox.directory / f"pending-{k}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        )
    runs = [_leaktrace(study.path, "ingest", "--inbox", "--no-analyse") for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert not any("Traceback" in out for out in outputs)
    assert len(bodies(study)) == 1200 and inbox.pending() == []


def test_two_analyses_at_once_give_each_message_one_template(study, tmp_path):
    path = tmp_path / "m.jsonl"
    rows = [
        {
            "recipient": PHONE,
            "sender": f"10690{i % 50:03d}",
            "received_at": f"2026-01-05T10:00:{i % 60:02d}Z",
            "body": f"【平台{i % 40}】您有{i}元备用金额度，回T退订 http://x{i % 40}.example/{i}",
        }
        for i in range(3000)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    import_file(study, path, ImportOptions())
    runs = [_leaktrace(study.path, "attribute") for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with study.connect() as con:
        assert con.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM message_templates"
        ).fetchone() == (3000, 3000)


def test_a_merge_by_hand_changes_what_a_concurrent_clustering_read(study, tmp_path):
    """The clustering pass redoes its work when a merge moved messages meanwhile."""
    from leaktrace.templates.cluster import _STATE, cluster_messages, merge_templates

    path = tmp_path / "m.jsonl"
    bodies = ["您有30000元备用金额度，回T退订", "Win a free iPhone now, reply YES"]
    path.write_text(
        "".join(
            json.dumps({"recipient": PHONE, "sender": "10690001", "body": b,
                        "received_at": f"2026-01-05T10:00:0{i}Z"}, ensure_ascii=False) + "\n"
            for i, b in enumerate(bodies)
        )
    )  # fmt: skip
    import_file(study, path, ImportOptions())
    cluster_messages(study)
    with study.connect() as con:
        before = con.execute(_STATE).fetchall()[0]
        ids = [r[0] for r in con.execute("SELECT id FROM templates ORDER BY id").fetchall()]
    merge_templates(study, ids[1], ids[0])
    with study.connect() as con:
        assert con.execute(_STATE).fetchall()[0] != before
