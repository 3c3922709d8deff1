"""Mail providers recognised and their documented records checked, on a lab whose own resolver
impersonates the providers' names (tests/lab/scenarios.py PROVIDER_ZONES: google.com, outlook.com,
onmicrosoft.com, office365.com served by Knot, reached through Unbound stub zones), with Postfix as the
providers' MX hosts and the lab's HTTPS server as autodiscover.outlook.com."""

import json

import pytest

from tests.test_dnspolicy_lab import only, run

pytestmark = pytest.mark.lab


def full(lab, target, *extra):
    """The whole diagnosis (every check) of ``target`` as JSON: (process, report, {code: [findings]})."""
    proc = run("check", target, "--nameserver", lab.resolver, "--timeout", "2", "--ca-file", str(lab.ca_file),
               "--format", "json", *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    codes: dict[str, list] = {}
    for f in report["findings"]:
        codes.setdefault(f["code"], []).append(f)
    return proc, report, codes


def problems(report):
    return [(f["check"], f["code"], f["status"]) for f in report["findings"] if f["status"] in ("warn", "fail", "error")]


@pytest.mark.parametrize("scenario, name", [("gworkspace", "Google Workspace"), ("m365", "Microsoft 365")])
def test_a_correctly_set_up_provider_domain_is_recognised_and_clean(lab, scenario, name):
    # Given a domain set up exactly as its provider documents it
    proc, report, codes = full(lab, lab.domain(scenario))
    # Then the provider is named, its records pass, and the whole diagnosis is clean
    assert problems(report) == [], problems(report)
    assert proc.returncode == 0, report["diagnosis"]["headline"]
    assert name in only(codes, "provider.found")["summary"]
    assert only(codes, "provider.records_ok")["summary"].startswith(name)
    assert only(codes, "dkim.key")["status"] == "pass"


def test_microsoft_365_domain_uses_both_selectors_and_autodiscover(lab):
    _, _, codes = full(lab, lab.domain("m365"))
    assert {f["evidence"]["selector"] for f in codes["dkim.key"]} == {"selector1", "selector2"}
    found = only(codes, "autodiscover.found")
    assert found["evidence"]["found_by"] == f"HTTP redirect of autodiscover.{lab.domain('m365')}"
    assert "IMAP outlook.office365.com:993 SSL" in found["summary"]


@pytest.mark.parametrize("scenario, code, record", [
    ("gnoinclude", "provider.spf_include_missing", '"v=spf1 mx include:_spf.google.com -all"'),
    ("mixedspf", "provider.mixed", '"v=spf1 include:_spf.google.com -all"'),
    ("m365onesel", "provider.dkim_selector_missing",
     "selector2._domainkey.{domain}. CNAME selector2-{dashed}._domainkey.labtenant.onmicrosoft.com."),
])
def test_typical_mistakes_are_named_with_the_record_to_publish(lab, scenario, code, record):
    domain = lab.domain(scenario)
    proc, report, codes = full(lab, domain)
    f = only(codes, code)
    assert f["status"] == "fail", f
    assert record.format(domain=domain, dashed=domain.replace(".", "-")) in f["remedy"], f["remedy"]
    assert proc.returncode == 2
    # and the mistake is the diagnosis' root cause, not one problem among others
    assert report["diagnosis"]["root_causes"][0] == f["id"], report["diagnosis"]
    assert [p for p in problems(report) if p[0] != "provider.records"] == [], problems(report)


def test_mx_at_google_spf_at_microsoft_names_both(lab):
    _, _, codes = full(lab, lab.domain("mixedspf"))
    f = only(codes, "provider.mixed")
    assert "Google Workspace" in f["summary"] and "Microsoft 365" in f["summary"]
    assert "spam" in f["explanation"]


def test_settings_of_a_microsoft_365_domain_come_from_autodiscover_and_are_tried(lab):
    # When the settings of a Microsoft 365 address are asked for
    proc = run("settings", f"user@{lab.domain('m365')}", "--nameserver", lab.resolver, "--timeout", "2",
               "--ca-file", str(lab.ca_file), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = {(s["protocol"], s["host"], s["port"]): s for s in json.loads(proc.stdout)["settings"]}
    # Then IMAP and SMTP come from Autodiscover (tried on the servers: they agree), POP3 from Microsoft's data
    imap, smtp = got[("IMAP", "outlook.office365.com", 993)], got[("SMTP", "smtp.office365.com", 587)]
    assert (imap["source"], imap["server"], smtp["source"], smtp["server"]) == \
        ("Autodiscover", "ok", "Autodiscover", "ok"), got
    pop = got[("POP3", "outlook.office365.com", 995)]
    assert pop["source"] == "Microsoft 365 documentation" and pop["reference"].startswith("https://")


def test_settings_of_a_google_workspace_domain_come_from_the_provider_data(lab):
    proc = run("settings", lab.domain("gworkspace"), "--nameserver", lab.resolver, "--timeout", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    got = {(s["protocol"], s["host"], s["port"], s["source"]) for s in json.loads(proc.stdout)["settings"]}
    assert ("IMAP", "imap.gmail.com", 993, "Google Workspace documentation") in got, got
    assert ("SMTP", "smtp.gmail.com", 587, "Google Workspace documentation") in got, got


def test_a_published_setting_the_server_disagrees_with_is_flagged(lab):
    # Given acplain.<tld>: its autoconfig file says IMAP on 143 without encryption; Dovecot there offers STARTTLS
    proc = run("settings", lab.domain("acplain"), "--nameserver", lab.resolver, "--timeout", "2",
               "--ca-file", str(lab.ca_file))
    assert proc.returncode == 1, proc.stdout
    assert "! but the server disagrees" in proc.stdout and "offers TLS" in proc.stdout, proc.stdout


def test_outlook_set_up_while_the_mx_still_points_at_the_old_provider(lab):
    domain = lab.domain("m365mxold")
    _, _, codes = full(lab, domain)
    f = only(codes, "provider.mx_elsewhere")
    assert f["status"] == "warn" and "Microsoft 365 is set up" in f["summary"], f
    assert f"{domain}. MX 0 {domain.replace('.', '-')}.mail.protection.outlook.com." in f["remedy"]


def test_dkim_keys_tries_the_providers_selectors_and_runs_without_provider_detect(lab):
    # Given the Microsoft 365 domain: its keys are at selector1/selector2 (CNAMEs into onmicrosoft.com)
    _, report, codes = full(lab, lab.domain("m365"), "--check", "dkim")
    assert "provider.detect" in {c["id"] for c in report["checks"]}  # pulled in for its selectors
    assert {f["evidence"]["selector"] for f in codes["dkim.key"]} == {"selector1", "selector2"}
    # and with provider.detect skipped, dkim.keys still runs on the common selectors
    _, report, codes = full(lab, lab.domain("healthy"), "--check", "dkim", "--skip", "provider")
    assert [c["id"] for c in report["checks"]] == ["dkim.keys"]
    assert only(codes, "dkim.key")["status"] == "pass"


def test_an_autodiscover_redirect_loop_is_followed_a_bounded_number_of_times(lab):
    proc, _, codes = full(lab, lab.domain("adloop"), "--check", "autodiscover")
    f = only(codes, "autodiscover.invalid")
    assert f["status"] == "warn" and "redirect" in f["summary"], f
    assert len(f["evidence"]["tried"]) == 5  # MAX_HOPS requests, then it stops
    assert proc.elapsed < 30
