"""diagnose.net.dnswire on constructed messages: the question's wire form, matching a reply to its
query, and reading a reply as dnspython's full parser does (compression, CNAME chains, repeated
records, TTLs, the extended rcode), refusing what dnspython refuses."""

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest

from diagnose.net.dnswire import AD, RD, Malformed, Question, Reply, matches, reply_id

NAMES = ["healthy.test", "HEALTHY.test.", "a", "_dmarc.x-y.test", "a" * 63 + ".b", "a" * 64 + ".b",
         ".".join(["abcdefg"] * 31) + ".ab", ".".join(["abcdefg"] * 32), "a..b", "", ".", "bücher.de",
         "a\\.b.test", "a b.test", "xn--bcher-kva.de", "-.-", "_", "a.", "..", "a-" * 100]


@pytest.mark.parametrize("text", NAMES)
def test_the_question_is_dnspythons_name(text):
    try:
        name = dns.name.from_text(text)
        wire = name.to_wire()
        expected: object = (name.to_text(omit_final_dot=True).lower(), wire + b"\x00\x0f\x00\x01")
    except Exception as exc:  # noqa: BLE001 - the same refusal is expected
        expected = type(exc)
    try:
        q = Question(text, "MX")
        got: object = (q.text, q.wire)
    except Exception as exc:  # noqa: BLE001
        got = type(exc)
    assert got == expected


def test_meta_types_and_unknown_types_are_refused_as_dnspython_refuses_them():
    import dns.rdatatype
    import dns.resolver

    with pytest.raises(dns.resolver.NoMetaqueries):
        Question("example.test", "ANY")
    with pytest.raises(dns.rdatatype.UnknownRdatatype):
        Question("example.test", "NOSUCHTYPE")


def test_the_query_asks_for_recursion_and_validation_without_signatures():
    wire = Question("example.test", "TXT").query(0x1234, edns=True)
    msg = dns.message.from_wire(wire)
    assert msg.id == 0x1234 and msg.flags == RD | AD
    assert msg.edns == 0 and msg.payload == 1232 and not msg.ednsflags & dns.flags.DO
    assert msg.question[0].to_text() == "example.test. IN TXT"
    assert dns.message.from_wire(Question("example.test", "TXT").query(7, edns=False)).edns == -1


def response(qname="www.example.test", rdtype="A", *, rcode=dns.rcode.NOERROR, qid=7, edns=False):
    query = dns.message.make_query(qname, rdtype, id=qid, use_edns=0 if edns else None)
    r = dns.message.make_response(query)
    r.set_rcode(rcode)
    return r


def test_a_reply_matches_only_its_own_question_id_and_direction():
    q = Question("www.example.test", "A")
    good = response().to_wire()
    assert reply_id(good) == 7 and matches(good, q)
    assert matches(response("WWW.Example.TEST").to_wire(), q), "names compare without case"
    assert not matches(response("other.example.test").to_wire(), q)
    assert not matches(response(rdtype="AAAA").to_wire(), q)
    query = dns.message.make_query("www.example.test", "A", id=7).to_wire()
    assert not matches(query, q), "a query (QR clear) is no reply"
    assert not matches(good[:11], q)
    # an error reply may leave the question out; an answer may not
    bare = response(rcode=dns.rcode.REFUSED)
    bare.question = []
    assert matches(bare.to_wire(), q)
    bare.set_rcode(dns.rcode.NOERROR)
    assert not matches(bare.to_wire(), q)


def test_a_cname_chain_compressed_names_and_the_smallest_ttl_as_dnspython_reads_them():
    r = response("www.example.test", "MX")
    r.answer.append(dns.rrset.from_text("www.example.test.", 300, "IN", "CNAME", "mail.example.test."))
    r.answer.append(dns.rrset.from_text("mail.example.test.", 60, "IN", "MX", "10 mx1.example.test.",
                                        "20 mx2.example.test."))
    r.answer.append(dns.rrset.from_text("mail.example.test.", 30, "IN", "MX", "30 mx3.example.test."))
    wire = r.to_wire()
    assert wire.count(b"example") == 1, "the names are compressed"
    canonical, rdata, texts, ttl = Reply(wire).chase(Question("www.example.test", "MX"))
    full = dns.message.from_wire(wire).resolve_chaining()  # dnspython's reading of the same reply
    assert canonical == full.canonical_name.to_text(omit_final_dot=True) == "mail.example.test"
    assert list(rdata) == list(full.answer) and ttl == full.answer.ttl == 30
    assert list(texts) == [x.to_text() for x in rdata] and sorted(texts) == ["10 mx1.example.test.", "20 mx2.example.test.", "30 mx3.example.test."]


