import csv
import filecmp
import hashlib
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
        (["--small-leak-share", "2"], "--small-leak-share must be between 0 and 1"),
        (["--long-tail", "1"], "--long-tail must be at least 0 and below 1"),
    ],
)
def test_impossible_settings_are_refused_in_one_line(cli, tmp_path, args, message):
    code, output = cli("simulate", str(tmp_path / "x"), *args)
    assert code == 1
    assert message in output and "Traceback" not in output


# The second world: knobs the attribution was not tuned on.
WORLD2 = SimConfig(seed=5, sources=6, canaries_per_source=4, controls=5, days=30, email_share=0.3)
_KNOBS_AT_DEFAULT = {
    "roster_ids": True,
    "flag_controls": True,
    "small_campaigns": 0,
    "own_marketing_share": 0.0,
    "small_leak_share": 0.0,
    "markers": True,
    "long_tail": 0.0,
}


def _run(tmp_path: Path, **knobs) -> tuple[Path, dict]:
    directory = tmp_path / "w2"
    simulate(replace(WORLD2, **knobs), directory)
    return directory, json.loads((directory / "truth.json").read_text("utf-8"))


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_second_world_knobs_at_their_defaults_change_no_byte(study, tmp_path):
    directory, _, truth = study
    simulate(replace(SMALL, **_KNOBS_AT_DEFAULT), tmp_path / "explicit")
    assert _digests(directory) == _digests(tmp_path / "explicit")
    assert not set(_KNOBS_AT_DEFAULT) & set(truth["config"])


def test_world_knobs_leave_the_roster_and_the_leaks_alone(tmp_path):
    base, base_truth = _run(tmp_path / "base")
    other, truth = _run(tmp_path / "other", small_campaigns=3, own_marketing_share=0.5)
    for name in ("sources.csv", "canaries.csv", "plants.csv"):
        assert (base / name).read_bytes() == (other / name).read_bytes(), name
    assert truth["sources"] != base_truth["sources"]  # the own-marketing entries
    for mine, theirs in zip(truth["sources"], base_truth["sources"], strict=True):
        assert (mine["leaked"], mine["leak"]) == (theirs["leaked"], theirs["leak"])
    assert truth["config"]["small_campaigns"] == 3


def test_without_roster_ids_sources_list_no_sender_but_verification_still_comes(tmp_path):
    directory, truth = _run(tmp_path, roster_ids=False)
    rows = _rows(directory / "sources.csv")
    assert rows and all(r["sender_ids"] == r["signatures"] == "" for r in rows)
    assert all(r["name"] and r["category"] and r["url"] for r in rows)
    verified = {
        (m["canary"], m["source"])
        for m in truth["messages"]
        if m["template"].startswith("fp-verification")
    }
    assert verified == {(p["canary"], p["source"]) for p in truth["plants"]}


def test_unflagged_controls_look_like_unplanted_canaries(tmp_path):
    directory, truth = _run(tmp_path, flag_controls=False)
    assert {r["is_control"] for r in _rows(directory / "canaries.csv")} == {"false"}
    controls = set(truth["controls"])
    assert len(controls) == WORLD2.controls
    assert not controls & {p["canary"] for p in truth["plants"]}
    assert not controls & {r["canary"] for r in _rows(directory / "plants.csv")}


