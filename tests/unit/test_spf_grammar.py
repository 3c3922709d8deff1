"""SPF exactly per RFC 7208's ABNF: what the RFC allows is never "invalid", what it makes a permerror
always is; macros expand as §7.4's examples say; records generated from the grammar all parse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.spf.check import SpfCheck
from diagnose.engine.model import Status
from diagnose.knowledge.spf.macros import Sender, expand
from diagnose.knowledge.spf.oddities import explanation_problem, oddities
from diagnose.knowledge.spf.record import analyze_spf
from diagnose.knowledge.spf.syntax import parse_record
from tests.unit.dnsdata import Zone, answer

# -- records the RFC allows -------------------------------------------------------------------------
RFC_VALID = [
    # Appendix A.1 (simple examples)
    "v=spf1 +all", "v=spf1 a -all", "v=spf1 a:example.org -all", "v=spf1 mx -all",
    "v=spf1 mx:example.org -all", "v=spf1 mx mx:example.org -all", "v=spf1 mx/30 mx:example.org/30 -all",
    "v=spf1 ptr -all", "v=spf1 ip4:192.0.2.128/28 -all",
    # A.2-A.4 (includes, redirect, exists with macros, multiple requirements), B (exp with macros)
    "v=spf1 include:example.com include:example.net -all", "v=spf1 redirect=example.org",
    "v=spf1 mx -all exists:%{ir}.%{l1r+-}._spf.%{d}",
    "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", "v=spf1 -ip4:192.0.2.0/24 +all", "v=spf1 -ptr +all",
    "v=spf1 mx -all exp=explain._spf.%{d}", "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all",
    # examples in the body of RFC 7208 (§4.6.1, §5.2, §6.1, §7.4)
    "v=spf1 +mx a:colo.example.com/28 -all", "v=spf1 include:example.com include:example.org -all",
    "v=spf1 redirect=_spf.example.com", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
    "v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all",
    # §7.4 macro forms in domain-specs, upper case letters (URL-escaped), every delimiter
    "v=spf1 exists:%{lr-}.lp.%{ir}.%{v}._spf.%{d2} -all", "v=spf1 exists:%{L}.%{O}.%{D}.%{I}.%{V}.%{H}.x.example",
    "v=spf1 exists:%{s.-+,/_=}.example.com", "v=spf1 a:%{d}", "v=spf1 a:%{d}/24//64", "v=spf1 include:%%.%_.%-.example.com",
    # dual-cidr on a and mx, every length at the ends of its range, ip6 forms
    "v=spf1 a/0 a/32 a//0 a//128 a/24//64 mx//64 mx/8 -all", "v=spf1 ip4:0.0.0.0/0 ip4:255.255.255.255/32 -all",
    "v=spf1 ip6:::1 ip6:::/0 ip6:2001:db8::/128 ip6:::ffff:192.0.2.1 ip6:2001:DB8::CB01/64 -all",
    # exp and unknown modifiers (name "=" macro-string: the value may be empty or any macro-string)
    "v=spf1 -all exp=why.%{d2}", "v=spf1 -all foo=bar", "v=spf1 -all foo=", "v=spf1 x-y_z.w=%{c}%{r}%{t}%% -all",
    "v=spf1 -all include=example.com", "v=spf1 mx default=deny -all",
    # case-insensitivity, runs of spaces, trailing spaces, qualifiers on every mechanism
    "V=SPF1 MX -ALL", "v=spf1 Include:Example.COM ~ALL", "v=spf1  mx   a  -all", "v=spf1 mx -all   ", "v=spf1",
    "v=spf1 +a -mx ~ptr ?ip4:192.0.2.1 +ip6:2001:db8::1 ?exists:x.example ~include:x.example -all",
    # domain-specs the grammar allows although they look strange: a trailing dot, a hyphenated or
    # IDN top label, literal characters such as ':' and '/', a macro as the last label
    "v=spf1 a:example.com. -all", "v=spf1 a:foo.xn--zckzah -all", "v=spf1 a:foo:bar/baz.example.com -all",
    "v=spf1 a:-bad-.example.com -all", "v=spf1 a:foo..example.com -all", "v=spf1 a:123.123-456 -all",
    "v=spf1 a:.example -all", "v=spf1 mx:example.%{d}/24 -all", "v=spf1 ptr:%{d} -all", "v=spf1 -all exp=%{i}",
    # things after all, redirect beside all, duplicate terms: odd, still valid
    "v=spf1 -all mx", "v=spf1 -all redirect=example.org", "v=spf1 mx mx -all", "v=spf1 all -all",
    # from the RFC 7208 test suite (pass or fail there, never permerror)
    "v=spf1 redirect=%{d}.d.spf.example.com.", "v=spf1 include:o.spf.example.com. ~all",
    "v=spf1 exp=msg.example.com. -all", "v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all",
    "v=spf1 -all exp=%{ir}.example.com", "v=spf1 -all exp=msg8.%{D2}",
    "v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com",
    "v=spf1 -all exp=foobar.%{o}.%{o}.%{o}.%{o}.example.com", "v=spf1 exists:%{i}.%{l2r-}.user.%{d2}",
]

# -- records the RFC makes a permerror --------------------------------------------------------------
RFC_PERMERROR = [
    "v=spf1 foo", "v=spf1 redirect:example.com", "v=spf1 mx:example.com:8080", "v=spf1 a:abc.123",
    "v=spf1 a:abc.123.", "v=spf1 a:museum", "v=spf1 a:museum.", "v=spf1 mx:example.-com", "v=spf1 a:",
    "v=spf1 include", "v=spf1 include:", "v=spf1 exists", "v=spf1 ptr/0", "v=spf1 all/24", "v=spf1 all:x",
    "v=spf1 mx/33", "v=spf1 mx//129", "v=spf1 a/08", "v=spf1 a//064", "v=spf1 ip4:1.2.3.4/032",
    "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip6:::1/129", "v=spf1 ip6:::1/0128", "v=spf1 ip4:01.2.3.4",
    "v=spf1 ip4:192.0.2.300", "v=spf1 ip4:192.0.2", "v=spf1 ip4", "v=spf1 ip4:", "v=spf1 ip6:1.2.3.4",
    "v=spf1 ip6:fe80::1%eth0", "v=spf1 ip6:12345::1", "v=spf1 exists:%{z}.example.com",
    "v=spf1 exists:%{t}.example.com", "v=spf1 a:%{c}.example.com", "v=spf1 exists:%{d0}.example.com",
    "v=spf1 a:%{d", "v=spf1 a:100%.example.com", "v=spf1 exp= -all", "v=spf1 redirect=",
    "v=spf1 redirect=a.example redirect=b.example", "v=spf1 -all exp=a.example exp=b.example",
    "v=spf1 =all", "v=spf1 1foo=bar", "v=spf1 foo=%abc", "v=spf1 foo=%{x}", "v=spf1 a:exa\tmple.com",
    "v=spf1 a:ex\u00e4mple.com", "v=spf1 a:foo.example.com\x00", "v=spf1 mx:foo.example.com\r", "v=spf1 --all",
    "v=spf1 +-all", "v=spf1 -", "v=spf1 redirect=%{x}.example.com",
    # from the RFC 7208 test suite (permerror there)
    "v=spf1 -exists:%(ir).sbl.example.com ?all", "v=spf1 exists:foo%(ir).sbl.example.com ?all",
    "v=spf1 exists:foo%.sbl.example.com ?all", "v=spf1 -all exp=%{r}.example.com", "v=spf1 a:%{a}.example.com -all",
    "v=spf1 -all.", "v=spf1 -all:foobar", "v=spf1 -all/8", "v=spf1 exists:mail.example.com/24",
    "v=spf1 include:e3.example.com/24", "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip4:1.2.3.4:8080",
]


@pytest.mark.parametrize("record", RFC_VALID)
def test_records_the_rfc_allows_are_never_invalid(record):
    # Given a record RFC 7208 allows (ABNF and prose), When it is parsed, Then no error is reported
    terms, errors = parse_record(record)
    assert errors == [], (record, errors)


@pytest.mark.parametrize("record", RFC_PERMERROR)
def test_records_the_rfc_makes_a_permerror_are_invalid(record):
    terms, errors = parse_record(record)
    assert errors, (record, terms)


@pytest.mark.parametrize("record", RFC_PERMERROR)
def test_a_permerror_record_gives_the_syntax_finding(record):
    # Given the record published at a domain, When the check judges it, Then it says "invalid"
    an = Zone().txt("p.example", record).complete(analyze_spf, "p.example")
    found = {f.code: f.status for f in SpfCheck().evaluate_spf("p.example", an)}
    assert found.get("spf.syntax") is Status.FAIL, found


@pytest.mark.parametrize("record", ["v=spf1 -all mx", "v=spf1 mx -all foo=bar", "v=spf1 a:-bad-.example.com -all",
                                    "v=spf1 ip4:192.0.2.1/24 -all", "v=spf1 ~all exp=why.p.example",
                                    "v=spf1 -all include=x.example", "v=spf1 -all redirect=x.example"])
def test_odd_but_valid_records_get_a_warning_that_says_they_are_valid(record):
    an = Zone().txt("p.example", record).txt("why.p.example", "no %{i}").complete(analyze_spf, "p.example")
    found = SpfCheck().evaluate_spf("p.example", an)
    odd = [f for f in found if f.code == "spf.odd"]
    assert odd and odd[0].status is Status.WARN, [(f.code, f.summary) for f in found]
    assert "is valid" in odd[0].explanation and "spf.syntax" not in {f.code for f in found}


def test_oddities_name_what_is_odd():
    record = "v=spf1 ip4:192.0.2.1/24 a:x..example.com include=_spf.example.com -all mx"
    terms, errors = parse_record(record)
    assert not errors
    text = " | ".join(oddities(record, terms, "p.example"))
    assert "covers 192.0.2.0/24" in text and "never evaluated" in text and "include:_spf.example.com" in text
    assert "empty label" in text
    assert oddities("v=spf1 mx -all", parse_record("v=spf1 mx -all")[0], "p.example") == []


def test_explanation_record_is_checked_but_never_makes_the_record_invalid():
    # Given exp= pointing at a TXT whose text has a bad macro, Then: valid, odd, the reason named
    zone = Zone().txt("e.example", "v=spf1 mx -all exp=why.%{d}").txt("why.e.example", "bad %{x} macro")
    zone.add(answer("e.example", "MX", "10 mx.e.example."))
    an = zone.complete(analyze_spf, "e.example")
    found = {f.code: f for f in SpfCheck().evaluate_spf("e.example", an)}
    assert "spf.syntax" not in found and "explain-string" in found["spf.odd"].explanation
    assert explanation_problem(["%{i} is not one of %{d}'s designated mail servers."]) == ""
    assert explanation_problem(["See http://%{d}/why.html?s=%{S}&i=%{I}"]) == ""
    assert "2 TXT" in explanation_problem(["a", "b"])
    assert an.lookups == 1  # the exp lookup is not one of the 10 (§4.6.4)


def test_sender_domain_macro_is_the_checked_domain_inside_includes():
    # %{o} is the sender's domain (the domain checked), %{d} the current one (the included domain)
    zone = Zone().txt("o.example", "v=spf1 include:inc.example -all")
    zone.txt("inc.example", "v=spf1 include:%{o}._spf.inc.example include:x.%{d} -all")
    zone.txt("o.example._spf.inc.example", "v=spf1 ip4:192.0.2.1 -all").txt("x.inc.example", "v=spf1 -all")
    an = zone.complete(analyze_spf, "o.example")
    names = [c.domain for c in an.root.children[0].children]
    assert names == ["o.example._spf.inc.example", "x.inc.example"], names


# -- macro expansion: RFC 7208 §7.4 -----------------------------------------------------------------
RFC_SENDER = Sender(sender="strong-bad@email.example.com", domain="email.example.com", ip="192.0.2.3",
                    helo="mx.example.org", receiver="example.net")


@pytest.mark.parametrize("macro, value", [
    ("%{s}", "strong-bad@email.example.com"), ("%{o}", "email.example.com"), ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"), ("%{d3}", "email.example.com"), ("%{d2}", "example.com"), ("%{d1}", "com"),
    ("%{dr}", "com.example.email"), ("%{d2r}", "example.email"), ("%{l}", "strong-bad"), ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"), ("%{lr-}", "bad.strong"), ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%{h}", "mx.example.org"), ("%{c}", "192.0.2.3"), ("%{r}", "example.net"), ("%{p}", "unknown"),
    ("%%%_%-", "% %20"), ("%{S}", "strong-bad%40email.example.com"),
])
def test_rfc7208_section_7_4_macro_examples(macro, value):
    assert expand(macro, RFC_SENDER, domain=False) == value


def test_ipv6_macros_and_long_names():
    six = Sender(sender="strong-bad@email.example.com", domain="email.example.com", ip="2001:db8::cb01")
    assert expand("%{ir}.%{v}._spf.%{d2}", six) == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
    long = Sender(sender=("x" * 60 + ".") * 3 + "@a.example", domain="d.example")
    out = expand("%{l}.%{l}.example.com", long)  # §7.3: labels dropped on the left to fit 253
    assert len(out) <= 253 and out.endswith(".example.com")
    with pytest.raises(ValueError):
        expand("%{x}", RFC_SENDER)


# -- records generated from the grammar -------------------------------------------------------------
def _case(s: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in s)).map("".join) if s else st.just("")


_alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
_macro_letter = st.sampled_from("slodipvhSLODIPVH")
_macro_expand = st.one_of(
    st.builds(lambda letter, digits, r, delims: "%{" + letter + digits + r + delims + "}", _macro_letter,
              st.sampled_from(["", "1", "2", "12"]), st.sampled_from(["", "r", "R"]),
              st.text(".-+,/_=", max_size=3)),
    st.sampled_from(["%%", "%_", "%-"]))
_literal = st.text(alphabet=[chr(c) for c in range(0x21, 0x7F) if chr(c) != "%"], min_size=1, max_size=8)
_macro_string = st.lists(st.one_of(_macro_expand, _literal), max_size=4).map("".join)
_toplabel = st.one_of(
    st.tuples(st.text(_alnum, max_size=4), st.sampled_from("abcxyzABZ"), st.text(_alnum, max_size=4)).map("".join),
    st.tuples(st.text(_alnum, min_size=1, max_size=3), st.text(_alnum + "-", max_size=3),
              st.sampled_from(_alnum)).map(lambda t: t[0] + "-" + t[1] + t[2]))
_domain_end = st.one_of(st.tuples(_toplabel, st.sampled_from(["", "."])).map(lambda t: "." + t[0] + t[1]),
                        _macro_expand)
_domain_spec = st.tuples(_macro_string, _domain_end).map("".join)
_qnum = st.integers(0, 255).map(str)
_ip4 = st.tuples(_qnum, _qnum, _qnum, _qnum).map(".".join)
_ip6 = st.ip_addresses(v=6).map(lambda a: a.compressed)
_ip4_cidr = st.integers(0, 32).map(lambda n: f"/{n}")
_ip6_cidr = st.integers(0, 128).map(lambda n: f"/{n}")
_dual = st.tuples(st.one_of(st.just(""), _ip4_cidr), st.one_of(st.just(""), _ip6_cidr.map(lambda c: "/" + c))).map(
    "".join)
_opt_spec = st.one_of(st.just(""), _domain_spec.map(lambda s: ":" + s))
_mechanism = st.one_of(
    _case("all"),
    st.tuples(_case("include"), _domain_spec).map(lambda t: t[0] + ":" + t[1]),
    st.tuples(_case("a"), _opt_spec, _dual).map("".join),
    st.tuples(_case("mx"), _opt_spec, _dual).map("".join),
    st.tuples(_case("ptr"), _opt_spec).map("".join),
    st.tuples(_case("ip4"), _ip4, st.one_of(st.just(""), _ip4_cidr)).map(lambda t: t[0] + ":" + t[1] + t[2]),
    st.tuples(_case("ip6"), _ip6, st.one_of(st.just(""), _ip6_cidr)).map(lambda t: t[0] + ":" + t[1] + t[2]),
    st.tuples(_case("exists"), _domain_spec).map(lambda t: t[0] + ":" + t[1]),
)
_directive = st.tuples(st.sampled_from(["", "+", "-", "~", "?"]), _mechanism).map("".join)
_name = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.-]{0,8}\Z").filter(lambda n: n.lower() not in ("redirect", "exp"))
_unknown = st.tuples(_name, _macro_string).map(lambda t: t[0] + "=" + t[1])


@st.composite
def spf_records(draw) -> str:
    terms = draw(st.lists(st.one_of(_directive, _unknown), max_size=6))
    for mod in ("redirect", "exp"):
        if draw(st.booleans()):
            terms.insert(draw(st.integers(0, len(terms))), draw(_case(mod)) + "=" + draw(_domain_spec))
    spaces = [" " * draw(st.integers(1, 3)) for _ in terms]
    return draw(_case("v=spf1")) + "".join(s + t for s, t in zip(spaces, terms, strict=True)) + " " * draw(
        st.integers(0, 2))


@settings(max_examples=400, deadline=None)
@given(spf_records())
def test_every_record_generated_from_the_grammar_parses(record):
    terms, errors = parse_record(record)
    assert errors == [], (record, errors)
    assert len(terms) == len(record.split()) - 1


@settings(max_examples=200, deadline=None)
@given(spf_records(), st.sampled_from(["a/033", "ip4:1.2.3.4/33", "mx//129", "foo", "a:x.123", "exists:%{t}.x.y",
                                       "ptr/1", "include", "exp=", "%"]))
def test_one_bad_term_in_a_generated_record_makes_it_invalid(record, bad):
    assert parse_record(record + " " + bad)[1], record


# any text a TXT string can carry in the test zone (its builder quotes it: no line breaks, quotes, backslashes)
_TXT_TEXT = st.text(st.characters(blacklist_characters='\n\r"\\', blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=300, deadline=None)
@given(st.one_of(spf_records(), _TXT_TEXT.map(lambda t: "v=spf1 " + t)))
def test_parsing_judging_and_expanding_never_raise(record):
    # Given any record (from the grammar, or any text after v=spf1), When parsed and judged, Then no exception
    terms, _errors = parse_record(record)
    oddities(record, terms, "p.example")
    an = Zone().txt("p.example", record).complete(analyze_spf, "p.example")
    assert SpfCheck().evaluate_spf("p.example", an)


# -- the macro code only for a "%": syntax's shortcut says what macros.tokens and expand say ---------------
@settings(max_examples=500, deadline=None)
@given(st.one_of(_TXT_TEXT, _domain_spec, st.text(st.sampled_from("ab.-_%{}dor1 é\x7f"), max_size=30)))
def test_a_text_without_a_percent_is_judged_as_the_macro_tokeniser_judges_it(text):
    from diagnose.knowledge.spf.macros import tokens
    from diagnose.knowledge.spf.syntax import expand_static, macro_tokens

    # Given any text, with or without a "%", Then the shortcut's tokens are the tokeniser's
    assert macro_tokens(text) == tokens(text), text
    # and a name expands to what expand gives (a %-free one as written, cut only past 253 characters)
    try:
        full = expand(text, Sender(sender="postmaster@s.example", domain="p.example")).lower().rstrip(".")
    except ValueError:
        full = "not a macro-string"
    try:
        quick = expand_static(text, "p.example", "s.example")
    except ValueError:
        quick = "not a macro-string"
    assert quick == full, text


def test_a_long_name_without_macros_is_cut_like_an_expanded_one():
    from diagnose.knowledge.spf.syntax import expand_static

    name = ".".join(["a" * 60] * 5) + ".example"  # 312 characters: §7.3 drops labels on the left to 253
    assert expand_static(name, "p.example") == ".".join(["a" * 60] * 4) + ".example"
