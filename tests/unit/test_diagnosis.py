"""The diagnosis: the fault itself first, its consequences under it, repeats grouped, a fixed order.

The findings below have the shapes the lab's fault scenarios produce (one fault per domain)."""

import random

import pytest

from diagnose.engine.diagnosis import Impact, diagnose, fixed_order, impact_of
from diagnose.engine.model import Finding, Status

D = "example.test"
F, W, E, P, S = Status.FAIL, Status.WARN, Status.ERROR, Status.PASS, Status.SKIP


def f(check, code, status, subject=D, summary="", host="", **evidence):
    return Finding(check=check, code=code, subject=subject, status=status, summary=summary or f"{code} seen",
                   host=host, evidence=evidence)


def ep(host, address, port):
    return f"{host} [{address}]:{port}"


def root_of(findings):
    d = diagnose(fixed_order(findings), D)
    return d, d.by_id(d.root_causes[0])


BOGUS = [
    f("mx.records", "mx.lookup_failed", F, summary="MX lookup failed"),
    f("dmarc.record", "dmarc.lookup_failed", F),
    f("mta_sts.policy", "mta_sts.lookup_failed", F),
    f("dns.exists", "dns.servfail", F, summary="DNS lookups fail (SERVFAIL)"),
    f("tls_rpt.record", "tls_rpt.lookup_failed", F),
    f("autoconfig.settings", "autoconfig.unreachable", W),
    f("dkim.keys", "dkim.lookup_failed", W),
    f("spf.record", "spf.lookup_failed", F),
    f("dnssec.chain", "dnssec.bogus", F, summary="DNSSEC of example.test is broken"),
]


def test_bogus_dnssec_is_the_root_of_every_failed_lookup():
    d, root = root_of(BOGUS)
    assert root.code == "dnssec.bogus"
    assert d.root_causes == [d.id_of(root)]
    assert len(d.consequences(d.root_causes[0])) == len(BOGUS) - 1
    assert d.headline.startswith("Mail to example.test cannot be delivered: DNSSEC of example.test is broken.")
    assert "8 other problems follow from this." in d.headline


@pytest.mark.parametrize("seed", range(5))
def test_the_order_does_not_depend_on_completion_order(seed):
    shuffled = BOGUS[:]
    random.Random(seed).shuffle(shuffled)
    a, b = diagnose(fixed_order(BOGUS), D), diagnose(fixed_order(shuffled), D)
    assert [a.by_id(i).code for i in a.root_causes] == [b.by_id(i).code for i in b.root_causes]
    assert a.headline == b.headline


def test_a_domain_that_does_not_exist_gets_no_advice_presuming_it_does():
    d, root = root_of([f("dns.exists", "dns.nxdomain", F, summary="example.test does not exist in DNS (NXDOMAIN)"),
                       f("spf.record", "spf.missing", W), f("dmarc.record", "dmarc.missing", W)])
    assert root.code == "dns.nxdomain"
    assert len(d.root_causes) == 1  # "publish v=spf1 mx -all" is folded under the missing domain


def test_a_refused_port_explains_what_could_not_be_judged_there():
    mx = ep("mx.example.test", "192.0.2.1", 25)
    d, root = root_of([f("tcp.connect", "tcp.refused", F, mx, host="mx.example.test"),
                       f("tls.handshake", "tls.handshake_error", E, mx, host="mx.example.test"),
                       f("dmarc.record", "dmarc.missing", W)])
    assert root.code == "tcp.refused"
    assert [d.by_id(i).code for i in d.consequences(d.root_causes[0])] == ["tls.handshake_error"]
    assert d.headline.startswith("Mail to example.test cannot be delivered: mx.example.test [192.0.2.1]:25:")
    assert "1 more problem below." in d.headline


def test_no_mx_comes_before_dmarc_reporting_advice():
    _, root = root_of([f("dmarc.record", "dmarc.no_reports", W), f("mx.records", "mx.none", F)])
    assert root.code == "mx.none"


def test_a_cname_mx_explains_the_certificate_name_mismatch_on_that_host():
    host = "mail.example.test"
    d, root = root_of([
        f("tls.certificate", "tls.name_mismatch", F, ep(host, "192.0.2.5", 465), host=host),
        f("tls.certificate", "tls.name_mismatch", F, ep(host, "192.0.2.5", 25), host=host),
        f("mx.records", "mx.cname", W, f"MX 10 {host}", host=host),
        f("spf.record", "spf.missing", W),
    ])
    assert root.code == "mx.cname"
    assert len(d.consequences(d.root_causes[0])) == 2
    assert d.headline.startswith("Sending mail through example.test's servers fails:")


def test_one_fact_on_several_ports_is_one_group():
    host = "mail.example.test"
    findings = [f("tls.certificate", "tls.cert_expiring", W, ep(host, "192.0.2.5", p), host=host,
                  summary="certificate expires in 5 days") for p in (25, 465, 587, 993, 995)]
    d = diagnose(fixed_order(findings), D)
    assert len(d.groups) == 1 and len(d.groups[0].ids) == 5
    assert "and on 4 more" in d.groups[0].summary


def test_one_wrong_password_on_three_protocols_is_one_group():
    findings = [f(f"login.{p}", f"login.{p}.rejected", F, summary="user or password rejected") for p in
                ("smtp", "imap", "pop3")]
    d = diagnose(fixed_order(findings), D)
    assert len(d.groups) == 1 and len(d.groups[0].ids) == 3


