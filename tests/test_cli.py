import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = {
    "plant", "plants", "import-roster", "export-roster", "info", "simulate", "demo", "ingest",
    "receive", "cluster", "templates", "campaigns", "merge-templates", "split-template",
    "attribute", "dashboard", "report", "export", "verify", "source", "canary", "quarantine",
    "first-party", "alerts",
}  # fmt: skip


def panel(output: str, title: str) -> list[str]:
    """The names in the first column of the rich help panel called ``title``, in order.

    A name starts within a few columns of the panel's left border, after the ``*``
    column of required parameters if the panel has one; a description wrapped onto
    the next line starts under the description column, further right, and names nothing.
    """
    lines = iter(output.splitlines())
    for line in lines:
        if line.startswith(f"╭─ {title} "):
            break
    else:
        raise AssertionError(f"no {title!r} panel in:\n{output}")
    names = []
    for line in lines:
        if line.startswith("╰"):
            return names
        assert line.startswith("│ ") and line.endswith("│"), line
        row = line[2:-1]
        if row.strip() and len(row) - len(row.lstrip(" *")) <= 5:
            names.append(row.lstrip(" *").split()[0])
    raise AssertionError(f"the {title!r} panel is not closed in:\n{output}")


def test_help_lists_exactly_the_commands(cli):
    code, output = cli("--help")
    assert code == 0
    commands = panel(output, "Commands")
    assert len(commands) == len(set(commands))
    assert set(commands) == COMMANDS
    assert panel(output, "Options") == ["--db", "--help"]


@pytest.mark.parametrize(
    ("group", "subcommands"),
    [("source", ["add", "list", "import"]), ("canary", ["new", "list"])],
)
def test_each_group_lists_exactly_its_subcommands(cli, group, subcommands):
    code, output = cli(group, "--help")
    assert code == 0
    assert panel(output, "Commands") == subcommands


@pytest.mark.parametrize(
    ("command", "arguments", "options"),
    [
        (("plant",), ["canary", "source"], {"--at", "--fields", "--name-used", "--tz"}),
        (("plants",), None, {"--source", "--json"}),
        (("source", "add"), ["name"], {"--category", "--sender-id", "--signature", "--url"}),
        (("canary", "new"), None, {"--phone", "--email", "--control", "--seed", "--locale"}),
        (("canary", "list"), None, {"--controls", "--json"}),
        (("import-roster",), ["paths..."], {"--tz"}),
        (("export-roster",), ["directory"], set()),
        (("info",), None, set()),
    ],
)
def test_each_command_help_names_its_own_arguments_and_options(cli, command, arguments, options):
    code, output = cli(*command, "--help")
    assert code == 0
    assert output.splitlines()[1].split()[2 : 2 + len(command)] == list(command)
    if arguments is None:
        assert "╭─ Arguments " not in output
    else:
        assert panel(output, "Arguments") == arguments
    listed = panel(output, "Options")
    assert options <= set(listed), listed
    assert listed[-1] == "--help"


def test_plant_workflow_end_to_end(cli):
    assert (
        cli("source", "add", "企查查", "--category", "credit_inquiry", "--signature", "【企查查】")[
            0
        ]
        == 0
    )
    assert cli("source", "add", "Lendly", "--category", "loan_platform")[0] == 0
    code, output = cli("canary", "new", "--phone", "13800138000", "--seed", "7")
    assert code == 0 and "+8613800138000" in output
    assert cli("canary", "new", "--phone", "13900139000", "--control")[0] == 0
    code, output = cli(
        "plant", "canary-001", "企查查", "--at", "2026-03-01T10:00", "--tz", "Asia/Shanghai"
    )
    assert code == 0 and "2026-03-01T10:00+08:00" in output
    code, output = cli("plant", "+8613800138000", "Lendly", "--fields", "name,phone,id_number")
    assert code == 0 and "already planted at 企查查" in output
    code, output = cli("plants", "--json")
    plants = json.loads(output)
    assert plants[0]["source"] == "企查查"
    assert len({p["name_used"] for p in plants}) == 2
    code, output = cli("canary", "list", "--controls", "--json")
    assert [c["label"] for c in json.loads(output)] == ["control-001"]


def test_user_errors_are_one_line_without_traceback(cli):
    cli("source", "add", "Lendly", "--category", "loan_platform")
    cli("canary", "new", "--phone", "13900139000", "--control")
    cases = [
        (("source", "add", "X", "--category", "casino"), "unknown category 'casino'"),
        (("canary", "new", "--phone", "12345"), "not a valid phone number"),
        (("plant", "control-001", "Lendly"), "controls are never planted"),
        (("plant", "control-001", "Lendly", "--tz", "Mars/Olympus"), "unknown time zone"),
    ]
    for args, message in cases:
        code, output = cli(*args)
        assert code == 1
        assert message in output
        assert "Traceback" not in output


def test_roster_round_trip_through_the_cli(cli, tmp_path):
    cli("source", "add", "Lendly", "--category", "loan_platform")
    cli("canary", "new", "--email", "alice@example.org", "--locale", "en_US")
    assert (
        cli(
            "plant",
            "alice@example.org",
            "Lendly",
            "--fields",
            "name,email",
            "--at",
            "2026-03-01T08:00Z",
        )[0]
        == 0
    )
    assert cli("export-roster", str(tmp_path / "roster"))[0] == 0
    code, output = cli("import-roster", str(tmp_path / "roster"))
    assert code == 0
    assert "plants.csv: 0 added, 1 already present" in output


def test_installed_console_script_uses_leaktrace_db(tmp_path):
    env = {**os.environ, "LEAKTRACE_DB": str(tmp_path / "env.duckdb")}
    script = Path(sys.executable).with_name("leaktrace")
    result = subprocess.run(
        [str(script), "info"], env=env, capture_output=True, text=True, check=True
    )
    assert str(tmp_path / "env.duckdb") in result.stdout
    other = tmp_path / "flag.duckdb"
    result = subprocess.run(
        [str(script), "--db", str(other), "info"], env=env, capture_output=True, text=True
    )
    assert str(other) in result.stdout and other.exists()
