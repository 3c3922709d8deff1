"""spf.record: the domain's SPF record (RFC 7208): one record, valid terms, within the DNS-lookup limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.spf.record import (
    LOOKUP_LIMIT,
    MAX_DEPTH,
    MAX_RECORDS,
    VOID_LIMIT,
    SpfAnalysis,
    analyze_spf,
    effective_all,
    pass_all_includes,
)

_WHY_SPF = ("Receiving servers read the SPF record (a TXT record starting with v=spf1) to learn which "
            "servers may send mail as {domain}. ")


class SpfCheck(Check):
    id = "spf.record"
    title = "SPF record lists the servers allowed to send mail for the domain"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.OUTGOING
    services = ("dns",)
    texts = {
        "spf.record": ("", ""),
        "spf.missing": (
            _WHY_SPF + "{domain} has none, so receivers cannot tell your real mail from forgeries; "
            "Gmail, Outlook and Yahoo send such mail to spam or reject it.",
            "Publish one TXT record at {domain} listing your sending servers, e.g. "
            '`{domain}. 3600 IN TXT "v=spf1 mx -all"` (mail leaves from your MX hosts) or '
            '`"v=spf1 include:_spf.your-provider.example -all"`. A domain that sends no mail: `"v=spf1 -all"`.',
        ),
        "spf.multiple": (
            _WHY_SPF + "{where} has {count} SPF records. RFC 7208 §4.5 makes that a permanent error: "
            "receivers ignore SPF entirely (or reject the mail), as if the domain had none.",
            "Merge them into one TXT record at {where} and delete the others, e.g. "
            '`"v=spf1 mx include:_spf.provider.example -all"` instead of `"v=spf1 mx -all"` plus '
            '`"v=spf1 include:_spf.provider.example -all"`.',
        ),
        "spf.syntax": (
            _WHY_SPF + "The SPF record of {where} has errors: {errors}. One bad term makes the whole "
            "record a permanent error, so receivers treat the domain as having no valid SPF.",
            "Correct the TXT record at {where}. Terms are separated by single spaces and are one of "
            "all, include:DOMAIN, a, mx, ptr, ip4:ADDRESS[/LEN], ip6:ADDRESS[/LEN], exists:DOMAIN, "
            'redirect=DOMAIN, e.g. `"v=spf1 mx ip4:192.0.2.0/24 -all"`.',
        ),
        "spf.lookup_failed": (
            _WHY_SPF + "Looking up the SPF record of {where} failed ({why}). Receivers get a "
            "temporary error and may delay or refuse the mail.",
            "Make sure the name servers of {where} answer TXT queries (`dig TXT {where}`).",
        ),
        "spf.include_missing": (
            _WHY_SPF + "The record refers to {where} ({how}), but {where} has no SPF record. RFC 7208 "
            "makes that a permanent error: the whole SPF check of {domain} fails for every message.",
            "Fix or remove the term `{how}:{where}` in the SPF record; ask the provider for the right "
            "name (often something like `include:_spf.provider.example`).",
        ),
        "spf.loop": (
            _WHY_SPF + "The includes form a loop ({chain}), which is a permanent error.",
            "Remove the include that points back to a record already being evaluated.",
        ),
        "spf.incomplete": (
            _WHY_SPF + "maildoctor could not finish following its includes in time (still waiting for: "
            "{pending}), so it cannot tell whether the record is valid.",
            "Run again with a larger --timeout; if it persists, the name servers of those names are slow "
            "or broken, and receivers will struggle just as much.",
        ),
        "spf.too_deep": (
            _WHY_SPF
            + "The include/redirect tree is more than {depth} levels deep or has more than {records} records, "
            "far beyond what "
            "the 10-lookup limit allows.",
            "Flatten the SPF record: replace nested includes with the ip4:/ip6: ranges they stand for.",
        ),
        "spf.too_many_lookups": (
            _WHY_SPF + "Checking it costs {count} DNS lookups (include, a, mx, ptr, exists and redirect "
            "each count, inside included records too); RFC 7208 allows at most {limit}. Above the "
            "limit the result is a permanent error: receivers treat your mail as unauthenticated and "
            "DMARC fails. Costs per record: {costs}.",
            "Bring the count to {limit} or fewer: remove includes of services you no longer use, "
            "replace `a` and `mx` with the addresses they stand for (`ip4:192.0.2.10`), or ask a "
            'provider for a smaller include. Example: `"v=spf1 ip4:192.0.2.10 include:_spf.provider.example -all"`.',
        ),
        "spf.void_lookups": (
            _WHY_SPF + "{count} of its lookups find nothing (names that do not exist or have no "
            "records: {voids}); RFC 7208 allows at most {limit} such void lookups before the check "
            "becomes a permanent error.",
            "Remove the terms that point at names without records from the SPF record of {domain}.",
        ),
        "spf.mx_too_many": (
            _WHY_SPF + "An `mx` term points at a domain with more than 10 MX records ({detail}); that "
            "is a permanent error (RFC 7208 §4.6.4).",
            "Replace that mx term with ip4:/ip6: ranges of the hosts that really send mail.",
        ),
        "spf.pass_all": (
            _WHY_SPF + "Its record lets every server on the internet send mail as {domain} ({how}; a "
            "bare `all` means `+all` too): SPF then protects nothing.",
            'End the record with `-all` (reject others) or `~all` (mark others suspicious), e.g. `"v=spf1 mx -all"`.',
        ),
        "spf.neutral_all": (
            _WHY_SPF + "Its record ends in `?all` (neutral): servers not listed are neither allowed "
            "nor refused, so forged mail passes as well as yours.",
            'Once the record lists all your sending servers, end it with `-all` or `~all`: `"{record_fixed}"`.',
        ),
        "spf.no_all": (
            _WHY_SPF + "Its record has no `all` term and no redirect, so mail from unlisted servers "
            "gets the neutral result: forged mail is not refused.",
            'Add `-all` (or `~all`) at the end: `"{record} -all"`.',
        ),
        "spf.odd": (
            _WHY_SPF + "The SPF record of {where} is valid (RFC 7208 allows it, receivers evaluate it without "
            "error), but odd: {oddities}. That is rarely what was meant.",
            "Nothing is broken; review the record at {where} and remove or correct what the list names.",
        ),
        "spf.ptr": (
            _WHY_SPF + "The record of {where} uses the `ptr` mechanism, which RFC 7208 §5.5 says not "
            "to use: it is slow, unreliable, and some receivers skip it, so mail it was meant to "
            "allow can fail.",
            "Replace `ptr` with the `ip4:`/`ip6:` ranges of your sending servers.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        answers: dict = {}
        analysis = analyze_spf(domain, answers)
        rounds = 0
        start = time.monotonic()
        # Bounded: each round follows one more level of includes (MAX_DEPTH levels at most), and the
        # whole walk stops after Timeouts.spf_walk, well inside the run's budget.
        while not analysis.complete and rounds <= MAX_DEPTH + 2 and time.monotonic() - start < ctx.timeouts.spf_walk:
            rounds += 1
            questions = sorted(analysis.missing)[:60]
            results = await asyncio.gather(*(ctx.dns.query(n, t) for n, t in questions))
            answers.update(zip(questions, results, strict=False))
            analysis = analyze_spf(domain, answers)
        elapsed = max((r.elapsed_s for r in answers.values()), default=0.0)
        for finding in self.evaluate_spf(domain, analysis):
            yield replace(finding, duration_s=elapsed)

    def evaluate_spf(self, domain: str, an: SpfAnalysis) -> list[Finding]:
        """Pure: turn the analysed SPF tree into findings (the tree itself goes into the evidence)."""
        ev = {"record": clean(an.root.record or ""), "lookups": an.lookups, "lookup_limit": LOOKUP_LIMIT,
              "void_lookups": an.voids, "void_names": an.void_names[:20], "tree": _clean_tree(an.root.to_dict()),
              "tree_text": [clean(line) for line in an.root.lines()]}
        if an.dynamic:
            ev["not_followed"] = [clean(d) for d in an.dynamic]
        out: list[Finding] = []

        def add(code: str, status: Status, summary: str, **facts: object) -> None:
            shown: dict[str, Any] = {k: clean(str(v), limit=600) for k, v in facts.items()}
            out.append(self.finding(code, status, domain, clean(summary, limit=300), evidence=ev,
                                    domain=domain, **shown))

        root = an.root
        if not an.complete:
            add(
                "spf.incomplete",
                Status.ERROR,
                f"the SPF include tree of {domain} could not be followed to the end in time",
                pending=", ".join(sorted(n for n, _t in an.missing)[:10]),
            )
            return out
        if root.state == "none":
            add("spf.missing", Status.WARN, f"{domain} has no SPF record")
            return out
        by_code: dict[str, list] = {}
        for p in an.problems:
            by_code.setdefault(p.code, []).append(p)
        for p in by_code.get("multiple", []):
            add("spf.multiple", Status.FAIL, f"{p.domain} has {p.detail.count(' | ') + 1} SPF records",
                where=p.domain, count=p.detail.count(" | ") + 1)
        for where in dict.fromkeys(p.domain for p in by_code.get("syntax", [])):
            errors = [p.detail for p in by_code["syntax"] if p.domain == where]
            add("spf.syntax", Status.FAIL, f"SPF record of {where} is invalid: {errors[0]}",
                where=where, errors="; ".join(errors))
        for p in by_code.get("temperror", []):
            add("spf.lookup_failed", Status.FAIL, f"SPF lookup for {p.domain} failed", where=p.domain, why=p.detail)
        for p in by_code.get("include_missing", []) + by_code.get("redirect_missing", []):
            how = p.code.split("_")[0]
            add(
                "spf.include_missing",
                Status.FAIL,
                f"{how} target {p.domain} has no SPF record",
                where=p.domain,
                how=how,
            )
        for p in by_code.get("loop", []):
            add("spf.loop", Status.FAIL, f"SPF include loop: {p.detail}", chain=p.detail)
        if by_code.get("too_deep"):
            add(
                "spf.too_deep",
                Status.FAIL,
                "SPF include tree too deep or too large",
                depth=MAX_DEPTH,
                records=MAX_RECORDS,
            )
        for p in by_code.get("mx_too_many", []):
            add("spf.mx_too_many", Status.FAIL, f"SPF mx term of {p.domain} has too many MX hosts", detail=p.detail)
        if an.lookups > LOOKUP_LIMIT:
            add("spf.too_many_lookups", Status.FAIL,
                f"SPF needs {an.lookups} DNS lookups, more than the limit of {LOOKUP_LIMIT}",
                count=an.lookups, limit=LOOKUP_LIMIT, costs=_costs(an))
        if an.voids > VOID_LIMIT:
            add("spf.void_lookups", Status.FAIL, f"SPF has {an.voids} void lookups (limit {VOID_LIMIT})",
                count=an.voids, limit=VOID_LIMIT, voids=_voids(an))
        if root.state == "ok":
            qualifier, decider = effective_all(root)
            has_redirect = any(t.modifier and t.name == "redirect" for t in root.terms)
            via = f" (through redirect to {decider.domain})" if decider is not root else ""
            loose = pass_all_includes(root)
            if qualifier == "+" or loose:
                how = f"+all{via}" if qualifier == "+" else f"include of {', '.join(loose)}, which ends in +all"
                add("spf.pass_all", Status.FAIL, f"SPF of {domain} allows every server ({how})", how=how)
            elif qualifier == "?":
                add("spf.neutral_all", Status.WARN, f"SPF of {domain} ends in ?all (neutral){via}",
                    record_fixed=_replace_all(decider.record or "", "-all"))
            elif qualifier is None and not (has_redirect and decider is not root):
                add("spf.no_all", Status.WARN, f"SPF of {domain} has no 'all' term", record=root.record)
        for node in root.nodes():
            if node.oddities:
                add("spf.odd", Status.WARN, f"SPF record of {node.domain} is valid but odd: {node.oddities[0]}",
                    where=node.domain, oddities="; ".join(node.oddities[:10]))
        for where in dict.fromkeys(p.domain for p in by_code.get("ptr", [])):
            add("spf.ptr", Status.WARN, f"SPF of {where} uses the deprecated ptr mechanism", where=where)
        if not out:
            add("spf.record", Status.PASS,
                f"{root.record} ({an.lookups} of {LOOKUP_LIMIT} DNS lookups)")
        return out


def _costs(an: SpfAnalysis) -> str:
    parts = [f"{node.domain} {node.lookups}" for node in an.root.nodes() if node.lookups]
    return ", ".join(parts[:20]) + (" ..." if len(parts) > 20 else "")


def _voids(an: SpfAnalysis) -> str:
    return ", ".join(an.void_names[:10])


def _replace_all(record: str, new: str) -> str:
    words = [new if w.lower().lstrip("+-~?") == "all" else w for w in record.split(" ")]
    return " ".join(words)


def _clean_tree(tree: dict) -> dict:
    out = {k: clean(v, limit=600) if isinstance(v, str) else v for k, v in tree.items() if k != "children"}
    if "children" in tree:
        out["children"] = [_clean_tree(c) for c in tree["children"]]
    return out
