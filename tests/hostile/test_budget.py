"""The overall time budget: whatever shape a failure takes, a diagnosis ends within the budget
that diagnose.engine.timeouts documents for its --timeout, and says what it could not finish.

A timing test, not a benchmark: the margin is generous (a loaded 2-CPU machine), but a shape that
serialises its timeouts (many names on one silent address, logins retrying a stalled TLS
handshake, a slow resolver answering every query late) would be far beyond it.
"""

from __future__ import annotations

import pytest

from diagnose.engine.timeouts import Timeouts
from tests.hostile.conftest import BUDGET_MARGIN, Kit, addr, assert_clean, domain, run_cli

SILENT, STALL, POLITE, DNS = 60, 61, 62, 54  # address indexes of this module's kit
SLOW_DNS = 55
MANY = 50  # MX names, all on the one silent address


def _records() -> list:
    many = domain("manysilent")
    r = [[many, "MX", f"{10 + i} mx{i}.{many}."] for i in range(MANY)]
    r += [[f"mx{i}.{many}", "A", addr(SILENT)] for i in range(MANY)]
    stall = domain("tlsstall")
    r += [[stall, "MX", f"10 mx.{stall}."]] + [[f"{n}.{stall}", "A", addr(STALL)] for n in ("mx", "smtp")]
    return r


@pytest.fixture(scope="module")
def kit():
    k = Kit({"dns": {"address": addr(DNS), "records": _records()},
             "servers": [{"address": addr(SILENT), "ports": [25], "behaviour": "silent"},
                         {"address": addr(STALL), "ports": [25, 587, 465], "behaviour": "tls_stall"}]})
    yield k
    k.stop()


def within_budget(args: list[str], timeout: float, nameserver: str, env: dict | None = None):
    budget = Timeouts(timeout).run
    run = run_cli([*args, "--nameserver", nameserver, "--timeout", f"{timeout:g}"], limit=budget + BUDGET_MARGIN,
                  json_report=True, env=env)
    assert_clean(run, overrun_ok=True)
    assert run.report, run
    return run


def test_many_mx_names_on_one_silent_address(kit):
    # Given 50 MX names whose one address accepts connections and never says a word
    run = within_budget(["check", domain("manysilent")], 2.0, addr(DNS))
    # Then no name passes, and every MX name's greeting finding (or the overrun error) says why
    assert "pass" not in run.statuses("smtp.greeting"), run
    assert run.statuses("smtp.greeting") <= {"error", "fail", "skip"}, run


def test_tls_handshake_that_stalls_after_the_client_hello(kit):
    # Given a server that accepts STARTTLS (and implicit TLS) and then never answers the ClientHello
    run = within_budget(["check", domain("tlsstall"), "--user", f"me@{domain('tlsstall')}", "--password-env",
                         "MD_HOSTILE_PW"], 2.0, addr(DNS), env={"MD_HOSTILE_PW": "pw"})
    # Then nothing about TLS or the login passes
    for check_id in ("tls.handshake", "login.smtp"):
        assert "pass" not in run.statuses(check_id), run


def test_slow_resolver_is_slow_not_silent():
    # Given a resolver that answers every query after 2.7 s, and --timeout 3
    d = domain("slowdns")
    kit = Kit({"dns": {"address": addr(SLOW_DNS), "delay": 2.7,
                       "records": [[d, "MX", f"10 mx.{d}."], [f"mx.{d}", "A", addr(POLITE)]]},
               "servers": [{"address": addr(POLITE), "ports": [25], "behaviour": "polite"}]})
    try:
        run = within_budget(["check", d], 3.0, addr(SLOW_DNS))
    finally:
        kit.stop()
    # Then the slow answers count as answers: the domain exists, its MX is found and its server greets
    assert run.codes("dns.exists").get("dns.exists") == "pass", run
    assert run.codes("mx.records").get("mx.records") == "pass", run
    assert "pass" in run.statuses("smtp.greeting"), run
