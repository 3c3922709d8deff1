"""tls.certificate: the certificate each TLS port presents is trusted, for the right name, in date,
complete (intermediate sent) and not weak. Judged by diagnose.knowledge.certs on the chain the shared
dialogue captured; the trust store is the system's plus --ca-file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from checks.servercheck import ServerCheck, subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.knowledge.certs import (
    Verdicts,
    common_name,
    evaluate_certificate,
    fingerprint,
    hostname_matches,
    san_names,
)
from diagnose.net.cafetch import IssuerLookup, ca_fetcher, enabled
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import NoSniResult, probes
from diagnose.net.tls import trust_store

DEFAULT_WARN_DAYS = 14
MX_NOTE = ("Most sending servers still deliver over port 25 without checking the certificate, but "
           "senders that enforce MTA-STS or DANE, and many providers' policies, will not.")
CLIENT_NOTE = "Mail programs refuse the connection or show a security warning to the user."


def warn_days(ctx: CheckContext) -> int:
    value = getattr(ctx.options, "cert_warn_days", None)
    return int(value) if value is not None else DEFAULT_WARN_DAYS


class Certificate(ServerCheck):
    id = "tls.certificate"
    title = "Certificates are valid, trusted and for the right name"
    side = Side.BOTH
    services = ("smtp", "submission", "imap", "pop3")
    texts = {
        "tls.cert_ok": ("", ""),
        "tls.cert_none": (
            "{host} completed TLS without sending a certificate. {impact}",
            "Configure a certificate for {host}.",
        ),
        "tls.cert_malformed": (
            "The certificate {host} sent breaks the X.509 encoding rules ({detail}), e.g. a name that is "
            "not valid text, so it cannot be checked and strict clients refuse it. {impact}",
            "Re-issue the certificate with a standard tool (certbot, your CA's portal, `openssl req`), "
            "install it and reload the server; `openssl x509 -noout -text -in cert.pem` must show it cleanly.",
        ),
        "tls.cert_sni_differs": (
            "With the name {host} sent as SNI the server presents the right certificate, but without SNI it "
            "presents one for {names}. Many sending servers send no SNI on port 25 (Postfix and Exim by "
            "default), so they see the wrong name: senders that check it (MTA-STS, DANE, strict policies) "
            "refuse to deliver.",
            "Make the certificate for {host} the server's default, not only the SNI choice: in Postfix the "
            "main `smtpd_tls_chain_files` (or cert/key files) of this listener, with other names in "
            "`tls_server_sni_maps`; in Dovecot the top-level `ssl_cert`/`ssl_key` rather than a `local_name` block.",
        ),
        "tls.cert_expired": (
            "The certificate of {host} expired on {not_after}. {impact}",
            "Renew the certificate and reload the server (e.g. `certbot renew`, then `postfix reload` / "
            "`doveadm reload`); make sure renewal runs automatically and the server is reloaded after it.",
        ),
        "tls.cert_not_yet_valid": (
            "The certificate of {host} is not valid before {not_before}: either it was issued with a "
            "future date or the server's clock is wrong. {impact}",
            "Check the server's clock (`timedatectl`), and re-issue the certificate if its start date is wrong.",
        ),
        "tls.cert_expiring": (
            "The certificate of {host} expires in {days_left} days ({not_after}). When it expires, {impact_lower}",
            "Renew it now (e.g. `certbot renew`) and check that automatic renewal works and reloads the "
            "server; maildoctor warns {warn_days} days ahead (--cert-warn-days).",
        ),
        "tls.cert_name_mismatch": (
            "The certificate presented on {host} is for {names}, not for {hostname}, the name clients "
            "connect to. {impact}",
            "Get a certificate that includes {hostname} (e.g. `certbot certonly -d {hostname}`), or "
            "point clients and DNS at a name the certificate covers.",
        ),
        "tls.cert_self_signed": (
            "The certificate of {host} is self-signed: no certificate authority vouches for it, so "
            "clients cannot tell it from an attacker's. {impact}",
            "Use a certificate from a public CA (free: Let's Encrypt, `certbot certonly -d {hostname}`). "
            "For a private test server, clients must import this exact certificate.",
        ),
        "tls.cert_chain_incomplete": (
            'The server does not send the intermediate certificate of "{issuer}" with its own. Some '
            "clients will fail while others succeed: those that happen to have the intermediate "
            "cached or fetch it themselves work, most mail programs and servers do not.",
            "Configure the full chain: the server's certificate followed by the intermediate(s), e.g. "
            "`fullchain.pem` from certbot (Postfix `smtpd_tls_chain_files` or `smtpd_tls_cert_file`, "
            "Dovecot `ssl_cert = </etc/letsencrypt/live/{hostname}/fullchain.pem`).",
        ),
        "tls.cert_untrusted": (
            'The certificate of {host} was issued by "{issuer}", which is not a trusted certificate '
            "authority here ({why}). {impact}",
            "Use a certificate from a public CA (e.g. Let's Encrypt). If this is your own private CA, "
            "run maildoctor with --ca-file your-ca.pem to trust it.",
        ),
        "tls.cert_weak_key": (
            "The certificate of {host} has a weak key ({key}). Current clients reject keys under 2048 "
            "bits (RSA) or 256 bits (EC).",
            "Issue a new certificate with an RSA 2048+ or EC P-256 key (certbot's default is fine).",
        ),
        "tls.cert_weak_signature": (
            "{cert} is signed with {algorithm}, which is broken; clients reject such certificates.",
            "Re-issue the certificate (and chain) with SHA-256 signatures.",
        ),
    }

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        if d.tls is None:
            return [self.skip(ep, "no TLS session (see tls.handshake)")]
        store = trust_store(ctx.options.ca_file)
        aia = await aia_issuer(ctx, list(d.tls.chain))
        extra = [aia.cert] if aia is not None and aia.cert is not None else []
        findings = self.evaluate(ep, d, dt.datetime.now(dt.UTC), warn_days(ctx), store.anchors,
                                 [*store.intermediates, *extra], store.sources, aia=aia,
                                 verdicts=probes(ctx).verdicts)
        if ep.role == "mx":  # clients of 587/993/... send SNI; many sending MTAs do not
            findings += self.evaluate_no_sni(ep, d, await probes(ctx).no_sni(ep))
        return findings

    def evaluate_no_sni(self, ep: Endpoint, d: Dialogue, no_sni: NoSniResult) -> list[Finding]:
        """Pure: a warning when a client without SNI gets a certificate not valid for the host."""
        if not no_sni.tested or not no_sni.chain or not d.tls or not d.tls.chain:
            return []
        plain, with_sni = no_sni.chain[0], d.tls.chain[0]
        try:
            if fingerprint(plain) == fingerprint(with_sni) or hostname_matches(plain, ep.host):
                return []
            names = ", ".join(san_names(plain)[0] + san_names(plain)[1]) or common_name(plain.subject)
        except ValueError:
            return []
        ev = {"with_sni": fingerprint(with_sni), "without_sni": fingerprint(plain), "without_sni_names": names,
              "without_sni_subject": plain.subject.rfc4514_string()}
        return [self.finding("tls.cert_sni_differs", Status.WARN, subject(ep),
                             f"without SNI the server presents a certificate for {names}",
                             evidence=ev, host=ep.host, names=names)]

    def evaluate(self, ep: Endpoint, d: Dialogue, now: dt.datetime, warn: int, anchors, intermediates,
                 sources=(), aia: IssuerLookup | None = None, verdicts: Verdicts | None = None) -> list[Finding]:
        """Pure: certificate findings for one endpoint's TLS session (``aia``: the issuer downloaded
        from the leaf's AIA URL when the server did not send it; already among ``intermediates``;
        ``verdicts``: the run's remembered judgements, for a chain served on several ports)."""
        assert d.tls is not None, "judge() passes only dialogues that reached TLS"
        impact = MX_NOTE if ep.role == "mx" else CLIENT_NOTE
        judge = verdicts.evaluate if verdicts is not None else evaluate_certificate
        try:
            verdict = judge(list(d.tls.chain), ep.host, now, warn, anchors=list(anchors),
                            intermediates=list(intermediates))
        except ValueError as exc:  # cryptography parses names/extensions lazily: e.g. invalid UTF-8 in a name
            detail = str(exc)[:200]
            return [self.finding("tls.cert_malformed", Status.FAIL, subject(ep), "the certificate cannot be decoded",
                                 evidence={"error": detail, "tls_version": d.tls.version}, duration_s=d.elapsed_s,
                                 host=ep.host, detail=detail, impact=impact)]
        ev = {**verdict.evidence, "trust_store": list(sources), "tls_version": d.tls.version}
        if aia is not None:  # the missing intermediate, fetched as some clients would (AIA 'CA Issuers')
            ev["aia_issuer"] = {"found": aia.cert is not None, "attempts": list(aia.attempts),
                                "subject": aia.cert.subject.rfc4514_string() if aia.cert is not None else ""}
        base: dict[str, Any]  # keywords of self.finding
        base = dict(evidence=ev, duration_s=d.elapsed_s, host=ep.host, impact=impact,
                    impact_lower=impact[0].lower() + impact[1:])
        s = subject(ep)
        if not verdict.issues:
            return [
                self.finding(
                    "tls.cert_ok",
                    Status.PASS,
                    s,
                    f"valid for {ep.host} until {ev['not_after'][:10]} ({ev['days_left']} days left)",
                    **base,
                )
            ]
        return [self.finding(i.code, i.status, s, i.summary, **{**i.facts, **base}) for i in verdict.issues]


async def aia_issuer(ctx: CheckContext, chain: list) -> IssuerLookup | None:
    """The leaf's issuer from its AIA URL, only when neither the server nor the trust store has it
    (and not with --no-revocation); None when not fetched."""
    try:
        if not chain or not enabled(ctx):
            return None
        found = await ca_fetcher(ctx).issuer(chain[0], chain[1:])  # the run's answer for this chain
    except ValueError:  # undecodable certificate: evaluate reports tls.cert_malformed
        return None
    return None if found.source in ("sent", "trust store") else found
