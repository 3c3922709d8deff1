"""The one front door (diagnose.app.plan): every way in gives the same Plan for the same settings,
and the same bad value the same one-line error, whichever command or API it came through."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from diagnose.app import api
from diagnose.app.config import settings_for
from diagnose.app.plan import BOUNDS, MAX_TIMEOUT, Plan, PlanError, Request, Servers, make_plan, plan_from_form
from diagnose.engine.credentials import CredentialRequest
from diagnose.engine.exitcodes import FailOn
from tests.unit.certmint import self_signed

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(self_signed("ca.example").public_bytes(Encoding.PEM))
    return path


def cli_request(monkeypatch, *argv: str) -> Request:
    """The Request `maildoctor check ARGV` builds (captured before it runs)."""
    from diagnose.app import cli, session

    seen: list[Request] = []
    monkeypatch.setattr(session, "run_check", lambda request, progress=None: seen.append(request) or 0)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check", *argv])
    assert exit_.value.code == 0 and len(seen) == 1
    return seen[0]


def test_cli_profile_and_api_give_the_same_plan(monkeypatch, tmp_path, ca_file):
    # Given the same settings on the command line, in a profile and as API keyword arguments
    monkeypatch.chdir(tmp_path)  # no ./maildoctor.toml of the developer's
    from_cli = make_plan(cli_request(monkeypatch, "example.com", "-n", "192.0.2.53", "-t", "3", "-c", "dns",
                                     "-c", "mx", "--skip", "mx.records", "--ca-file", str(ca_file),
                                     "--fail-on", "fail", "-f", "json"))
    (tmp_path / "maildoctor.toml").write_text(textwrap.dedent(f"""
        [profiles.p]
        target = "example.com"
        nameservers = ["192.0.2.53"]
        timeout = 3
        checks = ["dns", "mx"]
        skip = ["mx.records"]
        ca_file = "{ca_file.name}"
        fail_on = "fail"
        format = "json"
    """))
    settings = settings_for(tmp_path / "maildoctor.toml", "p", dict(target=None, fmt=None))
    from_profile = make_plan(Request(**settings))
    from_api = make_plan(api._request("example.com", nameservers=["192.0.2.53"], timeout=3, checks=["dns", "mx"],
                                      skip=["mx.records"], ca_file=str(ca_file), fail_on="fail", anonymize=False,
                                      profile=None, config=None, dkim_selectors=(), dnsbl=()))
    # Then the plans are equal (the profile's name, for the report header, aside)
    assert from_profile.profile.startswith("p (")
    assert replace(from_profile, profile="") == from_cli == from_api
    # and they say what was asked for, typed
    assert from_cli.options.timeout == 3.0 and isinstance(from_cli.options.timeout, float)
    assert from_cli.fail_on is FailOn.FAIL and from_cli.options.ca_file == ca_file
    ids = [c.id for c in from_cli.checks]
    assert "dns.exists" in ids and "mx.records" not in ids and all(i.split(".")[0] in ("dns", "mx") for i in ids)
    assert from_cli.output.fmt == "json" and [str(ns) for ns in from_cli.nameservers] == ["192.0.2.53:53"]


def test_the_tui_form_gives_the_plan_the_command_line_would(monkeypatch):
    monkeypatch.setenv("FORM_TEST_PW", "s3cret")
    base = Request(target=None, nameservers=["192.0.2.53"], login=CredentialRequest(password_env="FORM_TEST_PW"))
    # Given the target typed into the start form, and the same target given on the command line
    from_form = plan_from_form(base, "me@example.com")
    from_cli = make_plan(Request(target="me@example.com", nameservers=["192.0.2.53"],
                                 login=CredentialRequest(password_env="FORM_TEST_PW")))
    assert from_form == from_cli
    assert from_form.options.credentials.incoming.password.reveal() == "s3cret"
    # a password typed into the form answers the prompt in memory; none typed and none in a variable: an error
    typed = plan_from_form(Request(target=None), "me@example.com", password="typed")
    assert typed.options.credentials.outgoing.user == "me@example.com"
    assert typed.options.credentials.outgoing.password.reveal() == "typed"
    with pytest.raises(PlanError, match="no password for me@example.com"):
        plan_from_form(Request(target=None), "x.example", user="me@example.com")


def test_a_plan_is_frozen_and_typed():
    plan = make_plan(Request(target="example.com", servers=Servers(smtp_hosts=("SMTP.Example.com.",))))
    assert isinstance(plan, Plan) and plan.options.smtp_hosts == ("smtp.example.com",)
    with pytest.raises(AttributeError):
        plan.target = None  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("timeout", 0, "--timeout must be more than 0 and at most 600 seconds"),
    ("timeout", -1, "--timeout must be more than 0 and at most 600 seconds"),
    ("timeout", 601, "--timeout must be more than 0 and at most 600 seconds"),
    ("timeout", float("nan"), "--timeout must be more than 0 and at most 600 seconds"),
    ("timeout", float("inf"), "--timeout must be more than 0 and at most 600 seconds"),
    ("timeout", "5", "--timeout must be a number more than 0 and at most 600 seconds"),
    ("roundtrip_timeout", 0.5, "--roundtrip-timeout must be between 1 and 3600 seconds"),
    ("roundtrip_timeout", 3601, "--roundtrip-timeout must be between 1 and 3600 seconds"),
])
def test_numeric_options_out_of_range_are_one_clear_line(field, value, message):
    with pytest.raises(PlanError) as exc:
        make_plan(Request(target="example.com", **{field: value}))
    assert str(exc.value) == message


@pytest.mark.parametrize("days", [-1, 3651, 99999999999999, 1.5])
def test_cert_warn_days_is_bounded(days):
    with pytest.raises(PlanError, match=r"^--cert-warn-days must be (a whole number )?between 0 and 3650 days$"):
        make_plan(Request(target="example.com", servers=Servers(cert_warn_days=days)))


def test_the_ends_of_each_range_are_allowed():
    assert make_plan(Request(target="example.com", timeout=MAX_TIMEOUT, roundtrip_timeout=3600,
                             servers=Servers(cert_warn_days=3650))).options.cert_warn_days == 3650
    assert make_plan(Request(target="example.com", timeout=0.001, roundtrip_timeout=1,
                             servers=Servers(cert_warn_days=0))).options.timeout == 0.001
    assert BOUNDS["concurrency"].check(1024) == 1024 and BOUNDS["workers"].check(64) == 64
    with pytest.raises(PlanError, match="--workers must be between 1 and 64"):
        BOUNDS["workers"].check(65)


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([MAILDOCTOR, *argv], capture_output=True, text=True, timeout=60, input="",
                          env={**os.environ, "NO_COLOR": "1"})


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maildoctor: error: "), proc.stderr
    return lines[0].removeprefix("maildoctor: error: ")


@pytest.mark.parametrize(("argv", "kwargs"), [
    (["--timeout", "0"], dict(timeout=0)),
    (["--timeout", "nan"], dict(timeout=float("nan"))),
    (["--ca-file", "/nonexistent/ca.pem"], dict(ca_file="/nonexistent/ca.pem")),
    (["--nameserver", "not-an-ip"], dict(nameservers=["not-an-ip"])),
    (["--check", "nope"], dict(checks=["nope"])),
])
def test_check_batch_and_the_api_reject_the_same_input_with_the_same_line(tmp_path, argv, kwargs):
    ns = [] if "--nameserver" in argv else ["--nameserver", "127.0.0.1"]
    from_check = error_line(run("check", "example.com", *ns, *argv))
    from_batch = error_line(run("batch", "-", *ns, *argv))
    with pytest.raises(api.DiagnosisError) as exc:
        api.run("example.com", **{"nameservers": ["127.0.0.1"], **kwargs})
    assert from_check == from_batch == str(exc.value)


def test_batch_checks_the_ca_file_as_check_does(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    assert error_line(run("batch", "-", "-n", "127.0.0.1", "--ca-file", str(bad))) == \
        f"--ca-file {bad} holds no PEM certificate"


def test_huge_cert_warn_days_is_an_error_line_not_an_internal_failure():
    line = error_line(run("check", "example.com", "-n", "127.0.0.1", "--cert-warn-days", "99999999999999"))
    assert line == "--cert-warn-days must be between 0 and 3650 days"
    assert "between 0" not in error_line(run("check", "example.com", "-n", "127.0.0.1", "--timeout", "0"))


PROBE = textwrap.dedent("""
    import sys
    from pathlib import Path
    import diagnose.app.api, diagnose.app.plan, diagnose.app.batch, diagnose.app.session
    from diagnose.app.batch import BatchRequest, make_batch_plan
    try:
        diagnose.app.api.run("not a domain!", nameservers=["127.0.0.1"])
    except diagnose.app.api.DiagnosisError:
        pass
    diagnose.app.plan.make_plan(diagnose.app.plan.Request(target="example.com"))
    make_batch_plan(BatchRequest(source="-", nameservers=["127.0.0.1"]))
    print("loaded:" + ",".join(sorted(m for m in sys.modules if m == "rich" or m.startswith("rich."))))
""")


def test_the_core_front_doors_import_no_rich():
    # Given a fresh interpreter, When the API, the plan, batch and session load and validate
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    # Then Rich (the CLI's presentation) is not loaded
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "loaded:", proc.stdout


def test_the_probe_would_see_rich():
    # the text report draws with Rich (the progress display imports it only when it draws)
    proc = subprocess.run([sys.executable, "-c", "import sys, reports.text; print('rich' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "True", proc.stderr
