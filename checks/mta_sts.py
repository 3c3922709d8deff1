"""mta_sts.policy: MTA-STS (RFC 8461): the _mta-sts TXT record, the HTTPS policy, and whether it covers the MX."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from diagnose.engine.facts import MX_HOSTS, FactUnavailable
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.httpget import FetchResult, https_get
from diagnose.net.resolver import DnsResult, Outcome, txt_strings

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_AGE_LIMIT = 31557600  # RFC 8461 §3.2: one year
SHORT_MAX_AGE = 86400  # below a day the policy barely protects (RFC suggests weeks)
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


@dataclass(frozen=True, eq=False)
class StsPolicy:
    """An MTA-STS policy file parsed, with its errors."""

    version: str = ""
    mode: str = ""
    max_age: int | None = None
    mx: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class StsLookup:
    """What was found for a domain's MTA-STS: the record, the policy fetch and its MX hosts."""

    domain: str
    txt: DnsResult
    fetch: FetchResult | None = None
    mx_hosts: list[str] | None = None  # None: unknown (the MX check could not tell)
    mx_reason: str = ""
    mx_tls: dict[str, tuple[str, str]] = field(default_factory=dict)  # host -> (ok|no_tls|bad|unreached, detail)
    extra: dict = field(default_factory=dict)


def select_sts(texts: list[str]) -> list[str]:
    return [t for t in texts if re.match(r"^v=STSv1\s*(;|$)", t)]


def parse_sts_record(text: str) -> tuple[str, list[str]]:
    """RFC 8461 §3.1: ``v=STSv1; id=...;`` -> (id, errors)."""
    fields: dict[str, str] = {}
    errors = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            errors.append(f"{part[:40]!r} is not a name=value field")
            continue
        fields.setdefault(name.strip(), value.strip())
    ident = fields.get("id", "")
    if "id" not in fields:
        errors.append("the id= field is missing")
    elif not _ID.match(ident):
        errors.append(f"id={ident[:40]!r} must be 1-32 letters and digits")
    return ident, errors


def parse_mta_sts_policy(text: str) -> StsPolicy:
    """Pure: parse the policy file body (RFC 8461 §3.2)."""
    values: dict[str, str] = {}
    mx: list[str] = []
    errors: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n")[:1000]:
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not re.fullmatch(r"[A-Za-z0-9_]{1,32}", key):
            errors.append(f"line {line[:40]!r} is not 'key: value'")
            continue
        if key == "mx":
            if not re.fullmatch(r"(\*\.)?([A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{1,63}\.?", value):
                errors.append(f"mx: {value[:60]!r} is not a host name or *.domain pattern")
            else:
                mx.append(value.lower().rstrip("."))
        elif key in values and key in ("version", "mode", "max_age"):
            errors.append(f"{key} appears twice")
        else:
            values.setdefault(key, value)
    version, mode, age_text = values.get("version", ""), values.get("mode", ""), values.get("max_age", "")
    if version != "STSv1":
        errors.append("version: STSv1 is missing" if not version else f"version: {version[:20]!r} is not STSv1")
    if mode not in ("enforce", "testing", "none"):
        errors.append("mode: is missing" if not mode else f"mode: {mode[:20]!r} is not enforce, testing or none")
    max_age = int(age_text) if age_text.isascii() and age_text.isdigit() and len(age_text) <= 10 else None
    if max_age is None or max_age > MAX_AGE_LIMIT:
        errors.append(f"max_age: {age_text[:20]!r} is not a number of seconds up to {MAX_AGE_LIMIT}")
    if not mx and mode in ("enforce", "testing"):
        errors.append("no mx: line (the policy must list the MX host names)")
    return StsPolicy(version, mode, max_age, tuple(mx), tuple(errors))


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: exact name, or ``*.`` matching exactly one leftmost label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return pattern == host


