"""Importing one SMS Backup & Restore file of about a million messages; a folder of phones.

Target (issue: ingestion): <= 60 s wall on 2 cores, <= 2 GB peak memory. The import
alone is timed (``--no-analyse``: clustering and attribution are bench_cluster's and
bench_attribution's); it includes extending the hash chain over the new messages.
Baseline on the same file in the same run: ``pandas.read_xml`` of the whole
file's <sms> elements (it cannot read <mms> parts), then one bulk insert of the
DataFrame into a fresh DuckDB file (no dedup, no keys, no raw records, no
recipient matching, no first-party flags).
The file is made by ``leaktrace simulate`` (one canary, SMS only) and cached
in ``bench/.data`` between runs.

Folder (issue: a study's real workload): a simulated study of 142 phones and
about 3,000 messages, ``leaktrace ingest sms/ email/`` in one call with its
analysis, against the way it was done before, one ``leaktrace ingest FILE
--recipient LABEL`` (with its analysis) per file: that is timed for the first 10
files and scaled to all of them. Target: the one call under 30 s.

Mailbox (issue: mail import speed): the mbox of bench_cluster's simulated 1M study
(``bench/.data/cluster-1m``, 78 MB, about 104,000 mails), ``leaktrace ingest
--no-analyse`` into a store holding that study's roster, as a whole command, beside a
bare ``mailbox.mbox`` loop parsing each message with ``email.message_from_bytes(...,
policy=compat32)`` (no header decoding, no body, nothing stored). Target: at least
20,000 mails/s under 500 MB peak for the process tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.measure import run_measured, simulated

SCALE = 1_000_000  # --messages; for one canary the simulator lands at 1,124,900
DATA = Path(__file__).parent / ".data" / f"ingest-{SCALE}"
STUDY = ["--canaries", "1", "--controls", "0", "--email-share", "0", "--messages", str(SCALE)]
FOLDER = Path(__file__).parent / ".data" / "ingest-folder-142"
FOLDER_STUDY = ["--canaries", "140", "--controls", "10", "--email-share", "0.05"]
FOLDER_STUDY += ["--messages", "3000", "--seed", "21"]
PER_FILE_SAMPLE = 10
MAIL_STUDY = Path(__file__).parent / ".data" / "cluster-1m"  # made and cached by bench_cluster
MAIL_STUDY_ARGS = ["--messages", "1000000", "--canaries", "480", "--controls", "20"]
MAIL_STUDY_ARGS += ["--seed", "11"]

BASELINE = """
import sys, duckdb, pandas as pd
frame = pd.read_xml(sys.argv[1], xpath="//sms", parser="lxml")
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE sms AS SELECT * FROM frame")
print(con.execute("SELECT count(*) FROM sms").fetchone()[0])
"""
MAIL_BASELINE = """
import mailbox, sys
from email import message_from_bytes, policy
box = mailbox.mbox(sys.argv[1], create=False)
count = 0
for key in box.iterkeys():
    message_from_bytes(box.get_bytes(key), policy=policy.compat32)
    count += 1
