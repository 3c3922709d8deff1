"""dkim.keys: the public keys receivers use to verify DKIM signatures, at <selector>._domainkey.<domain>."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from checks.provider.signals import PROVIDER_FACT, Hosting
from diagnose.engine.facts import ROUNDTRIP_COPY, DeliveredCopy, FactUnavailable
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext, Options
from diagnose.knowledge.sanitize import clean
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

# Selectors big providers and common software use; a guess, never proof that a domain lacks DKIM.
COMMON_SELECTORS = ("default", "dkim", "mail", "selector1", "selector2", "google", "k1", "s1", "s2")
RSA_FAIL_BITS = 1024  # below: receivers (Gmail, RFC 8301) reject the signature
RSA_WARN_BITS = 2048  # below: accepted, but no longer recommended


@dataclass(frozen=True)
class DkimKey:
    """What a key record says; ``problem`` is '' when the key is usable."""

    tags: dict
    key_type: str = ""  # "rsa" or "ed25519"
    bits: int = 0
    revoked: bool = False
    testing: bool = False
    problem: str = ""


def parse_dkim_key(text: str) -> DkimKey:
    """Pure: parse a DKIM key record (RFC 6376 §3.6.1, RFC 8463) and decode its public key."""
    tags: dict[str, str] = {}
    for part in text.split(";")[:50]:
        name, eq, value = part.partition("=")
        if not part.strip():
            continue
        if not eq or not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]*", name.strip()):
            return DkimKey(tags, problem=f"{part.strip()[:60]!r} is not a tag=value pair")
        tags[name.strip().lower()] = re.sub(r"\s+", "", value)
    if "v" in tags and (tags["v"] != "DKIM1" or not text.lstrip().lower().startswith("v")):
        return DkimKey(tags, problem="v= must be DKIM1 and come first")
    if "p" not in tags:
        return DkimKey(tags, problem="the p= tag (the public key) is missing")
    testing = "y" in tags.get("t", "").lower().split(":")
    key_type = tags.get("k", "rsa").lower()
    if tags["p"] == "":
        return DkimKey(tags, key_type, revoked=True, testing=testing)
    try:
        raw = base64.b64decode(tags["p"], validate=True)
    except (binascii.Error, ValueError):
        return DkimKey(tags, key_type, testing=testing, problem="p= is not valid base64")
    if key_type == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            return DkimKey(
                tags, key_type, testing=testing, problem=f"p= is not a 32-byte Ed25519 key ({len(raw)} bytes)"
            )
        return DkimKey(tags, key_type, 256, testing=testing)
    if key_type != "rsa":
        return DkimKey(tags, key_type, testing=testing, problem=f"unknown key type k={key_type[:20]}")
    key = _rsa_key(raw)
    if key is None:
        return DkimKey(tags, key_type, testing=testing, problem="p= does not hold an RSA public key")
    return DkimKey(tags, key_type, key.key_size, testing=testing)


def _rsa_key(raw: bytes) -> rsa.RSAPublicKey | None:
    try:  # SubjectPublicKeyInfo, as RFC 6376 says
        key = load_der_public_key(raw)
    except (ValueError, TypeError):
        try:  # bare PKCS#1 RSAPublicKey, which some generators publish and most verifiers accept
            pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(raw) + b"-----END RSA PUBLIC KEY-----\n"
            key = load_pem_public_key(pem)
        except (ValueError, TypeError):
            return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def looks_like_dkim(text: str) -> bool:
    return bool(re.match(r"^\s*(v\s*=\s*DKIM1|k\s*=|p\s*=)", text, re.I)) or "p=" in text.replace(" ", "")


def provider_selectors(hosting: Hosting | None) -> tuple[tuple[str, ...], str]:
    """Pure: the selectors of the providers in use (MX, autodiscover or DKIM CNAME, not an SPF include
    alone), and the names of those known to sign mail with them."""
    if hosting is None:
        return (), ""
    used = [m.provider for m in hosting.matches if m.in_use and m.provider.dkim]
    return tuple(dict.fromkeys(s for p in used for s in p.dkim)), " and ".join(p.name for p in used)


def learned_selectors(copy: DeliveredCopy | None, domain: str) -> tuple[str, ...]:
    """Pure: the selectors of the DKIM-Signatures for ``domain`` on the round trip's delivered copy."""
    if copy is None:
        return ()
    from diagnose.knowledge.headers import parse_header_block, signatures  # only with a round trip's copy

    sigs = signatures(parse_header_block(copy.message))
    return tuple(dict.fromkeys(s.selector.lower() for s in sigs
                               if s.selector and s.domain.lower().rstrip(".") == domain.lower()))


