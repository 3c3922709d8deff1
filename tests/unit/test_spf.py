"""SPF: record parsing, lookup counting and findings, on constructed DNS data (RFC 7208 examples too)."""

from __future__ import annotations

import pytest

from checks.spf.check import SpfCheck
from diagnose.engine.model import Status
from diagnose.knowledge.spf.record import analyze_spf
from diagnose.knowledge.spf.syntax import parse_record, parse_term, select_spf
from tests.unit.dnsdata import Zone, answer, nodata, servfail, timeout


def rfc_zone() -> Zone:
    """The DNS data of RFC 7208 Appendix A."""
    z = Zone()
    z.add(answer("example.com", "MX", "10 mx.example.com.", "20 mx2.example.com."))
    for name, addr in [("mx.example.com", "192.0.2.11"), ("mx2.example.com", "192.0.2.12"),
                       ("mail.example.com", "192.0.2.13"), ("example.com", "192.0.2.10"),
                       ("example.org", "192.0.2.20")]:
        z.add(answer(name, "A", addr))
    z.add(answer("example.org", "MX", "10 mail.example.com."))
    return z


def findings(domain: str, zone: Zone):
    an = zone.complete(analyze_spf, domain)
    return an, SpfCheck().evaluate_spf(domain, an)


def codes(fs) -> dict[str, Status]:
    return {f.code: f.status for f in fs}


@pytest.mark.parametrize("record, lookups", [
    ("v=spf1 +all", 0),
    ("v=spf1 a -all", 1),
    ("v=spf1 a:example.org -all", 1),
    ("v=spf1 mx -all", 1),
    ("v=spf1 mx:example.org -all", 1),
    ("v=spf1 mx mx:example.org -all", 2),
    ("v=spf1 mx/30 mx:example.org/30 -all", 2),
    ("v=spf1 ptr -all", 1),
    ("v=spf1 ip4:192.0.2.128/28 -all", 0),
])
def test_rfc7208_appendix_a1_simple_examples_parse_and_count(record, lookups):
    # Given the RFC's example record at example.com
    zone = rfc_zone().txt("example.com", record)
    # When analysed
    an, fs = findings("example.com", zone)
    # Then it parses and costs the RFC's number of lookups
    assert an.root.state == "ok", an.root.detail
    assert an.lookups == lookups
    assert not any(f.code == "spf.syntax" for f in fs), fs


def test_rfc7208_a2_multiple_domains_include_and_redirect():
    zone = rfc_zone()
    zone.txt("example.com", "v=spf1 mx -all").txt("example.net", "v=spf1 a ip4:192.0.2.0/24 -all")
    zone.txt("example.org", "v=spf1 include:example.com include:example.net -all")
    zone.txt("la.example.org", "v=spf1 redirect=example.org")
    zone.add(answer("example.net", "A", "192.0.2.30"))
    an, fs = findings("la.example.org", zone)
    # redirect (1) + 2 includes (2) + mx in example.com (1) + a in example.net (1)
    assert an.lookups == 5
    assert [c.domain for c in an.root.children] == ["example.org"]
    assert [c.domain for c in an.root.children[0].children] == ["example.com", "example.net"]
    assert codes(fs) == {"spf.record": Status.PASS}
    tree = fs[0].evidence["tree_text"]
    assert any("include example.net" in line for line in tree), tree


def test_rfc7208_a3_terms_after_all_are_not_counted_and_macros_not_followed():
    zone = rfc_zone().txt("example.com", "v=spf1 mx -all exists:%{ir}.%{l1r+-}._spf.%{d}")
    an, fs = findings("example.com", zone)
    assert an.lookups == 1
    # valid, but the exists after -all is never evaluated: a warning that says so, never "invalid"
    assert codes(fs) == {"spf.odd": Status.WARN}
    assert "never evaluated" in fs[0].summary and "is valid" in fs[0].explanation


def test_rfc7208_a4_macro_includes_are_counted_not_followed():
    zone = rfc_zone().txt("example.com", "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all")
    zone.txt("ip4._spf.example.com", "v=spf1 -ip4:192.0.2.0/24 +all")
    zone.txt("ptr._spf.example.com", "v=spf1 -ptr +all")
    an, fs = findings("example.com", zone)
    # %{d} needs no sender: both includes are followed; ptr inside the second is flagged
    assert an.lookups == 3
    assert codes(fs) == {"spf.pass_all": Status.FAIL, "spf.ptr": Status.WARN}


