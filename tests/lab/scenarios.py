"""The lab's data: its hosts and its scenario domains.

Everything here is relative: a host is a last octet plus a name under the
lab's TLD, and every record is a template rendered per lab, so the same data
gives ``mx1.healthy.test`` at ``127.77.0.10`` for one lab and
``mx1.healthy.example`` at ``127.78.0.10`` for another.

Templates (str.format) may use:

* ``{tld}``             the lab's TLD, e.g. ``test``
* ``{domain}``          the scenario's own domain, e.g. ``healthy.test``
* ``{HOST.fqdn}``       a host's name, e.g. ``{mx1.fqdn}`` -> ``mx1.healthy.test``
* ``{HOST.addr}``       a host's address, e.g. ``{mx1.addr}`` -> ``127.77.0.10``

Every host gets an A record (in the zone its name falls in) and a PTR record
automatically; scenarios list only their other records. Owners are relative to
the scenario domain (``@`` is the apex). Write absolute names with a trailing
dot.

To add a scenario: add an entry to SCENARIOS (and, if it needs its own
address, a host to HOSTS with a free octet and the services that must listen
there). Nothing else has to change: zones, PTRs, certificates, listeners and
``lab.scenarios`` facts are all derived from these tables.

No AAAA records: the only IPv6 address allowed for the lab is ::1, which every
lab on the machine would share, so parallel labs would clash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Services a host can offer; which server provides them.
POSTFIX_SERVICES = {"smtp": 25, "submission": 587, "submissions": 465}
DOVECOT_SERVICES = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
DNS_SERVICES = {"dns-auth": 53, "dns-resolver": 53}


@dataclass(frozen=True)
class Host:
    octet: int  # last octet of the address (the lab's net gives the rest)
    name: str  # name relative to the TLD: "mx1.healthy" -> mx1.healthy.<tld>
    services: tuple[str, ...] = ()
    firewall: str | None = None  # "drop": all TCP to the address is DROPped
    note: str = ""


@dataclass(frozen=True)
class Scenario:
    expected: str  # short description of what a diagnosis should find
    records: tuple[tuple[str, str, str], ...] = ()  # (owner, type, rdata template)
    served: bool = True  # False: the domain does not exist at all (NXDOMAIN)
    extra: dict = field(default_factory=dict)  # free-form facts for tests


HOSTS: dict[str, Host] = {
    # infrastructure
    "ns": Host(53, "ns1", ("dns-auth",), note="Knot, authoritative for every lab zone"),
    "resolver": Host(54, "resolver", ("dns-resolver",), note="Unbound, the resolver to use"),
    # healthy.<tld>
    "mx1": Host(10, "mx1.healthy", ("smtp", "submission", "submissions"),
                note="Postfix: 25, 587 (STARTTLS+AUTH), 465 (TLS+AUTH)"),
    "mx2": Host(11, "mx2.healthy", ("smtp",), note="Postfix: 25 (backup MX)"),
    "smtp": Host(12, "smtp.healthy", ("submission", "submissions"),
                 note="Postfix: submission host, 587 and 465"),
    "imap": Host(20, "imap.healthy", ("imap", "imaps", "pop3", "pop3s"),
                 note="Dovecot: 143 (STARTTLS), 993, 110 (STLS), 995"),
    # fault hosts
    "refused": Host(30, "mx.refused", note="nothing listens: connection refused"),
    "filtered": Host(31, "mx.filtered", firewall="drop",
                     note="all TCP to it DROPped by iptables: connect times out"),
    "implicit": Host(40, "implicit", ("smtp",), note="Postfix: 25, apex A of implicit.<tld>"),
    "mixedbad": Host(41, "mx1.mixed", note="nothing listens: connection refused"),
    "mixedok": Host(42, "mx2.mixed", ("smtp",), note="Postfix: 25"),
}

# The user the mail servers know; the password is generated per lab.
MAIL_USER = "user"
MAIL_DOMAIN_SCENARIO = "healthy"

SCENARIOS: dict[str, Scenario] = {
    "healthy": Scenario(
        "two working MX hosts (10 mx1, 20 mx2), submission and IMAP hosts",
        (
            ("@", "MX", "10 {mx1.fqdn}."),
            ("@", "MX", "20 {mx2.fqdn}."),
            ("@", "TXT", '"v=spf1 mx -all"'),
        ),
    ),
    "refused": Scenario(
        "single MX whose port 25 refuses connections",
        (("@", "MX", "10 {refused.fqdn}."),),
    ),
    "filtered": Scenario(
        "single MX whose port 25 is silently dropped (connect times out)",
        (("@", "MX", "10 {filtered.fqdn}."),),
    ),
    "nullmx": Scenario(
        "null MX (RFC 7505): the domain accepts no mail",
        (("@", "MX", "0 ."),),
    ),
    "implicit": Scenario(
        "no MX; the apex A record is the implicit MX (RFC 5321 5.1) and port 25 works",
        (),  # the apex A comes from host "implicit"
    ),
    "cnamemx": Scenario(
        "MX target is a CNAME (RFC 2181 10.3 violation) to a working host",
        (
            ("@", "MX", "10 mail.{domain}."),
            ("mail", "CNAME", "{mx1.fqdn}."),
        ),
    ),
    "dangling": Scenario(
        "MX target name does not exist (NXDOMAIN)",
        (("@", "MX", "10 mx.{domain}."),),
    ),
    "nodata": Scenario(
        "domain exists (TXT at apex) but has no MX and no A/AAAA",
        (("@", "TXT", '"maildoctor lab: no mail here"'),),
    ),
    "ipliteral": Scenario(
        "MX target is a name that looks like an IP address (it resolves to nothing)",
        (("@", "MX", "10 {mx1.addr}."),),
    ),
    "mixed": Scenario(
        "two MX hosts: preferred one refuses, backup works",
        (
            ("@", "MX", "10 {mixedbad.fqdn}."),
            ("@", "MX", "20 {mixedok.fqdn}."),
        ),
    ),
    "nxdomain": Scenario(
        "the domain does not exist at all (NXDOMAIN)",
        served=False,
    ),
}
