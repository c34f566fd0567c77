"""Class: writing a pack or an export never deletes what is not an earlier pack, and pack
archives hold only safe paths (issue: hostile input)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from leaktrace.attribution.verdicts import run_attribution
from leaktrace.evidence.data import ReportError
from leaktrace.evidence.pack import export_study, pack_zip, zip_folder_name
from leaktrace.evidence.verify import verify_pack
from leaktrace.model import Source, SourceCategory
from leaktrace.roster import add_source
from leaktrace.store import Store


@pytest.fixture(scope="module")
def store(analysed_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("hostile-packs") / "study.duckdb"
    shutil.copyfile(analysed_store_file, path)
    return Store(path)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


OTHER_MANIFESTS = {
    "browser extension": {"manifest_version": 3, "name": "my extension", "version": "1.0"},
    "web app": {"name": "app", "icons": [], "start_url": "/"},
    "not json": "<<<",
    "a list": [1, 2, 3],
    "our marker, files not a list": {"format": "leaktrace-evidence-pack", "files": "x"},
}


@pytest.mark.parametrize("manifest", OTHER_MANIFESTS.values(), ids=OTHER_MANIFESTS.keys())
def test_a_folder_with_another_programs_manifest_is_never_touched(store, tmp_path, manifest):
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / "manifest.json").write_text(text)
    (folder / "src" / "main.js").write_text("keep me")
    before = tree(folder)
    with pytest.raises(ReportError, match="choose a new folder"):
        export_study(store, folder)
    assert tree(folder) == before


def test_an_earlier_pack_is_replaced_but_a_file_it_does_not_list_stops_it(store, tmp_path):
    folder = tmp_path / "pack"
    export_study(store, folder)
    export_study(store, folder)  # an earlier pack of ours: replaced
    assert verify_pack(folder).ok
    (folder / "data" / "my-notes.txt").write_text("mine")
    before = tree(folder)
    with pytest.raises(ReportError, match=r"data/my-notes\.txt"):
        export_study(store, folder)
    assert tree(folder) == before


def test_a_forged_manifest_listing_paths_outside_the_folder_deletes_nothing(store, tmp_path):
    folder = tmp_path / "pack"
    export_study(store, folder)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].append({"path": "../victim.txt", "sha256": "0" * 64, "bytes": 7})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReportError, match="outside the folder"):
        export_study(store, folder)
    assert victim.read_text() == "keep me" and (folder / "chain.csv").is_file()


def test_a_link_in_an_earlier_pack_folder_stops_the_replacement(store, tmp_path):
    folder = tmp_path / "pack"
    export_study(store, folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "thesis.txt").write_text("keep me")
    (folder / "data" / "linked").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ReportError, match="linked"):
        export_study(store, folder)
    assert (elsewhere / "thesis.txt").read_text() == "keep me"


def test_out_pointing_at_a_file_is_one_clear_line(store, tmp_path, cli, monkeypatch):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    with pytest.raises(ReportError, match="is a file"):
        export_study(store, target)
    monkeypatch.setenv("LEAKTRACE_DB", str(store.path))
    code, out = cli("export", str(target))
    assert code == 1 and "is a file" in out and "Traceback" not in out
    assert target.read_text() == "keep me"


NAMES = ["../../x", "/etc/passwd", "a/../../b", "..", "C:\\evil", "易信贷/../..", "", "."]


@pytest.mark.parametrize("name", NAMES)
def test_zip_folder_names_are_one_safe_path_part(name):
    top = zip_folder_name(name)
    assert top.startswith("evidence-") and "/" not in top and "\\" not in top and ".." not in top


def test_pack_zip_of_a_source_named_like_a_path_stays_inside_one_folder(store, tmp_path):
    copy = Store(shutil.copyfile(store.path, tmp_path / "s.duckdb"))
    name = "../../易信贷/x"
    add_source(copy, Source(name=name, category=SourceCategory.LOAN_PLATFORM))
    run_attribution(copy)
    data, _ = pack_zip(copy, name, "en", pdf=False)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {n.split("/")[0] for n in names} == {zip_folder_name(name)}
    assert not any(".." in n.split("/") or n.startswith("/") for n in names)
