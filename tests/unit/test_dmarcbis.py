"""DMARC under RFC 9989 (DMARCbis) beside RFC 7489: the DNS tree walk, np/psd/t, pct retired; each
difference between the two standards named in the finding."""

from __future__ import annotations

import pytest

from checks.dmarc import DmarcCheck, DmarcLookup, organizational_domain, parse_dmarc
from diagnose.engine.model import Status
from diagnose.knowledge.dmarc.discovery import org_domain_9989, policy_7489, policy_9989, walk_names
from diagnose.knowledge.dmarc.record import applied_policy
from tests.unit.dnsdata import answer, nxdomain, servfail


def zone(**records: str) -> dict:
    """{"_dmarc.NAME": answer} from keyword NAME (dots written as __) -> record text."""
    out = {}
    for key, text in records.items():
        name = "_dmarc." + key.replace("__", ".")
        out[name] = answer(name, "TXT", text)
    return out


def walked(domain: str, answers: dict) -> dict:
    """Every name of the walk answered: the given records, NXDOMAIN elsewhere."""
    names = {f"_dmarc.{n}" for n in walk_names(domain)} | {f"_dmarc.{organizational_domain(domain)}"}
    return {n: answers.get(n) or nxdomain(n, "TXT") for n in names}


def evaluate(domain: str, answers: dict) -> dict:
    walk = walked(domain, answers)
    org = organizational_domain(domain)
    lookup = DmarcLookup(domain, org, walk[f"_dmarc.{domain}"], walk.get(f"_dmarc.{org}"), walk=walk)
    return {f.code: f for f in DmarcCheck().evaluate_dmarc(lookup)}


@pytest.mark.parametrize("domain, names", [
    ("example.com", ["example.com", "com"]),
    ("a.b.example.co.uk", ["a.b.example.co.uk", "b.example.co.uk", "example.co.uk", "co.uk", "uk"]),
    # RFC 9989 §4.10: 8 or more labels: straight to the last 7, then one by one; at most 8 queries
    ("a.b.c.d.e.f.g.h.i.example.com", ["a.b.c.d.e.f.g.h.i.example.com", "e.f.g.h.i.example.com",
                                       "f.g.h.i.example.com", "g.h.i.example.com", "h.i.example.com",
                                       "i.example.com", "example.com", "com"]),
    ("Example.COM.", ["example.com", "com"]),
])
def test_tree_walk_names(domain, names):
    assert walk_names(domain) == names
    assert len(walk_names(domain)) <= 8


def test_policy_discovery_walks_past_the_psl_organizational_domain_boundary():
    # Given a record only at b.example.com, for mail from a.b.example.com
    answers = walked("a.b.example.com", zone(b__example__com="v=DMARC1; p=reject"))
    # Then RFC 9989's walk finds it; RFC 7489 only asks a.b.example.com and example.com (the PSL's)
    assert policy_9989("a.b.example.com", answers).domain == "b.example.com"
    assert policy_7489("a.b.example.com", answers).record is None


def test_multiple_records_stop_rfc7489_but_rfc9989_walks_on():
    answers = walked("news.example.com", {
        "_dmarc.news.example.com": answer("_dmarc.news.example.com", "TXT", "v=DMARC1; p=none", "v=DMARC1; p=reject"),
        **zone(example__com="v=DMARC1; p=reject; sp=quarantine")})
    assert policy_7489("news.example.com", answers).multiple == 2
    found = policy_9989("news.example.com", answers)
    assert found.domain == "example.com" and not found.own
    assert applied_policy(found.record, own=found.own) == "quarantine"


def test_a_failed_lookup_on_the_way_is_a_temperror():
    answers = walked("a.example.com", {"_dmarc.example.com": servfail("_dmarc.example.com", "TXT")})
    assert policy_9989("a.example.com", answers).failed == "_dmarc.example.com"
    fs = evaluate("a.example.com", {"_dmarc.example.com": servfail("_dmarc.example.com", "TXT")})
    assert fs["dmarc.lookup_failed"].status is Status.FAIL


