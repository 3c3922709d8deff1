"""The one timeout policy (diagnose.engine.timeouts) and the overall run budget the runner enforces."""

import asyncio
import time

from diagnose.engine.model import Status
from diagnose.engine.plugin import Check, Options
from diagnose.engine.runner import DiagnosisFinished, check_budget, diagnose
from diagnose.engine.target import parse_target
from diagnose.engine.timeouts import DEFAULT_TIMEOUT, Timeouts
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import _same_address
from diagnose.net.resolver import Dns, Nameserver, Outcome
from diagnose.net.tcp import ConnectOutcome

ONE_OPERATION = ("connect", "reply", "tls", "http", "dns_attempt", "goodbye")


def test_every_single_operation_is_bounded_by_the_timeout_itself():
    for base in (0.5, 1, 2, 5, 30):
        t = Timeouts(base)
        assert all(getattr(t, name) <= base for name in ONE_OPERATION)
        assert t.dns_attempt == base  # a slow answer inside --timeout is never cut short


def test_the_documented_budgets():
    assert [Timeouts(b).run for b in (1, 2, 5)] == [11, 17, 35]
    assert Timeouts(2).with_logins == 32 and Timeouts(2).roundtrip(120) == 152
    assert Options().timeouts == Timeouts(DEFAULT_TIMEOUT) and Options(timeout=3).timeouts.base == 3
    assert check_budget(Options(timeout=2)) == 17


def test_the_resolver_takes_its_limits_from_the_policy():
    dns = Dns([Nameserver("127.0.0.1", 9)], timeout=0.3)  # nothing answers there
    assert dns.limits.dns_attempt == 0.3 and dns.limits.dns_total == 0.6
    # a lookup nobody answers: a try of dns_attempt, the 0.1 s pause, a shorter try, then TIMEOUT at dns_total
    result = asyncio.run(dns.query("example.test", "A"))
    assert result.outcome is Outcome.TIMEOUT and 0.55 <= result.elapsed_s < 1.5, result


class Endless(Check):
    id = "t.endless"
    title = "never ends"

    async def run(self, ctx):
        yield self.finding("t.endless", Status.PASS, "a", "first part done")
        await asyncio.sleep(3600)


def test_a_check_over_the_overall_budget_is_an_error_naming_it(monkeypatch):
    monkeypatch.setattr(Timeouts, "run", property(lambda self: 0.3))

    async def go():
        async for event in diagnose(parse_target("example.com"), [Endless], Dns([Nameserver("127.0.0.1", 9)]),
                                    Options(timeout=0.1)):
            if isinstance(event, DiagnosisFinished):
                return event.report

    start = time.monotonic()
    report = asyncio.run(go())
    assert time.monotonic() - start < 2
    over = [f for f in report.findings if f.code == "t.endless.overrun"]
    assert len(over) == 1 and over[0].status is Status.ERROR, report.findings
    assert "never ends" in over[0].summary and "budget" in over[0].summary and "1 finding" in over[0].summary


def test_a_greeting_timeout_is_shared_by_the_next_name_on_the_same_address():
    first = Dialogue(Endpoint("mx", "mx0.example", "192.0.2.1", 25))
    first.connect = ConnectOutcome.CONNECTED
    first.stop("greeting", "timeout", "no reply within 2 s")
    second = _same_address(first, Endpoint("mx", "mx1.example", "192.0.2.1", 25))
    assert second.endpoint.host == "mx1.example" and second.failure == "timeout" and second.failure_phase == "greeting"
    assert "mx0.example" in second.failure_words and first.endpoint.host == "mx0.example"
