"""Provider knowledge (diagnose/knowledge/providers.py) and the provider.* checks' pure cores."""

from __future__ import annotations

import fnmatch
from importlib import metadata

import pytest

from checks.provider.detect import ProviderDetect
from checks.provider.records import ProviderRecords, with_include
from checks.provider.signals import Hosting, includes_of, spf_of
from diagnose.engine.model import Status
from diagnose.knowledge.providers import (
    ProviderDataError,
    Signals,
    _glob_matches,
    builtin_data,
    fill,
    load,
    make_provider,
    microsoft_tenant,
    recognise,
)

CAT = load()
D = "example.com"
MS_S1 = "selector1-example-com._domainkey.contoso.onmicrosoft.com"
MS_S2 = "selector2-example-com._domainkey.contoso.onmicrosoft.com"
GOOGLE_MX = ("smtp.google.com",)
MS_MX = ("example-com.mail.protection.outlook.com",)


def hosting(**kw) -> Hosting:
    signals = Signals(D, **kw)
    return Hosting(signals, tuple(recognise(signals, CAT.providers)), dmarc="v=DMARC1; p=none")


def codes(findings) -> dict[str, Status]:
    return {f.code: f.status for f in findings}


def test_builtin_data_covers_the_providers_the_issue_names_each_with_a_source():
    ids = {p.id for p in CAT.providers}
    assert {"google", "microsoft365", "zoho", "fastmail", "icloud", "proton", "yahoo", "godaddy", "ovh", "ionos",
            "amazon_ses", "amazon_workmail", "mimecast", "proofpoint", "barracuda"} <= ids
    assert all(p.sources and all(s.startswith("https://") for s in p.sources) for p in CAT.providers)
    assert not CAT.problems


@pytest.mark.parametrize("signals, expected", [
    (dict(mx=("aspmx.l.google.com", "alt1.aspmx.l.google.com")), "google"),
    (dict(mx=MS_MX), "microsoft365"),
    (dict(mx=("mx.zoho.eu",)), "zoho"),
    (dict(mx=("in1-smtp.messagingengine.com",)), "fastmail"),
    (dict(mx=("mx01.mail.icloud.com",)), "icloud"),
    (dict(mx=("mail.protonmail.ch",)), "proton"),
    (dict(mx=("mx-biz.mail.am0.yahoodns.net",)), "yahoo"),
    (dict(mx=("smtp.secureserver.net",)), "godaddy"),
    (dict(mx=("mx1.mail.ovh.net",)), "ovh"),
    (dict(mx=("mx00.ionos.de",)), "ionos"),
    (dict(spf_includes=("amazonses.com",)), "amazon_ses"),
    (dict(autodiscover="autodiscover.mail.us-east-1.awsapps.com"), "amazon_workmail"),
    (dict(mx=("eu-smtp-inbound-1.mimecast.com",)), "mimecast"),
    (dict(mx=("mx0a-00123401.pphosted.com",)), "proofpoint"),
    (dict(mx=("d123456a.ess.barracudanetworks.com",)), "barracuda"),
    (dict(dkim_cnames={"selector1": MS_S1}), "microsoft365"),
    (dict(autodiscover="autodiscover.outlook.com"), "microsoft365"),
])
def test_recognise_each_provider_from_its_records(signals, expected):
    assert expected in [m.provider.id for m in recognise(Signals(D, **signals), CAT.providers)]


def test_recognise_nothing_for_a_self_hosted_domain():
    assert recognise(Signals(D, mx=("mail.example.com",), spf_includes=("spf.example.net",)), CAT.providers) == []


def test_provider_patterns_match_as_fnmatch_does():
    # Given every pattern of the catalogue and shapes around it (no *, one *, several, ? and [])
    patterns = {p for prov in CAT.providers for what in ("mx", "spf", "dkim_cname", "autodiscover", "autoconfig")
                for p in getattr(prov, what)}
    patterns |= {"*", "a*", "*a", "a*a", "**", "a?c", "[ab]c", "*.b*.c", "x"}
    names = {"", "a", "aa", "aba", "abc", "bc", "x", ".x", "a.b.c", "a.bb.c", "smtp.google.com",
             "alt1.aspmx.l.google.com", "aspmx.l.google.com", "mx.zoho.eu", "zoho.com", "a.mx.microsoft",
             "example-com.mail.protection.outlook.com", "selector1-x._domainkey.t.onmicrosoft.com"}
    # Then the fast matcher agrees with fnmatch on each pair
    for pattern in patterns:
        for name in names:
            assert _glob_matches(name, pattern) is fnmatch.fnmatchcase(name, pattern), (name, pattern)


