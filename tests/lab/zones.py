"""Turn the data in scenarios.py into addresses, zones and facts for one lab.

Kept free of any server specifics: knot.py renders these zones to files, and
DNSSEC signing can later be switched on per Zone (the ``dnssec`` flag) without
changing the data.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from tests.lab.scenarios import (
    DNS_SERVICES,
    DOVECOT_SERVICES,
    HOSTS,
    POSTFIX_SERVICES,
    PROVIDER_REDIRECTS,
    PROVIDER_WEB,
    PROVIDER_ZONES,
    SCENARIOS,
    WEB_SERVICES,
    Host,
)

SERVICE_PORTS = {**POSTFIX_SERVICES, **DOVECOT_SERVICES, **DNS_SERVICES, **WEB_SERVICES}

DEFAULT_NET = "127.77"
DEFAULT_TLD = "test"
TTL = 60
NEGATIVE_TTL = 10


def parse_net(net: str) -> tuple[int, ...]:
    """'127.A' or '127.A.B' -> the octets. Hosts live at 127.A.0.x or 127.A.B.x."""
    m = re.fullmatch(r"127\.(\d{1,3})(?:\.(\d{1,3}))?", net)
    if not m:
        raise ValueError(f"net must look like 127.A or 127.A.B, got {net!r}")
    octets = [127] + [int(g) for g in m.groups() if g is not None]
    if any(o > 255 for o in octets):
        raise ValueError(f"bad octet in net {net!r}")
    if octets[1] == 0:
        raise ValueError("net 127.0.x is reserved for the machine's own localhost services")
    return tuple(octets)


def check_tld(tld: str) -> str:
    tld = tld.strip(".").lower()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*", tld):
        raise ValueError(f"bad tld {tld!r}")
    return tld


@dataclass(frozen=True)
class RenderedHost:
    key: str
    fqdn: str
    addr: str
    services: tuple[str, ...]
    firewall: str | None
    note: str
    tls: str = ""
    postfix: tuple[str, ...] = ()
    dovecot: tuple[str, ...] = ()
    ptr: str = ""  # PTR target fqdn when it is not fqdn
    sans: tuple[str, ...] = ()  # more certificate names

    @property
    def ports(self) -> dict[str, int]:
        return {s: SERVICE_PORTS[s] for s in self.services}

    @property
    def rev(self) -> str:
        """The address with its octets reversed, as DNSBL and in-addr.arpa names use it."""
        return ".".join(reversed(self.addr.split(".")))


@dataclass
class Zone:
    origin: str  # without trailing dot
    records: list[tuple[str, str, str]] = field(default_factory=list)  # (owner fqdn, type, rdata)
    dnssec: str = ""  # "signed" or "bogus" (signed, wrong DS in the parent): see dnssec.py
    ds: list[str] = field(default_factory=list)  # this zone's DS rdata, once dnssec.make_keys ran

    def add(self, owner: str, rtype: str, rdata: str) -> None:
        self.records.append((owner, rtype, rdata))


class Plan:
    """All names and addresses of one lab (net + tld)."""

    def __init__(self, net: str = DEFAULT_NET, tld: str = DEFAULT_TLD):
        self.octets = parse_net(net)
        self.net = net
        self.tld = check_tld(tld)
        base = self.octets if len(self.octets) == 3 else self.octets + (0,)
        self.prefix = ".".join(str(o) for o in base)  # "127.77.0"
        self.hosts: dict[str, RenderedHost] = {}
        taken: dict[int, str] = {}
        for key, h in HOSTS.items():  # two hosts on one address would silently share PTR and listeners
            if h.octet in taken:
                raise ValueError(f"hosts {taken[h.octet]} and {key} both use octet {h.octet}")
            taken[h.octet] = key
        for key, h in HOSTS.items():
            self.hosts[key] = self._render_host(key, h)
        self.reverse_origin = ".".join(str(o) for o in reversed(self.octets)) + ".in-addr.arpa"
        self.extra: dict[str, list[tuple[str, str, str]]] = {}  # scenario -> records made at start (DKIM keys)

    def add_record(self, scenario: str, owner: str, rtype: str, rdata: str) -> None:
        """A record made when the lab starts (a fresh key), published in the scenario's zone."""
        self.extra.setdefault(scenario, []).append((owner, rtype, rdata))

    # -- names and addresses -------------------------------------------
    def _render_host(self, key: str, h: Host) -> RenderedHost:
        if not 1 <= h.octet <= 254:
            raise ValueError(f"host {key}: octet {h.octet} out of range")
        return RenderedHost(
            key=key,
            fqdn=h.name.rstrip(".") if h.name.endswith(".") else f"{h.name}.{self.tld}",  # "x.": absolute
            addr=f"{self.prefix}.{h.octet}",
            services=tuple(h.services),
            firewall=h.firewall,
            note=h.note,
            tls=h.tls,
            postfix=tuple(h.postfix),
            dovecot=tuple(h.dovecot),
            ptr=f"{h.ptr}.{self.tld}" if h.ptr else "",
            sans=tuple(h.sans),
        )

    def domain(self, name: str) -> str:
        return f"{name}.{self.tld}"

    def addr(self, key: str) -> str:
        return self.hosts[key].addr

    def chain_name(self) -> str:
        # iptables chain names are limited to 28 characters
        return "MDLAB-" + "-".join(str(o) for o in self.octets[1:])

    def instance_tag(self) -> str:
        return "mdlab-" + "-".join(str(o) for o in self.octets)

    def ptr_owner(self, addr: str) -> str:
        return ".".join(reversed(addr.split("."))) + ".in-addr.arpa"

    # -- zones -----------------------------------------------------------
    def _render(self, template: str, domain: str) -> str:
        return template.format(tld=self.tld, domain=domain, domain_dashed=domain.replace(".", "-"), **self.hosts)

    @property
    def provider_origins(self) -> list[str]:
        """The providers' zones the lab impersonates (scenarios.PROVIDER_ZONES), e.g. google.com."""
        return sorted(PROVIDER_ZONES)

    def zones(self) -> list[Zone]:
        ns = self.hosts["ns"].fqdn
        tld_zone = Zone(self.tld)
        served = {name: Zone(self.domain(name)) for name, sc in SCENARIOS.items() if sc.served}
        reverse = Zone(self.reverse_origin)
        providers = [Zone(origin) for origin in self.provider_origins]  # not delegated: Unbound has stub zones
        for pz in providers:
            for owner, rtype, rdata in PROVIDER_ZONES[pz.origin]:
                pz.add(pz.origin if owner == "@" else f"{owner}.{pz.origin}", rtype, self._render(rdata, pz.origin))
        all_zones = [tld_zone, *served.values(), *providers, reverse]

        for z in all_zones:
            z.add(z.origin, "NS", ns + ".")

        for name, sc in SCENARIOS.items():
            if sc.delegate_to:  # a lame delegation: the parent points at a server that serves nothing
                tld_zone.add(self.domain(name), "NS", self.hosts[sc.delegate_to].fqdn + ".")
            if not sc.served:
                continue
            z = served[name]
            tld_zone.add(z.origin, "NS", ns + ".")  # delegation (DS goes here later)
            z.dnssec = sc.dnssec
            if sc.dnssec:
                tld_zone.dnssec = "signed"  # a signed child needs a signed parent for its DS
            for owner, rtype, rdata in (*sc.records, *self.extra.get(name, ())):
                owner = self._render(owner, z.origin)
                owner_fqdn = z.origin if owner == "@" else f"{owner}.{z.origin}"
                z.add(owner_fqdn, rtype.upper(), self._render(rdata, z.origin))

        by_origin = sorted(all_zones[:-1], key=lambda z: -len(z.origin))
        for h in self.hosts.values():
            zone = next(z for z in by_origin if h.fqdn == z.origin or h.fqdn.endswith("." + z.origin))
            zone.add(h.fqdn, "A", h.addr)
            if h.ptr != f"-.{self.tld}":  # Host.ptr "-": no PTR at all
                reverse.add(self.ptr_owner(h.addr), "PTR", (h.ptr or h.fqdn) + ".")
        return all_zones

    def web_files(self) -> dict[str, dict[str, str]]:
        """Files the lab's HTTPS server serves: {virtual host: {path: content}} (Scenario.web)."""
        sites: dict[str, dict[str, str]] = {}
        for name, sc in SCENARIOS.items():
            domain = self.domain(name)
            for key, template in sc.web.items():
                label, _, path = key.partition("/")
                sites.setdefault(f"{label}.{domain}", {})["/" + path] = self._render(template, domain)
        for host, files in PROVIDER_WEB.items():
            sites.setdefault(host, {}).update(files)  # served as they are: %EMAILADDRESS% is filled per request
        return sites

    def web_redirects(self) -> dict[str, str]:
        """Plain-HTTP redirects host web gives, path -> https URL (scenarios.PROVIDER_REDIRECTS)."""
        return dict(PROVIDER_REDIRECTS)

    def outside_tlds(self) -> list[str]:
        """Last labels of absolute names used in scenario data that lie outside the lab.

        The resolver answers NXDOMAIN for them (as the real root would for a
        name such as ``127.77.0.10.``) instead of REFUSED.
        """
        inside = (self.tld, self.reverse_origin, *self.provider_origins)
        out = set()
        for z in self.zones():
            for _owner, rtype, rdata in z.records:
                if rtype in ("MX", "CNAME", "NS", "PTR", "SRV"):
                    target = rdata.split()[-1].rstrip(".")
                    if not target:
                        continue
                    if any(target == i or target.endswith("." + i) for i in inside):
                        continue
                    out.add(target.rsplit(".", 1)[-1])
        return sorted(out)

    # -- facts -------------------------------------------------------------
    def scenario_facts(self) -> dict[str, dict]:
        zones = self.zones()
        rrs: dict[tuple[str, str], list[str]] = {}
        for z in zones:
            for owner, rtype, rdata in z.records:
                rrs.setdefault((owner, rtype), []).append(rdata)

        def addresses(name: str, depth: int = 0) -> list[str]:
            if depth > 8:
                return []
            if (name, "CNAME") in rrs:
                return addresses(rrs[(name, "CNAME")][0].rstrip("."), depth + 1)
            return list(rrs.get((name, "A"), []))

        by_addr = {h.addr: h for h in self.hosts.values()}
        facts = {}
        for name, sc in SCENARIOS.items():
            domain = self.domain(name)
            mx = []
            for rdata in rrs.get((domain, "MX"), []):
                pref, target = rdata.split()
                target = target.rstrip(".")
                addrs = addresses(target) if target else []
                mx.append({
                    "preference": int(pref),
                    "exchange": target,
                    "cname": rrs.get((target, "CNAME"), [None])[0],
                    "addresses": addrs,
                    "hosts": [by_addr[a].key for a in addrs if a in by_addr],
                })
            mx.sort(key=lambda m: m["preference"])
            hosts = sorted({h.key for h in self.hosts.values()
                            if h.fqdn == domain or h.fqdn.endswith("." + domain)})
            facts[name] = {
                "domain": domain,
                "served": sc.served,
                "mx": mx,
                "apex_addresses": addresses(domain),
                "hosts": {k: {"fqdn": self.hosts[k].fqdn, "addr": self.hosts[k].addr,
                              "ports": self.hosts[k].ports} for k in hosts},
                "expected": sc.expected,
                "dnssec": sc.dnssec,
                **sc.extra,
            }
        return facts


def serial() -> int:
    return int(time.time())
