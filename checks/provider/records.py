"""provider.records: the records the recognised provider documents are in place, and do not mix providers.

The typical mistakes are mixtures: MX moved to one provider while SPF still authorises the old one
(mail from the domain then fails SPF and lands in spam), Outlook and DKIM set up for a provider the
MX does not point at (mail to the domain goes to the old one), one of Microsoft's two DKIM CNAMEs
missing (signing breaks at the next key rotation). Every miss comes with the exact record to publish.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from checks.provider.signals import PROVIDER_FACT, Hosting
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.providers import IN_USE_SIGNALS, Match, Provider, fill, microsoft_tenant, mx_line


def with_include(record: str | None, include: str, drop: tuple[str, ...] = ()) -> str:
    """Pure: the SPF record with ``include:`` added before its ``all`` (and the ``drop`` includes removed)."""
    if not record:
        return f"v=spf1 include:{include} ~all"
    terms = [t for t in record.split()[1:]
             if not any(re.fullmatch(rf"[+?~-]?include:{re.escape(d)}\.?", t, re.I) for d in drop)]
    at = next((i for i, t in enumerate(terms) if re.fullmatch(r"[+?~-]?all", t, re.I) or t.lower().startswith(
        ("redirect=", "exp="))), len(terms))
    return " ".join(["v=spf1", *terms[:at], f"include:{include}", *terms[at:]])


def sibling_cname(domain: str, selector: str, present: list[str], cnames: Mapping[str, str]) -> str:
    """Pure: the CNAME of a missing selector made from a published sibling's target, the selector name
    swapped (selector1-x._domainkey.T.onmicrosoft.com -> selector2-...; the same for Microsoft's newer
    *.dkim.mail.microsoft targets and Fastmail's fm1..fm3); '' when no sibling names itself."""
    for other in present:
        target = cnames.get(other, "")
        if other in target:
            return f"{selector}._domainkey.{domain}. CNAME {target.replace(other, selector, 1)}."
    return ""


def _dkim_present(p: Provider, hosting: Hosting) -> list[str]:
    s = hosting.signals
    return [sel for sel in p.dkim if (p.matches("dkim_cname", s.dkim_cnames.get(sel, "")) if p.dkim_cname
                                      else sel in s.dkim_keys)]


class ProviderRecords(Check):
    id = "provider.records"
    title = "The provider's documented records are in place"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("dns",)
    needs = (PROVIDER_FACT,)
    texts = {
        "provider.records_ok": ("", ""),
        "provider.no_expectations": ("", ""),
        "provider.mixed": (
            "The MX of {domain} points at {provider}, but its SPF record authorises {other} and not {provider}. "
            "This is what a move from {other} to {provider} leaves behind: mail sent through {provider} fails SPF "
            "at receivers, so mail from {domain} lands in spam or is refused (DMARC fails unless DKIM passes).",
            "Publish this SPF record instead (keep include:{other_include} only if {other} still sends mail "
            "for you):\n`{domain}. TXT \"{record}\"` (source: {source})",
        ),
        "provider.spf_include_missing": (
            "{provider} handles the mail of {domain} ({why}), but the SPF record {spf_state} does not authorise it "
            "(include:{include}). Mail sent through {provider} fails SPF at receivers: it lands in spam, or is "
            "refused where DMARC says reject.",
            "Publish (as the only SPF record): `{domain}. TXT \"{record}\"` (source: {source}).",
        ),
        "provider.mx_elsewhere": (
            "{other} is set up for {domain} ({why}), but its MX points at {provider}. Mail to {domain} is "
            "delivered to {provider}: if the mailboxes moved to {other}, it bounces or lands in the old mailboxes.",
            "If {other} now holds the mailboxes, publish its MX records instead of {provider}'s:\n{records}\n"
            "(source: {source}). If {provider} is right, remove the leftover records of {other}.",
        ),
        "provider.mx_mixed": (
            "The MX records of {domain} name servers of {provider} and others ({others}). Senders pick among them "
            "by preference and try the next on failure, so part of the mail to {domain} goes elsewhere, or "
            "bounces there.",
            "Publish exactly {provider}'s MX records:\n{records}\n(source: {source})",
        ),
        "provider.dkim_selector_missing": (
            "{provider} signs mail of {domain} with the DKIM selectors {selectors} and rotates between them; "
            "{present} is published, {missing} is not. Signing breaks when {provider} rotates to the missing one: "
            "mail then fails DKIM (and DMARC unless SPF aligns), so it lands in spam.",
            "Publish:\n{records}\n(source: {source})",
        ),
        "provider.dkim_missing": (
            "{provider} can sign mail of {domain} with a DKIM key of your own domain, but no key is published at "
            "the selectors it uses ({selectors}). Mail is then unsigned, or signed with {provider}'s own domain: "
            "DMARC can pass only through SPF, and forwarded mail fails it.",
            "Turn on DKIM for {domain} at {provider} and publish:\n{records}\n(source: {source})",
        ),
        "provider.autodiscover_missing": (
            "{domain} receives its mail at {provider}, but autodiscover.{domain} {state}. Outlook and phones look "
            "there to set up the account by themselves; without it users must type the servers by hand.",
            "Publish `{record}` (source: {source}).",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        hosting: Hosting = await ctx.fact(PROVIDER_FACT)
        for finding in self.evaluate(ctx.target.domain, hosting):
            yield finding

    def evaluate(self, domain: str, hosting: Hosting) -> list[Finding]:
        """Pure: compare the signals with what each recognised provider documents."""
        if not hosting.matches:
            return [self.finding("provider.no_expectations", Status.SKIP, domain,
                                 "no known provider recognised: no provider records to compare")]
        v = _View(self, domain, hosting)
        v.spf()
        v.mx()
        v.dkim()
        v.autodiscover()
        for m in v.in_use:
            if m.provider.id in v.problems or m.provider.kind == "sender":
                continue
            present = _dkim_present(m.provider, hosting)
            checked = ["MX" if "mx" in m.signals() else "", "SPF include" if "spf" in m.signals() else "",
                       "DKIM " + "/".join(present) if present else "",
                       "autodiscover" if "autodiscover" in m.signals() else ""]
            dmarc = "DMARC published" if hosting.dmarc else "no DMARC (see dmarc.record)"
            v.out.append(self.finding("provider.records_ok", Status.PASS, domain,
                                      f"{m.provider.name}: {', '.join(c for c in checked if c)} as documented; "
                                      f"{dmarc}", evidence={"provider": m.provider.id, "dmarc": hosting.dmarc,
                                                            "sources": list(m.provider.sources)}))
        if not v.out:
            names = ", ".join(f"{m.provider.name} ({'/'.join(sorted(m.signals()))})" for m in hosting.matches)
            v.out.append(self.finding("provider.no_expectations", Status.SKIP, domain,
                                      f"no provider records to compare: {names} (an SPF include alone may be a "
                                      "leftover; a sending service documents no mailbox records)"))
        return v.out


class _View:
    """One evaluation: the providers in their roles, and the findings made so far."""

    def __init__(self, check: ProviderRecords, domain: str, hosting: Hosting) -> None:
        self.check, self.domain, self.hosting, self.s = check, domain, hosting, hosting.signals
        self.matches = list(hosting.matches)
        self.in_use = [m for m in self.matches if m.in_use]
        self.at_mx = [m for m in self.in_use if "mx" in m.signals()]
        self.mailbox_mx = [m for m in self.at_mx if m.provider.kind == "mailbox"]
        self.out: list[Finding] = []
        self.problems: dict[str, list[str]] = {}  # provider id -> codes found

    def add(self, m: Match, code: str, status: Status, summary: str, ev: dict[str, Any], **kw: Any) -> None:
        self.problems.setdefault(m.provider.id, []).append(code)
        ev = {"provider": m.provider.id, "via": [list(v) for v in m.via], "sources": list(m.provider.sources), **ev}
        kw.setdefault("provider", m.provider.name)
        self.out.append(self.check.finding(code, status, self.domain, summary, evidence=ev, domain=self.domain,
                                           source=m.provider.sources[0], **kw))

    def spf(self) -> None:
        """Every provider that carries mail for the domain must be authorised by its SPF record."""
        s, domain = self.s, self.domain
        for m in self.in_use:
            p = m.provider
            if p.kind == "sender" or not p.spf_include or "spf" in m.signals():
                continue
            status = Status.FAIL if m in self.mailbox_mx else Status.WARN
            stale = [o for o in self.matches if o.signals() == {"spf"} and o.provider.kind == "mailbox" and o is not m]
            if stale and m in self.mailbox_mx:
                other = stale[0].provider
                other_inc = next(v for sig, v in stale[0].via if sig == "spf")
                record = with_include(s.spf_record, p.spf_include, drop=(other_inc,))
                self.add(m, "provider.mixed", status, f"MX at {p.name}, but SPF authorises {other.name}, not {p.name}",
                         {"record": record, "other": other.id}, other=other.name, other_include=other_inc,
                         record=record)
                continue
            record = with_include(s.spf_record, p.spf_include)
            why = "its MX" if m in self.at_mx else "its " + ", ".join(sorted(m.signals() & IN_USE_SIGNALS))
            self.add(m, "provider.spf_include_missing", status,
                     f"SPF of {domain} lacks include:{p.spf_include} ({p.name})" if s.spf_record else
                     f"{domain} has no SPF record authorising {p.name}", {"record": record},
                     include=p.spf_include, record=record, why=why,
                     spf_state="of " + domain if s.spf_record else "(there is none)")

    def mx(self) -> None:
        """A mailbox provider set up through autodiscover/DKIM while the MX points at another; an MX set
        that mixes the provider's servers with others."""
        domain = self.domain
        for m in self.in_use:
            p = m.provider
            if p.kind != "mailbox" or "mx" in m.signals() or not self.mailbox_mx or not p.mx_records:
                continue
            host = self.mailbox_mx[0].provider
            why = " and ".join(sorted(m.signals() & IN_USE_SIGNALS))
            self.add(m, "provider.mx_elsewhere", Status.WARN,
                     f"{p.name} is set up ({why}), but the MX points at {host.name}",
                     {"records": [mx_line(domain, r) for r in p.mx_records]}, other=p.name, why=why,
                     records="\n".join(f"`{mx_line(domain, r)}`" for r in p.mx_records), provider=host.name)
        for m in self.mailbox_mx:
            others = [h for h in self.s.mx if not m.provider.matches("mx", h)]
            if others and m.provider.mx_records and len(self.at_mx) == 1:
                self.add(m, "provider.mx_mixed", Status.WARN,
                         f"MX of {domain} mixes {m.provider.name} with {', '.join(others)}",
                         {"others": others}, others=", ".join(others),
                         records="\n".join(f"`{mx_line(domain, r)}`" for r in m.provider.mx_records))

    def dkim(self) -> None:
        """The DKIM selectors each provider signs with: one of a rotating pair missing, or none at all."""
        s, domain = self.s, self.domain
        for m in self.in_use:
            p = m.provider
            if p.kind != "mailbox" or not p.dkim or not p.dkim_records or not (m.signals() & {"mx", "dkim"}):
                continue
            present = _dkim_present(p, self.hosting)
            missing = [sel for sel in p.dkim if sel not in present]
            tenant = next((t for t in (microsoft_tenant(s.dkim_cnames.get(sel, "")) for sel in present) if t), "")
            wanted = [sibling_cname(domain, sel, present, s.dkim_cnames)
                      or fill(p.dkim_records[sel], domain, tenant=tenant) for sel in missing if sel in p.dkim_records]
            shown = "\n".join(f"`{r}`" for r in wanted)
            if present and missing and p.dkim_all:
                self.add(m, "provider.dkim_selector_missing", Status.FAIL,
                         f"{p.name} DKIM: {', '.join(missing)} missing ({', '.join(present)} is there)",
                         {"present": present, "missing": missing, "records": wanted},
                         selectors=" and ".join(p.dkim), present=", ".join(present), missing=", ".join(missing),
                         records=shown)
            elif not present:
                self.add(m, "provider.dkim_missing", Status.WARN, f"{p.name} DKIM for {domain} is not set up "
                         f"(no {', '.join(sel + '._domainkey' for sel in p.dkim)})",
                         {"missing": missing, "records": wanted}, selectors=", ".join(p.dkim), records=shown)

    def autodiscover(self) -> None:
        """autodiscover.<domain>, where the provider documents it."""
        s = self.s
        for m in self.mailbox_mx:
            p = m.provider
            if not p.autodiscover_record or p.matches("autodiscover", s.autodiscover) \
                    or p.matches("autodiscover", s.autodiscover_srv):
                continue
            state = f"points at {s.autodiscover}" if s.autodiscover else "is not published"
            record = fill(p.autodiscover_record, self.domain)
            self.add(m, "provider.autodiscover_missing", Status.WARN,
                     f"autodiscover.{self.domain} {state} ({p.name} documents {record.split()[-1]})",
                     {"record": record}, record=record, state=state)
