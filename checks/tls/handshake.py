"""tls.handshake: STARTTLS offered and working (25/587/143/110) or implicit TLS working (465/993/995);
the version and cipher; TLS 1.0/1.1 still accepted (a second, legacy-only session)."""

from __future__ import annotations

from typing import Any

from checks.servercheck import ServerCheck, not_reached, subject
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import CheckContext
from diagnose.net.dialogue import Dialogue, Endpoint
from diagnose.net.probes import LegacyResult, probes

STARTTLS_WORD = {"smtp": "STARTTLS", "imap": "STARTTLS", "pop3": "STLS"}
HOW_TO_ENABLE = {
    "smtp": "In Postfix: `smtpd_tls_cert_file`, `smtpd_tls_key_file` and `smtpd_tls_security_level = may` "
            "(port 25) or `encrypt` (587) in main.cf/master.cf, then `postfix reload`",
    "imap": "In Dovecot: `ssl = yes` (or `required`) with `ssl_cert = </path/fullchain.pem` and "
            "`ssl_key = </path/privkey.pem`, then `doveadm reload`",
    "pop3": "In Dovecot: `ssl = yes` (or `required`) with `ssl_cert = </path/fullchain.pem` and "
            "`ssl_key = </path/privkey.pem`, then `doveadm reload`",
}


