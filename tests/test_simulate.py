import csv
import filecmp
import json
import mailbox
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leaktrace.roster.actions import list_canaries, list_plants
from leaktrace.roster.csvfiles import import_roster
from leaktrace.sim.demo import find_sample_data
from leaktrace.sim.simulate import SimConfig, simulate

SMALL = SimConfig(seed=11, sources=8, canaries=24, controls=6, days=40, email_share=0.2)
_SURROGATES = re.compile(r"&#(5[5-6]\d{3});&#(5[6-7]\d{3});")


def _decode_surrogate_refs(text: str) -> str:
    """What an importer must do: turn the app's surrogate-pair references into one character."""

    def join(match: re.Match[str]) -> str:
        high, low = int(match[1]), int(match[2])
        return f"&#{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)};"

    return _SURROGATES.sub(join, text)


def _xml_messages(directory: Path) -> set[tuple]:
    found = set()
    for path in sorted((directory / "sms").glob("*.xml")):
        root = ET.fromstring(_decode_surrogate_refs(path.read_text("utf-8")))
        assert int(root.get("count")) == len(root)
        for el in root:
            if el.tag == "sms" and el.get("type") == "1":
                found.add((path.stem, el.get("address"), int(el.get("date")), el.get("body")))
            elif el.tag == "mms" and el.get("msg_box") == "1":
                text = el.find("parts/part[@ct='text/plain']").get("text")
                sender = el.find("addrs/addr[@type='137']").get("address")
                found.add((path.stem, sender, int(el.get("date")), text))
    return found


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    directory = tmp_path_factory.mktemp("study")
    result = simulate(SMALL, directory)
    truth = json.loads((directory / "truth.json").read_text("utf-8"))
    return directory, result, truth


def test_same_seed_gives_byte_identical_output(study, tmp_path):
    directory, _, _ = study
    simulate(SMALL, tmp_path / "again")
    comparison = filecmp.dircmp(directory, tmp_path / "again")
    assert not comparison.diff_files and not comparison.left_only
    for sub in ("sms", "email"):
        _, mismatch, errors = filecmp.cmpfiles(
            directory / sub,
            tmp_path / "again" / sub,
            [p.name for p in (directory / sub).iterdir()],
            shallow=False,
        )
        assert mismatch == errors == []


def test_other_seed_gives_another_study(study, tmp_path):
    directory, _, _ = study
    simulate(replace(SMALL, seed=12), tmp_path / "other")
    assert (directory / "truth.json").read_bytes() != (tmp_path / "other/truth.json").read_bytes()


def test_truth_agrees_with_the_sms_backups(study):
    directory, _, truth = study
    labels = {m["recipient"]: m["canary"] for m in truth["messages"]}
    assert labels
    expected = {
        (m["canary"], m["sender"], m["received_at_ms"])
        for m in truth["messages"]
        if m["channel"] in ("sms", "mms")
    }
    assert {(label, sender, ms) for label, sender, ms, _ in _xml_messages(directory)} == expected


