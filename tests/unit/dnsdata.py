"""Constructed DNS answers for the pure evaluators' unit tests (real dnspython rdata, no sockets)."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype

from diagnose.net.resolver import DnsResult, Outcome


def answer(name: str, rdtype: str, *texts: str, ad: bool = False) -> DnsResult:
    """An ANSWER with the given records in zone-file syntax (TXT texts are quoted for you)."""
    rdtype = rdtype.upper()
    rdata = []
    for t in texts:
        if rdtype == "TXT" and not t.startswith('"'):
            t = " ".join('"' + t[i:i + 255].replace("\\", "\\\\").replace('"', '\\"') + '"'
                         for i in range(0, max(len(t), 1), 255))
        rdata.append(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), t))
    extra = {"authenticated": ad} if "authenticated" in DnsResult.__dataclass_fields__ else {}
    return DnsResult(name, rdtype, Outcome.ANSWER, records=tuple(r.to_text() for r in rdata), rdata=tuple(rdata),
                     canonical_name=name, **extra)


def nxdomain(name: str, rdtype: str) -> DnsResult:
    return DnsResult(name, rdtype.upper(), Outcome.NXDOMAIN)


def nodata(name: str, rdtype: str) -> DnsResult:
    return DnsResult(name, rdtype.upper(), Outcome.NODATA)


def servfail(name: str, rdtype: str) -> DnsResult:
    return DnsResult(name, rdtype.upper(), Outcome.SERVFAIL)


def timeout(name: str, rdtype: str) -> DnsResult:
    return DnsResult(name, rdtype.upper(), Outcome.TIMEOUT)


class Zone(dict):
    """(name, TYPE) -> DnsResult; names not listed are NXDOMAIN when asked through ``get_all``."""

    def txt(self, name: str, *texts: str) -> Zone:
        self[(name, "TXT")] = answer(name, "TXT", *texts)
        return self

    def add(self, result: DnsResult) -> Zone:
        self[(result.name, result.rdtype)] = result
        return self

    def complete(self, analyse, *args, rounds: int = 20):
        """Run a pure analyser until it needs nothing more, answering unknown names NXDOMAIN."""
        for _ in range(rounds):
            result = analyse(*args, self)
            if not result.missing:
                return result
            for name, rdtype in result.missing:
                self.setdefault((name, rdtype), nxdomain(name, rdtype))
        raise AssertionError("analysis did not converge")
