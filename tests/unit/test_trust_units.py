"""Trust, without a network: control characters never reach a protocol line (hypothesis), the
scrubber knows every encoding of a password we produce, the verdict claims nothing untested, JSON
output escapes bidirectional controls, and a deeply nested report file is one error line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.app.plan import PlanError, Request, Servers, make_plan
from diagnose.engine.credentials import CredentialRequest, Credentials, CredentialSet, Secret, scrub, scrub_value
from diagnose.engine.model import Finding, Status
from diagnose.engine.report import BIDI_CONTROLS, Report
from diagnose.engine.required import Requirement, unmet
from diagnose.engine.saved import NotAReport, load_report
from diagnose.net.protocol import UnsafeLine, command_bytes

BREAKERS = "\r\n\0"
CONTROLS = list(BREAKERS) + ["\x1b", "\x7f", "\t", "\x0b", "\x0c", "\x85", "\u2028", "\u202e", "\x08"]
# values with control characters anywhere: pieces of ordinary text and control characters
hostile = st.lists(st.one_of(st.sampled_from(CONTROLS), st.text(alphabet="ab@.x-RSETDELE 1", max_size=6)),
                   min_size=1, max_size=8).map("".join)

# every option whose value goes into a protocol line (SMTP/IMAP/POP3 command or message header)
OPTIONS = ("user", "smtp_user", "imap_user", "password", "ehlo", "to")


def request_with(option: str, value: str) -> tuple[Request, dict]:
    login = {"user": "bob@example.org", "password_env": "MD_PW"}
    env = {"MD_PW": "pw"}
    servers = Servers()
    to = ""
    if option in ("user", "smtp_user", "imap_user"):
        login[option] = value
    elif option == "password":  # typed at the prompt (an environment variable cannot hold NUL)
        del login["password_env"]
    elif option == "ehlo":
        servers = Servers(ehlo_name=value)
    else:
        to = value
    return Request("example.org", login=CredentialRequest(**login), servers=servers, roundtrip=bool(to), to=to), env


def reaching_lines(plan, option: str) -> list[str]:
    """The values of ``option`` as they would be written into protocol lines."""
    o = plan.options
    creds = o.credentials
    return {
        "user": [creds.outgoing.user, creds.incoming.user],
        "smtp_user": [creds.outgoing.user],
        "imap_user": [creds.incoming.user],
        "password": [creds.outgoing.password.reveal(), creds.incoming.password.reveal()],
        "ehlo": [o.ehlo_name],
        "to": [o.roundtrip.to if o.roundtrip else ""],
    }[option]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option=st.sampled_from(OPTIONS), value=hostile)
def test_no_control_character_of_any_option_reaches_a_protocol_line(option, value):
    request, env = request_with(option, value)
    if option == "password" and not value:
        return
    with mock.patch.dict(os.environ, env):
        try:
            plan = make_plan(request, prompt=lambda _question: value)
        except PlanError as exc:  # refused before any connection: one line, never the value itself
            message = str(exc)
            assert "\n" not in message and "\r" not in message and "\0" not in message
            if option == "password" and len(value.strip()) > 3:
                assert value not in message
            return
    for sent in reaching_lines(plan, option):
        assert not any(c in sent for c in BREAKERS), (option, value, sent)


@settings(max_examples=300, deadline=None)
@given(line=hostile)
def test_the_protocol_writer_never_writes_a_line_with_cr_lf_or_nul_inside(line):
    try:
        data = command_bytes(line)
    except UnsafeLine:
        assert any(c in line for c in BREAKERS)
        return
    assert data.endswith(b"\r\n") and data.count(b"\r") == 1 and data.count(b"\n") == 1 and b"\0" not in data


def test_the_mail_session_writes_nothing_for_an_unsafe_line():
    from diagnose.net.dialogue import Endpoint
    from diagnose.net.mailsession import MailSession

    written: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            written.append(data)

        async def drain(self) -> None:
            pass

    session = MailSession(Endpoint("mailbox", "pop.example.org", "127.0.0.1", 110),
                          Credentials("bob", Secret("pw")), timeout=1)
    session.writer = Writer()
    with pytest.raises(UnsafeLine):
        asyncio.run(session.send("USER bob\r\nDELE 1"))
    asyncio.run(session.send("USER bob"))
    assert written == [b"USER bob\r\n"]
    assert session.transcript.as_list() == ["C: USER bob"]


@pytest.mark.parametrize("password", ['S3cr"et\\pw', 'a"b', "back\\slash", "pl\u00e4in"])
def test_scrub_knows_every_encoding_we_send(password):
    import base64

    c = Credentials("bob", Secret(password))
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    for form in (password, escaped, f'"{escaped}"', base64.b64encode(password.encode()).decode(),
                 base64.b64encode(f"\0bob\0{password}".encode()).decode()):
        assert scrub(f'* BAD you sent: m3 LOGIN "bob" {form} !', c).count(form) == 0, form


def test_every_finding_field_is_scrubbed_recursively():
    creds = CredentialSet(Credentials("bob", Secret('p"w\\x')), None)
    evidence = {"transcript": ['S: m3 NO "p\\"w\\\\x"'], "nested": {"t": ("p\"w\\x",)}}
    out = json.dumps(scrub_value(evidence, creds))
    assert "p\\\\\\\"w" not in out and 'p\\"w' not in out, out


def finding(check: str, status: Status, code: str = "", **evidence) -> Finding:
    return Finding(check, code or f"{check}.x", "example.org", status, "not tested: could not connect",
                   evidence=evidence, untested=status is Status.SKIP)


def test_a_skip_that_is_the_checks_answer_meets_the_request_and_old_reports_keep_their_meaning():
    answer = Finding("dane.tlsa", "dane.not_used", "example.org", Status.SKIP, "no TLSA records: DANE not in use")
    assert unmet([answer], (Requirement(("dane.tlsa",), "--check dane.tlsa"),)) == []
    # the flag travels in the JSON; a report from before it is read by the words its summary started with
    assert Finding.from_dict(finding("login.smtp", Status.SKIP).to_dict()).untested
    old = {k: v for k, v in finding("login.smtp", Status.SKIP).to_dict().items() if k != "untested"}
    assert Finding.from_dict(old).untested and not Finding.from_dict({**old, "summary": "DANE not in use"}).untested
    # <check>.skipped means "could not test" for every plugin; no other status is ever untested
    assert Finding("x.y", "x.y.skipped", "s", Status.SKIP, "held back").untested
    assert not Finding("x.y", "x.y.ok", "s", Status.PASS, "fine", untested=True).untested


def test_a_check_asked_for_that_only_skipped_is_an_error_and_the_verdict_not_a_pass():
    findings = [finding("servers.discover", Status.PASS, "servers.found", from_input=True),
                finding("login.smtp", Status.SKIP)]
    errors = unmet(findings, (Requirement(("login.smtp",), "--check login.smtp"),))
    assert [(f.check, f.status, f.code) for f in errors] == [("login.smtp", Status.ERROR, "login.smtp.not_tested")]
    report = Report({}, "", 0.0, {}, findings)
    assert report.verdict is Status.SKIP  # an echo of --smtp-host is no pass
    assert Report({}, "", 0.0, {}, findings + errors).verdict is Status.ERROR


def test_the_error_of_a_check_asked_for_gives_the_skip_reason_not_the_summary():
    skipped = Finding("login.smtp", "login.smtp.skipped", "example.org", Status.SKIP, "held back (see why)",
                      reason="no credentials (give --user and --password-env)")
    (error,) = unmet([skipped], (Requirement(("login.smtp",), "--check login.smtp"),))
    assert error.summary == ("asked for (--check login.smtp) but could not be tested: "
                             "no credentials (give --user and --password-env)")


def test_a_family_asked_for_is_met_when_one_of_it_tested_something():
    findings = [finding("login.smtp", Status.SKIP), finding("login.imap", Status.PASS)]
    assert unmet(findings, (Requirement(("login.smtp", "login.imap"), "--check login"),)) == []


def bidi_report() -> Report:
    name = "evil\u202emoc.elpmaxe\u2066x\u2069\u200e\u200f\u061c"
    return Report({"input": name, "domain": name}, "", 0.0, {},
                  [Finding("mx.records", "mx.records.x", name, Status.PASS, f"ok {name}", evidence={name: name})])


def test_json_report_escapes_bidirectional_controls():
    from reports import renderer

    out = renderer("json")(bidi_report())
    assert not any(c in out for c in BIDI_CONTROLS), out
    assert "\\u200e" in out
    json.loads(out)


def test_json_lines_of_batch_escape_bidirectional_controls():
    from diagnose.app.batch import Sink

    buf = io.StringIO()
    with redirect_stdout(buf):
        Sink(None).write({"domain": "a\u202eb\u2067c\u200f", "verdict": "pass"})
    line = buf.getvalue()
    assert not any(c in line for c in BIDI_CONTROLS), line
    assert json.loads(line)["domain"] == "a\u202eb\u2067c\u200f"


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_a_deeply_nested_report_file_is_one_error_line(tmp_path, opener, closer):
    path = tmp_path / "deep.json"
    path.write_text('{"schema_version": 1, "findings": [], "evidence": ' + opener * 1000 + "1" + closer * 1000 + "}")
    with pytest.raises(NotAReport, match="nested"):
        load_report(path)
    done = subprocess.run([str(Path(sys.executable).parent / "maildoctor"), "report", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and not done.stdout, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("maildoctor: error: "), done.stderr


def test_a_junk_line_of_20_mb_is_echoed_bounded():
    from diagnose.app.batchcore import Tally, error_line, read_entries

    junk = "x\u202e" * 10_000_000
    [entry] = list(read_entries([junk + "\n"]))
    line = json.dumps(error_line(entry, "not a domain or address"))
    assert len(line) < 8000 and "more characters" in line  # (json.dumps writes \u202e as 6 characters)
    tally = Tally()
    tally.add(error_line(entry, "not a domain or address"))
    assert len(tally.render(1)) < 5000


CHILD = "import sys; sys.stdin.readline(); sys.stdin.readline(); sys.exit(int(sys.argv[1]))"


@pytest.mark.parametrize("code,written", [(130, False), (-2, False), (1, True)])
def test_targets_of_an_interrupted_worker_are_not_written_so_resume_runs_them(code, written):
    from diagnose.app.batchcore import Entry
    from diagnose.app.batchworkers import run_workers

    script = CHILD if code >= 0 else "import os, signal, sys; sys.stdin.readline(); os.kill(os.getpid(), signal.SIGINT)"
    argv = [sys.executable, "-c", script, str(code)]

    async def entries():
        for n in (1, 2):
            yield Entry(n, f"t{n}.example")

    out: list[dict] = []
    asyncio.run(run_workers(entries(), argv, 1, 2, out.append))
    assert bool(out) is written, out
    if written:  # a crash says so, and is not counted as a bad input line
        from diagnose.app.batchcore import Tally

        tally = Tally()
        for r in out:
            tally.add(r)
        assert tally.bad_lines == 0 and all("batch worker exited" in r["error"] for r in out)


@pytest.mark.parametrize("ending,written", [("interrupted", False), ("signal", True), ("crash", True),
                                            ("exception", True)])
def test_targets_of_a_forked_worker_that_ends_early(ending, written, capfd):
    # Given a worker forked from this process that reads its first target and then ends badly
    from diagnose.app.batchcore import Entry, Tally
    from diagnose.app.batchworkers import fork_workers, run_workers

    def work() -> int:
        sys.stdin.readline()
        if ending == "signal":  # Ctrl-C reaching the worker: ignored (the parent answers it), the worker goes on
            os.kill(os.getpid(), signal.SIGINT)
            return 0 if sys.stdin.readline() else 1  # it read its next target, then ends without answering
        if ending == "exception":
            raise RuntimeError("boom")
        return 130 if ending == "interrupted" else 1

    async def entries():
        for n in (1, 2):
            yield Entry(n, f"t{n}.example")

    forked = fork_workers(1, work)
    out: list[dict] = []
    asyncio.run(run_workers(entries(), forked, 1, 2, out.append))
    # Then an interrupted worker's targets are not written (so --resume runs them); a crash says so for each
    assert bool(out) is written, out
    assert forked[0].returncode is not None
    if written:
        tally = Tally()
        for r in out:
            tally.add(r)
        assert tally.bad_lines == 0 and len(out) == 2 and all("batch worker exited" in r["error"] for r in out)
    if ending == "signal":  # it was still running after the SIGINT: it ended on its own, code 0
        assert all("(code 0)" in r["error"] for r in out), out
    if ending == "exception":
        assert "batch worker: internal error: RuntimeError: boom" in capfd.readouterr().err
