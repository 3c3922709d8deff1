"""Hostile servers against the whole tool: the real CLI, every check, every output format.

One kit process serves all cases, each on its own address with its own domain in the fake DNS
(``<case>.hostile.test``, MX ``mx.<case>...``; ``smtp.``/``imap.``/``pop.`` where the case
involves those services). Each test runs ``maildoctor check`` with a 1 s timeout and asserts:
it ends in time, with findings and no traceback, nothing unsafe reaches the terminal, no
hostile server gets a pass for what it broke, and the report renders escaped in every format.
"""

from __future__ import annotations

import base64

import pytest
from markdown_it import MarkdownIt

from diagnose.engine.report import Report
from reports import renderer
from tests.hostile.conftest import (
    DNS_INDEX,
    Kit,
    addr,
    assert_clean,
    assert_formats_safe,
    case_records,
    domain,
    run_cli,
)

T = 1.0  # seconds: maildoctor's --timeout in these tests
LIMIT = 6 * T + 2  # seconds of diagnosis: a dialogue has ~6 bounded phases; DNS is quick

# case -> (index, [(behaviour, ports, args)], services with common names)
CASES = {
    "garbage": (10, [("garbage", [25], {})], ()),
    "longline": (11, [("long_line", [25], {})], ()),
    "endless": (12, [("endless_multiline", [25], {})], ()),
    "slowloris": (13, [("slowloris", [25], {"interval": 1.0})], ()),
    "silent": (14, [("silent", [25, 587, 465, 143, 993, 110, 995], {})], ("smtp", "imap", "pop")),
    "closegreet": (15, [("close_after_greeting", [25], {})], ()),
    "closeehlo": (16, [("close_after_ehlo", [25], {})], ()),
    "midtls": (17, [("close_mid_tls", [25, 587], {}), ("close_mid_tls_implicit", [465], {})], ("smtp",)),
    "plainstarttls": (18, [("starttls_plaintext", [25], {})], ()),
    "escapes": (19, [("hostile_text", [25, 587, 143, 110], {})], ("smtp", "imap", "pop")),
    "reject": (20, [("hostile_reject", [25], {})], ()),
    "authb64": (21, [("auth_bad_base64", [25, 587], {})], ("smtp",)),
    "slowpath": (22, [("delayed", [25], {"delay": 0.3})], ()),
    "toolate": (23, [("delayed", [25], {"delay": 1.6})], ()),
    "flood": (24, [("imap_pop_flood", [143, 110], {}), ("polite", [25], {})], ("imap", "pop")),
    **{f"cert-{kind.replace('_', '-')}": (30 + i, [("absurd_cert", [25, 465], {"kind": kind})], ("smtp",))
       for i, kind in enumerate(("huge_san", "non_utf8", "negative_serial", "dates_1950_9999", "escapes_in_names",
                                 "long_chain"))},
}


@pytest.fixture(scope="module")
def kit():
    records, servers = [], []
    for case, (index, behaviours, services) in CASES.items():
        records += case_records(case, index, services=services)
        for behaviour, ports, args in behaviours:
            if behaviour == "absurd_cert":
                args = {**args, "host": f"mx.{domain(case)}"}
            servers.append({"address": addr(index), "ports": ports, "behaviour": behaviour, "args": args})
    k = Kit({"dns": {"address": addr(DNS_INDEX), "records": records}, "servers": servers})
    yield k
    k.stop()


def check(case: str, *extra: str, env: dict | None = None):
    run = run_cli(["check", domain(case), "--nameserver", addr(DNS_INDEX), "--timeout", str(T), *extra],
                  limit=LIMIT, json_report=True, env=env)
    assert_clean(run)
    assert run.report, run
    assert "Verdict" in run.stdout, run  # the human report was printed too (--output without --quiet)
    assert_formats_safe(run.report)
    return run


def not_pass(run, check_id: str) -> None:
    statuses = run.statuses(check_id)
    assert statuses and "pass" not in statuses, f"{check_id}: {statuses}\n{run}"


def test_garbage_instead_of_a_greeting(kit):
    run = check("garbage")
    assert run.codes("smtp.greeting").get("smtp.not_smtp") == "fail", run
    assert "pass" not in run.statuses("tls.handshake"), run


def test_one_megabyte_line_without_newline(kit):
    run = check("longline")
    not_pass(run, "smtp.greeting")
    assert "pass" not in run.statuses("tls.handshake")


def test_endless_multiline_reply(kit):
    run = check("endless")
    not_pass(run, "smtp.greeting")


def test_slowloris_one_byte_per_second(kit):
    run = check("slowloris")
    not_pass(run, "smtp.greeting")


def test_accept_and_never_speak_on_every_port(kit):
    run = check("silent")
    assert run.codes("tcp.connect").get("tcp.connected") == "pass", run
    for check_id in ("smtp.greeting", "imap.greeting", "pop3.greeting"):
        not_pass(run, check_id)
    assert "smtp.greeting_timeout" in run.codes("smtp.greeting"), run