def test_spf_helpers():
    assert spf_of(["google-site-verification=x", "v=spf1 include:_spf.google.com ~all"]).endswith("~all")
    assert spf_of(["v=spf1 -all", "v=spf1 mx -all"]) is None  # two records: none is the policy
    assert includes_of("v=spf1 include:_spf.google.com ~include:a.example redirect=b.example include:%{d}.x") == \
        ["_spf.google.com", "a.example", "b.example"]
    assert with_include("v=spf1 mx include:spf.protection.outlook.com -all", "_spf.google.com",
                        drop=("spf.protection.outlook.com",)) == "v=spf1 mx include:_spf.google.com -all"
    assert with_include(None, "_spf.google.com") == "v=spf1 include:_spf.google.com ~all"
    assert with_include("v=spf1 a", "x.example") == "v=spf1 a include:x.example"


def test_templates_and_tenant():
    assert microsoft_tenant(MS_S1 + ".") == "contoso"
    assert microsoft_tenant("selector1-x.dkim.mail.microsoft") == ""
    assert fill("{domain_dashed}.mail.protection.outlook.com {tenant}", "a.b.example") == \
        "a-b-example.mail.protection.outlook.com {tenant}"  # an unknown value stays visible


def test_a_clean_google_workspace_domain_passes():
    h = hosting(mx=GOOGLE_MX, spf_includes=("_spf.google.com",), spf_record="v=spf1 include:_spf.google.com ~all",
                dkim_keys=("google",))
    found = ProviderRecords().evaluate(D, h)
    assert codes(found) == {"provider.records_ok": Status.PASS}, found
    assert "DKIM google" in found[0].summary
    assert codes(ProviderDetect().evaluate(D, h)) == {"provider.found": Status.PASS}


def test_a_clean_microsoft_365_domain_passes():
    h = hosting(mx=MS_MX, spf_includes=("spf.protection.outlook.com",), autodiscover="autodiscover.outlook.com",
                spf_record="v=spf1 include:spf.protection.outlook.com -all",
                dkim_cnames={"selector1": MS_S1, "selector2": MS_S2})
    assert codes(ProviderRecords().evaluate(D, h)) == {"provider.records_ok": Status.PASS}


def test_mx_at_google_spf_at_microsoft_is_a_mixture_with_the_record_to_publish():
    h = hosting(mx=GOOGLE_MX, spf_includes=("spf.protection.outlook.com",), dkim_keys=("google",),
                spf_record="v=spf1 include:spf.protection.outlook.com -all")
    found = {f.code: f for f in ProviderRecords().evaluate(D, h)}
    mixed = found["provider.mixed"]
    assert mixed.status is Status.FAIL
    assert "v=spf1 include:_spf.google.com -all" in mixed.remedy
    assert "Microsoft 365" in mixed.summary and "spam" in mixed.explanation


def test_spf_without_the_providers_include():
    h = hosting(mx=GOOGLE_MX, spf_record="v=spf1 mx -all", dkim_keys=("google",))
    f = next(f for f in ProviderRecords().evaluate(D, h) if f.code == "provider.spf_include_missing")
    assert f.status is Status.FAIL
    assert 'example.com. TXT "v=spf1 mx include:_spf.google.com -all"' in f.remedy


def test_one_microsoft_selector_missing_names_the_cname_with_the_tenant():
    h = hosting(mx=MS_MX, spf_includes=("spf.protection.outlook.com",), autodiscover="autodiscover.outlook.com",
                dkim_cnames={"selector1": MS_S1})
    f = next(f for f in ProviderRecords().evaluate(D, h) if f.code == "provider.dkim_selector_missing")
    assert f.status is Status.FAIL
    assert f"selector2._domainkey.{D}. CNAME {MS_S2}." in f.remedy


def test_microsoft_autodiscover_missing_and_no_dkim():
    h = hosting(mx=MS_MX, spf_includes=("spf.protection.outlook.com",))
    found = codes(ProviderRecords().evaluate(D, h))
    assert found == {"provider.autodiscover_missing": Status.WARN, "provider.dkim_missing": Status.WARN}


def test_outlook_set_up_while_the_mx_still_points_at_google():
    h = hosting(mx=GOOGLE_MX, spf_includes=("_spf.google.com", "spf.protection.outlook.com"), dkim_keys=("google",),
                autodiscover="autodiscover.outlook.com", dkim_cnames={"selector1": MS_S1, "selector2": MS_S2})
    f = next(f for f in ProviderRecords().evaluate(D, h) if f.code == "provider.mx_elsewhere")
    assert "Microsoft 365 is set up" in f.summary and "Google Workspace" in f.summary
    assert f"{D}. MX 0 example-com.mail.protection.outlook.com." in f.remedy


