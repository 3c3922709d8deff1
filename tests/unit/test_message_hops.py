"""The hops of `maildoctor message`: delays in UTC, the slowest hop named, clock skew (between hops and
against the Date header), and the HTML hop timeline drawn with the waterfall (server text escaped)."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

from diagnose.app.message import run_message
from diagnose.app.message_headers import header_findings
from diagnose.engine.model import Status

HOPS = b"""\
Received: from mx.receiver.example by store.receiver.example with LMTP; Thu, 3 Dec 2026 12:45:10 +0100
Received: from relay.sender.example (relay.sender.example [192.0.2.7]) (using TLSv1.3)
 by mx.receiver.example with ESMTPS id B; Thu, 3 Dec 2026 12:45:05 +0100
Received: from laptop ([198.51.100.2]) by relay.sender.example with ESMTPSA id A; Thu, 3 Dec 2026 06:00:00 -0500
Date: Thu, 3 Dec 2026 10:59:58 +0000
From: ann@sender.example

"""


def _found(data: bytes) -> dict:
    return {f.code: f for f in header_findings(message_from_bytes(data, policy=compat32))}


def test_delays_are_in_utc_and_the_slowest_hop_is_named():
    found = _found(HOPS)
    hops = found["message.hops"]
    rows = hops.evidence["hops"]
    assert [r["time_utc"] for r in rows] == ["2026-12-03T11:00:00+00:00", "2026-12-03T11:45:05+00:00",
                                              "2026-12-03T11:45:10+00:00"]
    assert [r["delay_s"] for r in rows] == [None, 2705.0, 5.0]
    assert hops.evidence["transit_s"] == 2710.0 and hops.evidence["slowest_hop"] == 2
    assert "in 45 min; the slowest: hop 2 (mx.receiver.example) 45 min" in hops.summary
    slow = found["message.hop_slow"]
    assert slow.status is Status.WARN and slow.evidence["hop"] == 2
    assert "message.clock_skew" not in found  # the Date is 2 s before the first stamp: no skew


def test_a_sender_clock_ahead_of_the_first_server_is_called_out():
    ahead = HOPS.replace(b"Date: Thu, 3 Dec 2026 10:59:58 +0000", b"Date: Thu, 3 Dec 2026 11:30:00 +0000")
    skew = _found(ahead)["message.clock_skew"]
    assert skew.subject == "Date header" and "30 min later" in skew.summary and skew.evidence["hop"] == 0


def test_a_hop_stamped_before_the_one_before_is_clock_skew():
    back = HOPS.replace(b"12:45:10 +0100", b"12:15:10 +0100")
    skew = _found(back)["message.clock_skew"]
    assert skew.evidence["hop"] == 3 and skew.evidence["delay_s"] == -1795.0


def test_the_html_report_draws_the_hop_timeline_with_escaped_server_text(tmp_path):
    hostile = HOPS.replace(b"by mx.receiver.example with ESMTPS", b"by <script>alert(1)</script> with ESMTPS")
    path = tmp_path / "hops.eml"
    path.write_bytes(hostile)
    out = tmp_path / "report.html"
    run_message(str(path), "html", out)
    html = out.read_text()
    timeline = html[html.index("<h2>Hops</h2>"):]
    timeline = timeline[:timeline.index("</section>")]
    assert timeline.count('height="12" fill="#') >= 3 and 'aria-label="the message&#x27;s hops over time"' in timeline
    assert "2. &lt;script&gt;alert" in timeline and "<script>" not in html  # the by word, escaped
    assert "· +45 min · 2026-12-03T11:45:05Z" in timeline
    assert "<h2>Mail flow</h2>" not in html and "Where the time went" not in html
