"""servers.discover: which servers do users' mail programs talk to (submission, IMAP, POP3)?

Order: the command line (--smtp-host/--imap-host/--pop-host), else SRV records (RFC 6186),
else the common names (smtp., mail., imap., pop.) that resolve. All names go through ctx.dns.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from diagnose.engine.facts import MAILBOX_HOSTS, SUBMISSION_HOSTS, ServiceHost
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.resolver import Outcome


@dataclass(frozen=True, eq=False)  # never compared (equal only to itself): no __eq__ to generate at import
class Family:
    """A kind of server to find (submission, IMAP, POP3): its SRV names and the usual host names."""

    key: str  # "submission", "imap", "pop3"
    option: str  # the command-line option and Options attribute
    srv: tuple[tuple[str, int], ...]  # (SRV label, standard port)
    guesses: tuple[str, ...]  # common names, in order


FAMILIES = (
    Family("submission", "smtp_hosts", (("_submission._tcp", 587), ("_submissions._tcp", 465)), ("smtp", "mail")),
    Family("imap", "imap_hosts", (("_imap._tcp", 143), ("_imaps._tcp", 993)), ("imap", "mail")),
    Family("pop3", "pop_hosts", (("_pop3._tcp", 110), ("_pop3s._tcp", 995)), ("pop", "pop3", "mail")),
)
OPTION_FLAG = {"smtp_hosts": "--smtp-host", "imap_hosts": "--imap-host", "pop_hosts": "--pop-host"}


def option_hosts(ctx: CheckContext, attr: str) -> tuple[str, ...]:
    return tuple(getattr(ctx.options, attr, None) or ())


class ServersDiscover(Check):
    id = "servers.discover"
    title = "Find the submission, IMAP and POP3 servers"
    side = Side.BOTH
    services = ("submission", "imap", "pop3")
    provides = (SUBMISSION_HOSTS, MAILBOX_HOSTS)
    texts = {
        "servers.found": ("", ""),
        "servers.not_found": (
            "No {what} server was found for {domain}: there are no SRV records ({srv}) and none of "
            "the usual names ({guesses}) resolves. Mail programs that configure themselves cannot "
            "find the server, and maildoctor cannot test it.",
            "If users use a provider's server (e.g. smtp.provider.example), run maildoctor with "
            "{flag} that.host.name. To let mail programs find your own server, publish SRV records "
            "(RFC 6186), e.g. `{example}`.",
        ),
        "servers.not_offered": (
            "{domain} says with an SRV record whose target is \".\" that it offers no {what} service "
            "(RFC 6186 §3.4). Mail programs will not try it.",
            "Nothing to do if that is intended; otherwise point the SRV record at the server, e.g. `{example}`.",
        ),
        "servers.srv_no_address": (
            "The SRV record {owner} points at {target}, which has no address. Mail programs that "
            "follow the SRV record cannot connect.",
            "Give {target} an A (and AAAA) record, or point the SRV record at the right host.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        submission_imap = await asyncio.gather(*(self._family(ctx, fam) for fam in FAMILIES[:2]))
        imap_hosts = submission_imap[1][0]
        # POP3 usually runs beside IMAP (one Dovecot): if no POP name exists, try the IMAP host.
        pop3 = await self._family(ctx, FAMILIES[2], fallback=imap_hosts[:1])
        results = [*submission_imap, pop3]
        submission: list[ServiceHost] = []
        mailbox: dict[str, ServiceHost] = {}
        for fam, (hosts, findings) in zip(FAMILIES, results, strict=False):
            for f in findings:
                yield f
            if fam.key == "submission":
                submission = hosts
            else:
                for h in hosts:
                    old = mailbox.get(h.name)
                    mailbox[h.name] = h if old is None else ServiceHost(
                        h.name, old.addresses, tuple(dict.fromkeys(old.ports + h.ports)),
                        old.source if old.source == h.source else f"{old.source}; {h.source}")
        if submission:
            ctx.publish(SUBMISSION_HOSTS, tuple(submission))
        else:
            ctx.withhold(SUBMISSION_HOSTS, "no submission server was found (use --smtp-host)")
        if mailbox:
            ctx.publish(MAILBOX_HOSTS, tuple(mailbox.values()))
        else:
            ctx.withhold(MAILBOX_HOSTS, "no IMAP or POP3 server was found (use --imap-host/--pop-host)")

    async def _family(self, ctx: CheckContext, fam: Family, fallback: Sequence[ServiceHost] = ()
                      ) -> tuple[list[ServiceHost], list[Finding]]:
        domain = ctx.target.domain
        ports = tuple(p for _label, p in fam.srv)
        what = {"submission": "mail submission (sending)", "imap": "IMAP", "pop3": "POP3"}[fam.key]
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(domain=domain, what=what, flag=OPTION_FLAG[fam.option],
                  srv=", ".join(f"{label}.{domain}" for label, _p in fam.srv),
                  guesses=", ".join(f"{g}.{domain}" for g in fam.guesses),
                  example=f"{fam.srv[-1][0]}.{domain}. 3600 IN SRV 0 1 {fam.srv[-1][1]} {fam.guesses[0]}.{domain}.")
        side = Side.OUTGOING if fam.key == "submission" else Side.INCOMING
        given = option_hosts(ctx, fam.option)
        if given:
            hosts = [ServiceHost(n, await _addresses(ctx, n), ports, OPTION_FLAG[fam.option]) for n in given]
            return self._report(fam, hosts, side, what, domain, kw)
        answers = await asyncio.gather(*(ctx.dns.query(f"{label}.{domain}", "SRV") for label, _p in fam.srv))
        findings: list[Finding] = []
        hosts = []
        any_srv = False
        for (label, port), answer in zip(fam.srv, answers, strict=False):
            if answer.outcome is not Outcome.ANSWER:
                continue
            any_srv = True
            owner = f"{label}.{domain}"
            for r in sorted(answer.rdata, key=lambda r: (r.priority, -r.weight)):
                target = r.target.to_text(omit_final_dot=True).lower()
                if target in ("", "."):
                    findings.append(
                        self._side(
                            self.finding(
                                "servers.not_offered",
                                Status.PASS,
                                owner,
                                f'{owner}: {what} explicitly not offered (SRV target ".")',
                                evidence={"srv": list(answer.records)},
                                **kw,
                            ),
                            side,
                        )
                    )
                    continue
                addrs = await _addresses(ctx, target)
                if not addrs:
                    findings.append(self._side(self.finding(
                        "servers.srv_no_address", Status.WARN, owner, f"SRV target {target} has no address",
                        evidence={"srv": list(answer.records)}, host=target, owner=owner, target=target, **kw), side))
                    continue
                srv_port = int(r.port) if int(r.port) in ports else port  # unusual ports: probe the standard one
                hosts.append(ServiceHost(target, addrs, (srv_port,), f"SRV {label}"))
        if not any_srv:
            for guess in fam.guesses:
                name = f"{guess}.{domain}"
                addrs = await _addresses(ctx, name)
                if addrs:
                    hosts.append(ServiceHost(name, addrs, ports, "common name"))
                    break
            else:
                hosts += [ServiceHost(h.name, h.addresses, ports, "common name") for h in fallback]
        merged: dict[str, ServiceHost] = {}
        for h in hosts:
            old = merged.get(h.name)
            merged[h.name] = (
                h
                if old is None
                else ServiceHost(h.name, h.addresses, tuple(dict.fromkeys(old.ports + h.ports)), old.source)
            )
        hosts = list(merged.values())
        found, more = self._report(fam, hosts, side, what, domain, kw)
        return found, findings + more

    def _report(self, fam: Family, hosts: list[ServiceHost], side: Side, what: str, domain: str, kw: dict
                ) -> tuple[list[ServiceHost], list[Finding]]:
        hosts = [h for h in hosts if h.addresses]
        if not hosts:
            return [], [self._side(self.finding("servers.not_found", Status.SKIP, domain,
                                                f"no {what} server found for {domain}", **kw), side)]
        listing = "; ".join(f"{h.name} ports {', '.join(map(str, h.ports))} ({h.source})" for h in hosts)
        ev: dict[str, Any] = {"servers": [{"name": h.name, "addresses": list(h.addresses), "ports": list(h.ports),
                                           "source": h.source} for h in hosts]}
        if all(h.source in OPTION_FLAG.values() for h in hosts):
            ev["from_input"] = True  # only the user's own --smtp-host etc.: this pass tests nothing
        return hosts, [self._side(self.finding("servers.found", Status.PASS, domain, f"{what}: {listing}",
                                               evidence=ev), side)]

    @staticmethod
    def _side(finding: Finding, side: Side) -> Finding:
        from dataclasses import replace
        return replace(finding, side=side)


async def _addresses(ctx: CheckContext, name: str) -> tuple[str, ...]:
    """A name's addresses through ctx.dns; an address literal given on the command line is used as is."""
    try:
        return (str(ipaddress.ip_address(name.strip("[]"))),)
    except ValueError:
        pass
    a, aaaa = await asyncio.gather(ctx.dns.query(name, "A"), ctx.dns.query(name, "AAAA"))
    return a.records + aaaa.records