def test_small_campaigns_reach_two_to_five_phones_on_one_day_and_leak_nothing(tmp_path):
    _, plain = _run(tmp_path / "plain")
    _, truth = _run(tmp_path / "small", small_campaigns=6)
    small = [c for c in truth["campaigns"] if c["kind"] == "small"]
    assert len(small) == 6
    sent = [m for m in truth["messages"] if m["kind"] == "small"]
    for campaign in small:
        mine = [m for m in sent if m["campaign"] == campaign["id"]]
        assert 2 <= len({m["canary"] for m in mine}) == len(mine) <= 5
        assert sorted(m["canary"] for m in mine) == sorted(campaign["canaries"])
        assert len({m["received_at_ms"] // 86_400_000 for m in mine}) == 1
        assert all(m["channel"] == "sms" and m["source"] is None for m in mine)
        assert {m["template"] for m in mine} == set(campaign["templates"])
        assert all(m["sender"].startswith(campaign["channels"][0]) for m in mine)
    assert len(sent) == sum(len(c["canaries"]) for c in small)
    leaked = [(s["name"], s["leaked"], s["leaked_canaries"]) for s in truth["sources"]]
    assert leaked == [(s["name"], s["leaked"], s["leaked_canaries"]) for s in plain["sources"]]


def test_own_marketing_reaches_every_canary_of_the_source_from_a_second_number(tmp_path):
    directory, truth = _run(tmp_path, own_marketing_share=0.5)
    roster = {r["name"]: r for r in _rows(directory / "sources.csv")}
    bodies = {
        (r["recipient"], r["sender"], r["received_at"]): r["body"]
        for r in _rows(directory / "messages.csv")
    }
    chosen = [s for s in truth["sources"] if "own_marketing" in s]
    assert len(chosen) == round(0.5 * WORLD2.sources)
    for source in chosen:
        own = source["own_marketing"]
        assert own["channel"] not in roster[source["name"]]["sender_ids"].split(";")
        assert 2 <= len(own["days"]) <= 4
        planted = {p["canary"] for p in truth["plants"] if p["source"] == source["name"]}
        sent = [
            m
            for m in truth["messages"]
            if m["template"].startswith("fp-own-marketing") and m["source"] == source["name"]
        ]
        assert {m["canary"] for m in sent} == planted == set(own["canaries"])
        assert all(m["kind"] == "first_party" for m in sent)
        assert {m["sender"] for m in sent} <= {own["channel"], own["email_sender"]}
        signature = roster[source["name"]]["signatures"]
        assert signature in (f"【{source['name']}】", f"[{source['name']}]")
        texts = [body for (_, sender, _), body in bodies.items() if sender == own["channel"]]
        assert texts or all(m["channel"] == "email" for m in sent)
        for text in texts:
            assert text.startswith(signature) and source["name"] in text[len(signature) :]


def test_small_leaks_sell_exactly_two_canaries_of_the_source(tmp_path):
    _, truth = _run(tmp_path, small_leak_share=1.0, leak_share=0.5)
    planted = {(p["canary"], p["source"]) for p in truth["plants"]}
    leakers = [s for s in truth["sources"] if s["leaked"]]
    assert len(leakers) == 3
    for source in leakers:
        assert source["leak"]["small"] is True
        sold = [c for sale in source["leak"]["sales"] for c in sale["canaries"]]
        assert len(sold) == len(set(sold)) == 2 == len(source["leaked_canaries"])
        assert all((c, source["name"]) in planted for c in sold)
    reached = {(m["canary"], m["source"]) for m in truth["messages"] if m["kind"] == "campaign"}
    assert reached <= {(c, s["name"]) for s in leakers for c in s["leaked_canaries"]}


def test_without_markers_plants_carry_the_plain_name_and_address(tmp_path):
    directory, truth = _run(tmp_path, markers=False, email_share=0.5)
    names = {r["label"]: r["name"] for r in _rows(directory / "canaries.csv")}
    emails = {r["label"]: r["email"] for r in _rows(directory / "canaries.csv")}
    plants = _rows(directory / "plants.csv")
    assert any(p["email_used"] for p in plants)
    for plant in plants:
        assert plant["name_used"] == names[plant["canary"]]
        assert plant["email_used"] in ("", emails[plant["canary"]])
        assert "+" not in plant["email_used"]
    used = {m["name_used"] for m in truth["messages"] if m["kind"] == "campaign"}
    assert used and used <= set(names.values())


def test_second_world_options_reach_the_config(cli, tmp_path):
    code, output = cli(
        "simulate", str(tmp_path / "w2"), "--sources", "4", "--canaries-per-source", "2",
        "--controls", "3", "--days", "30", "--background-rate", "0.05",
        "--no-roster-ids", "--no-flag-controls", "--small-campaigns", "2",
        "--own-marketing-share", "0.5", "--small-leak-share", "1", "--no-markers",
        "--long-tail", "0.2",
    )  # fmt: skip
    assert code == 0, output
    config = json.loads((tmp_path / "w2" / "truth.json").read_text("utf-8"))["config"]
    assert {k: config[k] for k in _KNOBS_AT_DEFAULT} == {
        "roster_ids": False,
        "flag_controls": False,
        "small_campaigns": 2,
        "own_marketing_share": 0.5,
        "small_leak_share": 1.0,
        "markers": False,
        "long_tail": 0.2,
    }


def test_a_long_tail_is_that_share_of_one_off_texts_each_its_own_template(tmp_path):
    directory, truth = _run(tmp_path, messages=4000, long_tail=0.8, obfuscation=0.3)
    messages = truth["messages"]
    one_offs = [m for m in messages if m["kind"] == "one_off"]
    assert abs(len(messages) - 4000) < 200
    assert 0.75 < len(one_offs) / len(messages) < 0.85
    assert len({m["template"] for m in one_offs}) == len(one_offs)  # each its own template
    assert all(m["campaign"] is None and m["source"] is None for m in one_offs)
    bodies = [r["body"] for r, m in zip(_rows(directory / "messages.csv"), messages, strict=True)]
    texts = [b for b, m in zip(bodies, messages, strict=True) if m["kind"] == "one_off"]
    assert len(set(texts)) > 0.99 * len(texts)
    lengths = sorted(len(t) for t in texts)
    assert 10 < lengths[len(lengths) // 2] < 200  # SMS lengths, not paragraphs
    assert truth["config"]["long_tail"] == 0.8
    # The rest of the study is the study without the tail, scaled down.
    assert {m["kind"] for m in messages} >= {"campaign", "background", "first_party"}
    again, _ = _run(tmp_path / "again", messages=4000, long_tail=0.8, obfuscation=0.3)
    assert _digests(directory) == _digests(again)
