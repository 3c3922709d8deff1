"""DNSSEC for the lab: keys made with keymgr before Knot starts, DS records placed in the parent.

Zones with ``dnssec == "signed"`` get a key and a correct DS in their parent (the TLD zone);
``"bogus"`` zones are signed too but their parent gets a DS with a wrong digest, so a validating
resolver answers SERVFAIL for them; ``"island"`` zones are signed without any DS (unvalidated). The TLD zone is signed whenever any child is, and its DS
becomes Unbound's trust anchor. Knot signs at load time (policy ``lab``, ``manual: on``: it uses
exactly these keys and never rolls them).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.lab.zones import Zone

KEYMGR = "/usr/sbin/keymgr"
POLICY = [
    "policy:",
    "  - id: lab",
    "    algorithm: ecdsap256sha256",
    "    single-type-signing: on",
    "    manual: on",
    "",
]


def signed(zones: list[Zone]) -> list[Zone]:
    return [z for z in zones if z.dnssec]


def zone_conf(zone: Zone) -> list[str]:
    return ["    dnssec-signing: on", "    dnssec-policy: lab"] if zone.dnssec else []


def _keymgr(conf: Path, *args: str) -> str:
    proc = subprocess.run([KEYMGR, "-c", str(conf), *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"keymgr {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def make_keys(conf: Path, zones: list[Zone], tld: str) -> None:
    """Generate one key per signed zone and put DS records where they belong.

    Fills ``zone.ds`` (the zone's own DS rdata) and adds DS records to the TLD zone for every
    signed child (a corrupted digest for "bogus" children).
    """
    by_origin = {z.origin: z for z in zones}
    parent = by_origin[tld]
    for zone in signed(zones):
        _keymgr(conf, f"{zone.origin}.", "generate", "algorithm=ecdsap256sha256", "ksk=yes", "zsk=yes")
        lines = [ln.split() for ln in _keymgr(conf, f"{zone.origin}.", "ds").splitlines() if " DS " in ln]
        # "<owner> DS <tag> <alg> <digest type> <digest>": keep SHA-256 (digest type 2)
        ds = [" ".join(f[2:]) for f in lines if len(f) == 6 and f[4] == "2"]
        if not ds:
            raise RuntimeError(f"keymgr gave no SHA-256 DS for {zone.origin}")
        zone.ds = ds
        if zone is parent or zone.dnssec == "island":  # island: signed, but the parent knows nothing
            continue
        for rdata in ds:
            if zone.dnssec == "bogus":
                tag, alg, dtype, digest = rdata.split()
                rdata = f"{tag} {alg} {dtype} {digest[:-8]}{'0' * 8 if not digest.endswith('0' * 8) else '1' * 8}"
            parent.add(zone.origin, "DS", rdata)


def trust_anchor(zones: list[Zone], tld: str) -> list[str]:
    """Unbound trust-anchor lines: the TLD's DS, when the lab signs anything."""
    return [f"{z.origin}. DS {ds}" for z in zones if z.origin == tld for ds in z.ds]
