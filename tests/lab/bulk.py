"""Many simple extra domains in a running lab, for batch benchmarks and tests.

``add_bulk_domains(lab, 10_000)`` serves ``bulk00001.<tld>`` ... as zones of their own in Knot
(delegated from the TLD zone like the scenario domains), each with the same simple, healthy mail
setup: MX 10 and 20 at the lab's working MX hosts, SPF and DMARC. Knot loads ten thousand such
zones in a few seconds; the zone files and config entries live in the lab dir, so the next
``Lab.start`` (a fresh lab) has none. Calling it again replaces the previous set.

The resolver (Unbound) is restarted afterwards: it might otherwise answer from cached denials of
the TLD zone (aggressive NSEC) that say the new names do not exist.
"""

from __future__ import annotations

import random
import re
import socket
import struct
import subprocess
import time
from pathlib import Path

from tests.lab.procs import LabError, alive, read_pid, stop_tree, wait_for
from tests.lab.zones import NEGATIVE_TTL, TTL

KNOTC = "/usr/sbin/knotc"
MARK = "# --- bulk domains (tests/lab/bulk.py) ---"  # a comment in knot.conf ...
ZONE_MARK = "; --- bulk domains (tests/lab/bulk.py) ---"  # ... and in a zone file
MAX_COUNT = 100_000


def bulk_names(lab, count: int, label: str = "bulk") -> list[str]:
    width = max(5, len(str(count)))
    return [f"{label}{i:0{width}d}.{lab.tld}" for i in range(1, count + 1)]


def _zone_text(domain: str, lab) -> str:
    ns = lab.hostname("ns")
    mx1, mx2 = lab.hostname("mx1"), lab.hostname("mx2")
    return "\n".join([
        f"$ORIGIN {domain}.",
        f"$TTL {TTL}",
        f"@ SOA {ns}. hostmaster.{lab.tld}. 1 3600 600 86400 {NEGATIVE_TTL}",
        f"@ NS {ns}.",
        f"@ MX 10 {mx1}.",
        f"@ MX 20 {mx2}.",
        '@ TXT "v=spf1 mx -all"',
        f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"',
    ]) + "\n"


def _strip_marked(text: str, mark: str) -> str:
    return text.split("\n" + mark + "\n", 1)[0].rstrip("\n") + "\n"


def add_bulk_domains(lab, count: int, *, label: str = "bulk", extra: dict[str, list[str]] | None = None,
                     timeout: float = 120.0) -> list[str]:
    """Serve ``count`` extra healthy domains in the running ``lab``; return their names.

    ``extra`` serves more zones the same way: {"name.<tld>": ["@ MX 10 mx", "mx A 127.77.0.231"]}
    (zone-file lines relative to the zone; SOA and NS are added)."""
    if not 0 <= count <= MAX_COUNT:
        raise LabError(f"bulk domain count must be 0..{MAX_COUNT}")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,20}", label):
        raise LabError(f"bad bulk label {label!r}")
    knot = lab.state["processes"]["knot"]
    conf = Path(knot["conf"])
    zdir = conf.parent / "zones"
    tld_file = zdir / f"{lab.tld}.zone"
    conf_text, tld_text = _strip_marked(conf.read_text(), MARK), _strip_marked(tld_file.read_text(), ZONE_MARK)
    last_section = [line for line in conf_text.splitlines() if re.match(r"^[a-z]+:\s*$", line)][-1]
    if last_section != "zone:":
        raise LabError(f"{conf}: the zone list is not the last section; cannot append bulk zones")
    for old in zdir.glob("bulk-*.zone"):
        old.unlink()

    names = bulk_names(lab, count, label)
    ns = lab.hostname("ns")
    for name in names:
        (zdir / f"bulk-{name}.zone").write_text(_zone_text(name, lab))
    for name, records in (extra or {}).items():
        if not name.endswith("." + lab.tld) or not re.fullmatch(r"[a-z0-9.-]+", name):
            raise LabError(f"extra zone {name!r} must be a name under .{lab.tld}")
        head = _zone_text(name, lab).splitlines()[:4]  # $ORIGIN, $TTL, SOA, NS
        (zdir / f"bulk-{name}.zone").write_text("\n".join(head + list(records)) + "\n")
    names_served = names + list(extra or {})
    conf_lines = [MARK] + [f"  - domain: {n}.\n    file: {zdir / f'bulk-{n}.zone'}" for n in names_served]
    tld_lines = [ZONE_MARK] + [f"{n}. {TTL} IN NS {ns}." for n in names_served]
    conf.write_text(conf_text + "\n".join(conf_lines) + "\n" if names_served else conf_text)
    # a higher SOA serial, so Knot takes the changed TLD zone on reload
    tld_text = re.sub(r"^(@ SOA \S+ \S+ )(\d+)", lambda m: f"{m.group(1)}{max(int(m.group(2)) + 1, int(time.time()))}",
                      tld_text, count=1, flags=re.M)
    tld_file.write_text(tld_text + "\n".join(tld_lines) + "\n" if names_served else tld_text)

    proc = subprocess.run([KNOTC, "-c", str(conf), "-t", str(int(timeout)), "reload"],
                          capture_output=True, text=True, timeout=timeout + 10)
    if proc.returncode != 0:
        raise LabError(f"knotc reload failed: {(proc.stderr or proc.stdout).strip()}")
    for probe in names_served[:1] + names_served[-1:]:
        # an authoritative SOA answer: Knot has loaded the zone; DS without NXDOMAIN: the TLD delegates it
        wait_for(f"knot serving {probe}", lambda p=probe: _authoritative(lab.authoritative, p, 6), timeout)
        wait_for(f"knot delegating {probe} from {lab.tld}", lambda p=probe: _authoritative(lab.authoritative, p, 43),
                 timeout)
    restart_resolver(lab, timeout=30.0)
    return names


