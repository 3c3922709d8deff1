"""tls.revocation: the certificate each TLS port presents has not been revoked by its CA, asked the
way clients ask: OCSP first, then the CRL, answers verified against the issuing CA.

The server's own certificate gets one finding per port (``tls.revocation_*``). Each intermediate the
server sends (up to a root or a trust anchor) is asked of its own issuer the same way, at the same
time; what they show goes into the evidence (``intermediates``) and, when one is revoked or could not
be confirmed, into a second finding (``tls.revocation_intermediate_*``). OCSP stapling is not tested:
Python's ssl module cannot ask a server for a stapled response (cpython issue #88946). Every answer
that is not a verified "good" or "revoked" is reported as such, never as a pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from cryptography import x509

from checks.servercheck import ServerCheck, subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.knowledge.certs import common_name
from diagnose.knowledge.revocation import Answer
from diagnose.net.cafetch import CaRevocation, RevocationResult, ca_fetcher, enabled
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
SOURCE_NAME = {"ocsp": "OCSP", "crl": "CRL"}
UNCONFIRMED = ("stale", "unknown", "invalid", "unavailable")  # an intermediate's outcomes worth a warning


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
        "tls.revocation_intermediate_revoked": (
            "{host} sends the intermediate CA certificate \"{ca_name}\" with its own, and {issuer_name} revoked "
            "that intermediate on {revoked_at}{reason_text} ({source}). Clients that check the whole chain "
            "(Windows' certificate checks, which Outlook uses, do) refuse every certificate issued under it, "
            "so also {host}'s, whatever the server certificate's own revocation status.",
            "Get a certificate from a chain the CA still stands behind: install the CA's current intermediate "
            "(its announcement of the revocation says which replaces it) or have the certificate issued again "
            "(e.g. `certbot certonly --force-renewal -d {hostname}`), put the new chain in the server's "
            "certificate file and reload the server.",
        ),
        "tls.revocation_intermediate_unconfirmed": (
            "The revocation of the intermediate CA certificate \"{ca_name}\" that {host} sends could not be "
            "confirmed: {detail} ({url}). Clients that check the whole chain treat that as no answer; strict "
            "ones refuse the certificate.",
            "This is the publication of the CA above the intermediate, not the mail server: check that {url} "
            "answers from here (`curl -sI {url}`); if it is your own CA, publish a fresh CRL there; else tell "
            "the CA. --no-revocation skips these requests.",
        ),
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
            result, intermediates = await ca_fetcher(ctx).chain(list(d.tls.chain))
        except ValueError as exc:  # a certificate cryptography cannot decode: tls.certificate says so
            return [self.skip(ep, f"the certificate cannot be decoded ({str(exc)[:100]})")]
        return self.evaluate(ep, d, result, intermediates)

    def evaluate(self, ep: Endpoint, d: Dialogue, result: RevocationResult,
                 intermediates: Sequence[CaRevocation] = ()) -> list[Finding]:
        """Pure: the findings for one endpoint from the (shared) revocation results of its certificate and
        of the intermediates it sent: the certificate's own finding, then one about the intermediates
        when one is revoked or unconfirmed."""
        assert d.tls is not None, "judge() passes only dialogues that reached TLS"
        code, status = OUTCOME_CODE[result.outcome]
        ev = {"outcome": result.outcome, "urls": result.urls, "answers": _answers(result), "stapling": STAPLING_NOTE}
        if result.issuer is not None:
            ev["issuer"] = {"source": result.issuer.source, "aia": list(result.issuer.attempts),
                            "subject": _subject(result.issuer.cert) if result.issuer.cert else ""}
        above = [_intermediate_evidence(ca) for ca in intermediates]
        ev["intermediates"] = above
        decisive, source, detail = _decisive(result)
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=d.elapsed_s, host=ep.host, hostname=ep.host, url=decisive.url if decisive
                  else "", detail=detail, source=source, **_revocation_facts(decisive))
        name = _name(d.tls.chain[0], "the certificate")
        summary = {
            "good": f"{name}: not revoked ({source}, verified answer)",
            "revoked": f"{name}: REVOKED ({source}, {kw['revoked_at'] or 'date unknown'})",
            "stale": f"revocation not confirmed: {source} answer out of date",
            "unknown": "revocation not confirmed: the OCSP responder does not know the certificate",
            "invalid": f"revocation not confirmed: {detail}",
            "unavailable": f"revocation not checked: the CA did not answer ({detail})",
            "unchecked": f"revocation not checked: {detail}",
        }[result.outcome]
        findings = [self.finding(code, status, subject(ep), summary[:300], **kw)]
        chain_finding = self._intermediates(ep, d, intermediates, above)
        return findings + ([chain_finding] if chain_finding is not None else [])

    def _intermediates(self, ep: Endpoint, d: Dialogue, intermediates: Sequence[CaRevocation],
                       evidence: list[dict]) -> Finding | None:
        """FAIL when the CA above an intermediate revoked it, WARN when one could not be confirmed (stale,
        invalid, unknown or unreachable source); None when all are good or name no source (evidence only)."""
        revoked = [ca for ca in intermediates if ca.result.outcome == "revoked"]
        unconfirmed = [ca for ca in intermediates if ca.result.outcome in UNCONFIRMED]
        if not revoked and not unconfirmed:
            return None
        shown = (revoked or unconfirmed)[0]
        decisive, source, detail = _decisive(shown.result)
        facts = _revocation_facts(decisive)
        revoked_at = facts.pop("revoked_at")
        ca_name = _name(shown.cert, "") or "(no name)"
        issuer = shown.result.issuer.cert if shown.result.issuer and shown.result.issuer.cert else None
        issuer_name = f'"{_name(issuer, "its issuer")}"' if issuer else "its issuing CA"
        kw: dict[str, Any] = dict(
            evidence={"intermediates": evidence}, duration_s=d.elapsed_s, host=ep.host, hostname=ep.host,
            ca_name=ca_name, issuer_name=issuer_name, url=decisive.url if decisive else "", detail=detail,
            source=source, revoked_at=revoked_at or "an unknown date", **facts)
        if revoked:
            summary = f"intermediate CA {ca_name}: REVOKED by {issuer_name} ({source}, {revoked_at or 'date unknown'})"
            return self.finding("tls.revocation_intermediate_revoked", Status.FAIL, subject(ep), summary[:300], **kw)
        summary = f"intermediate CA {ca_name}: revocation not confirmed ({shown.result.outcome}: {detail})"
        return self.finding("tls.revocation_intermediate_unconfirmed", Status.WARN, subject(ep), summary[:300], **kw)


def _answers(result: RevocationResult) -> list[dict[str, Any]]:
    return [{"source": a.source, "url": a.url, "outcome": a.outcome, "detail": a.detail, **a.facts}
            for a in result.answers]


def _decisive(result: RevocationResult) -> tuple[Answer | None, str, str]:
    """The answer the outcome rests on, its source's name (OCSP, CRL) and the detail to show."""
    decisive = next((a for a in result.answers if a.outcome == result.outcome), None)
    if decisive is None and result.answers:
        decisive = result.answers[-1]
    source = SOURCE_NAME.get(decisive.source, "") if decisive else ""
    detail = decisive.detail if decisive else result.detail
    if result.outcome == "unavailable" and len(result.answers) > 1:
        detail = "; ".join(f"{a.source.upper()} {a.outcome}" for a in result.answers)
    return decisive, source, detail


