"""Every command starts fast: ``--help`` loads none of the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy", "pandas", "pyarrow", "altair", "streamlit", "pypinyin", "vl_convert", "lxml")

_PROBE = """
import json, sys
from leaktrace.cli import app
try:
    app({args!r})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})), file=sys.stderr)
"""


def loaded_by(*args: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``leaktrace ARGS``."""
    probe = _PROBE.format(args=list(args), heavy=set(HEAVY))
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["ingest", "--help"],
        ["attribute", "--help"],
        ["report", "--help"],
        ["simulate", "--help"],
        ["source", "--help"],
    ],
)
def test_help_loads_no_heavy_library(args):
    assert loaded_by(*args) == []


def test_info_loads_no_heavy_library(tmp_path):
    assert loaded_by("--db", str(tmp_path / "s.duckdb"), "info") == []


def test_importing_the_package_loads_nothing_heavy():
    done = subprocess.run(
        [sys.executable, "-c", "import leaktrace, sys; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not {m.split(".")[0] for m in eval(done.stdout)} & {*HEAVY, "duckdb"}


def test_the_public_api_is_declared_and_importable():
    import leaktrace

    assert leaktrace.__version__
    for name in leaktrace.__all__:
        assert getattr(leaktrace, name) is not None, name
