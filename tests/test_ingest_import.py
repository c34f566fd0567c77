"""Importing messages into a real store: keys, batches, atomicity, quarantine, first-party."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leaktrace import roster
from leaktrace.ingest import importer, parallel
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.ingest.records import IngestError
from leaktrace.model import Field, Source, SourceCategory
from leaktrace.roster.csvfiles import import_roster
from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store

SAMPLE = find_sample_data()
HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"


def sms(address: str, ms: int, body: str, kind: int = 1, sub_id: str | None = None) -> str:
    """One <sms> line as SMS Backup & Restore writes it (attributes escaped)."""
    body = body.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    sub = f' sub_id="{sub_id}"' if sub_id else ""
    return (
        f'  <sms protocol="0" address="{address}" date="{ms}" type="{kind}" subject="null" '
        f'body="{body}" toa="null" sc_toa="null" service_center="null" read="1" status="-1" '
        f'locked="0" date_sent="0"{sub} readable_date="" contact_name="(Unknown)" />\n'
    )


def backup(path: Path, lines: list[str], encoding: str = "utf-8", declared: str = "UTF-8") -> Path:
    """Write a backup file around ``lines``."""
    head = HEAD.replace("UTF-8", declared)
    text = head + f'<smses count="{len(lines)}" backup_set="x" backup_date="0" type="full">\n'
    path.write_bytes((text + "".join(lines) + "</smses>\n").encode(encoding))
    return path


def rows(store: Store, sql: str = "SELECT count(*) FROM messages") -> list[tuple]:
    with store.connect() as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def sample_study(sample_store_file: Path) -> Store:
    """The sample study's roster and all its SMS and e-mail exports, imported once."""
    return Store(sample_store_file)


