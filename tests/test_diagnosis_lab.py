"""On the lab, one fault per domain: the diagnosis names the fault itself first, with what follows
from it folded under it, in the same order every run (JSON, text and the headline agree)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))

# scenario -> the code of the fault the lab injected there
ROOTS = {
    "nxdomain": "dns.nxdomain",
    "lame": "dns.lame_delegation",
    "bogus": "dnssec.bogus",
    "nodata": "mx.none",
    "nullmx": "mx.null",
    "cnamemx": "mx.cname",
    "cnameloop": "mx.cname_loop",
    "dangling": "mx.target_nxdomain",
    "ipliteral": "mx.ip_literal",
    "refused": "tcp.refused",
    "filtered": "tcp.timeout",
    "slowgreet": "smtp.greeting_timeout",
    "certexpired": "tls.cert_expired",
    "certexpiring": "tls.cert_expiring",
    "certwrongname": "tls.cert_name_mismatch",
    "certselfsigned": "tls.cert_self_signed",
    "certnochain": "tls.cert_chain_incomplete",
    "nostarttls": "tls.no_starttls",
    "stscert": "tls.cert_name_mismatch",
    "spfpassall": "spf.pass_all",
    "spfloop": "spf.loop",
    "dmarcnone": "dmarc.p_none",
    "blocked25": "smtp.port25_blocked_here",
}


def check(lab, scenario: str, fmt: str = "json") -> str:
    proc = subprocess.run([MAILDOCTOR, "check", lab.domain(scenario), "--nameserver", lab.resolver, "--ca-file",
                           str(lab.ca_file), "--timeout", "2", "--format", fmt],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode in (1, 2, 3), proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def reports(lab):
    with ThreadPoolExecutor(4) as pool:
        outputs = pool.map(lambda s: json.loads(check(lab, s)), ROOTS)
    return dict(zip(ROOTS, outputs, strict=True))


@pytest.mark.parametrize("scenario", ROOTS)
def test_the_fault_itself_comes_first(reports, scenario):
    report = reports[scenario]
    by_id = {f["id"]: f for f in report["findings"]}
    root = by_id[report["diagnosis"]["root_causes"][0]]
    assert root["code"] == ROOTS[scenario], report["diagnosis"]["headline"]
    assert root["summary"].rstrip(".") in report["diagnosis"]["headline"]


def test_bogus_dnssec_folds_the_failed_lookups_under_it(reports):
    report = reports["bogus"]
    root = report["diagnosis"]["root_causes"][0]
    folded = [f for f in report["findings"] if f["caused_by"] == root]
    assert len(folded) >= 5 and len(report["diagnosis"]["root_causes"]) == 1
    assert "other problems follow from this" in report["diagnosis"]["headline"]


def test_the_order_is_the_same_every_run(lab, reports):
    for _ in range(4):
        again = json.loads(check(lab, "bogus"))
        assert again["diagnosis"] == reports["bogus"]["diagnosis"]


def test_the_text_report_leads_with_the_same_root_cause(lab):
    text = check(lab, "cnameloop", "text")
    fix = text[text.index("What to fix"):]
    assert text.splitlines()[1].startswith("Mail to cnameloop.")
    first = " ".join(" ".join(fix.splitlines()[1:3]).split())  # the first problem, unwrapped
    assert first.split()[2] == "mx.records" and "is a CNAME loop" in first
