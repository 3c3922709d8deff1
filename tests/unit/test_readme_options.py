"""The README documents every command, option and format that exists, and none that does not.

Compared with what Typer itself knows (the Click command tree of diagnose.app.cli.app), so a new
option or command fails here until its README section lists it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from diagnose.app.cli import app
from diagnose.app.probe_args import parser as probe_parser
from reports import RENDERERS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(app).commands

# where each command's options are documented: (start, end) markers of README passages
SECTIONS: dict[str, list[tuple[str, str]]] = {
    "check": [("Options of `check`", "### Interactive"), ("### Logging in and the round trip", "\n## ")],
    "tui": [("Options of `check` (`tui` takes the same)", "### Interactive"),
            ("### Logging in and the round trip", "\n## ")],
    "settings": [("`settings` credits each server", "`maildoctor COMMAND -h`")],
    "report": [("Turn a JSON report someone sent you", "Read a bounce")],
    "message": [("Read a bounce", "Every finding code is in")],
    "batch": [("### Many domains: `maildoctor batch`", "### Start-up")],
    "explain": [("Every finding code is in", "\n## ")],
    "checks": [("## Use", "\n## How it works")],
    "serve": [("### A web page for a helpdesk: `maildoctor serve`", "### Exit codes")],
    "probe": [("### Monitoring one port: `maildoctor probe`", "### Exit codes and `--fail-on`")],
    "login": [("#### OAuth 2.0: `maildoctor login`", "Answers explained")],
}


def _passage(command: str) -> str:
    parts = []
    for start, end in SECTIONS[command]:
        assert start in README, f"README lost the passage of {command!r} starting {start!r}"
        text = README.split(start, 1)[1]
        parts.append(text.split(end, 1)[0])
    return "\n".join(parts)


def _probe_options() -> list[str]:
    """`probe` parses its options with argparse (it runs before Typer is imported): those, not Typer's."""
    return [o for action in probe_parser()._actions for o in action.option_strings if o not in ("--help", "-h")]


def _options(command: str) -> list[str]:
    """The visible options of a command, long and short (not -h/--help)."""
    if command == "probe":
        return _probe_options()
    return [o for p in COMMANDS[command].params if p.param_type_name == "option" and not p.hidden
            for o in (*p.opts, *p.secondary_opts) if o not in ("--help", "-h")]


def _in_code(option: str, text: str) -> bool:
    """`--timeout SECONDS`, `-t`, `--check ID` (`-c`): the option inside a code span, as a whole word."""
    return any(re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", span) for span in re.findall(r"`([^`]*)`", text))


def test_every_command_has_a_readme_section():
    missing = sorted(set(COMMANDS) - set(SECTIONS))
    assert not missing, f"commands without a README section in this test's SECTIONS (document them): {missing}"
    for command in COMMANDS:
        assert f"maildoctor {command}" in README, f"README never shows `maildoctor {command}`"


@pytest.mark.parametrize("command", sorted(SECTIONS))
def test_every_option_is_listed_where_its_command_is_documented(command):
    # Given the README passage of the command and the options Typer parses for it
    text = _passage(command)
    # Then each option, long and short, is named there in code
    missing = [o for o in _options(command) if not _in_code(o, text)]
    assert not missing, f"README's {command} section does not list {missing}"


def test_tui_takes_the_options_of_check():
    # the README says "tui takes the same": then tui has no option check lacks
    assert set(_options("tui")) <= set(_options("check")), set(_options("tui")) - set(_options("check"))


def test_readme_names_no_option_that_does_not_exist():
    known = {o for c in COMMANDS.values() for p in c.params for o in (*p.opts, *p.secondary_opts)}
    known |= {o for p in typer.main.get_command(app).params for o in p.opts} | {"--help", "-h"}
    known |= set(_probe_options())
    # options in the README's tables (rows starting with an option in code) and in its option lists
    table_rows = [line.strip() for line in README.splitlines() if line.lstrip().startswith("| `-")]
    named = {m for row in table_rows for span in re.findall(r"`([^`]*)`", row.split(" | ")[0])
             for m in re.findall(r"(?<![\w-])--?[a-z][\w-]*", span)}
    assert table_rows and named, "no option tables found in README"
    assert named <= known, f"README tables name options maildoctor does not have: {sorted(named - known)}"


def test_every_format_is_in_the_formats_table_and_in_check_options():
    # Given the formats the renderers provide (Typer's --format choices are made from them)
    formats = set(RENDERERS)
    # Then the Formats table has one row per format, no more
    table = README.split("### Formats", 1)[1].split("\n### ", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert rows == formats, (rows, formats)
    # and the --format row of check's options names each
    row = next(line for line in README.splitlines() if line.startswith("| `--format FORMAT`"))
    assert all(re.search(rf"\b{f}\b", row) for f in formats), row


@pytest.mark.parametrize("command", ["check", "report", "message"])
def test_format_choices_in_help_are_the_renderers(command):
    from typer.testing import CliRunner

    out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
    choices = re.search(r"--format\s+<([a-z|]+)>", out)
    assert choices, out
    assert set(choices.group(1).split("|")) == set(RENDERERS)
