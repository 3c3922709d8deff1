"""The lab's iptables rules: one chain per lab, hooked into INPUT.

Loopback traffic passes INPUT, so ``-d ADDR -p tcp -j DROP`` there makes
connections to ADDR time out. Everything the lab adds lives in its own chain
(named after the lab's net) plus one jump rule in INPUT; removing both undoes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

IPTABLES_CANDIDATES = ("/usr/sbin/iptables", "/sbin/iptables")


def _iptables() -> str | None:
    for c in IPTABLES_CANDIDATES:
        if os.path.exists(c):
            return c
    return shutil.which("iptables")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def install(chain: str, drop_addrs: list[str]) -> dict:
    """Create the chain with DROP rules for drop_addrs and hook it into INPUT.
    Returns {"available": bool, "chain": chain, "error": str|None}."""
    ipt = _iptables()
    if not ipt:
        return {"available": False, "chain": chain, "error": "iptables not installed"}
    base = [ipt, "-w", "10"]
    r = _run(base + ["-N", chain])
    if r.returncode != 0 and "exists" not in (r.stderr + r.stdout):
        return {"available": False, "chain": chain,
                "error": f"iptables -N failed: {r.stderr.strip() or r.stdout.strip()}"}
    steps = [["-F", chain]]
    steps += [["-A", chain, "-d", a, "-p", "tcp", "-j", "DROP"] for a in drop_addrs]
    for s in steps:
        r = _run(base + s)
        if r.returncode != 0:
            remove(chain)
            return {"available": False, "chain": chain,
                    "error": f"iptables {' '.join(s)} failed: {r.stderr.strip()}"}
    if _run(base + ["-C", "INPUT", "-j", chain]).returncode != 0:
        r = _run(base + ["-I", "INPUT", "1", "-j", chain])
        if r.returncode != 0:
            remove(chain)
            return {"available": False, "chain": chain,
                    "error": f"iptables -I INPUT failed: {r.stderr.strip()}"}
    return {"available": True, "chain": chain, "error": None, "drop": drop_addrs}


def remove(chain: str) -> None:
    ipt = _iptables()
    if not ipt:
        return
    base = [ipt, "-w", "10"]
    for _ in range(20):  # bounded: one jump per start, normally exactly one
        if _run(base + ["-D", "INPUT", "-j", chain]).returncode != 0:
            break
    _run(base + ["-F", chain])
    _run(base + ["-X", chain])


def active(chain: str) -> bool:
    ipt = _iptables()
    if not ipt:
        return False
    base = [ipt, "-w", "10"]
    return (_run(base + ["-S", chain]).returncode == 0
            and _run(base + ["-C", "INPUT", "-j", chain]).returncode == 0)
