"""`maildoctor message`: the sender's authentication re-checked here, not taken from the receiver's
word: each DKIM signature verified (dkimpy), the ARC chain validated, SPF evaluated for the address
the message entered the receiver from, and DMARC alignment computed.

Pure: ``findings`` turns the message and what DNS said (``Found``, gathered by
diagnose.app.message_recheck through the run's resolver) into findings of ``message.headers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnose.app.message_headers import HEADERS
from diagnose.engine.model import Finding, Status
from diagnose.knowledge import headers
from diagnose.knowledge.dkimverify import ArcResult, DkimResult, key_name, verify_all, verify_arc
from diagnose.knowledge.dmarc.discovery import aligned, applied
from diagnose.knowledge.dmarc.record import applied_policy
from diagnose.knowledge.dnsanswer import DnsResult
from diagnose.knowledge.mailfile import Loaded
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.spf.evaluate import SpfVerdict

MAX_KEYS = 12  # DKIM and ARC keys fetched at most (a message with more signatures is hostile)

AUTH_TEXTS: dict[str, tuple[str, str]] = {
    "message.dkim_valid": ("", ""),
    "message.dkim_invalid": (
        "The DKIM signature does not verify here: {reason}. Receivers treat a broken signature like none, so "
        "DMARC can pass only through SPF.",
        "If the key is missing, publish it at {key_name}; if it is there, something changed the message after "
        "signing (a footer, a rewriting gateway, a mailing list): sign last. Check the key with {command}."),
    "message.dkim_unsigned": (
        "The message carries no DKIM-Signature: receivers cannot tie it to the sender's domain, and forwarded "
        "copies fail DMARC.",
        "Turn on DKIM signing on the sending server (e.g. OpenDKIM for Postfix) and publish its key at "
        "<selector>._domainkey.<domain>."),
    "message.dkim_not_tested": ("", ""),
    "message.arc_pass": ("", ""),
    "message.arc_fail": (
        "The ARC chain (RFC 8617), which forwarders and mailing lists add so a receiver can trust their "
        "word about the original authentication, does not validate: {reason}.",
        "The intermediary named in the broken set changed the message after sealing it, or its key is not "
        "published: tell its postmaster. Receivers ignore a broken chain."),
    "message.spf_pass": ("", ""),
    "message.spf_fail": (
        "SPF for {domain} ({record}) does not allow {ip}, the address the message came from: receivers "
        "treat it as forged ({result}).",
        "If {ip} is your server, add it to the SPF record of {domain} (e.g. `ip4:{ip}` or an include: of "
        "your provider); test with `maildoctor check {domain} --check spf.record`."),
    "message.spf_none": (
        "{domain} publishes no SPF record: receivers cannot tell whether {ip} may send for it.",
        "Publish an SPF record listing your senders, e.g. `{domain}. TXT \"v=spf1 mx -all\"`."),
    "message.spf_error": (
        "SPF for {domain} could not be evaluated ({result}): {detail}. Receivers treat a permerror like "
        "a failure and a temperror as a reason to defer.",
        "Fix the record: `maildoctor check {domain} --check spf.record` shows what is wrong."),
    "message.spf_not_tested": ("", ""),
    "message.dmarc_pass": ("", ""),
    "message.dmarc_fail": (
        "DMARC for {domain} fails: no SPF or DKIM pass is aligned with the From domain {domain} "
        "({why}). With p={policy} receivers {effect}.",
        "Sign with a DKIM key of {domain} (d={domain}) or send with a Return-Path in {domain} from an "
        "address its SPF allows; test with `maildoctor check {domain} --check dmarc.record`."),
    "message.dmarc_none": (
        "{domain} (the From domain) publishes no DMARC policy: receivers apply their own rules, and nothing "
        "stops others from sending in its name.",
        "Publish `_dmarc.{domain}. TXT \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\"`, then tighten "
        "p= once the reports are clean."),
    "message.dmarc_not_tested": ("", ""),
}


@dataclass
class Found:
    """What DNS said about the message's authentication."""

    keys: dict[str, bytes | None] = field(default_factory=dict)  # key name -> TXT (None: no record)
    key_errors: dict[str, str] = field(default_factory=dict)  # key name -> why it could not be fetched
    entry: headers.Entry | None = None
    mail_from: str = ""  # the domain SPF was checked for
    spf: SpfVerdict | None = None
    spf_record: str = ""
    dmarc: dict[str, DnsResult] | None = None  # _dmarc.NAME -> answer, for the From domain's policy
    from_domain: str = ""


def address_of(value: str) -> str:
    """The address in a From/Return-Path value ("" when it names none: the null sender <>)."""
    from email.utils import parseaddr

    address = parseaddr(clean(str(value or ""), limit=500, keep_newlines=False))[1]
    return address.rstrip(">") if "@" in address else ""