class MtaSts(Check):
    id = "mta_sts.policy"
    title = "MTA-STS policy makes senders insist on TLS to the MX hosts"
    side = Side.INCOMING
    services = ("smtp",)
    needs = (MX_HOSTS,)
    texts = {
        "mta_sts.policy": ("", ""),
        "mta_sts.none": ("", ""),
        "mta_sts.record_invalid": (
            "MTA-STS tells sending servers to deliver to {domain} only over verified TLS. The TXT "
            "record at _mta-sts.{domain} is invalid ({problem}), so senders ignore MTA-STS.",
            "Publish exactly one record: `_mta-sts.{domain}. 3600 IN TXT \"v=STSv1; id=20240101T000000\"` "
            "(change id whenever the policy file changes).",
        ),
        "mta_sts.lookup_failed": (
            "Looking up the MTA-STS record at _mta-sts.{domain} failed ({why}).",
            "Make sure the name servers of {domain} answer TXT queries for _mta-sts.{domain}.",
        ),
        "mta_sts.policy_unreachable": (
            "{domain} announces MTA-STS, but its policy file at {url} could not be fetched ({problem}). "
            "Senders that have no cached copy deliver without MTA-STS protection; senders with an "
            "old cached copy keep using it until it expires.",
            "Serve the policy over HTTPS at {url}: mta-sts.{domain} needs an A record for a web server "
            "answering on port 443 with a valid certificate for mta-sts.{domain}. Or, if you no "
            "longer use MTA-STS, publish `mode: none` first, then remove the _mta-sts TXT record.",
        ),
        "mta_sts.policy_tls": (
            "The policy server at {url} presented a certificate that senders do not accept ({problem}). "
            "MTA-STS requires a valid certificate for mta-sts.{domain}, so the policy is ignored.",
            "Install a certificate for mta-sts.{domain} from a public CA (e.g. Let's Encrypt) with the "
            "full chain on the web server at {address}.",
        ),
        "mta_sts.policy_http": (
            "The policy server at {url} answered HTTP {http_status} instead of the policy file. {extra}"
            "Senders treat the policy as missing.",
            "Make {url} return the policy file itself with status 200 (redirects are not allowed), "
            "with content type text/plain.",
        ),
        "mta_sts.policy_invalid": (
            "The MTA-STS policy at {url} is invalid: {problem}. Senders ignore an invalid policy.",
            "Correct the file; a valid example:\n"
            "version: STSv1\nmode: enforce\nmx: mx1.{domain}\nmax_age: 604800",
        ),
        "mta_sts.mode": (
            "The MTA-STS policy of {domain} is in mode {mode}: {meaning}",
            "When TLS-RPT reports show that senders connect without problems, set `mode: enforce` "
            "in {url} and change the id= in the _mta-sts TXT record.",
        ),
        "mta_sts.max_age_short": (
            "The policy's max_age is {max_age} seconds. Senders forget the policy after that, so an "
            "attacker who blocks the policy fetch can downgrade delivery to no TLS.",
            "Set max_age to at least a week, e.g. `max_age: 604800` (RFC 8461 suggests weeks).",
        ),
        "mta_sts.mx_cert": (
            "Senders that apply the MTA-STS policy deliver to {host} only over TLS with a certificate "
            "that is valid for the name {host} and issued by a trusted CA (RFC 8461 §4.2). Here: {problem}. "
            "{impact}",
            "Install a certificate for {host} from a public CA (e.g. Let's Encrypt) with its full chain in "
            "the mail server on {host} (Postfix: smtpd_tls_chain_files), or, until then, set "
            "`mode: testing` in {url} and change the id= of the _mta-sts.{domain} TXT record.",
        ),
        "mta_sts.mx_not_covered": (
            "The MTA-STS policy lists the allowed MX names ({patterns}), but the MX host {host} does "
            "not match any of them. {impact}",
            "Add a line `mx: {host}` (or a pattern like `mx: *.{parent}`) to {url}, then change the id= "
            "in the _mta-sts.{domain} TXT record so senders fetch the new policy.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        lookup = StsLookup(domain, await ctx.dns.query(f"_mta-sts.{domain}", "TXT"))
        if select_sts(txt_strings(lookup.txt)):
            host = f"mta-sts.{domain}"
            a, aaaa = await asyncio.gather(ctx.dns.query(host, "A"), ctx.dns.query(host, "AAAA"))
            lookup.extra["policy_host"] = {"A": list(a.records), "AAAA": list(aaaa.records)}
            failed = [r for r in (a, aaaa) if r.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT)]
            if failed and not (a.records or aaaa.records):
                lookup.fetch = FetchResult(f"https://{host}{POLICY_PATH}", "", "dns",
                                           f"the address lookup of {host} failed ({failed[0].describe()})")
            else:
                lookup.fetch = await https_get(host, POLICY_PATH, a.records + aaaa.records,
                                               ca_file=ctx.options.ca_file, timeout=ctx.timeout)
            try:
                hosts = await ctx.fact(MX_HOSTS)
                lookup.mx_hosts = [h.name for h in hosts]
                if _policy_in_force(lookup.fetch):
                    lookup.mx_tls = await _mx_tls(ctx, hosts)
            except FactUnavailable as exc:
                lookup.mx_reason = exc.reason
        for finding in self.evaluate_mta_sts(lookup):
            yield finding

    def evaluate_mta_sts(self, lk: StsLookup) -> list[Finding]:
        """Pure: judge the TXT answer, the fetched policy and the MX coverage."""
        domain = lk.domain
        ev: dict = {"txt": [clean(t, limit=300) for t in txt_strings(lk.txt)[:5]], "txt_outcome": lk.txt.outcome.value,
                    **lk.extra}
        url = f"https://mta-sts.{domain}{POLICY_PATH}"

        def f(code, status, summary, **facts):
            return self.finding(code, status, domain, clean(summary, limit=300), evidence=ev, domain=domain, url=url,
                                **{k: clean(str(v), limit=500) for k, v in facts.items()})

        if lk.txt.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT):
            return [f("mta_sts.lookup_failed", Status.FAIL, "MTA-STS record lookup failed", why=lk.txt.describe())]
        records = select_sts(txt_strings(lk.txt))
        if not records:
            return [f("mta_sts.none", Status.SKIP, f"{domain} does not use MTA-STS (no _mta-sts TXT record; optional)")]
        if len(records) > 1:
            return [f("mta_sts.record_invalid", Status.FAIL, f"_mta-sts.{domain} has {len(records)} STSv1 records",
                      problem=f"{len(records)} records, senders need exactly one")]
        ident, errors = parse_sts_record(records[0])
        if errors:
            return [f("mta_sts.record_invalid", Status.FAIL, f"_mta-sts.{domain} record is invalid: {errors[0]}",
                      problem="; ".join(errors))]
        ev["id"] = ident
        fetch = lk.fetch
        if fetch is None:
            return [f("mta_sts.policy_unreachable", Status.FAIL, "MTA-STS policy not fetched", problem="not tried")]
        ev["fetch"] = {"address": fetch.address, "outcome": fetch.outcome, "detail": clean(fetch.detail, limit=300),
                       "tried": list(fetch.tried)}
        if fetch.outcome == "tls":
            return [f("mta_sts.policy_tls", Status.FAIL, f"MTA-STS policy server certificate rejected: {fetch.detail}",
                      problem=fetch.detail, address=fetch.address)]
        if fetch.outcome != "ok" or fetch.response is None:
            problem = {
                "no_address": f"mta-sts.{domain} has no address",
                "refused": f"connection to {fetch.address} port 443 refused",
                "timeout": f"no answer from {fetch.address} port 443",
            }.get(fetch.outcome, fetch.detail or fetch.outcome)
            # refused by this server's connect guard: not tested, so an error, never a verdict on the domain
            status = Status.ERROR if fetch.outcome == "not_allowed" else Status.FAIL
            return [f("mta_sts.policy_unreachable", status, f"MTA-STS policy unreachable: {problem}", problem=problem)]
        resp = fetch.response
        ev["http"] = {"status": resp.status, "content_type": clean(resp.headers.get("content-type", ""), limit=100),
                      "bytes": len(resp.body)}
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if resp.status != 200 or ctype != "text/plain":
            extra = (f"(It redirects to {clean(resp.headers.get('location', ''), limit=200)}; senders must not follow "
                     "redirects.) " if 300 <= resp.status < 400 else "")
            if resp.status == 200:
                return [
                    f(
                        "mta_sts.policy_http",
                        Status.FAIL,
                        f"MTA-STS policy served as {ctype or 'no type'}, not text/plain",
                        http_status=f"200 with content type {ctype or '(none)'}",
                        extra="",
                    )
                ]
            return [f("mta_sts.policy_http", Status.FAIL, f"MTA-STS policy URL answers HTTP {resp.status}",
                      http_status=resp.status, extra=extra)]
        text = resp.body.decode("utf-8", "replace")
        policy = parse_mta_sts_policy(text)
        ev["policy"] = clean(text, limit=1500)
        if policy.errors or resp.truncated:
            problems = list(policy.errors) + (["the file is larger than 64 KB"] if resp.truncated else [])
            return [f("mta_sts.policy_invalid", Status.FAIL, f"MTA-STS policy is invalid: {problems[0]}",
                      problem="; ".join(problems))]
        out = []
        if policy.mode != "enforce":
            meaning = ("senders report TLS problems (TLS-RPT) but still deliver without TLS when it fails, so "
                       "the policy does not protect yet." if policy.mode == "testing" else
                       "the policy is switched off (the usual step before removing MTA-STS).")
            out.append(f("mta_sts.mode", Status.WARN, f"MTA-STS policy mode is {policy.mode}, not enforce",
                         mode=policy.mode, meaning=meaning))
        if policy.max_age is not None and policy.max_age < SHORT_MAX_AGE and policy.mode != "none":
            out.append(f("mta_sts.max_age_short", Status.WARN, f"MTA-STS max_age is only {policy.max_age} s",
                         max_age=policy.max_age))
        if lk.mx_hosts is None:
            ev["coverage"] = f"not checked: {lk.mx_reason}"
        elif policy.mode != "none":
            for host in lk.mx_hosts:
                if not any(mx_matches(p, host) for p in policy.mx):
                    enforce = policy.mode == "enforce"
                    impact = ("In enforce mode senders that honour MTA-STS refuse to deliver to it, so mail "
                              "queues and bounces." if enforce else
                              "In testing mode senders only report it, but enforcing this policy would break delivery.")
                    out.append(f("mta_sts.mx_not_covered", Status.FAIL if enforce else Status.WARN,
                                 f"MX host {host} is not covered by the MTA-STS policy", host=host,
                                 patterns=", ".join(policy.mx), impact=impact, parent=host.partition(".")[2] or domain))
        if policy.mode != "none":
            ev["mx_tls"] = {h: {"state": st, "detail": clean(d, limit=200)} for h, (st, d) in lk.mx_tls.items()}
            for host, (state, detail) in lk.mx_tls.items():
                if state not in ("no_tls", "bad"):
                    continue
                enforce = policy.mode == "enforce"
                problem = f"{host} offers no working STARTTLS" if state == "no_tls" else detail
                impact = ("In enforce mode those senders do not deliver to it: mail queues and bounces." if enforce
                          else "In testing mode senders only report it; enforcing the policy would stop delivery.")
                out.append(
                    f(
                        "mta_sts.mx_cert",
                        Status.FAIL if enforce else Status.WARN,
                        f"MTA-STS senders would refuse {host}: {problem}",
                        host=host,
                        problem=problem,
                        impact=impact,
                    )
                )
        if not out:
            out.append(
                f(
                    "mta_sts.policy",
                    Status.PASS,
                    f"MTA-STS mode {policy.mode}, max_age {policy.max_age} s, covers {', '.join(lk.mx_hosts or [])}"
                    if lk.mx_hosts
                    else f"MTA-STS mode {policy.mode}, max_age {policy.max_age} s",
                )
            )
        return out


