"""The resolver's lean DNS path (diagnose.net.dnswire, diagnose.net.dnstransport) against the lab's
Unbound: the AD bit for signed zones without asking for signatures, NXDOMAIN against NODATA, a CNAME
chain, TXT strings, truncation to TCP, and the same answers as dnspython's own full resolver."""

import asyncio

import dns.asyncresolver
import dns.flags
import dns.nameserver
import dns.resolver
import pytest

from diagnose.net.dnstransport import UdpClient
from diagnose.net.dnswire import Question
from diagnose.net.resolver import Dns, Outcome, parse_nameserver, txt_strings

pytestmark = pytest.mark.lab


def ask(lab, name: str, rdtype: str, **kw):
    return asyncio.run(Dns([parse_nameserver(lab.resolver)], timeout=2.0)._query(name, rdtype, **kw))


def test_a_signed_zone_is_authenticated_an_unsigned_one_not_a_bogus_one_fails(lab):
    signed = ask(lab, lab.domain("healthy"), "MX")
    assert signed.outcome is Outcome.ANSWER and signed.authenticated, signed
    unsigned = ask(lab, lab.domain("spftwo"), "TXT")
    assert unsigned.outcome is Outcome.ANSWER and not unsigned.authenticated, unsigned
    assert ask(lab, lab.domain("bogus"), "MX").outcome is Outcome.SERVFAIL


def test_nxdomain_and_nodata_are_told_apart(lab):
    missing = ask(lab, lab.domain("nxdomain"), "MX")
    assert missing.outcome is Outcome.NXDOMAIN and missing.describe() == "does not exist (NXDOMAIN)", missing
    empty = ask(lab, lab.domain("nodata"), "MX")
    assert empty.outcome is Outcome.NODATA and empty.canonical_name == lab.domain("nodata"), empty
    # a signed zone proves its denial too: the AD bit on a NODATA answer
    denied = ask(lab, lab.domain("healthy"), "SRV")
    assert denied.outcome is Outcome.NODATA and denied.authenticated, denied


def test_a_cname_is_followed_to_the_address(lab):
    r = ask(lab, f"mail.{lab.domain('cnamemx')}", "A")
    assert r.outcome is Outcome.ANSWER and r.records == (lab.host("mx1"),), r
    assert r.is_alias and r.canonical_name == lab.hostname("mx1"), r
    assert not r.authenticated, "the chain starts in an unsigned zone"


def test_a_txt_record_of_several_strings(lab):
    r = ask(lab, f"default._domainkey.{lab.domain('healthy')}", "TXT")
    assert r.outcome is Outcome.ANSWER and len(r.rdata) == 1 and len(r.rdata[0].strings) > 1, r
    (text,) = txt_strings(r)
    assert text.startswith("v=DKIM1; k=rsa; p=MIIB") and len(text) > 300 and '"' not in text, text


def test_an_answer_too_big_for_plain_udp_is_asked_again_over_tcp(lab):
    # the lab's Microsoft 365 tenant has a wildcard DKIM key (a TXT of ~400 bytes); asked under a name of
    # ~230 bytes, which the answer repeats, it needs more than DNS's 512 bytes without EDNS
    long = ".".join(c * 63 for c in "abc")
    name = f"{long}._domainkey.labtenant.onmicrosoft.com"
    r = ask(lab, "selector1._domainkey.labtenant.onmicrosoft.com", "TXT")
    assert r.outcome is Outcome.ANSWER and len(txt_strings(r)[0]) > 300, f"the lab's wildcard key changed: {r}"

    async def plain_udp():
        return await UdpClient().ask(Question(name, "TXT"), lab.resolver, 53, edns=False, timeout=2.0)

    # Given that Unbound truncates that answer over UDP without EDNS
    reply = asyncio.run(plain_udp())
    assert reply is not None and reply.truncated and not reply.answers, "the lab no longer provokes TC"
    # When the resolver asks without EDNS, Then it gets the whole answer over TCP
    r = ask(lab, name, "TXT", edns=False)
    assert r.outcome is Outcome.ANSWER and txt_strings(r)[0].startswith("v=DKIM1") and len(txt_strings(r)[0]) > 300, r


def test_the_same_answers_as_dnspythons_full_resolver(lab):
    questions = [(lab.domain(s), t) for s in ("healthy", "spftwo", "cnamemx", "nullmx", "implicit", "srv", "m365")
                 for t in ("MX", "TXT", "A", "AAAA", "SRV", "NS", "SOA", "DNSKEY")]
    questions += [(f"_dmarc.{lab.domain('healthy')}", "TXT"), (f"_25._tcp.{lab.hostname('mx1')}", "TLSA"),
                  (f"mail.{lab.domain('cnamemx')}", "A"), (f"_submission._tcp.{lab.domain('srv')}", "SRV")]

    async def both():
        full = dns.asyncresolver.Resolver(configure=False)
        full.nameservers = [dns.nameserver.Do53Nameserver(lab.resolver, 53)]
        full.use_edns(0, dns.flags.DO, 1232)  # what the resolver asked before: every section parsed
        lean = Dns([parse_nameserver(lab.resolver)], timeout=2.0)
        out = []
        for name, rdtype in questions:
            try:
                answer = await full.resolve(name, rdtype, raise_on_no_answer=False, search=False)
                expected = (Outcome.ANSWER if answer.rrset else Outcome.NODATA,
                            sorted(r.to_text() for r in answer.rrset or ()),
                            answer.canonical_name.to_text(omit_final_dot=True).lower(),
                            bool(answer.response.flags & dns.flags.AD))
            except dns.resolver.NXDOMAIN:
                expected = (Outcome.NXDOMAIN, [], "", False)
            got = await lean._query(name, rdtype)
            out.append(((name, rdtype), expected,
                        (got.outcome, sorted(got.records), got.canonical_name, got.authenticated)))
        return out

    for question, expected, got in asyncio.run(both()):
        assert got == expected, question
