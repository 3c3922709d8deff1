"""What a newcomer reads first: --help of every command, and a target given without a command."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from diagnose.app.cli import app

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
# every command Typer knows, not a list to keep up to date: a new command needs -h and an example too
COMMANDS = tuple(sorted(typer.main.get_command(app).commands))


def test_the_commands_are_found():
    assert {"check", "tui", "report", "message", "explain", "settings", "batch", "checks", "serve"} <= set(COMMANDS), COMMANDS


def run(*argv):
    return subprocess.run([MAILDOCTOR, *argv], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_h_an_example_and_plain_argument_names(command):
    proc = run(command, "-h")
    assert proc.returncode == 0, proc.stderr
    usage = proc.stdout.splitlines()[0]
    # arguments are named like TARGET in the usage line, never {target} or target <str>
    assert "{" not in usage and not re.search(r"\[[a-z]+\]", usage), usage
    assert "<str>" not in proc.stdout and "<path>" not in proc.stdout, proc.stdout
    # an Examples section whose lines are maildoctor commands (this one among them)
    examples = proc.stdout.split("\nExamples:\n", 1)[1].splitlines()
    assert examples and all("maildoctor " in line for line in examples), examples
    assert any(f"maildoctor {command}" in line for line in examples), examples


@pytest.mark.parametrize("command", COMMANDS)
def test_each_default_is_said_once(command):
    # e.g. not "(0-3650, default 14).  [default: 14]"
    text = " ".join(run(command, "--help").stdout.split())
    for entry in re.split(r"\s(?=-{1,2}[a-z])", text):
        said = len(re.findall(r"(?<!')\bdefault\b(?!')", entry, re.I))  # 'default' is a --dnsbl value
        assert said <= 1, f"default said {said} times: {entry[:200]}"


def test_check_options_are_grouped_in_panels():
    text = run("check", "--help").stdout
    sections = [line[:-1] for line in text.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert sections[:7] == ["Arguments", "Target & DNS", "Servers", "Login & round trip", "TLS", "Checks", "Output"]
    tls = text.split("\nTLS:\n", 1)[1].split("\n\n", 1)[0]
    assert "--cert-warn-days" in tls and "--ca-file" in tls and "--roundtrip" not in tls


def test_root_help_offers_completion_and_h():
    proc = run("-h")
    assert proc.returncode == 0
    assert "--install-completion" in proc.stdout and "-h, --help" in proc.stdout


@pytest.mark.parametrize("target", ["example.com", "you@example.com"])
def test_a_target_without_a_command_suggests_check(target):
    proc = run(target)
    assert proc.returncode == 3
    assert f"maildoctor check {target}" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_a_mistyped_command_still_gets_did_you_mean():
    proc = run("chek")
    assert proc.returncode == 3 and "Did you mean 'check'" in proc.stderr, proc.stderr


def test_verbose_help_says_what_the_readme_says():
    # Given the README's row for -v and check's help for it
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `--verbose`, `-v` |"))
    meaning = row.split(" | ", 1)[1].rstrip(" |")
    help_text = " ".join(run("check", "--help").stdout.split())
    said = help_text.split("-v, --verbose ", 1)[1].split(" --", 1)[0].split(".")[0]
    # Then they are the same words
    assert said.lower() == meaning.lower(), (said, meaning)


def test_shell_completion_completes_commands_and_options():
    # Given the completion script bash would install
    script = subprocess.run([MAILDOCTOR, "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                            env={"SHELL": "/bin/bash", "PATH": "/usr/bin:/bin"}).stdout
    assert "_MAILDOCTOR_COMPLETE=complete_bash" in script, script
    # When bash asks it, the way that script does, to complete a command and an option
    def complete(words: str) -> list[str]:
        env = {"_MAILDOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1), "PATH": "/usr/bin:/bin"}
        return subprocess.run([MAILDOCTOR], capture_output=True, text=True, timeout=60, env=env).stdout.split()
    # Then it answers with maildoctor's own names
    assert complete("maildoctor che") == ["check", "checks"]
    assert complete("maildoctor check --cert") == ["--cert-warn-days"]


def test_a_run_of_one_command_builds_only_that_command_and_help_gets_them_all():
    from diagnose.app.cli import _app_for, _command_name, app

    # Given the command names as Typer gives them (functions dashed, or the name they were registered under)
    names = [_command_name(info) for info in app.registered_commands]
    assert {"check", "tui", "checks", "batch", "probe"} <= set(names) and len(names) == len(set(names)), names
    # When a run names one, Then only it is built; help, --version and non-commands get the whole app
    for name in names:
        assert [_command_name(i) for i in _app_for([name, "x"]).registered_commands] == [name]
    for args in ([], ["--help"], ["--version"], ["example.com"], ["list-checks"]):
        assert _app_for(args) is app, args
