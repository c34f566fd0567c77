"""Class: text from spam, files and users is shown by the CLI, never obeyed as markup
(issue: hostile input)."""

from __future__ import annotations

import json

import pytest

MARKUP = [
    "[/bold] closes what it never opened",
    "[link=http://tracker.example/p.png]点击领取[/link]",
    "[bold red on white]您有30000元备用金额度[/]",
    "\\[escaped] and [/] and [[double]]",
]


@pytest.fixture
def hostile_study(cli, tmp_path):
    """A store whose source, sender, recipient and spam bodies all carry rich markup."""
    cli("source", "add", "[bold]易信贷[/bold]", "--category", "loan_platform")
    cli("canary", "new", "--phone", "13800138000", "--seed", "1", "--label", "canary-001")
    cli("plant", "canary-001", "[bold]易信贷[/bold]", "--at", "2026-01-01T00:00+08:00")
    path = tmp_path / "m.jsonl"
    rows = [
        {
            "recipient": "+8613800138000",
            "sender": f"[red]1069000{i % 3}",
            "received_at": f"2026-01-{5 + i:02d}T10:00:00+08:00",
            "body": f"{MARKUP[i % len(MARKUP)]} 回T退订 http://[x].example/{i}",
        }
        for i in range(12)
    ]
    rows.append({**rows[0], "recipient": "[link=http://x]+8613900139000[/link]"})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    code, out = cli("ingest", str(path))
    assert code == 0, out
    return out


@pytest.mark.parametrize(
    "args",
    [
        ["templates"],
        ["campaigns"],
        ["campaigns", "--show", "1"],
        ["quarantine", "list"],
        ["attribute"],
        ["source", "list"],
        ["plants"],
        ["cluster"],
    ],
)
def test_markup_in_spam_and_names_is_printed_as_text(hostile_study, cli, args):
    for _ in range(2):  # and again on the next run: nothing stored breaks later output
        code, out = cli(*args)
        assert code == 0, out
        assert "\x1b]8;" not in out  # no terminal hyperlink was made


def test_the_text_is_shown_as_written(hostile_study, cli):
    code, out = cli("templates", "--json")
    assert code == 0
    texts = " ".join(t["text"] for t in json.loads(out))
    assert "[link=" in texts and "[[double]]" in texts
    _code, out = cli("templates")  # the table shows the brackets rich would have eaten
    table = "".join(out.split())
    assert "[link=" in table and "[[double]]" in table
    _code, out = cli("source", "list")
    assert "[bold]易信贷[/bold]" in out
    _code, out = cli("quarantine", "list")
    assert "[link=http://x]" in out


def test_an_error_naming_hostile_text_is_one_plain_line(cli):
    code, out = cli("plant", "[/bold][link=http://x]nobody", "nowhere")
    assert code == 1 and "[/bold][link=http://x]nobody" in out and "\x1b]8;" not in out
