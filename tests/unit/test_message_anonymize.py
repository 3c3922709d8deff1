"""`maildoctor message --anonymize`: no address, host name or IP address of the message survives in any
report format; the stand-ins are consistent (the same name always the same stand-in)."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest

from diagnose.app.message import run_message
from diagnose.knowledge.headers import identifying_names
from diagnose.knowledge.redact import Pseudonyms

DATA = Path(__file__).resolve().parents[1] / "data" / "bounces"
DELIVERED = b"""\
Return-Path: <ann.lee@corp-sender.org>
Delivered-To: bob.ray@receiver-mail.net
Received: from mx2.receiver-mail.net by store7.receiver-mail.net with LMTP id 7; Thu, 3 Dec 2026 10:20:05 +0000
Authentication-Results: mx2.receiver-mail.net; dkim=pass header.d=corp-sender.org header.s=s2026;
 spf=pass smtp.mailfrom=ann.lee@corp-sender.org
X-Forefront-Antispam-Report: CIP:198.51.100.23;CTRY:DE;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;H:out3.corp-sender.org;
 PTR:out3.corp-sender.org;CAT:SPM;DIR:INB;
Received: from out3.corp-sender.org (out3.corp-sender.org [198.51.100.23]) (using TLSv1.3)
 by mx2.receiver-mail.net (Postfix) with ESMTPS id 9; Thu, 3 Dec 2026 10:20:04 +0000
Received: from ann-laptop.corp-sender.org ([2001:db8:77::15]) by out3.corp-sender.org with ESMTPSA id 8;
 Thu, 3 Dec 2026 10:02:00 +0000
DKIM-Signature: v=1; a=rsa-sha256; d=corp-sender.org; s=s2026; h=from:to; bh=x; b=y
From: Ann Lee <ann.lee@corp-sender.org>
To: Bob Ray <bob.ray@receiver-mail.net>
Cc: carol@third-party.io
Subject: Invoice for bob.ray@receiver-mail.net
Message-ID: <abc123@out3.corp-sender.org>

Hello Bob, see https://portal.corp-sender.org/x and write to support@corp-sender.org.
"""


def _originals(data: bytes) -> set[str]:
    msg = message_from_bytes(data, policy=compat32)
    names = {n.lower().strip("<>[]") for n in identifying_names(msg)}
    text = data.decode("utf-8", "replace")
    names |= {m.lower() for m in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)}
    names |= set(re.findall(r"\b(?:\d{1,3}\.){3}\d{1,3}\b", text))
    return {n for n in names if "." in n or ":" in n}


@pytest.mark.parametrize("source", ["delivered", "postfix-lab-user-unknown.eml", "gmail-dmarc-unauthenticated.eml",
                                    "m365-recipient-not-found.eml", "exim-plaintext.eml"])
@pytest.mark.parametrize("fmt", ["text", "json", "html", "markdown"])
def test_no_address_or_host_name_survives(source, fmt, tmp_path):
    if source == "delivered":
        path = tmp_path / "delivered.eml"
        path.write_bytes(DELIVERED)
    else:
        path = DATA / source
    originals = _originals(path.read_bytes())
    assert len(originals) >= 3, originals  # the test means something only if the message names someone
    out = tmp_path / f"report.{fmt}"
    run_message(str(path), fmt, out, anonymize=True)
    report = out.read_text().lower()
    survivors = sorted(n for n in originals if n in report)
    assert not survivors, survivors
    # and without --anonymize they are there: the check above is not vacuous
    plain = tmp_path / f"plain.{fmt}"
    run_message(str(path), fmt, plain)
    assert any(n in plain.read_text().lower() for n in originals)


def test_stand_ins_are_consistent_and_the_machine_is_not_named(tmp_path):
    path = tmp_path / "delivered.eml"
    path.write_bytes(DELIVERED)
    out = tmp_path / "report.json"
    run_message(str(path), "json", out, anonymize=True)
    rep = json.loads(out.read_text())
    assert rep["meta"]["anonymized"] is True and "host" not in rep["meta"]
    hops = next(f for f in rep["findings"] if f["code"] == "message.hops")["evidence"]["hops"]
    # out3.corp-sender.org receives hop 1 and sends hop 2: one stand-in for both
    assert hops[0]["by"] == hops[1]["from"].split()[0], hops
    spam = next(f for f in rep["findings"] if f["code"] == "message.spam_flagged")
    assert "192.0.2." in json.dumps(spam["evidence"]["fields"])  # CIP:198.51.100.23 -> a documentation address


def test_pseudonyms_keep_times_versions_and_check_names():
    names = Pseudonyms()
    names.add("mx.example-corp.org")
    text = "at 10:20:04 over TLSv1.3 see spf.record and dkim.keys; mx.example-corp.org and relay.example-corp.org"
    assert names.apply(text) == ("at 10:20:04 over TLSv1.3 see spf.record and dkim.keys; host1.example and "
                                 "host2.example")