def test_an_unreachable_submission_server_explains_the_failed_login_and_round_trip():
    smtp = ep("smtp.example.test", "192.0.2.9", 587)
    d, root = root_of([f("login.smtp", "login.smtp.unreachable", E), f("roundtrip.delivery", "roundtrip.not_sent", E),
                       f("smtp.greeting", "smtp.connect_timeout", F, smtp, host="smtp.example.test")])
    assert root.code == "smtp.connect_timeout"
    assert len(d.root_causes) == 1
    assert impact_of(root) is Impact.SENDING


def test_a_healthy_report_says_so():
    d = diagnose([f("mx.records", "mx.ok", P), f("spf.record", "spf.ok", P), f("dkim.keys", "dkim.none", S)], D)
    assert d.root_causes == [] and d.headline == "Mail for example.test looks healthy: 2 tests passed."


def test_only_errors_say_the_diagnosis_is_incomplete():
    d = diagnose([f("login.smtp", "login.smtp.not_run", E, summary="the login could not run")], D)
    assert d.headline == "example.test could not be fully tested: the login could not run."


def test_delivery_outranks_sending_outranks_reading_outranks_practice():
    findings = [f("spf.record", "spf.missing", F),
                f("imap.greeting", "imap.refused", F, ep("imap.example.test", "192.0.2.3", 993)),
                f("smtp.greeting", "smtp.refused", F, ep("smtp.example.test", "192.0.2.4", 587)),
                f("smtp.greeting", "smtp.refused", F, ep("mx.example.test", "192.0.2.5", 25))]
    d = diagnose(fixed_order(findings), D)
    assert [impact_of(d.by_id(i)) for i in d.root_causes] == [Impact.DELIVERY, Impact.SENDING, Impact.READING,
                                                              Impact.PRACTICE]


def test_port_25_blocked_here_explains_the_port_25_timeouts():
    mx = ep("mx.example.test", "192.0.2.1", 25)
    d, root = root_of([f("tcp.connect", "tcp.timeout", F, mx, host="mx.example.test"),
                       f("smtp.greeting", "smtp.port25_blocked_here", E, summary="port 25 blocked on this network"),
                       f("dmarc.record", "dmarc.missing", W)])
    assert root.code == "smtp.port25_blocked_here"
    assert d.headline.startswith("example.test could not be fully tested: port 25 blocked on this network.")


def test_spf_is_fixed_before_dmarc():
    _, root = root_of([f("dmarc.record", "dmarc.missing", W), f("spf.record", "spf.neutral_all", W)])
    assert root.code == "spf.neutral_all"


def test_a_domain_that_does_not_resolve_explains_the_unknown_dnssec_status_but_not_bogus_dnssec():
    d, root = root_of([f("dns.exists", "dns.lame_delegation", F), f("dnssec.chain", "dnssec.lookup_failed", E)])
    assert root.code == "dns.lame_delegation" and len(d.root_causes) == 1
    _, root = root_of([f("dns.exists", "dns.servfail", F), f("dnssec.chain", "dnssec.bogus", F)])
    assert root.code == "dnssec.bogus"


def test_a_locked_account_explains_the_plain_rejection_elsewhere():
    d, root = root_of([f("login.smtp", "login.smtp.rejected", F, summary="rejected: (reason unavailable)"),
                       f("login.imap", "login.imap.locked", F, summary="account is locked: [CONTACTADMIN]"),
                       f("login.pop3", "login.pop3.locked", F, summary="account is locked: [CONTACTADMIN]")])
    assert root.code == "login.imap.locked"
    assert len(d.groups) == 1 and len(d.groups[0].ids) == 2  # IMAP and POP3 say the same
    assert d.by_id(d.caused_by[d.ids[[x.code for x in d.findings].index("login.smtp.rejected")]]).code.endswith(
        ".locked")


def test_a_loop_reached_from_outside_is_broken_at_its_own_best_member():
    from diagnose.engine.diagnosis import Diagnosis, _break_cycles

    # f1 (ranked best of all) leads into the loop f2 <-> f3 without being part of it
    fs = [f("dns.exists", "dns.a", F), f("spf.record", "spf.b", W), f("mx.records", "mx.c", F)]
    d = Diagnosis(fs, ["f1", "f2", "f3"], caused_by={"f1": "f2", "f2": "f3", "f3": "f2"})
    _break_cycles(d)
    assert d.caused_by == {"f1": "f2", "f2": "f3"}  # mx.c, the loop's best, is its root; f1 keeps its link


def test_an_interrupted_run_claims_nothing_about_what_did_not_run():
    passes = [f("mx.records", "mx.records", Status.PASS, summary="1 MX record")]
    assert diagnose(passes, D).headline.startswith(f"Mail for {D} looks healthy")
    stopped = diagnose(passes, D, interrupted=True).headline
    assert stopped.startswith("Interrupted before every check ran") and "healthy" not in stopped
    warned = passes + [f("spf.record", "spf.none", Status.WARN, summary=f"{D} has no SPF record")]
    stopped = diagnose(warned, D, interrupted=True).headline
    assert stopped.startswith("Interrupted before every check ran; found so far: ") and "no SPF record" in stopped
