"""DNS policy checks (SPF, DMARC, DKIM, MTA-STS, TLS-RPT, PTR, DNSSEC, DANE records, DNSBL,
autoconfig) against the real lab: Knot serves the zones (some DNSSEC-signed), Unbound validates,
a small HTTPS server serves MTA-STS policies and autoconfig files."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
POLICY_CHECKS = ["spf.record", "dmarc.record", "dkim.keys", "mta_sts.policy", "tls_rpt.record", "ptr.fcrdns",
                 "dnssec.chain", "dane.records", "dnsbl.listing", "autoconfig.settings"]


def run(*args, timeout=60):
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.monotonic()
    proc = subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=timeout, env=env)
    proc.elapsed = time.monotonic() - start
    return proc


def policy(lab, scenario, *extra, ca=True, checks=POLICY_CHECKS):
    """Run the policy checks on a lab scenario; return {code: [findings]}."""
    args = ["check", lab.domain(scenario), "--nameserver", lab.resolver, "--timeout", "2", "--format", "json"]
    if ca:
        args += ["--ca-file", str(lab.ca_file)]
    for c in checks:
        args += ["--check", c]
    proc = run(*args, *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    codes: dict[str, list] = {}
    for f in report["findings"]:
        codes.setdefault(f["code"], []).append(f)
    return proc, codes


def only(codes, code):
    assert code in codes, sorted(codes)
    return codes[code][0]


def test_healthy_domain_passes_every_policy_check(lab):
    # Given the healthy domain (signed, SPF, DMARC, DKIM "default", MTA-STS, TLS-RPT, autoconfig)
    # When every DNS policy check runs, with the lab's DNSBL
    proc, codes = policy(lab, "healthy", "--dnsbl", f"dnsbl.{lab.tld}")
    statuses = {code: {f["status"] for f in fs} for code, fs in codes.items()}
    # Then nothing is worse than pass or skip, and each check reports its pass
    assert proc.returncode == 0, json.dumps(statuses, indent=1)
    for code in ["spf.record", "dmarc.policy", "dkim.key", "mta_sts.policy", "tls_rpt.record", "ptr.ok",
                 "dnssec.validated", "dnsbl.clean", "autoconfig.found"]:
        assert statuses.get(code) == {"pass"}, (code, statuses)
    assert "covers" in only(codes, "mta_sts.policy")["summary"]
    assert only(codes, "spf.record")["evidence"]["tree_text"]


def test_spf_over_the_lookup_limit_shows_the_include_tree(lab):
    proc, codes = policy(lab, "spflimit", checks=["spf.record"])
    f = only(codes, "spf.too_many_lookups")
    assert f["status"] == "fail" and proc.returncode == 2
    assert f["evidence"]["lookups"] > 10
    assert any("include a._spf" in line for line in f["evidence"]["tree_text"]), f["evidence"]["tree_text"]
    assert "10 or fewer" in f["remedy"]


def test_two_spf_records(lab):
    _, codes = policy(lab, "spftwo", checks=["spf.record"])
    f = only(codes, "spf.multiple")
    assert f["status"] == "fail" and "Merge" in f["remedy"]


def test_no_dmarc_and_p_none(lab):
    _, codes = policy(lab, "nodmarc", checks=["dmarc.record"])
    f = only(codes, "dmarc.missing")
    assert f["status"] == "warn" and f"_dmarc.{lab.domain('nodmarc')}. 3600 IN TXT" in f["remedy"]
    _, codes = policy(lab, "dmarcnone", checks=["dmarc.record"])
    f = only(codes, "dmarc.p_none")
    assert f["status"] == "warn" and "p=quarantine" in f["remedy"]


def test_weak_and_revoked_dkim_keys(lab):
    _, codes = policy(lab, "dkimweak", checks=["dkim.keys"])
    f = only(codes, "dkim.weak_key")
    assert f["status"] == "fail" and "512" in f["summary"] and "2048" in f["remedy"]
    _, codes = policy(lab, "dkimrevoked", "--dkim-selector", "default", checks=["dkim.keys"])
    assert only(codes, "dkim.revoked")["status"] == "fail"
    _, codes = policy(lab, "dkimrevoked", checks=["dkim.keys"])  # found by guessing: a retired key, a warning
    assert only(codes, "dkim.revoked")["status"] == "warn"
    _, codes = policy(lab, "nodmarc", "--dkim-selector", "nosuch", checks=["dkim.keys"])
    assert only(codes, "dkim.not_found")["status"] == "fail"


def test_mta_sts_policy_not_covering_the_mx_and_unreachable_policy(lab):
    _, codes = policy(lab, "stsmx", checks=["mta_sts.policy"])
    f = only(codes, "mta_sts.mx_not_covered")
    mx = lab.scenarios["stsmx"]["mx"][0]["exchange"]
    assert f["status"] == "fail" and f"mx: {mx}" in f["remedy"]
    proc, codes = policy(lab, "stsdown", checks=["mta_sts.policy"])
    f = only(codes, "mta_sts.policy_unreachable")
    assert f["status"] == "fail" and "refused" in f["summary"] and proc.elapsed < 20


def test_mta_sts_certificate_is_checked_against_the_trust_store(lab):
    # Given no --ca-file, the lab's private CA is not trusted
    _, codes = policy(lab, "healthy", ca=False, checks=["mta_sts.policy"])
    f = only(codes, "mta_sts.policy_tls")
    assert f["status"] == "fail" and "certificate" in f["explanation"]


def test_listed_address_and_dead_blocklist(lab):
    proc, codes = policy(lab, "listed", "--dnsbl", f"dnsbl.{lab.tld}", checks=["dnsbl.listing"])
    f = only(codes, "dnsbl.listed")
    assert f["status"] == "fail" and "maildoctor lab listing" in f["explanation"]
    # a blocklist whose servers do not answer is an error, never a pass
    proc, codes = policy(lab, "healthy", "--dnsbl", f"dead.dnsbl.{lab.tld}", checks=["dnsbl.listing"])
    assert "dnsbl.clean" not in codes and only(codes, "dnsbl.broken")["status"] == "error"
    assert proc.returncode == 3 and proc.elapsed < 30
    # without --dnsbl nothing is queried
    _, codes = policy(lab, "listed", checks=["dnsbl.listing"])
    assert only(codes, "dnsbl.not_requested")["status"] == "skip"


def test_ptr_mismatch(lab):
    _, codes = policy(lab, "ptrbad", checks=["ptr.fcrdns"])
    f = only(codes, "ptr.mismatch")
    assert f["status"] == "warn" and "does not resolve back" in f["summary"]


def test_dnssec_bogus_and_unsigned(lab):
    _, codes = policy(lab, "bogus", checks=["dnssec.chain"])
    f = only(codes, "dnssec.bogus")
    assert f["status"] == "fail" and "DS" in f["remedy"]
    _, codes = policy(lab, "nodmarc", checks=["dnssec.chain"])
    assert only(codes, "dnssec.unsigned")["status"] == "skip"


def test_settings_command_prints_the_autoconfig_servers(lab):
    proc = run("settings", lab.domain("healthy"), "--nameserver", lab.resolver, "--timeout", "2",
               "--ca-file", str(lab.ca_file))
    assert proc.returncode == 0, proc.stderr
    imap = lab.hosts["imap"]["fqdn"]
    assert f"IMAP  server {imap}  port 993  security SSL/TLS    (from autoconfig file)" in proc.stdout, proc.stdout


@pytest.mark.parametrize("scenario, check, code, status", [
    ("island", "dnssec.chain", "dnssec.island", "warn"),
    ("spfpassall", "spf.record", "spf.pass_all", "fail"),
    ("spfvoid", "spf.record", "spf.void_lookups", "fail"),
    ("spfinclude", "spf.record", "spf.include_missing", "fail"),
    ("dmarcbad", "dmarc.record", "dmarc.syntax", "fail"),
    ("dmarcext", "dmarc.record", "dmarc.report_unauthorized", "warn"),
    ("dkimtesting", "dkim.keys", "dkim.testing", "warn"),
    ("ststesting", "mta_sts.policy", "mta_sts.mode", "warn"),
    ("stsbad", "mta_sts.policy", "mta_sts.policy_invalid", "fail"),
    ("tlsrptbad", "tls_rpt.record", "tls_rpt.invalid", "fail"),
    ("acbad", "autoconfig.settings", "autoconfig.invalid", "fail"),
    ("ptrgeneric", "ptr.fcrdns", "ptr.generic", "warn"),
    ("noptr", "ptr.fcrdns", "ptr.missing", "warn"),
    ("spfneutral", "spf.record", "spf.neutral_all", "warn"),
    ("spfnoall", "spf.record", "spf.no_all", "warn"),
    ("spfptr", "spf.record", "spf.ptr", "warn"),
    ("spfsyntax", "spf.record", "spf.syntax", "fail"),
    ("spfloop", "spf.record", "spf.loop", "fail"),
    ("dmarctwo", "dmarc.record", "dmarc.multiple", "fail"),
    ("dmarcpct", "dmarc.record", "dmarc.pct", "warn"),
    ("dmarcsp", "dmarc.record", "dmarc.sp_none", "warn"),
    ("dmarcnorua", "dmarc.record", "dmarc.no_rua", "warn"),
    ("dkimbad", "dkim.keys", "dkim.syntax", "fail"),
    ("stsshort", "mta_sts.policy", "mta_sts.max_age_short", "warn"),
    ("stsrecord", "mta_sts.policy", "mta_sts.record_invalid", "fail"),
    ("acplain", "autoconfig.settings", "autoconfig.plain", "warn"),
    ("sts404", "mta_sts.policy", "mta_sts.policy_http", "fail"),
    ("stscert", "mta_sts.policy", "mta_sts.mx_cert", "fail"),
    ("daneunsigned", "dane.records", "dane.records_unsigned", "warn"),
    ("daneunusable", "dane.records", "dane.records_unusable", "warn"),
    ("tlsabad", "dane.records", "dane.records_ok", "pass"),  # signed and well-formed (matching is dane.tlsa's)
])

def test_each_rule_has_a_failing_zone(lab, scenario, check, code, status):
    _, codes = policy(lab, scenario, checks=[check])
    f = only(codes, code)
    assert f["status"] == status, f
    assert status == "pass" or f["explanation"] and f["remedy"]


def test_domain_with_only_srv_records_for_its_settings(lab):
    # Given srvonly.<tld>: no autoconfig file, no smtp./imap./mail. names, only SRV records
    proc = run("settings", lab.domain("srvonly"), "--nameserver", lab.resolver, "--timeout", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(proc.stdout)["settings"]
    smtp, imap = lab.hosts["smtp"]["fqdn"], lab.hosts["imap"]["fqdn"]
    got = {(s["direction"], s["host"], s["port"], s["security"]) for s in settings}
    assert ("outgoing", smtp, 587, "STARTTLS") in got and ("incoming", imap, 993, "SSL/TLS") in got, settings
    assert all(s["source"].startswith("SRV") for s in settings), settings
    # and the autoconfig check says there is none, without failing
    _, codes = policy(lab, "srvonly", checks=["autoconfig.settings"])
    assert only(codes, "autoconfig.none")["status"] == "skip"


def test_a_domain_whose_dns_fails_never_passes_a_policy_check(lab):
    # Given bogus.<tld>: every lookup below it is SERVFAIL at a validating resolver
    proc, codes = policy(lab, "bogus", "--dnsbl", f"dnsbl.{lab.tld}")
    statuses = {code: [f["status"] for f in fs] for code, fs in codes.items()}
    # Then each DNS policy check says its lookup failed (or is skipped), none passes
    for code in ("spf.lookup_failed", "dmarc.lookup_failed", "dkim.lookup_failed", "mta_sts.lookup_failed",
                 "tls_rpt.lookup_failed", "dnssec.bogus"):
        assert code in statuses and "pass" not in statuses[code], statuses
    assert not any(s == "pass" for code, ss in statuses.items() if not code.startswith("mx.") for s in ss), statuses