def _revocation_facts(decisive: Answer | None) -> dict[str, str]:
    """The template values revoked_at (to the minute) and reason_text of the deciding answer."""
    facts = decisive.facts if decisive else {}
    reason = facts.get("reason", "")
    return {"revoked_at": str(facts.get("revoked_at", ""))[:16],
            "reason_text": f" (reason: {reason})" if reason and reason != "unspecified" else ""}


def _intermediate_evidence(ca: CaRevocation) -> dict[str, Any]:
    """JSON evidence of one intermediate: subject, outcome, the deciding source and URL, when revoked the
    date and reason, the issuer it was asked of, and every answer."""
    result = ca.result
    decisive, _, detail = _decisive(result)
    out: dict[str, Any] = {"subject": _subject(ca.cert), "outcome": result.outcome,
                           "source": decisive.source if decisive else "", "url": decisive.url if decisive else "",
                           "detail": detail}
    if result.outcome == "revoked" and decisive is not None:
        out["revoked_at"] = decisive.facts.get("revoked_at", "")
        out["reason"] = decisive.facts.get("reason", "")
    if result.issuer is not None:
        out["issuer"] = {"source": result.issuer.source,
                         "subject": _subject(result.issuer.cert) if result.issuer.cert else ""}
    out["answers"] = _answers(result)
    return out


def _name(cert: x509.Certificate, default: str) -> str:
    """The certificate's subject common name, or ``default`` when cryptography cannot decode the subject
    (it parses names on first access: a server's certificate with a malformed name must not crash the check)."""
    try:
        return common_name(cert.subject)
    except ValueError:
        return default


def _subject(cert: x509.Certificate) -> str:
    """The certificate's subject as RFC 4514 text for evidence, or a placeholder when it cannot be decoded."""
    try:
        return cert.subject.rfc4514_string()[:300]
    except ValueError:
        return "(a subject that cannot be decoded)"
