"""tls.revocation: the certificate each TLS port presents has not been revoked by its CA, asked the
way clients ask: OCSP first, then the CRL, answers verified against the issuing CA.

Only the server's own certificate is checked (not the intermediates). OCSP stapling is not tested:
Python's ssl module cannot ask a server for a stapled response (cpython issue #88946). Every answer
that is not a verified "good" or "revoked" is reported as such, never as a pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from checks.servercheck import ServerCheck, subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.knowledge.certs import common_name
from diagnose.net.cafetch import RevocationResult, ca_fetcher, enabled
from diagnose.net.dialogue import Dialogue, Endpoint

STAPLING_NOTE = "not tested: Python's ssl module cannot request a stapled OCSP response"
OUTCOME_CODE = {
    "good": ("tls.revocation_ok", Status.PASS),
    "revoked": ("tls.revocation_revoked", Status.FAIL),
    "stale": ("tls.revocation_stale", Status.WARN),
    "unknown": ("tls.revocation_invalid", Status.WARN),
    "invalid": ("tls.revocation_invalid", Status.WARN),
    "unavailable": ("tls.revocation_unavailable", Status.WARN),
    "unchecked": ("tls.revocation_unchecked", Status.SKIP),
}


class Revocation(ServerCheck):
    id = "tls.revocation"
    title = "Certificates are not revoked (OCSP, CRL)"
    side = Side.BOTH
    services = ("smtp", "submission", "imap", "pop3")
    texts = {
        "tls.revocation_ok": ("", ""),
        "tls.revocation_revoked": (
            "The certificate of {host} was revoked by its certificate authority on {revoked_at}{reason_text} "
            "({source}). Clients that check revocation refuse it, and a revoked certificate usually means "
            "its key was exposed or it was replaced.",
            "Get a new certificate (e.g. `certbot certonly --force-renewal -d {hostname}`), install it and "
            "reload the server; if the key may have leaked, make a new key too.",
        ),
        "tls.revocation_stale": (
            "The revocation information of {host}'s certificate authority is out of date: {detail} ({url}). "
            "Clients treat that as no answer; strict ones refuse the certificate.",
            "This is the certificate authority's publication, not the mail server: if it is your own CA, "
            "publish a fresh CRL (`openssl ca -gencrl`) before the old one's next update; else tell the CA.",
        ),
        "tls.revocation_invalid": (
            "The certificate authority of {host} gave no valid revocation answer: {detail} ({url}). "
            "Clients that check revocation cannot confirm the certificate is still good.",
            "If it is your own CA, check that its OCSP responder knows every certificate it issued and signs "
            "with the CA key or a delegated OCSP-signing certificate; else tell the CA.",
        ),
        "tls.revocation_unavailable": (
            "Revocation of {host}'s certificate could not be checked: the certificate authority's server "
            "did not answer ({detail}; {url}). Most clients then carry on, strict ones refuse. It may also "
            "be this network blocking outgoing HTTP.",
            "Check that {url} answers from here (`curl -sI {url}`); if it is your own CA, start its OCSP "
            "responder or publish its CRL there. --no-revocation skips these requests.",
        ),
        "tls.revocation_unchecked": ("Revocation of {host}'s certificate was not checked: {detail}.", ""),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        if not enabled(ctx):
            yield self.finding(f"{self.id}.skipped", Status.SKIP, ctx.target.domain,
                               "revocation not checked (--no-revocation)")
            return
        async for finding in super().run(ctx):
            yield finding

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        if d.tls is None or not d.tls.chain:
            return [self.skip(ep, "no TLS session (see tls.handshake)")]
        try:
            result = await ca_fetcher(ctx).revocation(list(d.tls.chain))
        except ValueError as exc:  # a certificate cryptography cannot decode: tls.certificate says so
            return [self.skip(ep, f"the certificate cannot be decoded ({str(exc)[:100]})")]
        return self.evaluate(ep, d, result)

    def evaluate(self, ep: Endpoint, d: Dialogue, result: RevocationResult) -> list[Finding]:
        """Pure: the finding for one endpoint from the (shared) revocation result of its certificate."""
        assert d.tls is not None, "judge() passes only dialogues that reached TLS"
        code, status = OUTCOME_CODE[result.outcome]
        answers = [{"source": a.source, "url": a.url, "outcome": a.outcome, "detail": a.detail, **a.facts}
                   for a in result.answers]
        ev = {"outcome": result.outcome, "urls": result.urls, "answers": answers, "stapling": STAPLING_NOTE}
        if result.issuer is not None:
            ev["issuer"] = {"source": result.issuer.source, "aia": list(result.issuer.attempts),
                            "subject": result.issuer.cert.subject.rfc4514_string() if result.issuer.cert else ""}
        decisive = next((a for a in result.answers if a.outcome == result.outcome), None)
        if decisive is None and result.answers:
            decisive = result.answers[-1]
        facts = dict(decisive.facts) if decisive else {}
        source = {"ocsp": "OCSP", "crl": "CRL"}.get(decisive.source, "") if decisive else ""
        detail = decisive.detail if decisive else result.detail
        if result.outcome == "unavailable" and len(result.answers) > 1:
            detail = "; ".join(f"{a.source.upper()} {a.outcome}" for a in result.answers)
        reason = facts.get("reason", "")
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=d.elapsed_s, host=ep.host, hostname=ep.host, url=decisive.url if decisive
                  else "", detail=detail, source=source, revoked_at=str(facts.get("revoked_at", ""))[:16],
                  reason_text=f" (reason: {reason})" if reason and reason != "unspecified" else "")
        try:
            name = common_name(d.tls.chain[0].subject)
        except ValueError:
            name = "the certificate"
        summary = {
            "good": f"{name}: not revoked ({source}, verified answer)",
            "revoked": f"{name}: REVOKED ({source}, {kw['revoked_at'] or 'date unknown'})",
            "stale": f"revocation not confirmed: {source} answer out of date",
            "unknown": "revocation not confirmed: the OCSP responder does not know the certificate",
            "invalid": f"revocation not confirmed: {detail}",
            "unavailable": f"revocation not checked: the CA did not answer ({detail})",
            "unchecked": f"revocation not checked: {detail}",
        }[result.outcome]
        return [self.finding(code, status, subject(ep), summary[:300], **kw)]
