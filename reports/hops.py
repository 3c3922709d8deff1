"""Which hop of the mail flow a finding is about, for the HTML flow diagram and waterfall.

The flow a message takes: your client -> submission server -> (DNS lookup) -> recipient MX ->
mailbox server -> the recipient's client. A finding is placed by, in this order:

1. the port it is about (``evidence["port"]`` or the ``…:PORT`` at the end of its subject):
   25 -> MX, 587/465 -> submission, 143/993/110/995 -> mailbox, 53 -> DNS;
2. its check id prefix (``PREFIX_HOPS``): ``dns.*`` -> DNS, ``mx.*``/``tcp.*`` -> MX, ...;
3. the services its check declares (``Check.services``, carried in the report) and its side;
4. otherwise "other" (listed under the diagram, never dropped).

A check written later lands in the right place without touching this module as long as it follows
the conventions (port in the evidence or the subject, services declared). Add a prefix below only for
a check that has neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diagnose.engine.model import Finding, Side, Status

DNS, SUBMISSION, MX, MAILBOX, OTHER = "dns", "submission", "mx", "mailbox", "other"


@dataclass(frozen=True)
class Hop:
    key: str
    title: str
    role: str  # one line under the title


# Drawing order of the flow (the client appears at both ends and has no checks of its own).
FLOW = (
    Hop(SUBMISSION, "Submission server", "your client sends (587/465)"),
    Hop(MX, "Recipient MX", "other servers deliver (25)"),
    Hop(MAILBOX, "Mailbox server", "your client reads (IMAP/POP3)"),
)
DNS_HOP = Hop(DNS, "DNS", "MX, SPF, DKIM, DMARC records")
TITLES = {h.key: h.title for h in (*FLOW, DNS_HOP)} | {OTHER: "Other"}

PORT_HOPS = {25: MX, 587: SUBMISSION, 465: SUBMISSION, 143: MAILBOX, 993: MAILBOX, 110: MAILBOX,
             995: MAILBOX, 53: DNS}
PREFIX_HOPS = {
    "dns": DNS, "dnssec": DNS, "spf": DNS, "dkim": DNS, "dmarc": DNS, "mta_sts": DNS, "tls_rpt": DNS,
    "bimi": DNS, "ptr": DNS, "dnsbl": DNS,
    "mx": MX, "tcp": MX,
    "submission": SUBMISSION, "auth": SUBMISSION,
    "imap": MAILBOX, "pop3": MAILBOX, "pop": MAILBOX, "mailbox": MAILBOX,
}
SERVICE_HOPS = {"dns": DNS, "submission": SUBMISSION, "submissions": SUBMISSION, "imap": MAILBOX,
                "imaps": MAILBOX, "pop3": MAILBOX, "pop3s": MAILBOX}
_SUBJECT_PORT = re.compile(r":(\d{1,5})\s*$")


def port_of(finding: Finding) -> int | None:
    port = finding.evidence.get("port") if isinstance(finding.evidence, dict) else None
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    match = _SUBJECT_PORT.search(finding.subject or "")
    return int(match.group(1)) if match else None


def hop_of(finding: Finding, services: dict[str, tuple[str, ...]] | None = None) -> str:
    """The hop key (dns/submission/mx/mailbox/other) a finding belongs to."""
    port = port_of(finding)
    if port in PORT_HOPS:
        return PORT_HOPS[port]
    check = finding.check or ""
    for prefix in (check, check.split(".", 1)[0]):
        if prefix in PREFIX_HOPS:
            return PREFIX_HOPS[prefix]
    declared = (services or {}).get(check, ())
    hops = {SERVICE_HOPS[s] for s in declared if s in SERVICE_HOPS}
    if "smtp" in declared:
        hops.add(SUBMISSION if finding.side is Side.OUTGOING else MX)
    if len(hops) == 1:
        return hops.pop()
    if finding.side is Side.OUTGOING and (not hops or SUBMISSION in hops):
        return SUBMISSION
    if finding.side is Side.INCOMING and MAILBOX in hops and MX not in hops:
        return MAILBOX  # a user-side check (IMAP/POP3 or submission) about the incoming half
    return OTHER


def group_by_hop(findings: list[Finding], services: dict[str, tuple[str, ...]]) -> dict[str, list[Finding]]:
    """Findings by hop; ``services`` (check id -> declared services) comes from the report."""
    groups: dict[str, list[Finding]] = {key: [] for key in (*(h.key for h in FLOW), DNS, OTHER)}
    for f in findings:
        groups[hop_of(f, services)].append(f)
    return groups


def hop_state(findings: list[Finding]) -> str:
    """A hop's colour: the worst status of its tested findings, "skip" when all were skipped, "none"
    when there are none (the flow picture and the live page of `maildoctor serve` draw by it)."""
    tested = [f.status for f in findings if f.status is not Status.SKIP]
    return Status.worst(tested).value if tested else ("skip" if findings else "none")


PHASES = ("DNS", "connect", "greeting", "TLS", "auth")
PHASE_PREFIXES = {
    "dns": "DNS", "mx": "DNS", "spf": "DNS", "dkim": "DNS", "dmarc": "DNS", "dnssec": "DNS", "dane": "DNS",
    "tcp": "connect", "smtp": "greeting", "imap": "greeting", "pop3": "greeting", "servers": "DNS",
    "tls": "TLS", "starttls": "TLS", "auth": "auth", "submission": "auth",
}


def phase_of(finding: Finding) -> str | None:
    """The connection phase a finding's duration belongs to (None: no timing to show)."""
    check = finding.check or ""
    head = check.split(".", 1)[0]
    if check.endswith(".greeting"):
        return "greeting"
    return PHASE_PREFIXES.get(head)
