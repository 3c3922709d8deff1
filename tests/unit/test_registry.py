"""Plugin discovery through entry points (faked importlib.metadata, as pluggy's tests do) and selection."""

from importlib import metadata

import pytest

from diagnose.engine.model import Side
from diagnose.engine.plugin import Check
from diagnose.engine.registry import UnknownCheck, discover, select


class Producer(Check):
    id = "x.produce"
    title = "produces"
    provides = ("fact.a",)


class Consumer(Check):
    id = "y.consume"
    title = "consumes"
    side = Side.INCOMING
    needs = ("fact.a",)


class Other(Check):
    id = "x.other"
    title = "other"


class BrokenEntryPoint(metadata.EntryPoint):
    def load(self):
        raise ImportError("boom")


def fake_eps(*extra):
    eps = [metadata.EntryPoint(name=c.id, value=f"{__name__}:{c.__name__}", group="maildoctor.checks")
           for c in (Producer, Consumer, Other)]
    return lambda: eps + list(extra)


def test_discovers_checks_and_reports_broken_plugins():
    broken = BrokenEntryPoint(name="zz.broken", value="nowhere:Nothing", group="maildoctor.checks")
    not_a_check = metadata.EntryPoint(name="zz.wrong", value="os:path", group="maildoctor.checks")
    found = discover(fake_eps(broken, not_a_check))
    assert [c.id for c in found.checks] == ["x.other", "x.produce", "y.consume"]
    assert len(found.problems) == 2
    assert "boom" in found.problems[0] and "zz.wrong" in found.problems[1]


def test_our_own_checks_are_registered_like_third_party_ones():
    ids = {c.id for c in discover().checks}
    assert {"dns.exists", "mx.records", "tcp.connect"} <= ids


def test_select_by_prefix_adds_fact_producers():
    checks = [Producer, Consumer, Other]
    assert select(checks, ["y"]) == [Producer, Consumer]
    assert select(checks, ["x.other"]) == [Other]
    assert select(checks, None, ["x"]) == [Consumer], "an explicitly skipped producer stays out"


def test_unknown_check_lists_installed_ids():
    with pytest.raises(UnknownCheck) as exc:
        select([Producer, Consumer], ["nope"])
    assert "x.produce" in str(exc.value) and "y.consume" in str(exc.value)
