"""Knot (authoritative) and Unbound (resolver) configuration for the lab."""

from __future__ import annotations

from pathlib import Path

from tests.lab import dnssec
from tests.lab.zones import NEGATIVE_TTL, TTL, Plan, Zone, serial

KNOTD = "/usr/sbin/knotd"
UNBOUND = "/usr/sbin/unbound"


def render_zone(zone: Zone, plan: Plan) -> str:
    ns = plan.hosts["ns"].fqdn
    lines = [
        f"$ORIGIN {zone.origin}.",
        f"$TTL {TTL}",
        f"@ SOA {ns}. hostmaster.{plan.tld}. {serial()} 3600 600 86400 {NEGATIVE_TTL}",
    ]
    for owner, rtype, rdata in zone.records:
        lines.append(f"{owner}. {TTL} IN {rtype} {rdata}")
    return "\n".join(lines) + "\n"


def write_knot(base: Path, plan: Plan, zones: list[Zone]) -> dict:
    """Write knot.conf and zone files under base; return process facts."""
    zdir = base / "zones"
    for d in (base, zdir, base / "db", base / "run"):
        d.mkdir(parents=True, exist_ok=True)

    ns = plan.hosts["ns"].addr
    conf = [
        "server:",
        f"    rundir: {base / 'run'}",
        f"    pidfile: {base / 'run' / 'knot.pid'}",
        f"    listen: {ns}@53",
        "    identity: maildoctor-lab",
        "",
        "database:",
        f"    storage: {base / 'db'}",
        "",
        "control:",
        f"    listen: {base / 'run' / 'knot.sock'}",
        "",
        "log:",
        f"  - target: {base / 'knot.log'}",
        "    any: info",
        "",
        "template:",
        "  - id: default",
        f"    storage: {zdir}",
        '    file: "%s.zone"',
        "    zonefile-load: whole",
        "    zonefile-sync: -1",
        "    journal-content: none",
        "    semantic-checks: on",
        "",
        *(dnssec.POLICY if dnssec.signed(zones) else []),
        "zone:",
    ]
    for z in zones:
        conf.append(f"  - domain: {z.origin}.")
        conf += dnssec.zone_conf(z)
    conf_path = base / "knot.conf"
    conf_path.write_text("\n".join(conf) + "\n")
    if dnssec.signed(zones):  # keys before zone files: the DS records go into the TLD zone
        dnssec.make_keys(conf_path, zones, plan.tld)
    for z in zones:
        (zdir / f"{z.origin}.zone").write_text(render_zone(z, plan))
    return {
        "argv": [KNOTD, "-c", str(conf_path), "-d"],
        "conf": str(conf_path),
        "pidfile": str(base / "run" / "knot.pid"),
        "comm": "knotd",
        "log": str(base / "knot.log"),
    }


def write_unbound(base: Path, plan: Plan, zones: list[Zone]) -> dict:
    base.mkdir(parents=True, exist_ok=True)
    anchors = dnssec.trust_anchor(zones, plan.tld)  # filled by write_knot's key generation
    if anchors:
        (base / "trust-anchor").write_text("\n".join(anchors) + "\n")
    me = plan.hosts["resolver"].addr
    ns = plan.hosts["ns"].addr
    conf = [
        "server:",
        "    verbosity: 1",
        f"    interface: {me}",
        "    port: 53",
        # queries to Knot leave from the lab address too; a loopback source
        # address can never be routed off this machine.
        f"    outgoing-interface: {me}",
        "    do-ip4: yes",
        "    do-ip6: no",
        "    do-udp: yes",
        "    do-tcp: yes",
        "    access-control: 127.0.0.0/8 allow",
        '    chroot: ""',
        '    username: ""',
        f'    directory: "{base}"',
        f'    pidfile: "{base / "unbound.pid"}"',
        f'    logfile: "{base / "unbound.log"}"',
        "    use-syslog: no",
        "    log-servfail: yes",
        "    num-threads: 1",
        "    so-reuseport: no",
        # a batch of 32 targets at a time has ~130 questions in flight: with room for only 64, Unbound drops
        # the rest (jostles them) and each dropped question costs the client a whole retry (--timeout)
        "    outgoing-range: 1024",
        "    num-queries-per-thread: 1024",
        "    msg-cache-size: 8m",  # the bench's 10,000 bulk domains fit (2 MB evicted answers mid-run)
        "    rrset-cache-size: 16m",
        "    do-not-query-localhost: no",
        "    qname-minimisation: no",
        "    prefetch: no",
        "    harden-referral-path: no",
        # validating when the lab signs zones (trust anchor: the TLD's DS), else a plain iterator
        # trust-anchor-file with the TLD's DS.
        f'    module-config: "{"validator iterator" if anchors else "iterator"}"',
        *([f'    trust-anchor-file: "{base / "trust-anchor"}"', "    val-log-level: 2"] if anchors else []),
        # never ask the internet: everything outside the lab is refused ...
        '    local-zone: "." refuse',
        # ... except the lab's own zones (these also override Unbound's
        # built-in local zones such as "test." and "127.in-addr.arpa.")
        f'    local-zone: "{plan.tld}." transparent',
        f'    local-zone: "{plan.reverse_origin}." transparent',
        # ... and the providers' zones the lab impersonates (google.com, outlook.com, ...)
        *(f'    local-zone: "{origin}." transparent' for origin in plan.provider_origins),
    ]
    # TLDs named by scenario data outside the lab (e.g. "10." of an MX target
    # "127.77.0.10."): NXDOMAIN, as the real root would answer.
    for t in plan.outside_tlds():
        if t not in (plan.tld,):
            conf.append(f'    local-zone: "{t}." static')
    for origin in (plan.tld, plan.reverse_origin, *plan.provider_origins):
        conf += ["", "stub-zone:", f'    name: "{origin}."', f"    stub-addr: {ns}@53"]
    conf += ["", "remote-control:", "    control-enable: no"]
    conf_path = base / "unbound.conf"
    conf_path.write_text("\n".join(conf) + "\n")
    return {
        "argv": [UNBOUND, "-c", str(conf_path)],
        "conf": str(conf_path),
        "pidfile": str(base / "unbound.pid"),
        "comm": "unbound",
        "log": str(base / "unbound.log"),
    }