@pytest.mark.parametrize("records, domain, org", [
    ({}, "a.b.example.com", "a.b.example.com"),  # no record anywhere: the domain itself
    ({"example__com": "v=DMARC1; p=reject"}, "a.b.example.com", "example.com"),  # fewest labels
    ({"example__com": "v=DMARC1; p=reject", "b__example__com": "v=DMARC1; p=none"}, "a.b.example.com",
     "example.com"),
    ({"example__com": "v=DMARC1; p=reject", "b__example__com": "v=DMARC1; p=none; psd=n"}, "a.b.example.com",
     "b.example.com"),  # psd=n: this is the organization
    ({"example": "v=DMARC1; p=reject; psd=y"}, "a.b.shop.example", "shop.example"),  # psd=y: its child
    ({"a__b__shop__example": "v=DMARC1; p=reject; psd=y"}, "a.b.shop.example", "a.b.shop.example"),
])
def test_organizational_domain_by_tree_walk(records, domain, org):
    assert org_domain_9989(domain, walked(domain, zone(**records))) == org


def test_psd_record_makes_the_two_standards_disagree_on_the_organizational_domain():
    # Given shop.example.com without a record, and example.com declaring itself a public suffix
    fs = evaluate("shop.example.com", zone(example__com="v=DMARC1; p=reject; psd=y; rua=mailto:d@example.com"))
    f = fs["dmarc.org_domain_differs"]
    # Then the finding names both organizational domains and the standard each comes from
    assert f.status is Status.WARN
    assert "example.com for receivers following RFC 7489" in f.explanation
    assert "shop.example.com for receivers following RFC 9989" in f.explanation
    assert f.evidence["organizational_domain_rfc9989"] == "shop.example.com"


def test_records_found_at_different_places_are_named_with_their_standard():
    fs = evaluate("a.b.example.com", zone(b__example__com="v=DMARC1; p=reject; rua=mailto:d@example.com"))
    f = fs["dmarc.discovery_differs"]
    assert "RFC 7489" in f.explanation and "no record at all" in f.explanation
    assert "RFC 9989" in f.explanation and "_dmarc.b.example.com" in f.explanation
    assert "dmarc.missing" not in fs  # RFC 9989 receivers do find a policy


def test_t_np_psd_and_pct_findings_name_their_standard():
    fs = evaluate("example.com", zone(example__com="v=DMARC1; p=reject; np=none; t=y; psd=y; pct=50; "
                                                   "rua=mailto:d@example.com"))
    assert {c: f.status for c, f in fs.items()} == {
        "dmarc.testing": Status.WARN, "dmarc.np_none": Status.WARN, "dmarc.psd_self": Status.WARN,
        "dmarc.pct": Status.WARN}
    assert "RFC 9989" in fs["dmarc.testing"].explanation and "RFC 7489" in fs["dmarc.testing"].explanation
    assert "ignore pct" in fs["dmarc.pct"].summary and "t=y" in fs["dmarc.pct"].remedy
    assert "RFC 9989" in fs["dmarc.np_none"].explanation


def test_new_tags_are_validated():
    record = parse_dmarc("v=DMARC1; p=reject; np=maybe; psd=x; t=1")
    assert len(record.errors) == 3 and all("RFC 9989" in e for e in record.errors)
    assert not parse_dmarc("v=DMARC1; p=reject; np=reject; psd=u; t=n").errors


def test_np_applies_only_to_non_existent_subdomains_under_rfc9989():
    record = parse_dmarc("v=DMARC1; p=reject; sp=quarantine; np=none")
    assert applied_policy(record, own=True) == "reject"
    assert applied_policy(record, own=False) == "quarantine"
    assert applied_policy(record, own=False, exists=False) == "none"
    assert applied_policy(record, own=False, exists=False, rfc9989=False) == "quarantine"


def test_clean_record_under_both_standards_passes():
    fs = evaluate("example.com", zone(example__com="v=DMARC1; p=reject; psd=n; rua=mailto:d@example.com"))
    assert list(fs) == ["dmarc.policy"]
