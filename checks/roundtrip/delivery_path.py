"""roundtrip.path: what the receiver saw of the round-trip message: its hops, their TLS, SPF/DKIM/DMARC.

Reads the header of the copy the round trip delivered (fact ``roundtrip.copy``): the Received
headers give the path and whether each hop was encrypted; the receiver's Authentication-Results
give its SPF, DKIM and DMARC verdicts; DKIM-Signature names the selector actually used to sign,
which a DNS-only check can only guess; each signature is verified with dkimpy, on the key fetched
through the run's resolver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from diagnose.engine.facts import ROUNDTRIP_COPY, DeliveredCopy
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.resolver import Outcome

BAD = {"fail", "softfail", "permerror", "temperror", "policy", "neutral"}


class DeliveryPath(Check):
    id = "roundtrip.path"
    title = "What the receiver saw of the test message"
    side = Side.BOTH
    services = ("submission", "imap", "pop3")
    needs = (ROUNDTRIP_COPY,)
    texts = {
        "roundtrip.hops": ("", ""),
        "roundtrip.hop_plaintext": (
            "The test message travelled {plain} without encryption (the Received header shows the protocol "
            "{protocols} and no TLS). Anyone on that network path could read or change mail on the way.",
            "Turn on TLS for that hop: for Postfix sending to another server `smtp_tls_security_level = may` "
            "(or `encrypt`/`dane`), for a mail program connecting to submission use port 465 or STARTTLS on 587.",
        ),
        "roundtrip.auth_ok": ("", ""),
        "roundtrip.auth_none": (
            "The receiving server added no Authentication-Results header to the copy, so its SPF, DKIM and "
            "DMARC verdicts are unknown (many servers record them only for mail from other domains).",
            "Nothing to fix for this test. To see the verdicts, send a round trip to a mailbox at a large "
            "provider with --to and its credentials.",
        ),
        "roundtrip.auth_failed": (
            "The receiver's verdicts on the test message were: {verdicts}. A failing SPF, DKIM or DMARC result "
            "sends mail to spam or gets it refused at other receivers.",
            "Fix the failing one: SPF must list the server that sent ({spf_hint}); DKIM needs the signing "
            "service on and its public key at <selector>._domainkey.{domain}; DMARC passes when SPF or DKIM "
            "passes for the From domain. See the spf.record, dkim.keys and dmarc.record findings.",
        ),
        "roundtrip.dkim_signed": ("", ""),
        "roundtrip.dkim_invalid": (
            "The copy is DKIM-signed by {signers}, but the signature does not verify: {reasons}. Receivers "
            "treat a broken signature like none at all, so DMARC can pass only through SPF.",
            "If the key is missing, publish the public key of selector {selector} as a TXT record at "
            "{key_name} (the signing service prints it, e.g. `opendkim-genkey -s {selector} -d {domain}`). "
            "If the key is there, something changes the message after signing (a footer, a rewriting "
            "gateway): sign last, after every filter.",
        ),
        "roundtrip.dkim_unsigned": (
            "The copy carries no DKIM-Signature: the outgoing server does not sign mail from {domain}. "
            "Receivers cannot tie the mail to the domain, DMARC can pass only through SPF, and forwarded "
            "mail then fails DMARC.",
            "Turn on DKIM signing for {domain} on the outgoing server (e.g. OpenDKIM or rspamd's "
            "dkim_signing for Postfix) and publish its key as a TXT record at <selector>._domainkey.{domain}.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        copy: DeliveredCopy = await ctx.fact(ROUNDTRIP_COPY)
        # the header and DKIM parsers only when there is a copy (a run without --roundtrip skips above)
        from diagnose.knowledge.dkimverify import key_name, key_record
        from diagnose.knowledge.headers import parse_header_block, signatures

        keys: dict[str, bytes | None] = {}
        for sig in signatures(parse_header_block(copy.message))[:5]:
            name = key_name(sig)
            if name not in keys and sig.selector and sig.domain:
                answer = await ctx.dns.query(name, "TXT")
                keys[name] = key_record(answer) if answer.outcome is Outcome.ANSWER else None
        for finding in self.evaluate(copy, ctx.target.domain, keys):
            yield finding

    def evaluate(self, copy: DeliveredCopy, domain: str, keys: dict[str, bytes | None] | None = None) -> list[Finding]:
        """Pure: findings from the delivered copy and the DKIM keys found in DNS (key name -> TXT data)."""
        from diagnose.knowledge.dkimverify import key_name, verify_all
        from diagnose.knowledge.headers import auth_results, hops, parse_header_block

        msg = parse_header_block(copy.message)
        path = hops(msg)
        subject = copy.recipient
        listed = [{"from": h.from_host, "by": h.by, "with": h.protocol, "tls": h.tls or "none", "date": h.date}
                  for h in path]
        shown = (
            " → ".join(f"{h.by or '?'} ({h.protocol or '?'}, {_tls_word(h)})" for h in path) or "no Received headers"
        )
        plain = [h for h in path if h.encrypted is False]
        out = []
        ev = {"hops": listed, "received": [h.raw for h in path]}
        if plain:
            out.append(self.finding("roundtrip.hop_plaintext", Status.WARN, subject,
                                    f"{len(plain)} of {len(path)} hops without TLS: {shown}", evidence=ev,
                                    plain=", ".join(f"from {h.from_host} to {h.by}" for h in plain),
                                    protocols=", ".join(sorted({h.protocol or '?' for h in plain}))))
        else:
            out.append(self.finding("roundtrip.hops", Status.PASS, subject, f"{len(path)} hops: {shown}", evidence=ev))
        verdicts = auth_results(msg)
        vev = {"verdicts": [{"method": v.method, "result": v.result, **v.properties} for v in verdicts],
               "authserv": sorted({v.authserv for v in verdicts})}
        core = [v for v in verdicts if v.method in ("spf", "dkim", "dmarc")]
        words = ", ".join(f"{v.method}={v.result}" for v in core)
        if not core:
            out.append(self.finding("roundtrip.auth_none", Status.SKIP, subject,
                                    "not known: the receiver recorded no SPF/DKIM/DMARC verdicts", evidence=vev))
        elif any(v.result in BAD for v in core):
            spf = next((v.properties.get("smtp.mailfrom", "") for v in core if v.method == "spf"), "")
            out.append(self.finding("roundtrip.auth_failed", Status.WARN, subject, f"receiver's verdicts: {words}",
                                    evidence=vev, verdicts=words, domain=domain, spf_hint=spf or "see the spf finding"))
        else:
            out.append(
                self.finding("roundtrip.auth_ok", Status.PASS, subject, f"receiver's verdicts: {words}", evidence=vev)
            )
        results = verify_all(copy.message, keys or {})
        if results:
            ev = {"signatures": [{**r.signature.__dict__, "valid": r.valid, "reason": r.reason, "key": r.key_name}
                                 for r in results]}
            good = [r for r in results if r.valid]
            if good:
                listed_sigs = ", ".join(f"d={r.signature.domain} s={r.signature.selector}" for r in good)
                out.append(
                    self.finding(
                        "roundtrip.dkim_signed",
                        Status.PASS,
                        subject,
                        f"DKIM signature verifies: {listed_sigs} (selector in use: {good[0].signature.selector})",
                        evidence=ev,
                    )
                )
            else:
                first = results[0].signature
                out.append(
                    self.finding(
                        "roundtrip.dkim_invalid",
                        Status.WARN,
                        subject,
                        "DKIM signature does not verify: "
                        + "; ".join(f"d={r.signature.domain} s={r.signature.selector}: {r.reason}" for r in results),
                        evidence=ev,
                        signers=", ".join(f"d={r.signature.domain} s={r.signature.selector}" for r in results),
                        reasons="; ".join(r.reason for r in results),
                        selector=first.selector,
                        domain=first.domain,
                        key_name=key_name(first),
                    )
                )
        else:
            out.append(
                self.finding(
                    "roundtrip.dkim_unsigned",
                    Status.WARN,
                    subject,
                    "no DKIM signature on the delivered copy",
                    domain=copy.recipient.rpartition("@")[2] or domain,
                )
            )
        return out


def _tls_word(h) -> str:
    return {"local": "local", "": "no TLS"}.get(h.tls, h.tls)
