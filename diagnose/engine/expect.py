"""Expected facts from a config profile (``expect.mx``, ``expect.cert_min_days``), judged as findings.

A post-processing step: after the diagnosis, ``evaluate(expect, findings)`` compares what the checks
found with what the profile says must be true, and adds ``expect.*`` findings (so CI fails when the
MX moved or a certificate is about to expire, even if it is still valid today).
"""

from __future__ import annotations

from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check


class Expectations(Check):
    """Not a plugin (it runs after the others, on their findings): a Check only for ``finding`` and texts."""

    id = "expect"
    title = "Facts the config profile expects"
    side = Side.BOTH
    texts = {
        "expect.mx": ("", ""),
        "expect.cert_days": ("", ""),
        "expect.mx_differs": (
            "The profile expects the MX records of {domain} to be {expected}, but DNS lists {actual}. "
            "Mail now goes to servers the profile does not know about (or misses servers it should reach): "
            "a DNS change, a migration half done, or a hijacked zone.",
            "If the change was intended, update `expect.mx` in {config}. If not, restore the MX records at "
            "your DNS provider, e.g. `{domain}. 3600 IN MX 10 {first}.`.",
        ),
        "expect.mx_unknown": (
            "The profile expects MX records ({expected}), but this run did not learn the MX records of "
            "{domain} (the mx checks did not run or could not look them up), so it cannot tell.",
            "Run the mx checks too (do not --skip mx) and fix the DNS problem reported for {domain} first.",
        ),
        "expect.cert_days_low": (
            "The certificate of {endpoint} expires in {days} days; the profile requires at least {minimum}. "
            "It is still valid, but when it expires clients and servers refuse the connection.",
            "Renew the certificate now (for Let's Encrypt: `certbot renew`, then reload the mail server, "
            "e.g. `systemctl reload postfix dovecot`), and check that automatic renewal runs.",
        ),
        "expect.cert_unknown": (
            "The profile expects certificates with at least {minimum} days left, but no certificate was "
            "examined in this run (no TLS server answered, or the tls checks did not run).",
            "Run the tls checks too and make sure the servers can be reached; see the other findings.",
        ),
    }


_CHECK = Expectations()


def evaluate(
    expect: dict[str, Any], findings: list[Finding], *, domain: str, config: str = "the config file"
) -> list[Finding]:
    """Pure: the expect.* findings for ``expect`` given the diagnosis' findings."""
    out: list[Finding] = []
    if "mx" in expect:
        out.append(_mx(tuple(expect["mx"]), findings, domain, config))
    if "cert_min_days" in expect:
        out += _cert_days(int(expect["cert_min_days"]), findings, domain)
    return out


def _norm(name: str) -> str:
    return str(name).strip().rstrip(".").lower()


def mx_names(findings: list[Finding]) -> list[str] | None:
    """The MX host names the mx.records check saw, or None when it did not see any."""
    for f in findings:
        if f.check == "mx.records" and f.code == "mx.records" and isinstance(f.evidence.get("mx"), list):
            return [_norm(m.get("exchange", "")) for m in f.evidence["mx"] if isinstance(m, dict)]
    return None


def _mx(expected: tuple[str, ...], findings: list[Finding], domain: str, config: str) -> Finding:
    want = sorted({_norm(n) for n in expected})
    shown = ", ".join(want)
    actual = mx_names(findings)
    if actual is None:
        return _CHECK.finding("expect.mx_unknown", Status.SKIP, domain, "MX not checked: the MX records are unknown",
                              evidence={"expected": want}, domain=domain, expected=shown)
    got = sorted(set(actual))
    ev = {
        "expected": want,
        "actual": got,
        "missing": sorted(set(want) - set(got)),
        "unexpected": sorted(set(got) - set(want)),
    }
    if got == want:
        return _CHECK.finding("expect.mx", Status.PASS, domain, f"MX records as expected: {shown}", evidence=ev)
    return _CHECK.finding(
        "expect.mx_differs",
        Status.FAIL,
        domain,
        f"MX records are {', '.join(got) or 'none'}, expected {shown}",
        evidence=ev,
        domain=domain,
        expected=shown,
        actual=", ".join(got) or "nothing",
        config=config,
        first=want[0] if want else "mx1." + domain,
    )


def _cert_days(minimum: int, findings: list[Finding], domain: str) -> list[Finding]:
    seen: dict[str, int] = {}
    for f in findings:
        days = f.evidence.get("days_left") if isinstance(f.evidence, dict) else None
        if f.check.startswith("tls.cert") and isinstance(days, int) and not isinstance(days, bool):
            seen[f.subject] = min(days, seen.get(f.subject, days))
    if not seen:
        return [
            _CHECK.finding(
                "expect.cert_unknown",
                Status.SKIP,
                domain,
                "certificate lifetime not checked: no certificate seen",
                evidence={"minimum_days": minimum},
                minimum=minimum,
            )
        ]
    out = []
    for subject, days in sorted(seen.items()):
        ev = {"days_left": days, "minimum_days": minimum}
        if days >= minimum:
            out.append(
                _CHECK.finding(
                    "expect.cert_days",
                    Status.PASS,
                    subject,
                    f"{days} days left (at least {minimum} expected)",
                    evidence=ev,
                )
            )
        else:
            out.append(_CHECK.finding("expect.cert_days_low", Status.FAIL, subject,
                                      f"certificate expires in {days} days, the profile requires {minimum}",
                                      evidence=ev, endpoint=subject, days=days, minimum=minimum))
    return out