@pytest.fixture(scope="module")
def roster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file holding the sample roster, built once and copied per test."""
    store = Store(tmp_path_factory.mktemp("roster") / "roster.duckdb")
    import_roster(store, SAMPLE, ZoneInfo("Asia/Shanghai"))
    return store.path


@pytest.fixture
def study(tmp_path: Path, roster_file: Path) -> Store:
    """A store holding the sample roster, no messages."""
    shutil.copyfile(roster_file, tmp_path / "study.duckdb")
    return Store(tmp_path / "study.duckdb", lock_timeout=10)


def test_the_sample_study_imports_whole_with_first_party_flags_as_in_truth(sample_study):
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    assert rows(sample_study) == [(truth["message_count"],)]
    assert rows(sample_study, "SELECT count(*) FROM quarantine") == [(0,)]
    # E-mail times carry whole seconds (the Received header), so compare at that grain.
    flagged = {
        (label, ms // 1000)
        for label, ms in rows(
            sample_study,
            "SELECT c.label, epoch_ms(m.received_at) FROM messages m"
            " JOIN canaries c ON c.id = m.canary_id WHERE m.first_party",
        )
    }
    expected = {
        (m["canary"], m["received_at_ms"] // 1000)
        for m in truth["messages"]
        if m["kind"] == "first_party"
    }
    assert flagged == expected


def test_every_message_points_to_a_batch_with_the_file_hash_and_keeps_its_raw_record(study):
    path = SAMPLE / "sms" / "canary-004.xml"
    result = import_file(study, path, ImportOptions(recipient="canary-004"))
    (batch,) = rows(
        study, "SELECT id, file_name, file_size, file_sha256, inserted FROM import_batches"
    )
    assert batch == (
        result.batch_id,
        "canary-004.xml",
        path.stat().st_size,
        hashlib.sha256(path.read_bytes()).hexdigest(),
        result.inserted,
    )
    for raw, raw_sha, batch_id, position in rows(
        study, "SELECT raw, raw_sha256, batch_id, position FROM messages"
    ):
        assert raw.startswith("<sms ") and hashlib.sha256(raw.encode()).hexdigest() == raw_sha
        assert batch_id == result.batch_id and position.startswith("line ")


def test_reimporting_a_file_adds_nothing_and_says_so(study, cli, monkeypatch, tmp_path):
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    path = str(SAMPLE / "sms" / "canary-001.xml")
    code, first = cli("ingest", "--recipient", "canary-001", "--json", path)
    code2, second = cli("ingest", "--recipient", "canary-001", "--json", path)
    a, b = json.loads(first)[0], json.loads(second)[0]
    assert code == code2 == 0
    assert a["inserted"] > 0 and a["duplicate"] == 0
    assert b["inserted"] == 0 and b["duplicate"] == a["inserted"]
    assert rows(study) == [(a["inserted"],)]
    assert rows(study, "SELECT count(*) FROM import_batches") == [(2,)]


def test_two_overlapping_backups_of_one_phone_add_each_message_once(study, tmp_path):
    lines = [
        line
        for line in (SAMPLE / "sms" / "canary-002.xml").read_text(encoding="utf-8").splitlines(True)
        if line.lstrip().startswith("<sms ")
    ]
    cut_a, cut_b = len(lines) * 6 // 10, len(lines) * 4 // 10
    older = backup(tmp_path / "march.xml", lines[:cut_a])
    newer = backup(tmp_path / "april.xml", lines[cut_b:])
    first = import_file(study, older, ImportOptions(recipient="canary-002"))
    second = import_file(study, newer, ImportOptions(recipient="canary-002"))
    received = sum('type="1"' in line for line in lines)
    assert first.inserted + second.inserted == received
    assert second.duplicate == sum('type="1"' in line for line in lines[cut_b:cut_a])
    assert rows(study) == [(received,)]


def test_dual_sim_backups_split_by_sub_id_and_an_unmapped_sim_goes_to_quarantine(study, tmp_path):
    path = backup(
        tmp_path / "dual.xml",
        [
            sms("10690001", 1767576142490, "【安易花】SIM one", sub_id="1"),
            sms("10690002", 1767576142491, "【安易花】SIM two", sub_id="2"),
            sms("10690003", 1767576142492, "【安易花】SIM three", sub_id="3"),
        ],
    )
    result = import_file(study, path, ImportOptions(sub_ids={"1": "canary-001", "2": "canary-002"}))
    got = rows(
        study,
        "SELECT m.body, c.label FROM messages m LEFT JOIN canaries c ON c.id = m.canary_id"
        " ORDER BY m.body",
    )
    assert got == [
        ("【安易花】SIM one", "canary-001"),
        ("【安易花】SIM three", None),
        ("【安易花】SIM two", "canary-002"),
    ]
    assert result.quarantined == 1


def test_a_backup_without_a_named_recipient_is_refused_before_anything_is_read(study):
    with pytest.raises(IngestError, match="--recipient"):
        import_file(study, SAMPLE / "sms" / "canary-001.xml")
    assert rows(study, "SELECT count(*) FROM import_batches") == [(0,)]


def test_unknown_recipients_are_quarantined_listed_assigned_and_matched_later(
    study, cli, monkeypatch, tmp_path
):
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    path = backup(
        tmp_path / "new-phone.xml",
        [sms("10690001", 1767576142490 + i, f"【快立保】您的验证码是12345{i}") for i in range(3)],
    )
    code, out = cli("ingest", "--recipient", "+86 138 0013 8000", str(path))
    assert code == 0 and "3 in quarantine" in " ".join(out.split())
    code, listed = cli("quarantine", "list", "--json")
    assert json.loads(listed)[0]["recipient"] == "+8613800138000"
    assert json.loads(listed)[0]["messages"] == 3
    code, out = cli("quarantine", "assign", "+8613800138000", "canary-005")
    assert code == 0 and "assigned 3" in out
    assert rows(study, "SELECT count(*) FROM quarantine") == [(0,)]

    # A second unknown phone, matched automatically once it becomes a canary.
    other = backup(tmp_path / "later.xml", [sms("95588", 1767576142490, "【工商银行】余额变动")])
    import_file(study, other, ImportOptions(recipient="+8613900139000"))
    assert rows(study, "SELECT count(*) FROM quarantine") == [(1,)]
    roster.new_canary(study, phone="+8613900139000", seed=1)
    assert rows(study, "SELECT count(*) FROM quarantine") == [(0,)]


def test_first_party_flags_follow_the_roster_when_a_plant_is_added_later(study, tmp_path):
    path = backup(
        tmp_path / "fp.xml",
        [
            sms("1069555501", 1767576142490, "【新易贷】您的验证码是123456"),
            sms("10695555017788", 1767576142491, "您的验证码是654321"),
            sms("1069000000", 1767576142492, "【别家】借款额度3万"),
        ],
    )
    result = import_file(study, path, ImportOptions(recipient="canary-010"))
    assert result.first_party == 0
    roster.add_source(
        study,
        Source(
            name="新易贷",
            category=SourceCategory.LOAN_PLATFORM,
            sender_ids=("1069555501",),
            signatures=("【新易贷】",),
        ),
    )
    assert rows(study, "SELECT count(*) FROM messages WHERE first_party") == [(0,)]
    from datetime import datetime

    roster.plant(
        study, "canary-010", "新易贷", datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")), (Field.PHONE,)
    )
    flagged = rows(study, "SELECT body FROM messages WHERE first_party ORDER BY body")
    # By signature, and by the 106 channel prefix with the carrier's extension.
    assert flagged == [("【新易贷】您的验证码是123456",), ("您的验证码是654321",)]


def test_a_file_failing_half_way_leaves_the_store_as_it_was(study, tmp_path):
    good = [sms("10690001", 1767576142490 + i, f"第{i}条 回T退订") for i in range(200)]
    path = tmp_path / "half.xml"
    backup(path, good)
    data = path.read_bytes()
    middle = data.index(b"\xe7\xac\xac100")  # "第100" — make it invalid UTF-8 there
    path.write_bytes(data[:middle] + b"\xff\xfe" + data[middle + 2 :])
    with pytest.raises(IngestError, match=r"line \d+ is not utf-8"):
        import_file(study, path, ImportOptions(recipient="canary-001"))
    assert rows(study) == [(0,)]
    assert rows(study, "SELECT count(*) FROM import_batches") == [(0,)]


def test_a_failure_during_the_commit_rolls_everything_back(study, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "reflag_first_party", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(study, SAMPLE / "sms" / "canary-001.xml", ImportOptions(recipient="canary-001"))
    assert rows(study) == [(0,)]
    assert rows(study, "SELECT count(*) FROM import_batches") == [(0,)]


def test_a_truncated_backup_imports_what_was_complete_and_says_where_it_stopped(
    study, cli, monkeypatch, tmp_path
):
    monkeypatch.setenv("LEAKTRACE_DB", str(study.path))
    lines = [sms("10690001", 1767576142490 + i, f"第{i}条") for i in range(50)]
    path = backup(tmp_path / "cut.xml", lines)
    data = path.read_bytes()
    path.write_bytes(data[: data.index("第30条".encode())])
    code, out = cli("ingest", "--recipient", "canary-001", "--json", str(path))
    (result,) = json.loads(out)
    assert code == 0 and result["inserted"] == 30  # records 0-29; record 30 is cut
    assert result["stopped_at"].startswith("cut.xml:33:")
    code, text = cli("ingest", "--recipient", "canary-001", str(path))
    assert "stopped early at cut.xml:33" in " ".join(text.split())


def test_a_broken_record_is_reported_with_its_line_and_the_rest_lands(study, tmp_path):
    lines = [sms("10690001", 1767576142490 + i, f"第{i}条") for i in range(5)]
    lines[2] = lines[2].replace('date="1767576142492"', 'date="yesterday"')
    result = import_file(
        study, backup(tmp_path / "bad.xml", lines), ImportOptions(recipient="canary-001")
    )
    assert result.inserted == 4 and result.rejected == 1
    assert result.problems == ["bad.xml:5: date 'yesterday' is not milliseconds since 1970"]


def test_sent_drafts_and_failed_messages_are_skipped_and_counted(study, tmp_path):
    kinds = (1, 2, 3, 5, 1)
    lines = [sms("10690001", 1767576142490 + i, f"m{i}", kind=k) for i, k in enumerate(kinds)]
    result = import_file(
        study, backup(tmp_path / "k.xml", lines), ImportOptions(recipient="canary-001")
    )
    assert (result.inserted, result.skipped) == (2, 3)
    assert result.skipped_by_reason == {"sent": 1, "draft": 1, "failed": 1}


@pytest.mark.parametrize(
    ("encoding", "declared", "option"),
    [("gb18030", "GB18030", None), ("utf-16", "UTF-16", None), ("gbk", "UTF-8", "gb18030")],
)
def test_backups_in_other_encodings_import_with_the_text_intact(
    study, tmp_path, encoding, declared, option
):
    lines = [sms("10690001", 1767576142490, "【安易花】您有30000元备用金额度，回T退订")]
    path = backup(tmp_path / "enc.xml", lines, encoding=encoding, declared=declared)
    result = import_file(study, path, ImportOptions(recipient="canary-001", encoding=option))
    assert result.inserted == 1
    assert rows(study, "SELECT body FROM messages") == [
        ("【安易花】您有30000元备用金额度，回T退订",)
    ]


def test_a_gbk_backup_declared_as_utf8_gets_a_clear_error_naming_the_option(study, tmp_path):
    lines = [sms("10690001", 1767576142490, "【安易花】您有30000元备用金额度")]
    path = backup(tmp_path / "gbk.xml", lines, encoding="gbk", declared="UTF-8")
    with pytest.raises(IngestError, match=r"line 3 is not utf-8.*--encoding"):
        import_file(study, path, ImportOptions(recipient="canary-001"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a message file"),
        (b"<?xml version='1.0'?><html><body/></html>", "not an SMS Backup"),
        (HEAD.encode() + b"<smses count='0'>\n</smses>\n", "holds no messages"),
    ],
)
def test_empty_and_non_message_files_get_one_line_errors(
    cli, monkeypatch, tmp_path, content, message
):
    path = tmp_path / "weird.dat"
    path.write_bytes(content)
    code, out = cli("ingest", "--recipient", "canary-001", str(path))
    assert code == 1
    assert message in out and "Traceback" not in out
    assert "nothing from it was stored" in out


def test_big_backups_read_in_parallel_give_the_same_rows_as_a_sequential_read(
    tmp_path, monkeypatch
):
    path = SAMPLE / "sms" / "canary-088.xml"
    stores = []
    for name, threshold in (("seq", 1 << 40), ("par", 0)):
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", threshold)
        store = Store(tmp_path / f"{name}.duckdb")
        import_file(store, path, ImportOptions(recipient="+8613800138000"))
        stores.append(store)
    query = "SELECT id, message_key, position, sender, body, raw_sha256 FROM messages ORDER BY id"
    sequential, parallel_rows = (rows(s, query) for s in stores)
    assert len(sequential) > 20 and sequential == parallel_rows


def test_a_parallel_reader_that_fails_says_why_instead_of_dying(tmp_path, monkeypatch):
    # The workers write their Parquet parts into the scratch folder; one that is gone
    # makes each worker fail with an error no reader expects.
    from leaktrace.ingest.records import ReadReport
    from leaktrace.roster.recipients import RecipientBook

    class Meter:
        def update(self, done: int, total: int | None = None) -> None:
            pass

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    with pytest.raises(IngestError) as caught:
        parallel.stage_backup_in_parallel(
            SAMPLE / "sms" / "canary-088.xml",
            ImportOptions(recipient="+8613800138000"),
            RecipientBook(),
            tmp_path / "gone",
            ReadReport(),
            Meter(),
        )
    said = str(caught.value)
    assert said.startswith("canary-088.xml: a reader process failed: ")
    assert "Error" in said and "died" not in said
    assert caught.value.said("zh").startswith("canary-088.xml：一个读取进程出错：")


def test_work_spread_over_processes_runs_under_the_dashboard(tmp_path, monkeypatch):
    # Streamlit installs the app's main file as __main__; a spawned worker imports
    # __main__'s file again, so the app must stay inert there (the store it would open is
    # the parent's). Both kinds of worker: a backup read on every core, masking.
    import types

    from leaktrace.text import batch

    app_main = types.ModuleType("__main__")
    app_main.__file__ = str(Path(__file__).parent.parent / "app" / "main.py")
    monkeypatch.setitem(__import__("sys").modules, "__main__", app_main)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(batch, "PARALLEL_MIN", 0)
    monkeypatch.setattr(batch, "usable_cores", lambda: 2)
    store = Store(tmp_path / "s.duckdb")
    result = import_file(
        store, SAMPLE / "sms" / "canary-088.xml", ImportOptions(recipient="+8613800138000")
    )
    assert result.inserted > 20
    texts = ["您有30000元备用金额度，回T退订", "您有50000元备用金额度，回T退订"]
    masked = batch.mask_many(texts, [(), ()])
    assert masked.skeletons[0] == masked.skeletons[1] and "<AMOUNT>" in masked.skeletons[0]


def test_ids_follow_the_file_whether_or_not_the_rows_are_sorted_to_get_them(tmp_path, monkeypatch):
    # The commit takes a run of ids and gives them in file order without sorting the
    # rows; when another writer drew from the sequence meanwhile it sorts them instead.
    from leaktrace.store import messages

    path = SAMPLE / "sms" / "canary-088.xml"
    stores = []
    for name, taken in (("run", messages._take_ids), ("sorted", lambda con, count: None)):
        monkeypatch.setattr(messages, "_take_ids", taken)
        store = Store(tmp_path / f"{name}.duckdb")
        import_file(store, path, ImportOptions(recipient="+8613800138000"))
        import_file(store, path, ImportOptions(recipient="+8613800138000"))  # all duplicates
        stores.append(store)
    query = "SELECT id, message_key, position, raw_sha256 FROM messages ORDER BY id"
    run, by_sort = (rows(s, query) for s in stores)
    lines = [int(r[2].removeprefix("line ")) for r in run]
    assert len(run) > 20 and lines == sorted(lines)
    assert [r[1:] for r in run] == [r[1:] for r in by_sort]


def test_ids_are_taken_only_when_none_of_them_was_drawn_by_someone_else(tmp_path):
    from leaktrace.store import messages

    store = Store(tmp_path / "s.duckdb")
    with store.connect() as con:
        assert messages._take_ids(con, 0) is None
        first = messages._take_ids(con, 5)
        assert messages._take_ids(con, 3) == first + 5
        assert con.execute("SELECT nextval('message_id_seq')").fetchone()[0] == first + 8


def test_the_commits_memory_limit_is_given_back_to_the_database(tmp_path):
    import duckdb

    from leaktrace.store.connection import memory_limited

    def limit(con: duckdb.DuckDBPyConnection) -> str:
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    with duckdb.connect(str(tmp_path / "x.duckdb")) as con:
        before = limit(con)
        with memory_limited(con, "128MB"):
            inside = limit(con)
            # the database's limit, not the connection's
            with duckdb.connect(str(tmp_path / "x.duckdb")) as other:
                assert limit(other) == inside
        assert inside != before and inside.startswith("122")  # 128 MB said in MiB
        assert limit(con) == before


def test_an_import_gives_the_commits_memory_limit_back_to_the_open_database(tmp_path):
    # A connection kept open (the dashboard's) shares the database with the import's.
    store = Store(tmp_path / "s.duckdb")
    with store.connect() as con:
        before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        import_file(
            store, SAMPLE / "sms" / "canary-088.xml", ImportOptions(recipient="+8613800138000")
        )
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == before


def test_imported_texts_are_stored_in_zstd_and_the_database_gets_its_own_choice_back(tmp_path):
    # zstd spares a COMMIT that writes to the file (a big one) DuckDB's trials of its
    # dictionary and FSST methods; here every COMMIT writes to the file. The setting is
    # the database's, so a connection kept open sees it given back.
    store = Store(tmp_path / "s.duckdb")
    setting = "SELECT current_setting('force_compression')"
    with store.connect() as con:
        con.execute("SET checkpoint_threshold = '1KB'")
        before = con.execute(setting).fetchall()[0][0]
        import_file(
            store, SAMPLE / "sms" / "canary-088.xml", ImportOptions(recipient="+8613800138000")
        )
        assert con.execute(setting).fetchall()[0][0] == before
        methods = dict(
            con.execute(
                "SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info("
                "'messages') WHERE column_name IN ('body', 'raw', 'sender') GROUP BY ALL"
            ).fetchall()
        )
        assert all("ZSTD" in used for used in methods.values()) and len(methods) == 3
        texts = con.execute("SELECT body, raw FROM messages ORDER BY id").fetchall()
    assert len(texts) > 20 and all(body and raw for body, raw in texts)


def test_a_worker_that_stages_never_loads_pandas_or_duckdb(tmp_path):
    # pyarrow imports pandas to ask whether values are a DataFrame; refused, it goes on.
    # DuckDB is the importer's alone: a worker loading it starts slower and holds more.
    import subprocess
    import sys

    script = f"""
