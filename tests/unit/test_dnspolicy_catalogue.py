"""Every finding code the DNS policy checks can emit has its explanation and remedy."""

import inspect
import re

import pytest

from checks import autoconfig, dkim, dmarc, dnsbl, dnssec, mta_sts, ptr, tls_rpt
from checks.dane import records as dane_records
from checks.spf import check as spf

CHECKS = [spf.SpfCheck, dmarc.DmarcCheck, dkim.DkimCheck, mta_sts.MtaSts, tls_rpt.TlsRpt, ptr.PtrFcrdns,
          dnssec.Dnssec, dane_records.DaneRecords, dnsbl.Dnsbl, autoconfig.Autoconfig]
# codes that only ever say "fine" or "not used": their summary is the whole message
QUIET = {"spf.record", "dmarc.policy", "dkim.key", "mta_sts.policy", "mta_sts.none", "tls_rpt.record", "tls_rpt.none",
         "ptr.ok", "dnssec.no_domain", "dane.records_ok", "dane.records_none", "dnsbl.clean", "autoconfig.found",
         "autoconfig.none"}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_emitted_code_has_texts(check):
    source = inspect.getsource(inspect.getmodule(check))
    prefix = check.id.split(".")[0]
    emitted = set(re.findall(rf'"({re.escape(prefix)}\.[a-z_]+)"', source)) - ({check.id} - set(check.texts))
    assert emitted, check.id
    missing = emitted - set(check.texts)
    assert not missing, f"{check.id}: codes without texts: {missing}"
    for code, (explanation, remedy) in check.texts.items():
        if code not in QUIET:
            assert explanation and remedy or code == "dnssec.validated", f"{code} needs an explanation and a remedy"
