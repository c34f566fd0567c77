"""Attribution on real stores: simulated studies scored against truth, and hand-built cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from exports import send
from leaktrace import roster
from leaktrace.attribution.exposure import load_frames
from leaktrace.attribution.statistics import Settings, attribute
from leaktrace.attribution.verdicts import source_reports
from leaktrace.model import Source, SourceCategory
from leaktrace.sim.config import SimConfig
from leaktrace.sim.score import import_simulated, score, shared_only_leaks, true_leaks
from leaktrace.sim.simulate import simulate
from leaktrace.store import Store

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
REPORT_KEYS = {
    "name", "category", "verdict", "reason", "reason_key", "reason_args", "score", "p_adjusted",
    "family_size",
    "canaries_planted", "canaries_hit", "controls_hit", "first_leak_seen",
    "estimated_leak_date", "leak_window", "leak_pattern", "not_hit_after", "fields_leaked",
    "top_units", "timeline",
    "evidence_message_ids",
}  # fmt: skip


@pytest.fixture(
    scope="module", params=[pytest.param(seed, marks=pytest.mark.slow) for seed in (1, 2, 3)]
)
def simulated(request, tmp_path_factory) -> tuple[Store, Path]:
    """A simulated 30-source study (10 canaries each, 20 controls) imported and analysed.

    Each seed takes 12-18 s to simulate, import and analyse: every test using it is slow.
    """
    directory = tmp_path_factory.mktemp(f"seed{request.param}")
    simulate(SimConfig(seed=request.param, canaries_per_source=10, controls=20), directory / "s")
    store = Store(directory / "s.duckdb")
    import_simulated(store, directory / "s")
    return store, directory / "s"


def test_leaked_verdicts_match_the_truth(simulated):
    store, directory = simulated
    leaks = true_leaks(directory)
    result = attribute(load_frames(store))
    full = score(result.verdicts, leaks)
    assert full.precision >= 0.95 and full.recall >= 0.90
    assert full.clean_called_leaked == 0
    # The statistics alone never call a clean source leaked either. Their recall is what
    # the family-wise bar costs: 0.83 over 20 seeds in the bench, 8 of 12 in seed 2 (it
    # was 0.94 and at least 0.75 with Benjamini–Hochberg, which let a clean source through).
    alone = score(
        attribute(load_frames(store), settings=Settings(use_markers=False)).verdicts, leaks
    )
    assert alone.clean_called_leaked == 0 and alone.recall >= 0.6
    # Leak campaigns never reached a control.
    assert all(v.controls_hit == 0 for v in result.verdicts if v.verdict == "leaked")


def test_background_campaigns_are_recognised_and_never_tested(simulated):
    store, directory = simulated
    truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    result = attribute(load_frames(store))
    with store.connect() as con:
        campaign_of = dict(
            con.execute("SELECT message_id, campaign_id FROM message_campaigns").fetchall()
        )
    # messages.csv was imported in truth order, one row per message.
    background = {
        f"c{campaign_of[i + 1]}"
        for i, m in enumerate(truth["messages"])
        if m["kind"] == "background"
    }
    assert background, "the simulated study has background campaigns"
    found = set(result.background)
    assert found and all(unit.startswith(("c", "t")) for unit in found), found
    assert len(background & found) >= 0.9 * len(background)
    tested = {u.unit for u in result.exposures}
    assert tested and not tested & found


def test_batch_leaks_are_dated_and_later_canaries_not_hit_are_reported(simulated):
    store, directory = simulated
    truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    batch = {
        s["name"]: s["leak"]
        for s in truth["sources"]
        if s["leaked"] and s["leak"]["kind"] == "batch"
    }
    verdicts = {v.name: v for v in attribute(load_frames(store)).verdicts}
    dated = [verdicts[name] for name in batch if verdicts[name].verdict == "leaked"]
    assert dated
    for v in dated:
        true = datetime.fromisoformat(batch[v.name]["start"])
        assert abs((v.estimated_leak_date - true).days) <= 10, v.name
        low, high = v.leak_window
        assert low <= v.first_leak_seen and high <= v.first_leak_seen
    assert any(v.leak_pattern == "batch" and v.not_hit_after > 0 for v in dated)


def test_attribute_json_is_one_object_per_source_with_the_documented_fields(
    simulated, cli, monkeypatch
):
    store, _ = simulated
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, out = cli("attribute", "--json")
    reports = json.loads(out)
    assert code == 0 and len(reports) == 30
    assert all(set(r) == REPORT_KEYS for r in reports)
    leaked = [r for r in reports if r["verdict"] == "leaked"]
    assert leaked and all(r["evidence_message_ids"] for r in leaked)
    assert reports == source_reports(store)
    code, out = cli("attribute", "--overlap", "--json")
    edges = json.loads(out)
    assert code == 0 and all({"source", "target", "units", "weight"} <= set(e) for e in edges)


# --- hand-built studies --------------------------------------------------------------------


def hand_study(
    tmp_path: Path, *, canaries: int = 6, controls: int = 4, days_ago: float = 60
) -> Store:
    """Sources A (sender 10690001, 【甲商城】) and B; ``canaries`` planted at each."""
    store = Store(tmp_path / "s.duckdb")
    for name, sender in (("A", "10690001"), ("B", "10690002")):
        roster.add_source(
            store,
            Source(
                name=name,
                category=SourceCategory.ECOMMERCE,
                sender_ids=(sender,),
                signatures=(f"【{'甲' if name == 'A' else '乙'}商城】",),
            ),
        )
    planted = T0
    for i in range(canaries):
        for source, offset in (("A", 0), ("B", 100)):
            label = f"{source.lower()}-{i}"
            roster.new_canary(store, phone=f"+447700900{offset + i:03d}", label=label, seed=i)
            roster.plant(store, label, source, planted + timedelta(days=60 - days_ago))
    for i in range(controls):
        roster.new_canary(
            store, phone=f"+447700900{200 + i:03d}", label=f"ctl-{i}", control=True, seed=i
        )
    return store


def verdict_of(store: Store, name: str):
    return next(v for v in attribute(load_frames(store)).verdicts if v.name == name)


@pytest.mark.slow
def test_first_party_messages_are_no_evidence(tmp_path):
    store = hand_study(tmp_path)
    day = T0 + timedelta(days=70)
    # A's own verification texts to each of its canaries: every canary, no one else.
    rows = [
        (day + timedelta(hours=i), f"a-{i}", f"10690001{i:03d}", f"【甲商城】验证码{1000 + i}")
        for i in range(6)
    ]
    send(store, tmp_path, rows)
    with store.connect() as con:
        assert con.execute("SELECT bool_and(first_party) FROM messages").fetchone()[0]
    assert verdict_of(store, "A").verdict == "clean"


@pytest.mark.slow
def test_a_campaign_reaching_one_sources_canaries_is_a_leak_and_background_is_not(tmp_path):
    store = hand_study(tmp_path)
    day = T0 + timedelta(days=70)
    hour = timedelta(hours=1)
    leak = [
        (
            day + i * hour,
            f"a-{i}",
            f"10695555{i:03d}",
            f"【鑫享贷】有{i + 2}万元额度，点k4v6.test/{i}",
        )
        for i in range(5)
    ]
    everyone = [*(f"a-{i}" for i in range(6)), *(f"b-{i}" for i in range(6))]
    everyone += [f"ctl-{i}" for i in range(4)]
    # The background reaches everyone from the day before: each inbox is known from
    # its first message, so the controls are watched when the leak campaign runs.
    background = [
        (
            day - timedelta(days=1) + i * hour,
            label,
            f"10657777{i:03d}",
            f"【博彩城】注册送{i}8元，戳cy0h.test/{i}",
        )
        for i, label in enumerate(everyone)
    ]
    send(store, tmp_path, leak + background)
    with store.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT CASE WHEN m.body LIKE '【博彩城】%' THEN 'background'"
            " ELSE 'leak' END, u.unit FROM messages m JOIN message_units u ON u.message_id = m.id"
        ).fetchall()
    units = dict(rows)
    assert len(rows) == 2 and set(units) == {"background", "leak"}, rows  # one unit each
    result = attribute(load_frames(store))
    assert result.background == [units["background"]]
    assert units["leak"] in {u.unit for u in result.exposures}
    verdicts = {v.name: v for v in result.verdicts}
    assert verdicts["A"].verdict == "leaked" and verdicts["A"].canaries_hit == 5
    assert verdicts["B"].verdict == "clean"
    assert verdicts["A"].fields_leaked == ["phone"]
    assert "reached 5 of 6 canaries" in verdicts["A"].reason


def test_a_name_marker_attributes_a_contact_planted_at_two_sources(tmp_path):
    store = hand_study(tmp_path, canaries=3)
    planted = roster.plant(store, "a-0", "B", T0 + timedelta(days=1)).plant
    variant = planted.name_used
    persona = next(c for c in roster.list_canaries(store) if c.label == "a-0").persona.name
    assert variant and variant != persona
    day = T0 + timedelta(days=70)
    # Spam to a-0 using the spelling only B was given: B leaked, not A.
    send(
        store,
        tmp_path,
        [(day, "a-0", "10695555001", f"【鑫享贷】{variant}您好，您有3万元额度，回T退订")],
    )
    v = {x.name: x for x in attribute(load_frames(store)).verdicts}
    assert v["B"].verdict == "leaked" and v["B"].fields_leaked == ["name", "phone"]
    assert variant in v["B"].reason and v["B"].marker_messages
    assert v["A"].verdict != "leaked"


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"canaries": 2}, "Only 2 canaries planted"),
        pytest.param({"controls": 1}, "Only 1 controls", marks=pytest.mark.slow),
        pytest.param({"days_ago": 5}, "planted a median 5 days ago", marks=pytest.mark.slow),
    ],
)
def test_too_little_to_judge_is_insufficient_data(tmp_path, kwargs, why):
    store = hand_study(tmp_path, **kwargs)
    send(store, tmp_path, [(T0 + timedelta(days=60), "a-0", "10657777001", "【博彩城】注册送18元")])
    v = verdict_of(store, "A")
    assert v.verdict == "insufficient data" and why in v.reason


@pytest.mark.parametrize(("export_opens", "leaked"), [(80, False), (1, True)])
def test_a_control_counts_from_the_start_of_the_export_that_holds_it(
    tmp_path, export_opens, leaked
):
    # The leak reaches 5 of A's 6 canaries on day 70. The controls' messages come in a
    # second export: opened on day 80 nobody watched them on day 70, so nothing shows
    # the campaign singled A out; opened on day 1 (one early message), it does.
    store = hand_study(tmp_path, controls=12)
    day = T0 + timedelta(days=70)
    send(
        store,
        tmp_path,
        [(day, f"a-{i}", f"1069555500{i}", f"【鑫享贷】额度{i}万") for i in range(5)],
    )
    late = [
        (T0 + timedelta(days=80), f"ctl-{i}", "10657777", f"【博彩城】送{i}8元") for i in range(12)
    ]
    opening = [(T0 + timedelta(days=export_opens), "ctl-0", "95555", "您的账户余额变动")]
    send(store, tmp_path, opening + late)
    assert (verdict_of(store, "A").verdict == "leaked") is leaked


def test_a_leak_whose_every_sold_canary_another_source_had_is_counted_apart(tmp_path):
    def plant(canary: str, source: str) -> dict:
        return {"canary": canary, "source": source, "planted_at": T0.isoformat()}

    def leaker(name: str, *canaries: str) -> dict:
        sales = [{"at": T0.isoformat(), "canaries": [c]} for c in canaries]
        return {"name": name, "leaked": True, "leak": {"start": T0.isoformat(), "sales": sales}}

    truth = {
        "plants": [
            plant("c1", "A"), plant("c1", "B"), plant("c2", "A"), plant("c2", "C"),
            plant("c3", "B"), plant("c4", "C"), plant("c4", "D"),
        ],
        "sources": [
            leaker("A", "c1", "c2"),  # both of its sold canaries were planted elsewhere too
            leaker("B", "c1", "c3"),  # c3 was B's alone
            leaker("C", "c4"),
            leaker("E"),  # sold nobody: not a leak the data cannot tell apart
            {"name": "D", "leaked": False, "leak": None},
        ],
    }  # fmt: skip
    (tmp_path / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    shared = shared_only_leaks(tmp_path)
    assert shared == {"A", "C"}
    called = [SimpleNamespace(name=n, verdict=v) for n, v in (("A", "clean"), ("B", "leaked"))]
    scored = score(called, true_leaks(tmp_path), shared=shared)
    counts = (scored.true_leaks, scored.right, scored.shared_leaks, scored.right_shared)
    assert counts == (4, 1, 2, 0)
    assert scored.recall == pytest.approx(1 / 4) and scored.recall_own == pytest.approx(1 / 2)