def test_mx_mixing_a_provider_with_other_hosts():
    h = hosting(mx=(*GOOGLE_MX, "mx.old-host.example"), spf_includes=("_spf.google.com",), dkim_keys=("google",))
    assert codes(ProviderRecords().evaluate(D, h)).get("provider.mx_mixed") is Status.WARN


def test_gateway_in_front_of_microsoft_is_no_mixture():
    h = hosting(mx=("eu-smtp-inbound-1.mimecast.com",), spf_includes=("_netblocks.mimecast.com",
                "spf.protection.outlook.com"), autodiscover="autodiscover.outlook.com",
                dkim_cnames={"selector1": MS_S1, "selector2": MS_S2})
    found = codes(ProviderRecords().evaluate(D, h))
    assert set(found) == {"provider.records_ok"}, found


def test_no_provider_is_a_skip():
    assert codes(ProviderRecords().evaluate(D, hosting(mx=("mx.example.com",)))) == \
        {"provider.no_expectations": Status.SKIP}
    assert codes(ProviderDetect().evaluate(D, hosting())) == {"provider.unknown": Status.SKIP}


def test_bad_provider_tables_are_refused_with_a_reason():
    with pytest.raises(ProviderDataError, match="source"):
        make_provider("acme", {"name": "Acme", "sources": []})
    with pytest.raises(ProviderDataError, match="setting"):
        make_provider("acme", {"name": "Acme", "sources": ["https://x"], "settings": ["IMAP host 993"]})
    with pytest.raises(ProviderDataError, match="kind"):
        make_provider("acme", {"name": "Acme", "sources": ["https://x"], "kind": "isp"})


class _EP:
    """An entry point whose load() returns ``value`` (or raises it)."""

    def __init__(self, name, value):
        self.name, self.value, self._value = name, f"fake:{name}", value

    def load(self):
        if isinstance(self._value, Exception):
            raise self._value
        return self._value


def test_third_party_providers_come_through_the_entry_point_and_broken_ones_are_reported(tmp_path):
    toml = tmp_path / "acme.toml"
    toml.write_text('[acmemail]\nname = "Acme Mail"\nsources = ["https://acme.example/mail"]\nmx = ["mx*.acme.example"]\n')
    eps = [_EP("builtin", builtin_data), _EP("acme", str(toml)), _EP("bad", ImportError("no module acme_bad")),
           _EP("dup", {"google": {"name": "Fake Google", "sources": ["https://x"]}})]
    cat = load(lambda: eps)
    assert cat.get("acmemail") is not None and cat.get("google").name == "Google Workspace"
    assert any("'bad' failed to load" in p for p in cat.problems)
    assert any("'google' is already taken" in p for p in cat.problems)
    assert "acmemail" in [m.provider.id for m in recognise(Signals(D, mx=("mx1.acme.example",)), cat.providers)]


def test_the_builtin_data_is_registered_as_an_entry_point():
    assert "builtin" in {ep.name for ep in metadata.entry_points(group="maildoctor.providers")}


def test_the_diagnosis_names_a_mixture_as_the_cause_of_the_spam_verdicts():
    from diagnose.engine.diagnosis import diagnose
    from diagnose.engine.model import Finding

    h = hosting(mx=GOOGLE_MX, spf_includes=("spf.protection.outlook.com",), dkim_keys=("google",),
                spf_record="v=spf1 include:spf.protection.outlook.com -all")
    mixed = next(f for f in ProviderRecords().evaluate(D, h) if f.code == "provider.mixed")
    junk = Finding("roundtrip.delivery", "roundtrip.junk", D, Status.WARN, "the test message landed in Junk")
    other = Finding("tls_rpt.record", "tls_rpt.missing", D, Status.WARN, "no TLS-RPT")
    d = diagnose([mixed, junk, other], D)
    assert d.caused_by == {"f2": "f1"}, d.caused_by
    assert d.root_causes[0] == "f1" and "1 other problem follows" in d.headline, d.headline


def test_the_missing_selector_is_made_from_its_published_sibling_in_microsofts_newer_format():
    new = "selector1-example-com._domainkey.example.n-v1.dkim.mail.microsoft"
    h = hosting(mx=MS_MX, spf_includes=("spf.protection.outlook.com",), autodiscover="autodiscover.outlook.com",
                dkim_cnames={"selector1": new})
    f = next(f for f in ProviderRecords().evaluate(D, h) if f.code == "provider.dkim_selector_missing")
    assert f"selector2._domainkey.{D}. CNAME selector2-example-com._domainkey.example.n-v1.dkim.mail.microsoft." \
        in f.remedy