def test_close_after_greeting(kit):
    run = check("closegreet")
    not_pass(run, "smtp.greeting")


def test_close_after_ehlo(kit):
    run = check("closeehlo")
    not_pass(run, "smtp.greeting")
    assert "tls.no_starttls" not in run.codes(), "a broken session is not proof of no STARTTLS"


def test_close_in_the_middle_of_the_tls_handshake(kit):
    run = check("midtls")
    not_pass(run, "tls.handshake")
    assert "pass" not in run.statuses("tls.certificate"), run
    assert "tls.no_starttls" not in run.codes(), run


def test_starttls_220_then_plaintext(kit):
    run = check("plainstarttls")
    not_pass(run, "tls.handshake")
    assert any("plain text" in f["summary"] for f in run.report["findings"] if f["check"] == "tls.handshake"), run
    assert "pass" not in run.statuses("tls.certificate"), run


def test_terminal_escapes_and_html_in_banners(kit):
    run = check("escapes", "--verbose")
    assert "RED" in run.stdout or "owned" in run.stdout or "script" in run.stdout, "server words were dropped entirely"
    text = renderer("html")(Report.from_dict(run.report))
    assert "<script>alert('x')" not in text and "&lt;script&gt;" in text, "HTML from the banner not escaped"


def test_rejecting_greeting_with_escapes_in_its_words(kit):
    run = check("reject", "--verbose")
    assert run.codes("smtp.greeting").get("smtp.greeting_rejected") == "error", run
    page = MarkdownIt("commonmark").render(renderer("markdown")(Report.from_dict(run.report)))
    assert "<script" not in page


def test_auth_with_malformed_base64_challenges_that_echo_the_password(kit):
    # Given a server whose 334 challenges are not base64 and whose 535 echoes the client's last line
    password = "S3cret-Hostile-pw"
    run = check("authb64", "--user", f"postmaster@{domain('authb64')}", "--password-env", "MD_HOSTILE_PW",
                "--allow-plaintext-auth", env={"MD_HOSTILE_PW": password})
    # Then the login is a clean non-pass finding, and neither the password nor its base64 form shows anywhere
    assert run.statuses("login.smtp") and "pass" not in run.statuses("login.smtp"), run
    secret_forms = [password, base64.b64encode(password.encode()).decode()]
    for fmt in ("text", "markdown", "html", "junit", "nagios", "json"):
        out = renderer(fmt)(Report.from_dict(run.report))
        assert not any(s in out for s in secret_forms), f"the password leaked into {fmt}"
    assert not any(s in run.stdout + run.stderr for s in secret_forms), run


def test_imap_and_pop3_replies_that_never_end(kit):
    run = check("flood", "--user", f"postmaster@{domain('flood')}", "--password-env", "MD_HOSTILE_PW",
                "--allow-plaintext-auth", env={"MD_HOSTILE_PW": "S3cret-Flood"})
    for check_id in ("imap.greeting", "pop3.greeting"):
        assert run.statuses(check_id), run
    for check_id in ("login.imap", "login.pop3"):
        assert "pass" not in run.statuses(check_id), run


def test_latency_under_the_timeout_passes(kit):
    run = check("slowpath")
    assert "pass" in run.statuses("smtp.greeting") and "fail" not in run.statuses("smtp.greeting"), run


def test_latency_over_the_timeout_is_a_timeout_not_a_pass(kit):
    run = check("toolate")
    not_pass(run, "smtp.greeting")


@pytest.mark.parametrize("kind", ["huge-san", "non-utf8", "negative-serial", "dates-1950-9999", "escapes-in-names",
                                  "long-chain"])
def test_absurd_certificates(kit, kind):
    run = check(f"cert-{kind}", "--verbose")
    assert "pass" in run.statuses("tls.handshake"), run  # the handshake itself works
    not_pass(run, "tls.certificate")  # self-signed and absurd: never a pass


def test_report_command_renders_a_hostile_report_in_every_format(kit, tmp_path):
    run = check("escapes")
    path = tmp_path / "r.json"
    import json

    path.write_text(json.dumps(run.report))
    for fmt in ("text", "markdown", "html", "junit", "nagios"):
        again = run_cli(["report", str(path), "--format", fmt], limit=10)
        assert_clean(again)
        assert again.stdout.strip(), again


@pytest.mark.parametrize("fmt", ["markdown", "html", "junit", "nagios"])
def test_each_format_straight_from_check(kit, fmt):
    # the escapes case through `check --format FMT` itself (stdout), not only re-rendered from JSON
    run = run_cli(["check", domain("escapes"), "--nameserver", addr(DNS_INDEX), "--timeout", str(T), "--format", fmt],
                  limit=LIMIT)
    assert_clean(run)
    assert run.stdout.strip(), run
    if fmt == "html":
        assert "<script>alert(" not in run.stdout
    elif fmt == "junit":
        import xml.etree.ElementTree as ET

        ET.fromstring(run.stdout)
    elif fmt == "nagios":
        assert run.stdout.splitlines()[0].startswith("MAILDOCTOR "), run
