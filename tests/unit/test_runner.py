"""The runner: concurrency, streaming order, facts between checks, and plugin failures."""

import asyncio
import time

from diagnose.engine.model import Side, Status
from diagnose.engine.plugin import Check, Options
from diagnose.engine.runner import CheckFinished, CheckStarted, DiagnosisFinished, FindingEmitted, diagnose
from diagnose.engine.target import parse_target
from diagnose.net.resolver import Dns, Nameserver


def make_dns():
    """A resolver object these checks never use (a loopback address nobody asks)."""
    return Dns([Nameserver("127.0.0.1", 9)], timeout=1)


class Slow(Check):
    id = "t.slow"
    title = "sleeps then passes"
    provides = ("fact.n",)

    async def run(self, ctx):
        await asyncio.sleep(0.3)
        ctx.publish("fact.n", 42)
        yield self.finding("t.slow", Status.PASS, "a", "slept")


class Waiter(Check):
    id = "t.wait"
    title = "needs fact.n"
    side = Side.INCOMING
    needs = ("fact.n",)

    async def run(self, ctx):
        n = await ctx.fact("fact.n")
        yield self.finding("t.wait", Status.WARN, "b", f"got {n}")


class Parallel(Check):
    id = "t.parallel"
    title = "sleeps too"

    async def run(self, ctx):
        await asyncio.sleep(0.3)
        yield self.finding("t.parallel", Status.PASS, "c", "slept")


class Crashing(Check):
    id = "t.crash"
    title = "raises"

    async def run(self, ctx):
        raise RuntimeError("plugin bug")
        yield  # pragma: no cover


class Withholding(Check):
    id = "t.withhold"
    title = "cannot determine its fact"
    provides = ("fact.m",)

    async def run(self, ctx):
        ctx.withhold("fact.m", "the domain has a null MX")
        return
        yield  # pragma: no cover


class NeedsM(Check):
    id = "t.needs_m"
    title = "needs fact.m"
    needs = ("fact.m",)

    async def run(self, ctx):
        await ctx.fact("fact.m")
        yield self.finding("t.needs_m", Status.PASS, "d", "never")


class NeedsNothingProvided(Check):
    id = "t.orphan"
    title = "needs a fact nobody provides"
    needs = ("fact.none",)

    async def run(self, ctx):
        await ctx.fact("fact.none")
        yield self.finding("t.orphan", Status.PASS, "e", "never")


async def collect(checks, timeout=1.0):
    events = []
    async for ev in diagnose(parse_target("example.test"), checks, make_dns(), Options(timeout=timeout)):
        events.append(ev)
    return events


def test_checks_run_concurrently_and_facts_flow():
    start = time.monotonic()
    events = asyncio.run(collect([Slow, Waiter, Parallel]))
    elapsed = time.monotonic() - start
    assert elapsed < 0.55, f"two 0.3 s checks and a dependent one took {elapsed:.2f} s: not concurrent"
    findings = [e.finding for e in events if isinstance(e, FindingEmitted)]
    assert {f.summary for f in findings} == {"slept", "got 42"}
    assert sum(isinstance(e, CheckStarted) for e in events) == 3
    assert sum(isinstance(e, CheckFinished) for e in events) == 3
    report = events[-1].report
    assert isinstance(events[-1], DiagnosisFinished)
    assert report.worst is Status.WARN and report.counts["pass"] == 2


def test_a_crashing_plugin_becomes_an_error_finding():
    events = asyncio.run(collect([Crashing, Parallel]))
    report = events[-1].report
    crash = [f for f in report.findings if f.check == "t.crash"][0]
    assert crash.status is Status.ERROR and "plugin bug" in crash.summary
    assert any(f.check == "t.parallel" and f.status is Status.PASS for f in report.findings)


def test_withheld_fact_skips_dependents_with_the_reason():
    report = asyncio.run(collect([Withholding, NeedsM]))[-1].report
    (skip,) = [f for f in report.findings if f.check == "t.needs_m"]
    assert skip.status is Status.SKIP and "null MX" in skip.summary


def test_fact_without_producer_skips_at_once():
    start = time.monotonic()
    report = asyncio.run(collect([NeedsNothingProvided]))[-1].report
    assert time.monotonic() - start < 0.5
    assert report.findings[0].status is Status.SKIP and "fact.none" in report.findings[0].summary


class SkippingProducer(Check):
    id = "t.skipper"
    title = "skips, so its fact never comes"
    provides = ("fact.k",)

    async def run(self, ctx):
        # the summary words it differently on purpose: dependants must get ``reason``, not parse the summary
        yield self.finding("t.skipper.skipped", Status.SKIP, "a", "held back until asked",
                           reason="ask for it with --please")


class NeedsK(Check):
    id = "t.needs_k"
    title = "needs fact.k"
    needs = ("fact.k",)

    async def run(self, ctx):
        await ctx.fact("fact.k")
        yield self.finding("t.needs_k", Status.PASS, "b", "never")