def restart_resolver(lab, *, timeout: float) -> None:
    """Stop and start the lab's Unbound with the same config: an empty cache."""
    from tests.lab.lab import dns_probe

    unbound = lab.state["processes"]["unbound"]
    pid = read_pid(unbound["pidfile"])
    if alive(pid):
        stop_tree(pid, unbound["comm"], timeout=10)
    with open(unbound.get("launch_log") or "/dev/null", "ab") as out:
        proc = subprocess.run(unbound["argv"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              start_new_session=True, timeout=timeout)
    if proc.returncode != 0:
        raise LabError(f"unbound did not restart (exit {proc.returncode})")
    wait_for("unbound pid file", lambda: alive(read_pid(unbound["pidfile"])), timeout)
    unbound["pid"] = read_pid(unbound["pidfile"])
    lab._save()
    healthy = lab.domain("healthy")
    wait_for(f"unbound resolving via {lab.resolver}", lambda: dns_probe(lab.resolver, healthy, 15) == 0, timeout)


def _authoritative(addr: str, qname: str, qtype: int, timeout: float = 0.5) -> bool:
    """Does ``addr`` answer ``qtype`` of ``qname`` with the AA bit and no error (not a referral)?"""
    qid = random.getrandbits(16)
    packet = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    packet += b"".join(bytes([len(label)]) + label.encode() for label in qname.split(".")) + b"\0"
    packet += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, (addr, 53))
            data, _ = s.recvfrom(4096)
        except OSError:
            return False
    return len(data) >= 12 and data[:2] == packet[:2] and bool(data[2] & 0x04) and data[3] & 0x0F == 0


def drop_address(lab, addr: str) -> None:
    """Make TCP connections to ``addr`` (one of the lab's net, with nothing on it) time out, like the
    lab's filtered host; the rule lives in the lab's own iptables chain, removed by ``lab.stop()``."""
    from tests.lab import firewall

    chain = lab.state.get("firewall", {}).get("chain")
    if not lab.firewall_available or not chain:
        raise LabError("iptables is not available in this lab: nothing can be filtered")
    prefix = lab.host("ns").rsplit(".", 1)[0] + "."
    if not addr.startswith(prefix) or addr in {h["addr"] for h in lab.hosts.values()}:
        raise LabError(f"{addr} is not a free address of the lab's net {prefix}x")
    ipt = firewall._iptables()
    proc = subprocess.run([ipt, "-w", "10", "-A", chain, "-d", addr, "-p", "tcp", "-j", "DROP"],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise LabError(f"iptables -A {chain} failed: {proc.stderr.strip()}")
