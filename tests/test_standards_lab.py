"""Standards kept current, against the real lab (Knot serves the zones, Unbound resolves): SPF per
RFC 7208's grammar (valid but odd is a warning, never "invalid"), DMARC under RFC 7489 and RFC 9989."""

import json

import pytest

from tests.test_dnspolicy_lab import only, policy, run

pytestmark = pytest.mark.lab


def test_odd_but_valid_spf_is_a_warning_not_a_syntax_error(lab):
    # Given spfodd.<tld>: macros, a dual cidr and an unknown modifier, all allowed by RFC 7208
    _, codes = policy(lab, "spfodd", checks=["spf.record"])
    # Then: one warning that says the record is valid, and no spf.syntax
    assert "spf.syntax" not in codes, sorted(codes)
    f = only(codes, "spf.odd")
    assert f["status"] == "warn" and "is valid" in f["explanation"] and "report=%{l}" in f["summary"]


def test_dmarc_rfc9989_tags_are_judged_and_named(lab):
    _, codes = policy(lab, "dmarcbis", checks=["dmarc.record"])
    assert {c: codes[c][0]["status"] for c in codes} == {
        "dmarc.np_none": "warn", "dmarc.testing": "warn", "dmarc.pct": "warn"}, sorted(codes)
    assert "RFC 9989" in only(codes, "dmarc.testing")["explanation"]


def test_tree_walk_and_psl_disagree_on_the_organizational_domain(lab):
    # Given dmarcpsd.<tld> publishing psd=y and its subdomain shop without a DMARC record of its own
    shop = f"shop.{lab.domain('dmarcpsd')}"
    proc = run("check", shop, "--nameserver", lab.resolver, "--timeout", "2", "--format", "json",
               "--check", "dmarc.record")
    findings = {f["code"]: f for f in json.loads(proc.stdout)["findings"]}
    # Then both standards' organizational domains are named, each with its standard
    f = findings["dmarc.org_domain_differs"]
    assert f["status"] == "warn", f
    assert f["evidence"]["organizational_domain"] == lab.domain("dmarcpsd")
    assert f["evidence"]["organizational_domain_rfc9989"] == shop
    assert "RFC 7489" in f["explanation"] and "RFC 9989" in f["explanation"]
    assert f["evidence"]["policy_rfc7489"] == f["evidence"]["policy_rfc9989"] == f"_dmarc.{lab.domain('dmarcpsd')}"


def _bulk(lab, scenario):
    proc = run("check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", "2", "--format", "json",
               "--ca-file", str(lab.ca_file), "--require", "bulk-sender", timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, {f["code"]: f for f in json.loads(proc.stdout)["findings"] if f["check"] == "bulk_sender.rules"}


def test_bulk_sender_rules_met_by_the_healthy_domain(lab):
    # Given the healthy domain (SPF, DKIM "default", DMARC, FCrDNS, TLS on MX and submission, all real servers)
    _, rules = _bulk(lab, "healthy")
    # Then every rule is met, judged from the real checks' findings
    assert {c: f["status"] for c, f in rules.items()} == {
        f"bulk_sender.{k}": "pass" for k in ("spf", "dkim", "dmarc", "ptr", "tls_mx", "tls_submission")}


def test_bulk_sender_rule_broken_by_a_missing_ptr_names_the_providers(lab):
    proc, rules = _bulk(lab, "noptr")
    f = rules["bulk_sender.ptr_broken"]
    assert f["status"] == "fail" and proc.returncode == 2
    assert "Google" in f["explanation"] and "Yahoo" in f["explanation"] and "PTR" in f["remedy"]


def test_bimi_logo_and_mark_certificate_served_by_the_lab(lab):
    # Given bimiok.<tld>: a BIMI record, its SVG Tiny PS logo and a mark certificate minted by the lab CA,
    # both served over HTTPS by the lab's web server, and DMARC p=reject
    proc, codes = policy(lab, "bimiok", checks=["bimi"])
    # Then the check fetched and judged both, and passes
    f = only(codes, "bimi.logo")
    assert f["status"] == "pass" and proc.returncode == 0, sorted(codes)
    assert f["evidence"]["logo"]["title"] == "maildoctor lab brand"
    cert = f["evidence"]["certificate"]
    assert cert["logotype"] and cert["logo_matches"] and cert["san"] == [lab.domain("bimiok")]


def test_bimi_switched_off_by_dmarc(lab):
    _, codes = policy(lab, "bimidmarc", checks=["bimi"])
    f = only(codes, "bimi.dmarc_blocks")
    assert f["status"] == "fail" and "sp=none" in f["explanation"] and "pct=50" in f["explanation"]
    assert set(codes) == {"bimi.dmarc_blocks"}, sorted(codes)  # the logo and certificate themselves are fine


def test_bimi_is_not_part_of_the_default_run(lab):
    proc = run("check", lab.domain("bimiok"), "--nameserver", lab.resolver, "--timeout", "2", "--format", "json",
               "--ca-file", str(lab.ca_file), "--skip", "tls", "--skip", "login", "--skip", "roundtrip", timeout=120)
    report = json.loads(proc.stdout)
    assert "bimi.logo" not in {c["id"] for c in report["checks"]}
    assert not any(f["check"] == "bimi.logo" for f in report["findings"])