def test_a_repeated_record_counts_once():
    r = response("example.test", "TXT")
    rrset = dns.rrset.from_text("example.test.", 60, "IN", "TXT", '"v=spf1 -all"')
    r.answer.append(rrset)
    r.answer.append(rrset)  # the same record twice, as a second RRset
    _, rdata, _, ttl = Reply(r.to_wire()).chase(Question("example.test", "TXT"))
    assert [x.to_text() for x in rdata] == ['"v=spf1 -all"'] and ttl == 60


def test_nodata_nxdomain_and_an_answer_under_nxdomain():
    q = Question("www.example.test", "A")
    assert Reply(response().to_wire()).chase(q) == ("www.example.test", (), (), None)
    nx = response(rcode=dns.rcode.NXDOMAIN)
    assert Reply(nx.to_wire()).rcode == dns.rcode.NXDOMAIN
    nx.answer.append(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    with pytest.raises(Malformed):
        Reply(nx.to_wire()).chase(q)


def test_a_cname_loop_is_a_chain_too_long():
    r = response("a.example.test", "A")
    r.answer.append(dns.rrset.from_text("a.example.test.", 60, "IN", "CNAME", "b.example.test."))
    r.answer.append(dns.rrset.from_text("b.example.test.", 60, "IN", "CNAME", "a.example.test."))
    with pytest.raises(Malformed):
        Reply(r.to_wire()).chase(Question("a.example.test", "A"))
    with pytest.raises(dns.message.ChainTooLong):  # dnspython's own verdict on the same reply
        dns.message.from_wire(r.to_wire()).resolve_chaining()


def test_the_extended_rcode_of_edns_is_read():
    r = response(edns=True)
    r.set_rcode(dns.rcode.BADVERS)
    assert Reply(r.to_wire()).rcode == dns.rcode.BADVERS == 16


@pytest.mark.parametrize("cut", [12, 20, 33, 40])
def test_a_cut_message_is_malformed(cut):
    r = response()
    r.answer.append(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    wire = r.to_wire()
    with pytest.raises(Malformed):
        Reply(wire[:cut] if cut < len(wire) - 1 else wire[:-1])


def test_trailing_bytes_and_pointer_loops_are_malformed():
    r = response()
    r.answer.append(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    wire = r.to_wire()
    with pytest.raises(Malformed):
        Reply(wire + b"\x00")
    # the answer's owner is a pointer to itself: it must point backwards
    at = wire.index(b"\xc0\x0c", 12)
    looped = wire[:at] + bytes((0xC0, at)) + wire[at + 2:]
    with pytest.raises(Malformed):
        Reply(looped).chase(Question("www.example.test", "A"))


def test_the_ad_bit_is_read():
    r = response()
    r.flags |= dns.flags.AD
    assert Reply(r.to_wire()).authenticated


@pytest.mark.parametrize(("given", "seen"), [("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
                                             ("0:0:0:0:0:0:0:1", "::1"), ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
                                             ("::FFFF:7f00:1", "::ffff:127.0.0.1"), ("2001:DB8::0:1", "2001:db8::1")])
def test_a_server_address_is_matched_in_the_form_the_kernel_reports_replies_from(given, seen):
    from diagnose.net.dnstransport import source_form

    assert source_form(given) == seen


def test_records_read_before_are_shared_only_when_their_content_is_the_same():
    # Given two replies whose MX targets are compressed against different owner names
    def mx_reply(owner, exchange):
        r = response(owner, "MX")
        r.answer.append(dns.rrset.from_text(f"{owner}.", 60, "IN", "MX", f"10 {exchange}"))
        return Reply(r.to_wire()).chase(Question(owner, "MX"))

    first = mx_reply("a.example.test", "mx.example.test.")
    same = mx_reply("bb.example.test", "mx.example.test.")  # the same record, its name compressed elsewhere
    other = mx_reply("ccc.example.test", "mx.ccc.example.test.")  # the same bytes in the rdata: a pointer
    # Then the same record is read once and shared; another name is never taken for it
    assert same[1][0] is first[1][0] and same[2] == ("10 mx.example.test.",)
    assert other[2] == ("10 mx.ccc.example.test.",), other
    soa = response("example.test", "SOA")
    soa.answer.append(dns.rrset.from_text("example.test.", 60, "IN", "SOA",
                                          "ns1.example.test. hostmaster.example.test. 1 2 3 4 5"))
    assert Reply(soa.to_wire()).chase(Question("example.test", "SOA"))[2] == (
        "ns1.example.test. hostmaster.example.test. 1 2 3 4 5",)