print(count)
"""


def _study() -> Path:
    if not (DATA / "sms" / "canary-001.xml").exists():
        shutil.rmtree(DATA, ignore_errors=True)
        print(f"  making the file: leaktrace simulate {' '.join(STUDY)}")
        subprocess.run(
            [sys.executable, "-m", "leaktrace.cli", "simulate", str(DATA), *STUDY], check=True
        )
    return DATA


def run() -> None:
    """Print our import beside the pandas baseline on the same file; the folder; the mbox."""
    _big_file()
    _folder()
    _mail()


def _mail() -> None:
    study = simulated(MAIL_STUDY, *MAIL_STUDY_ARGS)
    mbox = study / "email" / "canaries.mbox"
    with tempfile.TemporaryDirectory() as scratch:
        cli = [sys.executable, "-m", "leaktrace.cli", "--db", str(Path(scratch) / "s.duckdb")]
        subprocess.run([*cli, "import-roster", str(study)], check=True, capture_output=True)
        ours_s, ours_mem, out = run_measured([*cli, "ingest", "--json", "--no-analyse", str(mbox)])
        (result,) = json.loads(out)
    base_s, base_mem, out = run_measured([sys.executable, "-c", MAIL_BASELINE, str(mbox)])
    base_n = int(out.split()[-1])
    n = result["inserted"] + result["duplicate"]
    print(
        f"  mbox: {mbox.name} of {study.name}, {mbox.stat().st_size / 1e6:.0f} MB,"
        f" {n:,} mails stored ({result['rejected']} rejected)"
    )
    rows = [
        ("leaktrace ingest --no-analyse (new store)", ours_s, ours_mem, n),
        ("baseline mailbox.mbox + compat32 parse", base_s, base_mem, base_n),
    ]
    print(f"  {'':46} {'wall s':>8} {'mails/s':>9} {'peak MB':>8} {'mails':>10}")
    for name, seconds, memory, count in rows:
        print(
            f"  {name:46} {seconds:8.1f} {count / seconds:9,.0f} {memory / 1e6:8,.0f} {count:10,}"
        )
    rate = n / ours_s
    print(
        f"  ours vs baseline: {base_s / ours_s:.2f}x the speed, {ours_mem / base_mem:.2f}x the"
        f" memory; target >= 20,000 mails/s and < 500 MB: "
        f"{'met' if rate >= 20_000 and ours_mem < 500e6 else 'NOT met'}"
    )


def _folder() -> None:
    simulated(FOLDER, *FOLDER_STUDY)
    phones = sorted((FOLDER / "sms").glob("*.xml"))
    with tempfile.TemporaryDirectory() as scratch:
        roster = Path(scratch) / "roster.duckdb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "leaktrace.cli",
                "--db",
                str(roster),
                "import-roster",
                str(FOLDER),
            ],
            check=True,
            capture_output=True,
        )
        one, apart = Path(scratch) / "one.duckdb", Path(scratch) / "apart.duckdb"
        shutil.copyfile(roster, one)
        shutil.copyfile(roster, apart)
        cli = [sys.executable, "-m", "leaktrace.cli", "--db"]
        ours_s, ours_mem, _ = run_measured(
            [*cli, str(one), "ingest", str(FOLDER / "sms"), str(FOLDER / "email")]
        )
        per_file = 0.0
        for path in phones[:PER_FILE_SAMPLE]:
            seconds, _, _ = run_measured(
                [*cli, str(apart), "ingest", "--recipient", path.stem, str(path)]
            )
            per_file += seconds
        per_file /= PER_FILE_SAMPLE
    files = len(phones) + 1  # and the mailbox
    before = per_file * files
    print(f"  folder: {len(phones)} phone backups and one mbox ({FOLDER.name})")
    print(f"  {'leaktrace ingest sms/ email/ (one call, analysed once)':62} {ours_s:8.1f} s")
    print(
        f"  {'one ingest per file, analysed each time':62} {before:8.1f} s"
        f"  ({per_file:.1f} s a file over the first {PER_FILE_SAMPLE}, times {files})"
    )
    print(
        f"  one call vs one per file: {before / ours_s:.1f}x faster, peak {ours_mem / 1e6:,.0f} MB;"
        f" target under 30 s: {'met' if ours_s < 30 else 'NOT met'}"
    )


def _big_file() -> None:
    study = _study()
    xml = study / "sms" / "canary-001.xml"
    size_mb = xml.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "s.duckdb"
        cli = [sys.executable, "-m", "leaktrace.cli", "--db", str(db)]
        subprocess.run([*cli, "import-roster", str(study)], check=True, capture_output=True)
        ours_s, ours_mem, out = run_measured(
            [*cli, "ingest", "--json", "--no-analyse", "--recipient", "canary-001", str(xml)]
        )
        (result,) = json.loads(out)
        again_s, again_mem, out = run_measured(
            [*cli, "ingest", "--json", "--no-analyse", "--recipient", "canary-001", str(xml)]
        )
        (again,) = json.loads(out)
        base_s, base_mem, out = run_measured(
            [sys.executable, "-c", BASELINE, str(xml), str(Path(scratch) / "base.duckdb")]
        )
        base_rows = int(out.split()[-1])  # duckdb may print a progress bar first
    n = result["inserted"]
    print(f"  file: {xml.name}, {size_mb:.0f} MB, {n:,} received SMS ({result['skipped']} sent)")
    rows = [
        ("leaktrace ingest (new store)", ours_s, ours_mem, n),
        ("leaktrace ingest (re-import, all duplicate)", again_s, again_mem, again["duplicate"]),
        ("baseline pandas.read_xml + DuckDB insert", base_s, base_mem, base_rows),
    ]
    print(f"  {'':46} {'wall s':>8} {'msg/s':>9} {'peak MB':>8} {'rows':>10}")
    for name, seconds, memory, count in rows:
        print(
            f"  {name:46} {seconds:8.1f} {count / seconds:9,.0f} {memory / 1e6:8,.0f} {count:10,}"
        )
    print(
        f"  ours vs baseline: {base_s / ours_s:.2f}x the speed, "
        f"{ours_mem / base_mem:.2f}x the memory; target <= 60 s and <= 2,000 MB: "
        f"{'met' if ours_s <= 60 and ours_mem <= 2e9 else 'NOT met'}"
    )
