"""OpenDKIM for the lab: a milter on Postfix that signs the healthy domain's outgoing mail and
verifies incoming mail (adding Authentication-Results), as a provider's signing service does.

The signing key is made fresh for every lab (the private half stays in DIR/opendkim, mode 0600);
its public half is published at ``SELECTOR._domainkey.<healthy domain>`` through
``Plan.add_record`` before the zones are written. The selector is not one of the common names
``maildoctor check`` tries, on purpose: only a signed message reveals it (``maildoctor message``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.lab.scenarios import MAIL_DOMAIN_SCENARIO
from tests.lab.zones import Plan

OPENDKIM = "/usr/sbin/opendkim"
SELECTOR = "lab2026"


def make_key(base: Path, plan: Plan) -> str:
    """Write DIR/opendkim/SELECTOR.private, publish the public key in the plan; return the key's path."""
    base.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = base / f"{SELECTOR}.private"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # OpenDKIM refuses a key others can read
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    p = base64.b64encode(public).decode()
    # TXT character-strings are at most 255 octets: split the record as opendkim-genkey does
    text = f"v=DKIM1; k=rsa; p={p}"
    rdata = " ".join(f'"{text[i:i + 250]}"' for i in range(0, len(text), 250))
    plan.add_record(MAIL_DOMAIN_SCENARIO, f"{SELECTOR}._domainkey", "TXT", rdata)
    return str(path)


def write_opendkim(base: Path, plan: Plan, key_file: str, trust_anchor: Path | None = None) -> dict:
    """opendkim.conf for one private instance (runs in the background, its own pid file and socket).
    ``trust_anchor``: the lab resolver's DNSSEC trust anchor (the TLD's DS), so OpenDKIM validates the
    key as receivers with a validating resolver do ("secure" in its Authentication-Results)."""
    domain = plan.domain(MAIL_DOMAIN_SCENARIO)
    socket = base / "milter"
    conf = {
        "Syslog": "no",
        "Background": "yes",
        "Mode": "sv",  # sign mail of internal or authenticated clients, verify the rest
        "Canonicalization": "relaxed/relaxed",
        "Domain": domain,
        "Selector": SELECTOR,
        "KeyFile": key_file,
        "OversignHeaders": "From",
        # the key is 0600 and root's, but it lies below /tmp (writable by all, sticky), which the safety
        # check of the key's path refuses
        "RequireSafeKeys": "no",
        "Socket": f"local:{socket}",
        "UMask": "000",  # Postfix's smtpd (user postfix) must reach the socket
        "PidFile": str(base / "opendkim.pid"),
        "AuthservID": plan.hosts["mx2"].fqdn,  # the receiving host names itself in Authentication-Results
        # OpenDKIM resolves through libunbound: forward everything to the lab's resolver (never the
        # internet); libunbound, like Unbound, refuses to ask a 127.x server unless told otherwise
        "ResolverConfiguration": str(base / "unbound.conf"),
        "DNSTimeout": "5",
    }
    (base / "unbound.conf").write_text(
        "server:\n  do-not-query-localhost: no\n"
        # Unbound answers NXDOMAIN itself for the special-use names "test." and 127.in-addr.arpa
        f'  local-zone: "{plan.tld}." transparent\n  local-zone: "{plan.reverse_origin}." transparent\n'
        + (f'  trust-anchor-file: "{trust_anchor}"\n' if trust_anchor and trust_anchor.exists() else "")
        + f'forward-zone:\n  name: "."\n  forward-addr: {plan.addr("resolver")}\n')
    path = base / "opendkim.conf"
    path.write_text("".join(f"{k} {v}\n" for k, v in conf.items()))
    return {
        "argv": [OPENDKIM, "-x", str(path)],
        "conf": str(path),
        "pidfile": conf["PidFile"],
        "comm": "opendkim",
        "socket": str(socket),
        "selector": SELECTOR,
        "domain": domain,
        "key": key_file,
        "listen": {},
    }
