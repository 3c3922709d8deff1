"""`check`'s argv read without Typer (diagnose.app.checkargs): its option table is the Typer command's, and for
any argv it gives the keyword arguments Typer hands `check`, or declines so that Typer reads the argv."""

from __future__ import annotations

import contextlib
import copy
import enum
import functools
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.app import cli
from diagnose.app.checkargs import parse
from diagnose.app.checkoptions import PARAMS

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("check_options_script", ROOT / "scripts" / "check_options.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def typer_kwargs(argv: list[str]) -> dict | None:
    """The keyword arguments Typer hands `check` for ``maildoctor check ARGV`` (None: it did not call it)."""
    got: dict = {}
    info = next(i for i in cli.app.registered_commands if i.callback is cli.check)

    @functools.wraps(cli.check)
    def record(**kwargs):
        got.update(kwargs)

    one_info = copy.copy(info)
    one_info.callback, one_info.cls = record, cli._Command
    one = copy.copy(cli.app)
    one.registered_commands = [one_info]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            one(args=["check", *argv], prog_name="maildoctor", standalone_mode=False)
        except (typer.Exit, typer.Abort, typer.TyperException):
            return None
    return got or None


def same(fast: dict | None, slow: dict | None) -> bool:
    """Equal values of equal types (repr: a float is no int, nan equals nan, a Path no str)."""
    def shown(kwargs: dict) -> dict:
        return {k: repr(v) for k, v in kwargs.items()}
    return fast is None or (slow is not None and shown(fast) == shown(slow))


def test_the_table_is_the_typer_command():
    # Given the Click command Typer builds for `check`
    command = _script().live_command()
    by_name = {p.name: p for p in PARAMS}
    # Then the table has each of its parameters, with the same option strings, kind, default, multiple-ness,
    # type and choices (else: run .venv/bin/python scripts/check_options.py)
    assert [p.name for p in command.params] == [p.name for p in PARAMS], "run scripts/check_options.py"
    for live in command.params:
        ours = by_name[live.name]
        kind = live.param_type_name if live.param_type_name == "argument" else "flag" if live.is_flag else "option"
        assert ours.kind == kind, live.name
        if kind != "argument":
            assert ours.opts == tuple(live.opts), live.name
            assert ours.off_opts == tuple(live.secondary_opts), live.name
        assert (ours.multiple, ours.required, ours.default) == (live.multiple, live.required, live.default), live.name
        assert type(ours.default) is type(live.default), live.name
        assert (ours.low, ours.high) == (getattr(live, "min", None), getattr(live, "max", None)), live.name
        choices = live.type_descriptor.choices
        if choices is None:
            assert not issubclass(ours.type, enum.Enum), live.name
        else:  # --format, --fail-on: the same enum, so the same values
            assert tuple(ours.type) == tuple(choices), live.name
    # and the help option is none of them: `-h`, `--help` are Typer's to answer
    help_names = {"-h", "--help"}
    assert not help_names & {o for p in PARAMS for o in (*p.opts, *p.off_opts)}
    assert _script().live_params() == PARAMS


def test_the_script_finds_the_table_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_options.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# argv the fast reader must take, and give what Typer gives: every option, both forms, lists, flags, "--"
ACCEPTED = [
    ["healthy.test"],
    [],
    ["you@example.com", "--password-env", "MAIL_PASSWORD", "--roundtrip"],
    ["example.com", "--nameserver", "127.0.0.54", "--ca-file", "/tmp/ca.pem", "--timeout", "5", "--format", "json",
     "--quiet", "--output", "/dev/null"],
    ["example.com", "-n", "127.0.0.1:5353", "-n=::1", "--nameserver=192.0.2.1", "-n192.0.2.2", "-t2.5", "-fhtml",
     "-o", "r.html", "-c", "tls", "--check=dns", "-cspf", "--skip", "dkim", "--skip=dmarc"],
    ["--timeout=1e1", "--cert-warn-days", "0", "--cert-warn-days=3650", "x.example", "--no-revocation", "--ehlo",
     "client.example", "--smtp-host", "smtp.example", "--smtp-host=s2.example", "--imap-host", "imap.example",
     "--pop-host", "pop.example", "--dkim-selector", "s1", "--dkim-selector=s2", "--dnsbl", "default"],
    ["-qv", "example.com", "--fail-on", "fail", "--fail-on=warn", "--require", "bulk-sender", "--anonymize"],
    ["--config", "maildoctor.toml", "--profile", "work", "-pwork2"],
    ["--user", "u@example.com", "-uother", "--password-env=P", "--smtp-user", "s", "--smtp-password-env", "SP",
     "--imap-user", "i", "--imap-password-env", "IP", "--oauth2-token-env", "T", "--oauth2-token-cmd", "echo x",
     "--oauth2", "microsoft", "--allow-plaintext-auth", "--roundtrip-timeout", "30", "--to", "a@b.example", "--tui"],
    ["--", "-weird.example"],
    ["-q", "--", "example.com"],
    ["--ehlo", "--tui", "example.com"],  # an option's value may look like an option
    ["--ehlo", "--", "example.com"],
    ["-qn1.2.3.4", "example.com"],  # a bundle ending in an option that takes the rest of the word
    ["-qvn", "1.2.3.4", "example.com"],
    ["-n=x", "example.com"],  # Click: the value is "=x"
    ["-", "--timeout", " 7 "],
    ["", "--ehlo", ""],
    ["ëxample.com", "--to", "ü@ëxample.com", "--timeout", "nan", "--roundtrip-timeout", "inf", "--cert-warn-days",
     "-3"],
    ["example.com", "--format", "json", "--format", "text", "-q", "-q", "--timeout", "1_0"],
]

# argv that Typer answers with help or an error: the fast reader must decline (Typer's words then)
DECLINED = [
    ["-h"], ["--help"], ["example.com", "--help"], ["--bogus"], ["-x"], ["-qx"], ["a", "b"], ["--", "a", "b"],
    ["--timeout"], ["--timeout", "soon"], ["--timeout="], ["--cert-warn-days", "1.5"], ["--format", "pdf"],
    ["--format", "JSON"], ["--fail-on", "never"], ["--quiet=yes"], ["--tui=1"], ["-n"], ["-qn"], ["--nameserver"],
    ["---x"], ["--=x"], ["-5"], ["--time", "3"],
]


@pytest.mark.parametrize("argv", ACCEPTED, ids=[" ".join(a) or "(none)" for a in ACCEPTED])
def test_accepted_argv_gives_what_typer_gives(argv):
    fast, slow = parse(argv), typer_kwargs(argv)
    assert slow is not None, argv  # (the list holds only argv Typer accepts)
    assert fast is not None, argv
    assert same(fast, slow), (fast, slow)


@pytest.mark.parametrize("argv", DECLINED, ids=[" ".join(a) for a in DECLINED])
def test_help_and_usage_errors_are_left_to_typer(argv):
    assert typer_kwargs(argv) is None, argv  # (the list holds only argv Typer refuses or answers with help)
    assert parse(argv) is None, argv


def test_shell_completion_is_left_to_typer(monkeypatch):
    monkeypatch.setenv("_MAILDOCTOR_COMPLETE", "bash_complete")
    assert parse(["example.com"]) is None


_OPTS = sorted({o for p in PARAMS for o in (*p.opts, *p.off_opts)})
_SHORT = sorted(o for o in _OPTS if len(o) == 2)
_VALUES = st.sampled_from(["", "-", "--", "-x", "-q", "--tui", "=", "a=b", "1", "0", "-1", "1.5", "1e3", "nan", "inf",
                           "1_0", " 7 ", "0x10", "=x", "١٢", "json", "JSON", "text", "warn", "fail", "example.com",
                           "you@example.com", "ü.example", "x\x1b[31m", "127.0.0.1:53", "::1"])


@st.composite
def _word(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(_OPTS))
    if kind == 1:  # --opt=value, -ovalue
        opt = draw(st.sampled_from(_OPTS))
        if opt.startswith("--"):
            return f"{opt}={draw(_VALUES)}"
        return opt + draw(st.sampled_from(["", "="])) + draw(_VALUES)
    if kind == 2:  # a bundle of short options
        return "-" + "".join(o[1] for o in draw(st.lists(st.sampled_from(_SHORT), min_size=2, max_size=4)))
    if kind == 3:
        return "--"
    return draw(_VALUES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_word(), max_size=8))