def test_a_skipped_producer_passes_its_reason_on():
    report = asyncio.run(collect([SkippingProducer, NeedsK]))[-1].report
    (skip,) = [f for f in report.findings if f.check == "t.needs_k"]
    assert skip.summary == "not tested: t.skipper was skipped: ask for it with --please"
    assert skip.reason == "t.skipper was skipped: ask for it with --please"


class SkippingWithoutReason(SkippingProducer):
    async def run(self, ctx):
        yield self.finding("t.skipper.skipped", Status.SKIP, "a", "nothing to look at here")


def test_a_skip_without_a_separate_reason_passes_its_summary_on_whole():
    report = asyncio.run(collect([SkippingWithoutReason, NeedsK]))[-1].report
    (producer,) = [f for f in report.findings if f.check == "t.skipper"]
    (skip,) = [f for f in report.findings if f.check == "t.needs_k"]
    assert producer.reason == "nothing to look at here"
    assert skip.reason == "t.skipper was skipped: nothing to look at here"


def test_verdict_is_pass_when_only_optional_tests_were_skipped():
    from diagnose.engine.model import Finding
    from diagnose.engine.report import Report

    def report(*statuses):
        findings = [Finding("c", "c.x", "s", st, "why") for st in statuses]
        return Report(target={}, started_at="", duration_s=0, resolver={}, findings=findings)

    assert report(Status.PASS, Status.SKIP).verdict is Status.PASS
    assert report(Status.PASS, Status.SKIP).worst is Status.SKIP  # the exit-code order is unchanged
    assert report(Status.SKIP).verdict is Status.SKIP
    assert report(Status.PASS, Status.WARN, Status.SKIP).verdict is Status.WARN
    assert report(Status.PASS, Status.SKIP).to_dict()["verdict"] == "pass"


class Wanting(Check):
    id = "t.wanting"
    title = "uses fact.n when someone provides it"
    wants = ("fact.n",)

    async def run(self, ctx):
        from diagnose.engine.facts import FactUnavailable

        try:
            got = await ctx.fact("fact.n")
        except FactUnavailable:
            got = "nothing"
        yield self.finding("t.wanting", Status.PASS, "w", f"got {got}")


def test_a_wanted_fact_is_used_when_provided_and_never_waited_for_otherwise():
    from diagnose.engine.registry import select

    with_it = asyncio.run(collect([Slow, Wanting]))[-1].report
    assert "got 42" in {f.summary for f in with_it.findings}
    start = time.monotonic()
    alone = asyncio.run(collect([Wanting]))[-1].report
    assert time.monotonic() - start < 0.5 and alone.findings[0].summary == "got nothing"
    assert select([Slow, Wanting], only=["t.wanting"]) == [Wanting]  # a want never pulls its producer in


class QuickProducer(Check):
    id = "t.quick"
    title = "publishes the servers' addresses after a short lookup"
    provides = ("fact.q",)

    async def run(self, ctx):
        await asyncio.sleep(0.01)
        ctx.publish("fact.q", "mx")
        yield self.finding("t.quick", Status.PASS, "q", "published")


class Policy(Check):
    id = "t.policy"
    title = "a DNS policy record nothing waits for"
    background = True

    async def run(self, ctx):
        yield self.finding("t.policy", Status.PASS, "p", f"started with fact.q {ctx._facts.value('fact.q')!r}")


class NeverPublishes(Check):
    id = "t.never"
    title = "provides a fact only after a long time"
    provides = ("fact.late",)

    async def run(self, ctx):
        await asyncio.sleep(0.5)
        ctx.publish("fact.late", 1)
        yield self.finding("t.never", Status.PASS, "n", "late")


def _started(events):
    return [e.check for e in events if isinstance(e, CheckStarted)]


def test_background_checks_start_once_the_servers_addresses_are_known():
    events = asyncio.run(collect([Policy, QuickProducer]))
    # the producer started first although listed second, and the background check saw its fact
    assert _started(events) == ["t.quick", "t.policy"]
    summaries = {e.finding.check: e.finding.summary for e in events if isinstance(e, FindingEmitted)}
    assert summaries["t.policy"] == "started with fact.q 'mx'"


def test_a_slow_producer_holds_background_checks_back_only_briefly():
    from diagnose.engine.runner import BACKGROUND_DELAY_S

    start = time.monotonic()
    events = asyncio.run(collect([Policy, NeverPublishes]))
    policy_done = next(e for e in events if isinstance(e, CheckFinished) and e.check == "t.policy")
    assert policy_done and time.monotonic() - start >= 0.5  # the run waited for the slow one, ...
    summaries = {e.finding.check: e.finding.summary for e in events if isinstance(e, FindingEmitted)}
    assert summaries["t.policy"] == "started with fact.q None"  # ... the background check did not
    order = [e.check for e in events if isinstance(e, CheckFinished)]
    assert order == ["t.policy", "t.never"], f"background held back past {BACKGROUND_DELAY_S} s: {order}"
