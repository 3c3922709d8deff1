"""Every check's findings land on a hop of the mail-flow picture, from what the report carries."""

import pytest

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.registry import discover
from reports.hops import DNS, OTHER, group_by_hop, hop_of

INSTALLED = discover().checks


def _finding(check: str, side: Side = Side.BOTH, subject: str = "example.com") -> Finding:
    return Finding(check=check, code=f"{check}.x", subject=subject, status=Status.WARN, summary="s", side=side)


@pytest.mark.parametrize("check", ["mta_sts.policy", "tls_rpt.record", "spf.record", "dmarc.record", "dkim.keys", "dnssec.chain"])
def test_dns_policy_checks_sit_on_the_dns_hop(check):
    assert hop_of(_finding(check), {}) == DNS


@pytest.mark.parametrize("cls", INSTALLED, ids=lambda c: c.id)
def test_no_installed_check_falls_off_the_picture(cls):
    # A domain-level finding (no port in its subject): placed by prefix, or by the services the
    # report carries for it; only autoconfig-like checks without a hop may be "other".
    services = {c.id: tuple(c.services) for c in INSTALLED}
    sides = [cls.side] if cls.side is not Side.BOTH else [Side.INCOMING, Side.OUTGOING]
    hops = {hop_of(_finding(cls.id, side), services) for side in sides}
    assert hops != {OTHER} or cls.id in {"autoconfig.settings", "servers.discover", "roundtrip.delivery", "roundtrip.path"}, cls.id


def test_grouping_uses_the_services_given():
    f = _finding("thirdparty.imapcheck", Side.INCOMING)
    assert group_by_hop([f], {})[OTHER] == [f]
    assert group_by_hop([f], {"thirdparty.imapcheck": ("imap",)})["mailbox"] == [f]
