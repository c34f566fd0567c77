"""A folder of phones in one command: recipients from file names or a mapping file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leaktrace.ingest.importer import load_book
from leaktrace.ingest.plan import expand, plan_files, recipient_in_name
from leaktrace.roster.csvfiles import import_roster
from leaktrace.sim.demo import find_sample_data
from leaktrace.store import Store

SAMPLE = find_sample_data()
PHONES = sorted((SAMPLE / "sms").glob("*.xml"))[:6]


@pytest.fixture(scope="module")
def roster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = Store(tmp_path_factory.mktemp("roster") / "roster.duckdb")
    import_roster(store, SAMPLE, ZoneInfo("Asia/Shanghai"))
    return store.path


def _store(tmp_path: Path, roster_file: Path, name: str) -> Store:
    shutil.copyfile(roster_file, tmp_path / name)
    return Store(tmp_path / name, lock_timeout=10)


def _phones_folder(tmp_path: Path, copies: dict[str, Path]) -> Path:
    """A folder holding each backup under the given name."""
    folder = tmp_path / "phones"
    folder.mkdir()
    for name, source in copies.items():
        shutil.copy(source, folder / name)
    return folder


def _phone(store: Store, label: str) -> str:
    with store.connect() as con:
        return con.execute("SELECT phone FROM canaries WHERE label = ?", [label]).fetchone()[0]


def _messages(store: Store) -> list[tuple]:
    with store.connect() as con:
        return con.execute(
            "SELECT c.label, m.sender, m.received_at, m.body FROM messages m"
            " LEFT JOIN canaries c ON c.id = m.canary_id ORDER BY ALL"
        ).fetchall()


def test_recipients_come_from_labels_and_phone_numbers_in_file_names(tmp_path, roster_file):
    store = _store(tmp_path, roster_file, "s.duckdb")
    book = load_book(store)
    first, second = (p.stem for p in PHONES[:2])
    phone = _phone(store, second)
    national = phone.removeprefix("+86")
    assert recipient_in_name(f"{first}.xml", book) == first
    assert recipient_in_name(f"backup-{first}_2026-11.xml", book) == first
    assert recipient_in_name(f"{phone}.xml", book) == phone
    assert recipient_in_name(f"{national}_2026-11.xml", book) == phone
    assert (
        recipient_in_name(f"sms-{national[:3]}-{national[3:7]}-{national[7:]}.xml", book) == phone
    )
    assert recipient_in_name(f"{national}-2026-11-30.xml", book) == phone
    assert recipient_in_name(f"{first}_{phone}.xml", book) is None  # two canaries: ambiguous
    assert recipient_in_name(f"{first}-b.xml", book) is None  # another name, not this label
    assert recipient_in_name("13900000000.xml", book) is None  # nobody's phone
    assert recipient_in_name(f"{first}9.xml", book) is None  # a longer label is not this one


def test_a_folder_imports_in_one_call_with_recipients_from_names_and_a_mapping(
    tmp_path, roster_file, cli, monkeypatch
):
    store = _store(tmp_path, roster_file, "s.duckdb")
    folder = tmp_path / "phones"
    (folder / "more").mkdir(parents=True)
    by_label, by_phone, mapped = PHONES[0], PHONES[1], PHONES[2]
    shutil.copy(by_label, folder / by_label.name)
    shutil.copy(by_phone, folder / "more" / f"{_phone(store, by_phone.stem)}_2026-11.xml")
    shutil.copy(mapped, folder / "phone-3.xml")
    (folder / ".hidden.xml").write_text("not imported")
    mapping = tmp_path / "recipients.csv"
    mapping.write_text(f"file,recipient\nphone-3.xml,{mapped.stem}\n", encoding="utf-8")
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, output = cli(
        "ingest", str(folder), "--recipients", str(mapping), "--no-analyse", "--json"
    )
    assert code == 0, output
    results = json.loads(output)
    assert sorted(r["recipient"] for r in results) == sorted(
        [by_label.stem, _phone(store, by_phone.stem), mapped.stem]
    )
    assert all(r["inserted"] > 0 and r["quarantined"] == 0 for r in results)
    labels = {row[0] for row in _messages(store)}
    assert {p.stem for p in PHONES[:3]} <= labels and None not in labels


def test_a_file_without_a_recipient_is_refused_before_anything_is_written(
    tmp_path, roster_file, cli, monkeypatch
):
    store = _store(tmp_path, roster_file, "s.duckdb")
    # The second backup's name names nobody.
    folder = _phones_folder(tmp_path, {PHONES[0].name: PHONES[0], "my-old-phone.xml": PHONES[1]})
    mapping = tmp_path / "recipients.csv"
    mapping.write_text(f"{PHONES[0].name},canary-999\n", encoding="utf-8")  # no such canary
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, output = cli("ingest", str(folder), "--no-analyse")
    assert code == 1
    assert "refused" in output and "my-old-phone.xml" in output and "no recipient" in output
    assert {row[0] for row in _messages(store)} == {PHONES[0].stem}  # the other one imported
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM import_batches").fetchone() == (1,)
    planned, refused = plan_files(
        [folder], load_book(store), mapping={PHONES[0].name: "canary-999"}
    )
    assert not planned and {r.path.name for r in refused} == {PHONES[0].name, "my-old-phone.xml"}
    assert "canary-999" in next(r.reason for r in refused if r.path.name == PHONES[0].name)


def test_many_files_in_one_call_give_the_store_one_call_per_file_gives(
    tmp_path, roster_file, cli, monkeypatch
):
    together = _store(tmp_path, roster_file, "together.duckdb")
    apart = _store(tmp_path, roster_file, "apart.duckdb")
    files = [str(p) for p in PHONES] + [str(SAMPLE / "email" / "canaries.mbox")]
    monkeypatch.setenv("LEAKTRACE_DB", str(together.path))
    code, output = cli("ingest", *files)
    assert code == 0, output
    assert output.count("analysed:") == 1  # one analysis after the last file
    monkeypatch.setenv("LEAKTRACE_DB", str(apart.path))
    for path in files:
        code, output = cli("ingest", path, "--no-analyse")
        assert code == 0, output
    assert _messages(together) == _messages(apart)


def test_expand_lists_files_under_folders_once_in_order(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/2.xml", "a/b/1.xml", "a/.git/x", "c.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = expand([tmp_path / "a", tmp_path / "c.xml", tmp_path / "a" / "2.xml"])
    assert [(p.relative_to(tmp_path).as_posix(), inside) for p, inside in found] == [
        ("a/2.xml", True),
        ("a/b/1.xml", True),
        ("c.xml", False),
    ]


def test_a_maildir_imports_in_one_call_each_message_file_an_eml(
    tmp_path, roster_file, cli, monkeypatch
):
    import mailbox

    store = _store(tmp_path, roster_file, "s.duckdb")
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    box = mailbox.mbox(SAMPLE / "email" / "canaries.mbox")
    sent = [m for _, m in zip(range(5), box, strict=False)]
    for n, message in enumerate(sent):  # Maildir names: no extension, flags after ":2,"
        (maildir / "cur" / f"17000000{n}.M{n}P1.host:2,S").write_bytes(message.as_bytes())
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, output = cli("ingest", str(maildir), "--no-analyse", "--json")
    assert code == 0, output
    results = json.loads(output)
    assert [r["format"] for r in results] == ["eml"] * 5
    assert sum(r["inserted"] for r in results) == 5
    assert None not in {row[0] for row in _messages(store)}  # each to its canary


def test_a_dual_sim_backup_needs_no_recipient_when_sims_are_mapped(
    tmp_path, roster_file, cli, monkeypatch
):
    from test_ingest_import import backup, sms

    store = _store(tmp_path, roster_file, "s.duckdb")
    path = backup(
        tmp_path / "my-phone.xml",  # names nobody: the SIM says who received each message
        [
            sms("10690001", 1767576142490, "【安易花】SIM one", sub_id="1"),
            sms("10690002", 1767576142491, "【安易花】SIM two", sub_id="2"),
        ],
    )
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, output = cli("ingest", str(path), "--sub-id", "1=canary-001,2=canary-002", "--no-analyse")
    assert code == 0, output
    assert {row[0] for row in _messages(store)} == {"canary-001", "canary-002"}


def test_stray_files_in_a_folder_are_left_out_and_a_name_at_odds_with_the_option_refused(
    tmp_path, roster_file, cli, monkeypatch
):
    store = _store(tmp_path, roster_file, "s.duckdb")
    folder = _phones_folder(tmp_path, {p.name: p for p in PHONES[:2]})
    (folder / "README.txt").write_text("backups of November\n")
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, output = cli("ingest", str(folder), "--recipient", PHONES[0].stem, "--no-analyse")
    assert code == 1  # the second backup's name says another canary
    assert "left out" in output and "README.txt" in output
    assert f"its name says {PHONES[1].stem}" in output
    assert {row[0] for row in _messages(store)} == {PHONES[0].stem}
    code, output = cli("ingest", str(folder), "--no-analyse")
    assert code == 0, output  # a stray file inside a folder is only noted