import sys
from pathlib import Path
import leaktrace.ingest.parallel, leaktrace.ingest.parallel_mail  # what workers start from
from leaktrace.ingest.stage import Stage, lean_worker
from leaktrace.roster.recipients import RecipientBook
import pyarrow as pa
lean_worker()
stage = Stage(Path({str(tmp_path)!r}), RecipientBook(), spill_rows=0)
stage.add_batch("sms", ["+8613800138000"] * 2, ["10690000"] * 2, [1767225600000] * 2,
                ["您有30000元备用金额度", "b"], ["<sms/>", "<sms/>"], ["line 1", "line 2"])
stage.flush()
assert len(stage.files) == 1, stage.files
assert not {{"pandas", "duckdb"}} & set(sys.modules), sorted(sys.modules)
assert pa.default_memory_pool().backend_name == "system"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(tmp_path.glob("*.parquet"))


def test_a_commit_that_runs_out_of_memory_is_done_again_with_more(tmp_path, monkeypatch):
    # The first limit is far too small for any commit: DuckDB refuses it, the whole
    # transaction is rolled back, and the next limit commits every message once.
    monkeypatch.setattr(importer, "commit_memory", lambda rows, big=0: ["1MB", None])
    tried, once = [], importer._commit_once
    monkeypatch.setattr(importer, "_commit_once", lambda *a: tried.append(a[-1]) or once(*a))
    store = Store(tmp_path / "s.duckdb")
    result = import_file(
        store, SAMPLE / "sms" / "canary-088.xml", ImportOptions(recipient="+8613800138000")
    )
    assert tried == ["1MB", None]
    assert result.inserted > 20 and result.batch_id == 1
    assert rows(store) == [(result.inserted,)]
    assert rows(store, "SELECT count(*) FROM import_batches") == [(1,)]


