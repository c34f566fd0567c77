"""Class: evidence changed unseen. Dropping the newest message from a pack's data and chain
and rehashing the manifest is found by the counts, by the manifest's head, and, when the
attacker rewrites those too, by the head kept apart (issue: hostile input)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from leaktrace.evidence.pack import export_study
from leaktrace.evidence.verify import verify_pack, verify_store
from leaktrace.store import Store


@pytest.fixture(scope="module")
def exported(analysed_store_file: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("export") / "e"
    store = Store(shutil.copyfile(analysed_store_file, folder.parent / "s.duckdb"))
    pack = export_study(store, folder)
    return pack


def drop_newest(folder: Path, rewrite_head: bool, rewrite_count: bool) -> None:
    """What a careful forger does: drop the last message everywhere, rehash the manifest."""
    chain = pd.read_csv(folder / "chain.csv", dtype=str, keep_default_na=False)
    newest = int(chain["message_id"].iloc[-1])
    chain.iloc[:-1].to_csv(folder / "chain.csv", index=False)
    table = pq.read_table(folder / "data/messages.parquet").to_pandas()
    table = table[table["id"] != newest]
    table.to_parquet(folder / "data/messages.parquet", index=False)
    rows = pd.read_csv(folder / "data/messages.csv", dtype=str, keep_default_na=False)
    rows[rows["id"].astype(int) != newest].to_csv(folder / "data/messages.csv", index=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    if rewrite_head:
        manifest["chain"]["head_message_id"] = int(chain["message_id"].iloc[-2])
        manifest["chain"]["head_chain_sha256"] = chain["chain_sha256"].iloc[-2]
    if rewrite_count:
        manifest["messages"] -= 1
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_an_untouched_export_verifies_with_its_kept_head(exported):
    head = f"{exported.chain_head[0]}:{exported.chain_head[1]}"
    assert verify_pack(exported.folder, head).ok


@pytest.mark.parametrize(
    "rewrite_head, rewrite_count, found_without_head",
    [(False, False, {"count", "chain"}), (True, False, {"count"}), (False, True, {"chain"})],
)
def test_dropping_the_newest_message_is_found_from_the_pack_alone(
    exported, tmp_path, rewrite_head, rewrite_count, found_without_head
):
    folder = Path(shutil.copytree(exported.folder, tmp_path / "e"))
    drop_newest(folder, rewrite_head, rewrite_count)
    kinds = {p.kind for p in verify_pack(folder).problems}
    assert found_without_head <= kinds, kinds


def test_a_forger_who_rewrites_everything_is_found_by_the_kept_head(exported, tmp_path):
    folder = Path(shutil.copytree(exported.folder, tmp_path / "e"))
    drop_newest(folder, rewrite_head=True, rewrite_count=True)
    assert verify_pack(folder).ok  # consistent in itself: what the README warns about
    kept = f"{exported.chain_head[0]}:{exported.chain_head[1]}"
    problems = verify_pack(folder, kept).problems
    assert [p.kind for p in problems] == ["chain"] and "not the one kept" in problems[0].detail


def test_the_store_is_checked_against_a_kept_head_from_the_cli(exported, cli, monkeypatch):
    store = Store(exported.folder.parent / "s.duckdb")
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    head_id, head_sha = exported.chain_head
    code, _ = cli("verify", "--head", f"{head_id}:{head_sha}")
    assert code == 0
    code, out = cli("verify", "--head", f"{head_id - 1}:{head_sha}")
    assert code == 1 and "not the one kept" in out
    assert verify_store(store).ok