def test_any_argv_gives_what_typer_gives_or_is_declined(argv):
    # Given any argv made of check's options, their forms, bundles, "--" and odd values
    fast, slow = parse(argv), typer_kwargs(argv)
    # Then the fast reader gives Typer's keyword arguments, or leaves the argv to Typer
    assert same(fast, slow), (argv, fast, slow)


# a fresh interpreter: the console script's entry point with the diagnosis replaced by a recorder, so that
# what is left is the argv's reading and the dispatch; then whether Typer (or Click) was imported
DISPATCH = """
import os
import sys
import diagnose.app.checkcmd as checkcmd
def record(**options):
    print("options:" + repr(sorted(options.items())))
    if os.environ.get("RAISE"):
        raise {"eof": EOFError, "ctrl-c": KeyboardInterrupt}[os.environ["RAISE"]]()
    return 0
checkcmd.run_check_command = record
if os.environ.get("FRONT") == "typer":
    from diagnose.app.cli import main
else:
    from diagnose.app.entry import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    print("exit:" + repr(exc.code))
print("typer:" + repr(sorted({m.split(".")[0] for m in sys.modules} & {"typer", "click", "pydantic", "rich"})))
"""


def _dispatch(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DISPATCH, "check", *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_a_plain_check_is_dispatched_without_importing_typer():
    # Given a usual `check` command line
    proc = _dispatch("example.com", "-n", "127.0.0.1", "--format=json", "-q", "-o", "/dev/null", "--check", "tls")
    # Then the command ran with the options Typer would give, and neither Typer nor Click was imported
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "exit:0" in proc.stdout and "typer:[]" in proc.stdout, proc.stdout + proc.stderr
    assert "('only', ['tls'])" in proc.stdout and "('fmt', <Format.json: 'json'>)" in proc.stdout, proc.stdout


def test_help_and_errors_still_go_through_typer():
    # Given `check --help` and an unknown option: Typer's help and Typer's error, exit 0 and 3
    helped, wrong = _dispatch("--help"), _dispatch("example.com", "--bogus")
    assert "Usage: maildoctor check [OPTIONS] [TARGET]" in helped.stdout and "exit:0" in helped.stdout, helped.stdout
    assert "typer:['typer']" in helped.stdout, helped.stdout  # (the test would see Typer: it was imported)
    assert "exit:3" in wrong.stdout, wrong.stdout
    assert "maildoctor: error: No such option: --bogus" in wrong.stderr, wrong.stderr


def test_the_tui_is_started_by_the_typer_cli():
    # Given `check --tui`: the TUI is diagnose.app.cli's to start (tests/unit/test_layering.py), so Typer reads it
    proc = _dispatch("example.com", "--tui")
    assert "exit:0" in proc.stdout and "('tui', True)" in proc.stdout, proc.stdout + proc.stderr
    assert "typer:['typer']" in proc.stdout, proc.stdout


@pytest.mark.parametrize("message", ["maildoctor: error: plain", "maildoctor: error: \x1b[31mred\x1b[0m ü \x1b]0;t\x07"])
def test_an_error_prints_as_typer_echo_prints_it(message):
    # Given stderr that is no terminal (a pipe, a log): typer.echo drops ANSI colour sequences there
    from diagnose.app.checkcmd import print_error

    theirs, ours = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(theirs):
        typer.echo(message, err=True)
    with contextlib.redirect_stderr(ours):
        print_error(message)
    assert ours.getvalue() == theirs.getvalue()


@pytest.mark.parametrize("event", ["eof", "ctrl-c"])
def test_ctrl_d_and_ctrl_c_end_as_through_typer(event):
    # Given a run that meets Ctrl-D (at the password prompt) or Ctrl-C
    fast = _dispatch("example.com", RAISE=event)
    slow = _dispatch("example.com", RAISE=event, FRONT="typer")
    # Then the same words on stderr and the same exit code (130) either way, the first without Typer
    assert "typer:[]" in fast.stdout and "typer:['typer']" in slow.stdout, fast.stdout + slow.stdout
    assert "exit:130" in fast.stdout and "exit:130" in slow.stdout, fast.stdout + fast.stderr
    assert fast.stderr == slow.stderr, (fast.stderr, slow.stderr)