def test_the_commits_memory_grows_with_its_rows():
    small, bigger, _ = importer.commit_memory(104_000)
    assert small == "143MB" and bigger == "575MB"
    assert importer.commit_memory(1_124_900)[0] == "299MB"
    assert importer.commit_memory(1_124_900, 230 << 20)[0] == "529MB"
    assert importer.commit_memory(0)[-1] is None


def test_the_commits_memory_grows_with_its_big_records(tmp_path, monkeypatch):
    # Records of pictures or attachments need more than their count says: the raw text
    # of staged chunks averaging 16 KB a record or more is added; ordinary ones add none.
    import base64
    import random

    asked, limits = [], importer.commit_memory
    monkeypatch.setattr(importer, "commit_memory", lambda *a: asked.append(a) or limits(*a))
    store = Store(tmp_path / "s.duckdb")
    import_file(store, SAMPLE / "sms" / "canary-088.xml", ImportOptions(recipient="+8613800138000"))
    rng = random.Random(2)
    path = tmp_path / "pictures.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "received_at": 1772332200000 + i,
                    "recipient": "+8613800138000",
                    "sender": "106900",
                    "body": base64.b64encode(rng.randbytes(75_000)).decode(),
                }
            )
            + "\n"
            for i in range(200)  # 20 MB of text: staged as Parquet chunks
        ),
        encoding="utf-8",
    )
    result = import_file(store, path)
    (_, small_big), (rows_, big) = asked
    assert small_big == 0 and rows_ == result.inserted == 200
    assert 200 * 100_000 <= big <= 200 * 110_000  # each raw record holds its 100 KB body