class TlsHandshake(ServerCheck):
    id = "tls.handshake"
    title = "TLS works on every mail port (STARTTLS or implicit TLS)"
    side = Side.BOTH
    services = ("smtp", "submission", "imap", "pop3")
    texts = {
        "tls.ok": ("", ""),
        "tls.no_starttls": (
            "{host} does not offer {word} on port {port} (it is missing from the server's capability "
            "list). {impact}",
            "{how}. Any certificate for {host} works to start with (e.g. from Let's Encrypt).",
        ),
        "tls.starttls_refused": (
            "{host} offers {word} on port {port} but refused it: \"{words}\". Usually the server cannot "
            "load its certificate or key (missing file, wrong permissions). {impact}",
            "Check the server's log at the time of this test for the TLS error; {how}.",
        ),
        "tls.handshake_failed": (
            "The TLS handshake with {host} on port {port} failed ({phase}): {words}. Clients cannot "
            "set up encryption; {impact_short}",
            "Check the server's log for the TLS error. Common causes: a key that does not belong to "
            "the certificate, only outdated protocol versions or ciphers enabled (clients need TLS 1.2 "
            "or newer), or a plain-text service on a port that should speak TLS right away. {how}.",
        ),
        "tls.legacy_accepted": (
            "{host} still accepts {version} on port {port}. TLS 1.0 and 1.1 are deprecated (RFC 8996) "
            "and have known weaknesses; current clients no longer use them, and compliance scans flag them.",
            "Allow only TLS 1.2 and newer, e.g. Postfix `smtpd_tls_protocols = >=TLSv1.2` and "
            "`smtpd_tls_mandatory_protocols = >=TLSv1.2`; Dovecot `ssl_min_protocol = TLSv1.2`.",
        ),
        "tls.only_legacy": (
            "{host} completes TLS on port {port} only with {version}, which current clients and servers no "
            "longer offer (TLS 1.2 is the minimum since RFC 8996, 2021): {impact_short}.",
            "Enable TLS 1.2 and 1.3, e.g. Postfix `smtpd_tls_protocols = >=TLSv1.2` (and "
            "`smtpd_tls_mandatory_protocols`), Dovecot `ssl_min_protocol = TLSv1.2`; update OpenSSL and the "
            "server software if they are too old to offer TLS 1.2.",
        ),
        "tls.starttls_injection": (
            "{host} sent data after its reply to {word} and before the TLS handshake. A client that "
            "kept that data would treat plain text as if it came through TLS (the STARTTLS command "
            "injection flaw, CVE-2011-0411 and relatives).",
            "Update the mail server software to a current version.",
        ),
        "tls.inconclusive": (
            "The TLS phase of {host} port {port} could not be judged: the dialogue stopped in "
            "{phase} ({failure}: \"{words}\"). This is not a verdict that TLS is missing.",
            "Run again with a longer --timeout; see the greeting finding for this address.",
        ),
    }

    async def judge(self, ctx: CheckContext, ep: Endpoint, d: Dialogue) -> list[Finding]:
        why = not_reached(d)
        if why and d.failure_phase != "TLS handshake":
            return [self.skip(ep, why)]
        # also after a failed handshake: a server that speaks only TLS 1.0/1.1 fails with current versions
        legacy = await probes(ctx).legacy(ep) if d.tls is not None or d.failure == "tls" else None
        return self.evaluate(ep, d, legacy)

    def evaluate(self, ep: Endpoint, d: Dialogue, legacy: LegacyResult | None) -> list[Finding]:
        """Pure: TLS verdicts for one endpoint's dialogue and its legacy-version session."""
        word = STARTTLS_WORD[ep.protocol]
        verifying = ep.role != "mx"
        impact = ("Passwords and mail would cross the network unencrypted; mail programs refuse to "
                  "log in or send." if verifying else
                  "Mail from other servers arrives unencrypted, readable on the way; senders that "
                  "require TLS (MTA-STS, DANE, many providers' policies) will not deliver at all.")
        ev = {"phase": d.failure_phase or "done", "transcript": d.transcript, "starttls_offered": d.starttls_offered,
              "implicit_tls": ep.implicit_tls}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=d.elapsed_s, host=ep.host, port=ep.port, word=word, impact=impact,
                  how=HOW_TO_ENABLE[ep.protocol], phase=d.failure_phase, failure=d.failure,
                  words=d.failure_words, impact_short=impact.split(";")[0])
        s = subject(ep)
        if d.tls is None:
            if d.tls_error and d.failure == "timeout":
                return [
                    self.finding(
                        "tls.inconclusive",
                        Status.ERROR,
                        s,
                        f"TLS not judged: the handshake did not finish within the time limit ({d.failure_phase})",
                        **{**kw, "words": d.tls_error},
                    )
                ]
            if d.tls_error and legacy is not None and legacy.accepted:
                return [self.finding("tls.only_legacy", Status.FAIL, s,
                                     f"only {legacy.version} works: current clients refuse the handshake",
                                     **{**kw, "version": legacy.version})]
            if d.tls_error:
                plain = f" (the server agreed to {word}, then went on in plain text)" if d.injected else ""
                return [self.finding("tls.handshake_failed", Status.FAIL, s,
                                     f"TLS handshake failed ({d.failure_phase}): {d.tls_error}{plain}", **kw)]
            if d.starttls_reply:
                return [self.finding("tls.starttls_refused", Status.FAIL, s,
                                     f"{word} offered but refused: {d.starttls_reply[:120]}", **kw)]
            if d.failure_phase and not d.capabilities:  # stopped before we learnt the capabilities
                return [self.finding("tls.inconclusive", Status.ERROR, s,
                                     f"TLS not tested: the dialogue stopped in {d.failure_phase}", **kw)]
            return [self.finding("tls.no_starttls", Status.FAIL, s, f"no {word} offered on port {ep.port}", **kw)]
        tls = d.tls
        ev.update({"version": tls.version, "cipher": tls.cipher, "bits": tls.bits})
        if legacy is not None:
            ev["legacy"] = {"tested": legacy.tested, "accepted": legacy.accepted, "version": legacy.version,
                            "detail": legacy.detail}
        how = "implicit TLS" if ep.implicit_tls else word
        note = "TLS 1.3" if tls.version == "TLSv1.3" else f"{tls.version} (TLS 1.3 not negotiated)"
        findings = [self.finding("tls.ok", Status.PASS, s, f"{how} works: {note}, {tls.cipher}", **kw)]
        if d.injected:
            findings.append(self.finding("tls.starttls_injection", Status.WARN, s,
                                         f"data sent between the {word} reply and the handshake", **kw))
        if legacy is not None and legacy.accepted:
            findings.append(self.finding("tls.legacy_accepted", Status.WARN, s, f"still accepts {legacy.version}",
                                         version=legacy.version, **{k: v for k, v in kw.items() if k != "version"}))
        elif legacy is not None and not legacy.tested:
            ev["legacy_note"] = f"TLS 1.0/1.1 could not be tested here: {legacy.detail}"
        return findings