def _policy_in_force(fetch: FetchResult | None) -> bool:
    """A fetched, valid policy whose mode makes senders check the MX certificates."""
    if fetch is None or fetch.outcome != "ok" or fetch.response is None or fetch.response.status != 200:
        return False
    policy = parse_mta_sts_policy(fetch.response.body.decode("utf-8", "replace"))
    return not policy.errors and policy.mode in ("enforce", "testing")


async def _mx_tls(ctx: CheckContext, hosts) -> dict[str, tuple[str, str]]:
    """Each MX host's TLS as an MTA-STS sender judges it (first address), from the shared SMTP session
    of the server checks (diagnose.net.probes): no extra connection when those ran. Bounded in time."""
    from checks.servercheck import not_reached
    from diagnose.net.dialogue import Endpoint
    from diagnose.net.probes import certificate_verdict, probes

    async def one(host) -> tuple[str, str]:
        ep = Endpoint("mx", host.name, host.addresses[0], 25)
        d = await probes(ctx).dialogue(ep)
        if why := not_reached(d):
            return "unreached", why
        verdict = await certificate_verdict(ctx, ep)
        if verdict is None:
            return "no_tls", ""
        bad = [i.summary for i in verdict.issues if i.status in (Status.FAIL, Status.ERROR)]
        return ("bad", "; ".join(bad)) if bad else ("ok", "")

    hosts = [h for h in hosts if h.addresses][:5]
    try:
        async with asyncio.timeout(ctx.timeouts.tls_verdicts):
            states = await asyncio.gather(*(one(h) for h in hosts))
    except TimeoutError:
        return {h.name: ("unreached", "no TLS verdict in time") for h in hosts}
    return {h.name: state for h, state in zip(hosts, states, strict=False)}