class DkimCheck(Check):
    """Selectors are tried in this order: given (--dkim-selector), learned from a DKIM-Signature of the
    round trip's copy, those of the recognised provider, then common ones. A given or learned selector
    without a key fails; a guessed one is only listed as tried."""

    id = "dkim.keys"
    title = "DKIM public keys are published and strong"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.OUTGOING
    services = ("dns",)
    needs = (PROVIDER_FACT,)  # the provider's selectors; the check still runs when provider.detect is skipped
    wants = (ROUNDTRIP_COPY,)  # selectors the round trip saw signing (only with --roundtrip)
    texts = {
        "dkim.key": ("", ""),
        "dkim.none_found": (
            "DKIM lets receivers verify a signature your mail server adds to each message, using a "
            "public key at <selector>._domainkey.{domain}. Only the sender knows the selector; it "
            "was not given, and none of the selectors tried ({tried}) has a key. That proves nothing: "
            "your mail server may use another selector.",
            "Open a message you sent in a mailbox elsewhere, view its source, and find the line "
            "`DKIM-Signature: ... d={domain}; s=SELECTOR; ...`. Then run maildoctor with "
            "`--dkim-selector SELECTOR`. No such line means your mail is not DKIM-signed: turn on "
            "DKIM signing in your mail server or provider.",
        ),
        "dkim.no_key": (
            "{domain} signs with no usable DKIM key: {what}. Mail is then signed with the provider's own "
            "domain, or not at all: DKIM does not align with {domain}, DMARC can pass only through SPF, "
            "and forwarded mail fails it.",
            "Turn on DKIM signing for {domain}{at} and publish its public key at <selector>._domainkey.{domain} "
            "(when the provider is recognised, provider.records names the exact records).",
        ),
        "dkim.not_found": (
            "There is no DKIM key at {name} ({why}). Receivers cannot verify the signatures made "
            "with selector {selector}, so those messages count as unsigned and can fail DMARC.",
            "Publish the key your mail server signs with: `{name}. IN TXT \"v=DKIM1; k=rsa; p=MIIBIjAN...\"` "
            "(the p= value comes from your mail server or provider, e.g. `opendkim-genkey -b 2048 -s {selector}`).",
        ),
        "dkim.lookup_failed": (
            "Looking up the DKIM key at {name} failed ({why}); receivers hit the same error and treat "
            "the signature as temporarily unverifiable.",
            "Make sure the name servers of {domain} answer TXT queries for {name}.",
        ),
        "dkim.syntax": (
            "The DKIM key record at {name} cannot be used: {problem}. Receivers cannot verify "
            "signatures made with selector {selector}.",
            "Replace the TXT record at {name} with the record your mail server generated, e.g. "
            "`\"v=DKIM1; k=rsa; p=MIIBIjANBgkqh...\"` (the whole key, in one TXT record; long keys may be "
            "split into several quoted strings).",
        ),
        "dkim.revoked": (
            "The DKIM key at {name} is revoked (empty p=). That is the correct way to retire a "
            "selector, but any message still signed with selector {selector} now fails DKIM.",
            "If your server still signs with {selector}, publish its current key at {name} "
            "(`\"v=DKIM1; k=rsa; p=<key>\"`) or switch the server to a selector with a valid key.",
        ),
        "dkim.weak_key": (
            "The DKIM key at {name} is RSA with {bits} bits. {impact}",
            "Generate a 2048-bit key (e.g. `opendkim-genkey -b 2048 -s newselector`), publish it at "
            "newselector._domainkey.{domain}, switch signing to it, then revoke the old one with `p=`.",
        ),
        "dkim.testing": (
            "The DKIM key at {name} has the testing flag t=y: receivers are asked to treat signed "
            "mail as if it were unsigned, so DKIM gives no protection or reputation.",
            "When signing works, remove `t=y` from the TXT record at {name}.",
        ),
    }

    @staticmethod
    def min_budget_s(options: Options) -> float:
        """With --roundtrip it waits for the delivered copy (its signing selector): the round trip's budget."""
        if options.roundtrip is None:
            return 0.0
        from checks.roundtrip.check import RoundTrip  # selected too when there is a round trip

        return RoundTrip.min_budget_s(options)

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        given = tuple(s.lower() for s in ctx.options.dkim_selectors)
        try:
            hosting: Hosting | None = await ctx.fact(PROVIDER_FACT)
        except FactUnavailable:
            hosting = None
        copy: DeliveredCopy | None = None
        if ctx.options.roundtrip is not None:
            try:
                copy = await ctx.fact(ROUNDTRIP_COPY)
            except FactUnavailable:
                copy = None
        learned = learned_selectors(copy, domain)
        by_provider, signer = provider_selectors(hosting)
        asserted = given + learned
        selectors = tuple(dict.fromkeys(asserted + (() if given else by_provider + COMMON_SELECTORS)))
        names = [f"{s}._domainkey.{domain}" for s in selectors]
        results = await asyncio.gather(*(ctx.dns.query(n, "TXT") for n in names))
        for finding in self.evaluate_dkim(domain, dict(zip(selectors, results, strict=True)), guessed=True,
                                          asserted=frozenset(asserted), signer=signer, learned=learned):
            yield finding

    def evaluate_dkim(self, domain: str, results: dict[str, DnsResult], *, guessed: bool,
                      asserted: frozenset[str] = frozenset(), signer: str = "",
                      learned: tuple[str, ...] = ()) -> list[Finding]:
        """Pure: judge the key record answers per selector. ``guessed``: selectors not in ``asserted``
        (given or learned) were guesses, and a guess without a key is only listed as tried. ``signer``:
        the provider known to sign the domain's mail (a domain without any key is then a warning)."""
        out: list[Finding] = []
        failed: list[str] = []  # guessed selectors whose lookup failed: one finding for all of them
        sure = not guessed
        for selector, result in results.items():
            guessed = not sure and selector not in asserted
            name = f"{selector}._domainkey.{domain}"
            records = [t for t in txt_strings(result) if looks_like_dkim(t)]
            ev = {"selector": selector, "name": name, "outcome": result.outcome.value,
                  "records": [clean(t, limit=800) for t in txt_strings(result)[:5]], "guessed": guessed,
                  "learned": selector in learned}
            kw: dict[str, Any]  # keywords of self.finding
            kw = dict(evidence=ev, duration_s=result.elapsed_s, domain=domain, selector=selector, name=name)
            subject = f"DKIM selector {selector}"
            if result.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT) and guessed:
                failed.append(selector)
                continue
            if result.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
                out.append(self.finding("dkim.lookup_failed", Status.WARN if guessed else Status.FAIL, subject,
                                        f"DKIM key lookup at {name} failed", why=result.describe(), **kw))
                continue
            if not records:
                if not guessed:
                    why = (
                        result.describe()
                        if result.outcome is not Outcome.ANSWER
                        else "no DKIM record among its TXT records"
                    )
                    out.append(
                        self.finding("dkim.not_found", Status.FAIL, subject, f"no DKIM key at {name}", why=why, **kw)
                    )
                continue
            out.append(self._judge(records, subject, guessed, kw))
        if failed:
            first = results[failed[0]]
            name = f"{failed[0]}._domainkey.{domain}" if len(failed) == 1 else \
                f"<selector>._domainkey.{domain} ({len(failed)} usual selectors)"
            out.append(self.finding("dkim.lookup_failed", Status.WARN, domain, f"DKIM key lookups at {name} failed",
                                    evidence={"failed": failed, "outcome": first.outcome.value}, domain=domain,
                                    name=name, why=first.describe()))
        if not sure and not out:
            tried = ", ".join(results)
            if signer:
                out.append(self.finding("dkim.no_key", Status.WARN, domain,
                                        f"{signer} signs for {domain}, but no DKIM key is published (tried: {tried})",
                                        evidence={"tried": list(results), "signer": signer}, domain=domain,
                                        at=f" at {signer}", what=f"{signer} signs its mail, but no key is published "
                                        f"at the selectors it uses nor at the usual ones ({tried})"))
            else:
                out.append(self.finding("dkim.none_found", Status.SKIP, domain,
                                        f"no DKIM key found at the selectors tried ({tried}); give --dkim-selector "
                                        "to test yours", evidence={"tried": list(results)}, domain=domain, tried=tried))
        elif not sure and all(f.code == "dkim.revoked" for f in out):
            revoked = ", ".join(f.evidence["selector"] for f in out)
            out.append(self.finding("dkim.no_key", Status.WARN, domain,
                                    f"{domain} signs with no usable DKIM key: every key found is revoked ({revoked})",
                                    evidence={"tried": list(results), "revoked": revoked}, domain=domain,
                                    at=f" at {signer}" if signer else "",
                                    what=f"every key found is revoked (empty p= at {revoked})"))
        return out

    def _judge(self, records: list[str], subject: str, guessed: bool, kw: dict) -> Finding:
        name = kw["name"]
        if len(records) > 1:
            return self.finding("dkim.syntax", Status.FAIL, subject, f"{name} has {len(records)} DKIM records",
                                problem=f"there are {len(records)} key records; receivers need exactly one", **kw)
        key = parse_dkim_key(records[0])
        kw["evidence"].update(key_type=key.key_type, bits=key.bits, revoked=key.revoked, testing=key.testing)
        if key.problem:
            return self.finding(
                "dkim.syntax",
                Status.FAIL,
                subject,
                clean(f"DKIM key at {name} is invalid: {key.problem}"),
                problem=clean(key.problem),
                **kw,
            )
        if key.revoked:
            return self.finding("dkim.revoked", Status.WARN if guessed else Status.FAIL, subject,
                                f"DKIM key at {name} is revoked (empty p=)", **kw)
        if key.key_type == "rsa" and key.bits < RSA_WARN_BITS:
            weak = key.bits < RSA_FAIL_BITS
            impact = ("Keys below 1024 bits can be broken, and receivers such as Gmail ignore such signatures "
                      "(RFC 8301 requires at least 1024)." if weak else
                      "That still works, but 1024-bit keys are considered too weak for the coming years; "
                      "2048 bits is the current recommendation.")
            return self.finding("dkim.weak_key", Status.FAIL if weak else Status.WARN, subject,
                                f"DKIM key at {name} is only {key.bits}-bit RSA", bits=key.bits, impact=impact, **kw)
        if key.testing:
            return self.finding(
                "dkim.testing", Status.WARN, subject, f"DKIM key at {name} is in testing mode (t=y)", **kw
            )
        what = "Ed25519" if key.key_type == "ed25519" else f"RSA {key.bits}-bit"
        return self.finding("dkim.key", Status.PASS, subject, f"{what} key published at {name}", **kw)