def _failed_commit(store: Store, tmp_path: Path) -> Exception:
    """A real COMMIT that runs out of memory, under the settings an import commits with:
    60 MB of texts that do not compress, staged as Parquet, inserted under 48 MB."""
    import base64
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from leaktrace.store.connection import memory_limited, texts_in_zstd, transaction

    rng = random.Random(1)
    texts = [base64.b64encode(rng.randbytes(150_000)).decode() for _ in range(300)]
    for start in range(0, 300, 40):
        part = {"id": list(range(start, start + 40))[: 300 - start], "raw": texts[start:][:40]}
        pq.write_table(pa.table(part), tmp_path / f"part-{start:03d}.parquet", compression="lz4")
    with store.connect() as con:
        con.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, k UHUGEINT UNIQUE, raw VARCHAR)")
        con.execute("INSERT INTO t VALUES (-1, 0, 'before')")
    insert = (
        "INSERT INTO t SELECT id, (id + 1)::UHUGEINT, raw"
        f" FROM read_parquet('{tmp_path}/part-*.parquet')"
    )
    with (  # which error it raises is the question
        pytest.raises(Exception) as caught,
        store.connect() as con,
        memory_limited(con, "48MB"),
        texts_in_zstd(con),
        transaction(con),
    ):
        con.execute(insert)
    return caught.value