def test_sender_dependent_macro_is_counted_and_listed_as_not_followed():
    zone = Zone().txt("example.com", "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all")
    an, fs = findings("example.com", zone)
    assert an.lookups == 1 and an.dynamic
    assert fs[0].evidence["not_followed"]


def test_nested_includes_over_the_limit_count_every_level():
    # Given 3 includes, each with 4 lookup terms (and one a nested include)
    zone = Zone().txt("big.example", "v=spf1 include:a.example include:b.example include:c.example -all")
    for n in "abc":
        zone.txt(f"{n}.example", f"v=spf1 a mx exists:x.{n}.example include:d{n}.example ~all")
        zone.txt(f"d{n}.example", "v=spf1 ip4:192.0.2.1 ~all")
        zone.add(answer(f"{n}.example", "A", "192.0.2.1")).add(answer(f"{n}.example", "MX", "0 mx.example."))
        zone.add(answer(f"x.{n}.example", "A", "127.0.0.2"))
    an, fs = findings("big.example", zone)
    assert an.lookups == 3 + 3 * 4
    f = next(f for f in fs if f.code == "spf.too_many_lookups")
    assert f.status is Status.FAIL and "15" in f.summary
    assert "a.example 4" in f.explanation and "big.example 3" in f.explanation, f.explanation
    assert "10 or fewer" in f.remedy


def test_exactly_ten_lookups_pass():
    zone = Zone().txt("ten.example", "v=spf1 " + " ".join(f"a:h{i}.example" for i in range(10)) + " -all")
    for i in range(10):
        zone.add(answer(f"h{i}.example", "A", "192.0.2.1"))
    an, fs = findings("ten.example", zone)
    assert an.lookups == 10 and codes(fs) == {"spf.record": Status.PASS}


def test_void_lookups_over_two_are_a_permerror():
    zone = Zone().txt("void.example", "v=spf1 a:gone1.example a:gone2.example mx:gone3.example -all")
    an, fs = findings("void.example", zone)  # unknown names answer NXDOMAIN
    assert an.voids == 3
    assert codes(fs)["spf.void_lookups"] is Status.FAIL
    assert "gone3.example" in next(f for f in fs if f.code == "spf.void_lookups").explanation


def test_two_void_lookups_are_allowed():
    zone = Zone().txt("void.example", "v=spf1 a:gone1.example a:gone2.example -all")
    zone.add(nodata("gone1.example", "A"))
    an, fs = findings("void.example", zone)
    assert an.voids == 2 and codes(fs) == {"spf.record": Status.PASS}


def test_two_spf_records_is_a_permerror():
    zone = Zone().txt("two.example", "v=spf1 mx -all", "v=spf1 include:x.example -all", "google-site-verification=x")
    an, fs = findings("two.example", zone)
    f = next(f for f in fs if f.code == "spf.multiple")
    assert f.status is Status.FAIL and "2 SPF records" in f.summary
    assert "Merge" in f.remedy


def test_missing_spf_and_include_without_spf():
    _, fs = findings("none.example", Zone().txt("none.example", "hello"))
    assert codes(fs) == {"spf.missing": Status.WARN}
    assert "v=spf1" in fs[0].remedy
    zone = Zone().txt("inc.example", "v=spf1 include:nospf.example -all").txt("nospf.example", "not spf")
    _, fs = findings("inc.example", zone)
    assert codes(fs) == {"spf.include_missing": Status.FAIL}
    zone = Zone().txt("inc.example", "v=spf1 include:gone.example -all")
    an, fs = findings("inc.example", zone)
    assert codes(fs) == {"spf.include_missing": Status.FAIL} and an.voids == 1


def test_include_loop_is_bounded_and_reported():
    zone = Zone().txt("a.example", "v=spf1 include:b.example -all").txt("b.example", "v=spf1 include:a.example -all")
    an, fs = findings("a.example", zone)
    assert "spf.loop" in codes(fs)