def domain_of(value: str) -> str:
    """The domain of the address in a From/Return-Path value ("" when it names none)."""
    return address_of(value).rpartition("@")[2].lower().rstrip(".")


def findings(loaded: Loaded, found: Found | None) -> list[Finding]:
    """Pure: DKIM, ARC, SPF and DMARC findings from the message and what DNS said (None: not asked)."""
    msg = loaded.message
    out: list[Finding] = []
    sigs = headers.signatures(msg)
    if found is None:
        if sigs or msg.get_all("Received"):
            out.append(Finding(HEADERS, "message.dkim_not_tested", "message", Status.SKIP,
                               "not tested: DKIM, ARC, SPF and DMARC were not re-checked (--offline)"))
        return out
    dkim = _dkim(loaded, found)
    out += dkim
    arc = verify_arc(loaded.raw, found.keys) if not loaded.partial else None
    if arc is not None and arc.verdict != "none":
        out.append(_arc(arc))
    out += _spf_findings(found)
    out += _dmarc(found, _valid(dkim))
    return out


def _valid(dkim: list[Finding]) -> list[str]:
    return [f.evidence["domain"] for f in dkim if f.code == "message.dkim_valid"]


def _command(domain: str, selector: str) -> str:
    return f"`maildoctor check {domain} --check dkim.keys --dkim-selector {selector}`"


def _dkim(loaded: Loaded, found: Found) -> list[Finding]:
    sigs = headers.signatures(loaded.message)
    if not sigs:
        return [Finding(HEADERS, "message.dkim_unsigned", "message", Status.WARN, "no DKIM signature on the message",
                        *AUTH_TEXTS["message.dkim_unsigned"])]
    out: list[Finding] = []
    if loaded.headers_only or loaded.partial:
        why = "only the header was given" if loaded.headers_only else "the message was not read in full"
        out.append(Finding(HEADERS, "message.dkim_not_tested", "message", Status.SKIP,
                           f"not tested: {why}, and a DKIM signature covers the body too"))
        results: list[DkimResult] = []
    else:
        results = verify_all(loaded.raw, found.keys)
    for r in results:
        sig = r.signature
        name = key_name(sig)
        subject = f"d={sig.domain} s={sig.selector}"
        ev = {"domain": sig.domain, "selector": sig.selector, "algorithm": sig.algorithm, "key": name,
              "valid": r.valid, "reason": r.reason or None, "command": _command(sig.domain, sig.selector)}
        if r.valid:
            out.append(Finding(HEADERS, "message.dkim_valid", subject, Status.PASS,
                               f"DKIM signature of {sig.domain} (selector {sig.selector}) verifies", evidence=ev))
            continue
        error = found.key_errors.get(name)
        reason = f"its key {name} {error}" if error else r.reason
        ev["reason"] = reason
        explanation, remedy = (t.format(reason=reason, key_name=name, command=ev["command"])
                               for t in AUTH_TEXTS["message.dkim_invalid"])
        out.append(Finding(HEADERS, "message.dkim_invalid", subject, Status.ERROR if error else Status.FAIL,
                           f"DKIM signature of {sig.domain} (selector {sig.selector}) does not verify: {reason}",
                           explanation, remedy, ev))
    return out


def _arc(arc: ArcResult) -> Finding:
    sets = [{"instance": i.instance, "seal": f"d={i.seal_domain} s={i.seal_selector}", "seal_valid": i.seal_valid,
             "signature": f"d={i.signature_domain} s={i.signature_selector}", "signature_valid": i.signature_valid,
             "cv": i.cv} for i in arc.instances]
    ev = {"verdict": arc.verdict, "sets": arc.sets, "instances": sets, "reason": arc.reason or None}
    sealers = ", ".join(dict.fromkeys(i.seal_domain for i in arc.instances if i.seal_domain)) or "?"
    if arc.verdict == "pass":
        return Finding(HEADERS, "message.arc_pass", "ARC chain", Status.PASS,
                       f"ARC chain of {arc.sets} set(s) validates (sealed by {sealers})", evidence=ev)
    explanation, remedy = (t.format(reason=arc.reason) for t in AUTH_TEXTS["message.arc_fail"])
    return Finding(HEADERS, "message.arc_fail", "ARC chain", Status.WARN,
                   f"ARC chain of {arc.sets} set(s) does not validate: {arc.reason}", explanation, remedy, ev)


_SPF_STATUS = {"pass": Status.PASS, "fail": Status.FAIL, "softfail": Status.WARN, "neutral": Status.WARN,
               "none": Status.WARN, "permerror": Status.FAIL, "temperror": Status.ERROR}