def test_truth_agrees_with_the_csv_and_the_mbox(study):
    directory, result, truth = study
    with (directory / "messages.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(truth["messages"]) == result.messages
    from_csv = {
        (
            r["recipient"],
            r["sender"],
            int(datetime.fromisoformat(r["received_at"]).timestamp() * 1000),
        )
        for r in rows
    }
    from_truth = {(m["recipient"], m["sender"], m["received_at_ms"]) for m in truth["messages"]}
    assert from_csv == from_truth
    box = mailbox.mbox(str(directory / "email" / "canaries.mbox"))
    delivered = sorted(msg["Delivered-To"] for msg in box)
    assert delivered == sorted(m["recipient"] for m in truth["messages"] if m["channel"] == "email")
    assert delivered, "the small study has e-mail canaries"


def test_a_phone_backup_never_holds_the_phones_own_number(study):
    directory, _, _ = study
    phones = {}
    with (directory / "canaries.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            phones[row["label"]] = row["phone"]
    for path in (directory / "sms").glob("*.xml"):
        assert phones[path.stem] not in path.read_text("utf-8")


def test_controls_are_never_in_a_leak(study):
    _, _, truth = study
    controls = set(truth["controls"])
    assert controls
    for source in truth["sources"]:
        assert not controls & set(source["leaked_canaries"])
    campaign_targets = {m["canary"] for m in truth["messages"] if m["kind"] == "campaign"}
    assert not controls & campaign_targets
    # Background spam reaches controls as it reaches everyone (Poisson: most, not all).
    reached = controls & {m["canary"] for m in truth["messages"] if m["kind"] == "background"}
    assert len(reached) >= 0.8 * len(controls)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_batch_leaks_hold_only_canaries_planted_before_the_leak(seed, tmp_path):
    simulate(replace(SMALL, seed=seed, batch_share=1.0, leak_share=0.5), tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text("utf-8"))
    planted = {(p["canary"], p["source"]): p["planted_at"] for p in truth["plants"]}
    for source in truth["sources"]:
        if not source["leaked"]:
            continue
        date = datetime.fromisoformat(source["leak"]["start"])
        mine = {c for (c, s) in planted if s == source["name"]}
        inside = set(source["leaked_canaries"])
        for canary in mine:
            before = datetime.fromisoformat(planted[(canary, source["name"])]) < date
            assert (canary in inside) == before


def test_campaign_messages_use_the_name_the_leaking_source_was_given(study):
    _, _, truth = study
    given = {(p["canary"], p["source"]): p["name_used"] for p in truth["plants"]}
    used = [m for m in truth["messages"] if m["kind"] == "campaign"]
    assert used
    for message in used:
        assert message["name_used"] == given[(message["canary"], message["source"])]


def test_first_party_messages_come_from_the_source_after_the_plant(study):
    _, _, truth = study
    planted = {(p["canary"], p["source"]): p["planted_at"] for p in truth["plants"]}
    firsts = [m for m in truth["messages"] if m["kind"] == "first_party"]
    assert len(firsts) >= len(planted)
    for message in firsts:
        at = datetime.fromisoformat(planted[(message["canary"], message["source"])])
        assert message["received_at_ms"] >= at.timestamp() * 1000


def test_messages_option_scales_the_volume(tmp_path):
    result = simulate(replace(SMALL, messages=6000), tmp_path)
    assert 5400 <= result.messages <= 6600


def test_emoji_are_written_as_surrogate_references_on_some_phones(study):
    directory, _, _ = study
    texts = {p.name: p.read_text("utf-8") for p in sorted((directory / "sms").glob("*.xml"))}
    with_refs = [name for name, text in texts.items() if _SURROGATES.search(text)]
    assert with_refs and len(with_refs) < len(texts)
    for name, text in texts.items():
        if name in with_refs:
            # A lone surrogate is no XML character: a plain parser refuses every such file...
            with pytest.raises(ET.ParseError, match="reference to invalid character"):
                ET.fromstring(text)
        else:
            ET.fromstring(text)
        # ...and each parses once the pairs are joined into one character.
        ET.fromstring(_decode_surrogate_refs(text))


def test_committed_sample_study_is_what_the_simulator_makes(tmp_path):
    sample = find_sample_data()
    assert sample is not None
    simulate(SimConfig(), tmp_path)
    for name in ("truth.json", "messages.csv", "sources.csv", "canaries.csv", "plants.csv"):
        assert (sample / name).read_bytes() == (tmp_path / name).read_bytes(), name


@pytest.mark.slow
def test_sample_study_roster_imports_cleanly(store):
    sample = find_sample_data()
    report = import_roster(store, sample, ZoneInfo("Asia/Shanghai"))
    assert report.errors == []
    assert report.added == {"sources.csv": 30, "canaries.csv": 150, "plants.csv": 130}
    assert len(list_canaries(store, control=True)) == 20
    assert len(list_plants(store)) == 130
    again = import_roster(store, sample, ZoneInfo("Asia/Shanghai"))
    assert again.added == {} and again.errors == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--canaries", "990", "--controls", "20"], "limited to 1000"),
        (["--leak-share", "1.5"], "--leak-share must be between 0 and 1"),
        (["--languages", "fr"], "--languages takes zh, en"),
        (["--days", "0"], "must be at least 1"),
    ],
)
def test_impossible_settings_are_refused_in_one_line(cli, tmp_path, args, message):
    code, output = cli("simulate", str(tmp_path / "x"), *args)
    assert code == 1
    assert message in output and "Traceback" not in output
