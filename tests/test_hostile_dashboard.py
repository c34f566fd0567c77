"""Class: text from files, spammers and users is shown by the dashboard as text, never
rendered as Markdown (no tracking images, links or colours) (issue: hostile input)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from leaktrace.store import Store
from test_dashboard import open_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from common import md

HOSTILE = [
    "![t](http://tracker.example/p.png)",
    "[click](javascript:alert(1))",
    "**bold** _it_ `code` # heading",
    ":red[colour] :smile: $x^2$",
    "<img src=x onerror=alert(1)>",
    "a\\b | c ~~d~~",
]
# What would make Markdown act: an unescaped image/link opener, emphasis, HTML, colour.
_ACTIVE = re.compile(r"(?<!\\)(!\[|\[[^\]]*\]\(|\*\*|<img|(?<!\\):red\[|(?<!\\)\$)")


@pytest.mark.parametrize("text", HOSTILE)
def test_md_escapes_every_markdown_trigger(text):
    escaped = md(text)
    assert not _ACTIVE.search(escaped), escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == text  # shown exactly as written


def test_a_hostile_source_name_is_shown_as_text_on_the_sources_page(tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    at = open_app(db, monkeypatch, "sources")
    name = HOSTILE[0]
    at.text_input(key="source-name").set_value(name)
    at.button[0].click().run()
    shown = [s.value for s in at.success]
    assert shown and all(not _ACTIVE.search(v) for v in shown), shown
    at.text_input(key="canary-phone").set_value("+8613800138000")
    at.button[1].click().run()
    at.button[2].click().run()  # plant at the hostile source
    naming = [
        e.value
        for e in (*at.success, *at.warning, *at.error, *at.subheader, *at.caption)
        if "tracker" in e.value
    ]
    assert naming and all(not _ACTIVE.search(v) for v in naming), naming
    with Store(db).connect() as con:
        assert con.execute("SELECT name FROM sources").fetchone()[0] == name