def _spf_findings(found: Found) -> list[Finding]:
    entry, verdict = found.entry, found.spf
    if entry is None or verdict is None:
        why = "no hop from an outside address in the Received headers" if entry is None else \
            "neither a Return-Path nor a HELO name to check"
        return [Finding(HEADERS, "message.spf_not_tested", "SPF", Status.SKIP, f"not tested: {why}")]
    ev = {"ip": entry.ip, "helo": entry.helo or None, "ip_source": entry.source, "hop": entry.hop or None,
          "domain": found.mail_from, "result": verdict.result, "record": found.spf_record or None,
          "decided_by": verdict.domain, "mechanism": verdict.mechanism or None, "detail": verdict.detail or None}
    fill = {"domain": found.mail_from, "ip": entry.ip, "record": found.spf_record or "no record",
            "result": verdict.result, "detail": verdict.detail}
    subject = f"{found.mail_from} from {entry.ip}"
    words = f"SPF {verdict.result} for {found.mail_from} from {entry.ip}" + (
        f" ({verdict.mechanism})" if verdict.mechanism else "")
    code = {"pass": "message.spf_pass", "fail": "message.spf_fail", "softfail": "message.spf_fail",
            "neutral": "message.spf_fail", "none": "message.spf_none"}.get(verdict.result, "message.spf_error")
    if verdict.result == "unknown":
        return [Finding(HEADERS, "message.spf_not_tested", subject, Status.SKIP,
                        f"not tested: {verdict.detail}", evidence=ev)]
    explanation, remedy = (t.format(**fill) for t in AUTH_TEXTS[code])
    return [Finding(HEADERS, code, subject, _SPF_STATUS.get(verdict.result, Status.ERROR), words, explanation,
                    remedy, ev)]


_EFFECT = {"reject": "refuse such mail", "quarantine": "put such mail in spam", "none": "only report it"}


def _dmarc(found: Found, dkim_domains: list[str]) -> list[Finding]:
    domain = found.from_domain
    if not domain or found.dmarc is None:
        return [Finding(HEADERS, "message.dmarc_not_tested", "DMARC", Status.SKIP,
                        "not tested: the message has no From address")]
    policy_found = applied(domain, found.dmarc)
    record, where = policy_found.record, f"_dmarc.{policy_found.domain}"
    if policy_found.failed:
        return [Finding(HEADERS, "message.dmarc_not_tested", domain, Status.ERROR,
                        f"could not look up the DMARC policy of {domain}: {policy_found.failed} did not resolve")]
    if record is None:
        explanation, remedy = (t.format(domain=domain) for t in AUTH_TEXTS["message.dmarc_none"])
        return [Finding(HEADERS, "message.dmarc_none", domain, Status.WARN,
                        f"{domain} publishes no DMARC policy", explanation, remedy, {"domain": domain})]
    adkim, aspf = record.tag("adkim", "r"), record.tag("aspf", "r")
    policy = applied_policy(record, own=policy_found.own)  # sp= when the record is an ancestor's
    dkim_ok = [d for d in dkim_domains if aligned(d, domain, adkim)]
    spf_ok = bool(found.spf and found.spf.result == "pass" and aligned(found.mail_from, domain, aspf))
    ev = {"domain": domain, "record": clean(record.text, limit=500), "record_at": where, "policy": policy,
          "adkim": adkim, "aspf": aspf, "dkim_aligned": dkim_ok, "dkim_pass_domains": dkim_domains,
          "spf_aligned": spf_ok, "spf_domain": found.mail_from or None,
          "spf_result": found.spf.result if found.spf else None}
    if dkim_ok or spf_ok:
        by = " and ".join([f"DKIM d={d}" for d in dkim_ok] + ([f"SPF {found.mail_from}"] if spf_ok else []))
        return [Finding(HEADERS, "message.dmarc_pass", domain, Status.PASS,
                        f"DMARC passes for {domain}: aligned {by}", evidence={**ev, "result": "pass"})]
    why = "; ".join([f"DKIM passes only for {', '.join(dkim_domains)}" if dkim_domains else "no DKIM signature "
                     "verifies", f"SPF {found.spf.result} for {found.mail_from}" if found.spf else "SPF not checked"])
    explanation, remedy = (t.format(domain=domain, why=why, policy=policy, effect=_EFFECT.get(policy, "decide"))
                           for t in AUTH_TEXTS["message.dmarc_fail"])
    return [Finding(HEADERS, "message.dmarc_fail", domain, Status.FAIL if policy != "none" else Status.WARN,
                    f"DMARC fails for {domain} (p={policy}): {why}", explanation, remedy, {**ev, "result": "fail"})]
