"""Reports built from constructed findings, for the renderer tests."""

from __future__ import annotations

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.report import Report

HOSTILE = ("\x1b[2J\x1b]0;pwned\x07<script>alert(1)</script><img src=http://evil.example/x.png> | col | "
           "`code` **bold** [link](http://evil.example) ]]> --> &amp; \x00\x0b\ud800 $x$ \u202e\nnext line")


def finding(check: str, code: str, subject: str, status: Status, summary: str = "", **kw) -> Finding:
    return Finding(check=check, code=code, subject=subject, status=status, summary=summary or f"{code} happened",
                   explanation=kw.pop("explanation", "It means something." if status is not Status.PASS else ""),
                   remedy=kw.pop("remedy", "Fix it like this." if status is not Status.PASS else ""), **kw)


def sample_report(*, banner: str = "220 mx1.example.com ESMTP", meta: dict | None = None) -> Report:
    findings = [
        finding("dns.exists", "dns.exists", "example.com", Status.PASS, "example.com is a DNS zone",
                duration_s=0.004, evidence={"query": "example.com SOA"}),
        finding("mx.records", "mx.records", "example.com", Status.PASS, "2 MX records", side=Side.INCOMING,
                duration_s=0.003, evidence={"mx": [{"preference": 10, "exchange": "mx1.example.com"},
                                                   {"preference": 20, "exchange": "mx2.example.com"}]}),
        finding("tcp.connect", "tcp.refused", "mx2.example.com [192.0.2.2]:25", Status.FAIL,
                "connection to port 25 refused", side=Side.INCOMING, host="mx2.example.com", duration_s=0.001,
                evidence={"port": 25, "address": "192.0.2.2"}),
        finding("smtp.greeting", "smtp.greeting", "mx1.example.com [192.0.2.1]:25", Status.PASS, "greeting: " + banner,
                side=Side.INCOMING, host="mx1.example.com", duration_s=0.02,
                evidence={"transcript": ["S: " + banner, "C: EHLO maildoctor.invalid", "S: 250 ok"]}),
        finding("tls.certificate", "tls.expires_soon", "smtp.example.com [192.0.2.5]:587", Status.WARN,
                "certificate expires in 9 days", side=Side.OUTGOING, host="smtp.example.com", duration_s=0.05,
                evidence={"subject": "smtp.example.com", "issuer": "Example CA", "days_left": 9,
                          "chain": ["smtp.example.com", "Example CA"], "not_after": "2026-12-06"}),
        finding("imap.greeting", "imap.skipped", "example.com", Status.SKIP, "not tested: no mailbox servers"),
        finding("auth.login", "auth.crashed", "smtp.example.com [192.0.2.5]:587", Status.ERROR,
                "the check failed internally", side=Side.OUTGOING, host="smtp.example.com"),
    ]
    return Report(
        target={"input": "example.com", "domain": "example.com", "domain_unicode": "example.com", "address": None},
        started_at="2026-11-27T03:00:00+00:00",
        duration_s=1.234,
        resolver={"nameservers": ["192.0.2.53:53"]},
        findings=findings,
        tool={"name": "maildoctor", "version": "0.1.0"},
        checks=[
            {"id": c, "title": c, "side": "both"}
            for c in ("dns.exists", "mx.records", "tcp.connect", "smtp.greeting", "tls.certificate")
        ],
        meta=meta
        if meta is not None
        else {"host": "support-laptop", "command": ["maildoctor", "check", "example.com", "--password", "hunter2"]},
    )


def hostile_report(text: str = HOSTILE) -> Report:
    """Every server- or file-supplied field carries ``text``."""
    f = Finding(check="smtp.greeting", code="smtp.greeting_bad", subject=f"{text} [192.0.2.1]:25", status=Status.FAIL,
                summary=f"greeting: {text}", explanation=f"The server said {text}", remedy=f"Ask {text}",
                evidence={"transcript": [f"S: {text}"], "banner": text, text[:20]: text}, host=text, duration_s=0.01,
                side=Side.INCOMING)
    warn = Finding(check="tls.certificate", code="tls.weird", subject=text, status=Status.WARN, summary=text,
                   evidence={"issuer": text, "subject": text, "chain": [text]}, host=text)
    return Report(target={"input": text, "domain": "example.com", "domain_unicode": text, "address": None},
                  started_at=text, duration_s=0.5, resolver={"nameservers": [text]}, findings=[f, warn],
                  tool={"name": "maildoctor", "version": text},
                  meta={"host": text, "command": ["maildoctor", "check", text, "--password", "s3cret"]})