def test_a_commit_that_runs_out_of_memory_at_its_commit_is_done_again(tmp_path, monkeypatch):
    # DuckDB tells a COMMIT that ran out of memory as a failed commit and invalidates
    # the open database; the settings' resets must not hide that under a FatalException.
    # The import rolls back and commits again with more memory, never a traceback.
    failing = Store(tmp_path / "t.duckdb")
    memory = _failed_commit(failing, tmp_path)
    assert "Failed to commit" in str(memory) and importer.out_of_memory(memory)
    with failing.connect() as con:  # the file is as it was, and the next commit goes in
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)
        con.execute("INSERT INTO t SELECT 1, 2, 'after'")
    monkeypatch.setattr(importer, "commit_memory", lambda rows, big=0: ["64MB", None])
    once, tried = importer._commit_once, []

    def commit_once(*args):
        tried.append(args[-1])
        if len(tried) == 1:  # the first try fails as DuckDB failed the one above
            raise memory
        return once(*args)

    monkeypatch.setattr(importer, "_commit_once", commit_once)
    store = Store(tmp_path / "s.duckdb")
    path = SAMPLE / "sms" / "canary-088.xml"
    result = import_file(store, path, ImportOptions(recipient="+8613800138000"))
    assert tried == ["64MB", None] and result.inserted > 20
    assert rows(store, "SELECT count(*) FROM import_batches") == [(1,)]