def test_redirect_ignored_when_all_present():
    zone = Zone().txt("r.example", "v=spf1 -all redirect=elsewhere.example")
    an, _ = findings("r.example", zone)
    assert an.lookups == 0 and not an.root.children


def test_lookup_failures_never_pass():
    for bad in (servfail, timeout):
        zone = Zone().add(bad("t.example", "TXT"))
        _, fs = findings("t.example", zone)
        assert codes(fs) == {"spf.lookup_failed": Status.FAIL}
        zone = Zone().txt("t.example", "v=spf1 include:inc.example -all").add(bad("inc.example", "TXT"))
        _, fs = findings("t.example", zone)
        assert codes(fs) == {"spf.lookup_failed": Status.FAIL}


@pytest.mark.parametrize("record, status, code", [
    ("v=spf1 mx ?all", Status.WARN, "spf.neutral_all"),
    ("v=spf1 mx all", Status.FAIL, "spf.pass_all"),
    ("v=spf1 mx", Status.WARN, "spf.no_all"),
    ("v=spf1 mx ~all", Status.PASS, "spf.record"),
])
def test_all_qualifiers(record, status, code):
    zone = rfc_zone().txt("example.com", record)
    _, fs = findings("example.com", zone)
    assert codes(fs) == {code: status}


@pytest.mark.parametrize("word", [
    "ip4:192.0.2.300", "ip4:192.0.2.1/33", "ip6:2001:db8::/129", "include", "include:", "mx:example.com/40",
    "foo:bar", "a:exa mple", "ip4:01.2.3.4", "all:x", "ptr/24", "exists:%{z}.example.com", "redirect=",
    "-", "a:example.com:8080",
])
def test_bad_terms_are_syntax_errors(word):
    term, error = parse_term(word)
    assert term is None and error


def test_hostile_records_give_findings_not_exceptions():
    long_record = "v=spf1 " + "ip4:192.0.2.1 " * 400 + "-all"
    for record in ["v=spf1 \x1b[31mred -all", "v=spf1  mx   -all", long_record, "V=SPF1 MX -ALL",
                   "v=spf1 exp=%{x}", "v=spf1 redirect=a.example redirect=b.example", "v=spf1 ip4:\u0661.2.3.4"]:
        zone = Zone().txt("h.example", record)
        _, fs = findings("h.example", zone)
        assert fs and all("\x1b" not in f.summary + f.explanation for f in fs)
    assert select_spf(["v=spf10 -all", "v=spf1", "xv=spf1 a"]) == ["v=spf1"]
    terms, errors = parse_record("V=SPF1 MX -ALL")
    assert not errors and [t.name for t in terms] == ["mx", "all"]


def test_unknown_modifiers_are_ignored_but_duplicates_of_redirect_are_errors():
    assert not parse_record("v=spf1 mx foo=bar -all")[1]
    assert parse_record("v=spf1 redirect=a.example redirect=b.example")[1]


def test_all_reached_through_redirect_and_includes_ending_in_pass_all():
    zone = Zone().txt("r.example", "v=spf1 redirect=_spf.r.example").txt("_spf.r.example", "v=spf1 mx ?all")
    zone.add(answer("_spf.r.example", "MX", "10 mx.r.example."))
    _, fs = findings("r.example", zone)
    assert codes(fs) == {"spf.neutral_all": Status.WARN}
    assert "_spf.r.example" in fs[0].summary
    zone = Zone().txt("i.example", "v=spf1 include:loose.example -all").txt("loose.example", "v=spf1 +all")
    _, fs = findings("i.example", zone)
    assert codes(fs) == {"spf.pass_all": Status.FAIL} and "loose.example" in fs[0].explanation
    # a redirect to a record with -all is a complete policy (no "no all" warning)
    zone = (
        Zone().txt("ok.example", "v=spf1 redirect=_spf.ok.example").txt("_spf.ok.example", "v=spf1 ip4:192.0.2.1 -all")
    )
    _, fs = findings("ok.example", zone)
    assert codes(fs) == {"spf.record": Status.PASS}


def test_unfinished_walk_is_an_error_never_a_pass():
    an = analyze_spf("slow.example", Zone())  # nothing answered yet
    assert not an.complete
    assert codes(SpfCheck().evaluate_spf("slow.example", an)) == {"spf.incomplete": Status.ERROR}