def test_a_commit_kept_from_reopening_the_store_says_so_and_stores_nothing(tmp_path, monkeypatch):
    # Another connection of the process (a dashboard page) keeps the database the
    # failed COMMIT invalidated open: the retry cannot open the file afresh. The import
    # says why in either language, and nothing of the file is stored.
    import duckdb

    store = Store(tmp_path / "s.duckdb")
    page = duckdb.connect(str(store.path))  # what a dashboard page holds
    once, tried = importer._commit_once, []

    def commit_once(*args):
        tried.append(args[-1])
        if len(tried) == 1:
            raise _failed_commit(store, tmp_path)  # for real, on this store
        return once(*args)

    monkeypatch.setattr(importer, "_commit_once", commit_once)
    with pytest.raises(IngestError) as caught:
        import_file(
            store, SAMPLE / "sms" / "canary-088.xml", ImportOptions(recipient="+8613800138000")
        )
    assert str(caught.value).startswith("canary-088.xml: the store ran out of memory")
    assert "均未存入" in caught.value.said("zh") and len(tried) == 2
    page.close()
    assert rows(store) == [(0,)] and rows(store, "SELECT count(*) FROM import_batches") == [(0,)]


def test_a_commit_that_fails_for_another_reason_is_not_done_again(tmp_path, monkeypatch):
    # A constraint violation at COMMIT quoting words of a memory error is no memory error.
    import duckdb

    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute("CREATE TABLE t (id VARCHAR PRIMARY KEY)")
    other = con.cursor()
    con.execute("BEGIN")
    other.execute("BEGIN")
    con.execute("INSERT INTO t VALUES ('out of memory: failed to pin')")
    other.execute("INSERT INTO t VALUES ('out of memory: failed to pin')")
    con.execute("COMMIT")
    with pytest.raises(duckdb.TransactionException) as conflict:
        other.execute("COMMIT")
    assert "Failed to commit" in str(conflict.value)
    assert not importer.out_of_memory(conflict.value)
    monkeypatch.setattr(importer, "commit_memory", lambda rows, big=0: ["64MB", None])
    tried = []

    def commit_once(*args):
        tried.append(args[-1])
        raise conflict.value

    monkeypatch.setattr(importer, "_commit_once", commit_once)
    with pytest.raises(duckdb.TransactionException):
        import_file(
            Store(tmp_path / "s.duckdb"),
            SAMPLE / "sms" / "canary-088.xml",
            ImportOptions(recipient="+8613800138000"),
        )
    assert tried == ["64MB"]
