"""From findings to a diagnosis: the root cause first, its consequences under it, repeats grouped.

A person whose mail stopped reads the first line and acts on it, so the order of problems is
decided here, from the findings alone (a saved report diagnoses the same as a live run):

1. **Causes.** A problem *explains* another when a rule links them: a domain that does not resolve
   explains every lookup under it; broken DNSSEC explains the failed lookups; a port that does not
   connect explains the TLS, certificate, AUTH and login findings of that port; a sending server that
   cannot be reached explains failed logins and the round trip; an MX that is a CNAME explains the
   certificate-name mismatch on that host. Causes chain (DNSSEC -> domain lookup -> SPF); a
   consequence is folded under its root.
2. **Rank** of a root: how much mail it stops (``Impact``: delivery, sending, reading, security,
   practice) over the root and everything it explains, then severity, then a fixed key. Never the
   order in which checks finished.
3. **Groups**: the same fact seen on several ports, addresses or protocols (same family, same kind
   of code, same status) is one problem with its subjects listed.
4. **Headline**: one sentence with the verdict and the top root cause.

Check ids are ``family.aspect`` and codes start with the family; the rules below speak of families
and code endings, so they hold for third-party checks that follow the same conventions.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from diagnose.engine.model import Finding, Status

PROBLEMS = (Status.FAIL, Status.ERROR, Status.WARN)
_SEVERITY = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.SKIP: 3, Status.PASS: 4}
_ENDPOINT = re.compile(r"^(?P<host>\S+) \[(?P<address>[^\]]+)\]:(?P<port>\d{1,5})$")

SUBMISSION_PORTS = frozenset({587, 465})
MAILBOX_PORTS = frozenset({143, 993, 110, 995})
MX_PORT = 25
# families whose findings are about the domain's DNS data (explained by a domain that does not resolve)
DNS_FAMILIES = frozenset({"dns", "dnssec", "mx", "spf", "dmarc", "dkim", "mta_sts", "tls_rpt", "dane", "ptr",
                          "dnsbl", "autoconfig", "servers", "bimi", "provider"})
# families judged on a connection (explained by a port that does not connect)
CONNECTION_FAMILIES = frozenset({"tls", "auth", "dane", "smtp", "imap", "pop3", "login", "cert"})
CONNECT_FAILURES = ("refused", "connect_timeout", "timeout", "filtered", "unreachable", "connect_error",
                    "no_route", "port25_blocked_here")


class Impact(enum.IntEnum):
    """What a problem stops, most important first."""

    DELIVERY = 0  # mail cannot reach the domain
    SENDING = 1  # the user cannot send
    READING = 2  # the user cannot read
    SECURITY = 3  # mail flows, but not safely
    PRACTICE = 4  # best practice and deliverability


def family(finding: Finding) -> str:
    return finding.check.split(".", 1)[0]


def code_tail(finding: Finding) -> str:
    """The kind of a code without its family or check: ``tls.cert_expired`` -> ``cert_expired``."""
    return finding.code.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Endpoint:
    """A server address and port that findings are about."""

    host: str
    address: str
    port: int


def endpoint_of(finding: Finding) -> Endpoint | None:
    """The server address and port a finding is about, from its subject ``host [addr]:port``."""
    return _endpoint(finding.subject)


@lru_cache(maxsize=4096)
def _endpoint(subject: str) -> Endpoint | None:  # the rules ask once per pair of findings
    m = _ENDPOINT.match(subject)
    return Endpoint(m["host"], m["address"], int(m["port"])) if m else None


def port_of(finding: Finding) -> int | None:
    ep = endpoint_of(finding)
    if ep:
        return ep.port
    port = finding.evidence.get("port") if isinstance(finding.evidence, dict) else None
    return port if isinstance(port, int) and not isinstance(port, bool) else None


def is_connect_failure(finding: Finding) -> bool:
    return finding.status in PROBLEMS and any(code_tail(finding).endswith(w) for w in CONNECT_FAILURES) \
        and endpoint_of(finding) is not None


def impact_of(finding: Finding) -> Impact:
    fam, port = family(finding), port_of(finding)
    failed = finding.status in (Status.FAIL, Status.ERROR)
    check = finding.check
    if fam == "dns" or (fam == "dnssec" and failed) or (fam == "mx" and failed):
        return Impact.DELIVERY
    if check.startswith("login.smtp") or fam == "roundtrip" or (fam == "message" and failed):
        return Impact.SENDING  # message: a returned message is mail the user sent that did not arrive
    if check.startswith(("login.imap", "login.pop3")):
        return Impact.READING
    if port is not None:
        user_side = Impact.SENDING if port in SUBMISSION_PORTS else Impact.READING if port in MAILBOX_PORTS else None
        if fam in ("tcp", "smtp", "imap", "pop3") and failed:
            return user_side if user_side is not None else Impact.DELIVERY
        if fam in ("tls", "auth", "cert") and failed and user_side is not None:
            return user_side  # mail programs refuse a server whose TLS or certificate fails
        return Impact.SECURITY
    if fam in ("dnssec", "dane", "mta_sts", "tls_rpt", "tls"):
        return Impact.SECURITY
    return Impact.PRACTICE


# --- causal rules: (cause, effect) -> True when the cause explains the effect ----------------------

def _domain_lookup_broken(cause: Finding, effect: Finding) -> bool:
    """A domain that does not resolve (NXDOMAIN, SERVFAIL, timeout) explains every other problem about
    the domain's records and the logins and round trip that depend on them (not what a server said
    on a connection that worked: that is a fact of its own)."""
    return family(cause) == "dns" and cause.status is Status.FAIL and endpoint_of(cause) is None \
        and endpoint_of(effect) is None \
        and not (family(effect) == "dnssec" and effect.status is Status.FAIL)  # bogus DNSSEC is a reason, not a result


def _dnssec_bogus(cause: Finding, effect: Finding) -> bool:
    """Answers that fail DNSSEC validation explain the failed lookups (SERVFAIL) under the domain."""
    return family(cause) == "dnssec" and cause.status is Status.FAIL and family(effect) in DNS_FAMILIES \
        and endpoint_of(effect) is None


def _port_unreachable(cause: Finding, effect: Finding) -> bool:
    """A port that does not connect explains what could not be judged on that same address and port."""
    if not is_connect_failure(cause):
        return False
    a, b = endpoint_of(cause), endpoint_of(effect)
    return b is not None and a is not None and (a.address, a.port) == (b.address, b.port) \
        and family(effect) in CONNECTION_FAMILIES | {"tcp"}


def _server_unreachable_for_login(cause: Finding, effect: Finding) -> bool:
    """A sending (reading) server that cannot be reached explains the failed logins and round trip."""
    if not is_connect_failure(cause) or effect.status not in (Status.ERROR, Status.FAIL):
        return False
    port = port_of(cause)
    if effect.check.startswith("login.smtp") or family(effect) == "roundtrip":
        return port in SUBMISSION_PORTS
    if effect.check.startswith(("login.imap", "login.pop3")):
        return port in MAILBOX_PORTS
    return False


def _cname_mx_name_mismatch(cause: Finding, effect: Finding) -> bool:
    """An MX that is a CNAME explains a certificate made for the CNAME's target on that host."""
    return family(cause) == "mx" and code_tail(cause) == "cname" and "name_mismatch" in code_tail(effect) \
        and bool(cause.host) and cause.host == effect.host


def _certificate_explains_login(cause: Finding, effect: Finding) -> bool:
    """A certificate or handshake failure on a port explains a login that refused to send credentials there."""
    if family(cause) not in ("tls", "cert") or cause.status is not Status.FAIL or not effect.check.startswith("login"):
        return False
    return bool(cause.host) and cause.host == effect.host and "tls" in code_tail(effect)


def _certificate_explains_mta_sts(cause: Finding, effect: Finding) -> bool:
    """An MX certificate that fails explains MTA-STS saying that MX would not be accepted."""
    return family(cause) in ("tls", "cert") and cause.status is Status.FAIL and port_of(cause) == MX_PORT \
        and family(effect) == "mta_sts" and bool(cause.host) and cause.host in f"{effect.host} {effect.summary}"


def _locked_account_explains_rejection(cause: Finding, effect: Finding) -> bool:
    """A server that says the account is locked explains another protocol's plain "rejected" for the
    same login (Postfix's SASL, for one, gives no reason)."""
    return family(cause) == "login" and family(effect) == "login" and code_tail(cause) in ("locked", "expired") \
        and code_tail(effect) == "rejected"


def _port25_blocked_here(cause: Finding, effect: Finding) -> bool:
    """Port 25 blocked on the network maildoctor runs from explains every port-25 connection that
    failed: the fault is (probably) not the servers'."""
    return code_tail(cause) == "port25_blocked_here" and port_of(effect) == MX_PORT and cause is not effect


# provider.* codes that name a mixture of providers (or a provider's record that is missing), and what each
# explains: the SPF/DKIM problems it is the reason for, and what the round trip saw of it
PROVIDER_SENDING = ("mixed", "spf_include_missing", "dkim_selector_missing", "dkim_missing")
PROVIDER_RECEIVING = ("mx_elsewhere", "mx_mixed")
SENDING_EFFECTS = {"spf": ("missing",), "dkim": ("none_found", "not_found", "no_key", "revoked", "no_signing_key"),
                   "roundtrip": ("junk", "auth_failed", "dkim_unsigned", "dkim_invalid")}
RECEIVING_EFFECTS = {"roundtrip": ("bounced", "not_delivered", "rejected")}


def _provider_mixture(cause: Finding, effect: Finding) -> bool:
    """A mixture of providers (MX at one, SPF authorising another; one of Microsoft's DKIM selectors
    missing; MX still at the old provider) is the likely reason mail from the domain lands in spam
    (the SPF, DKIM and round-trip verdicts) or mail to it bounces."""
    if family(cause) != "provider" or cause.status not in PROBLEMS or endpoint_of(effect) is not None:
        return False
    tail = code_tail(cause)
    effects = SENDING_EFFECTS if tail in PROVIDER_SENDING else RECEIVING_EFFECTS if tail in PROVIDER_RECEIVING else {}
    return code_tail(effect) in effects.get(family(effect), ())


def _revoked_key_explains_no_key(cause: Finding, effect: Finding) -> bool:
    """Every DKIM key found being revoked is why the domain signs with no usable key."""
    return family(cause) == family(effect) == "dkim" and code_tail(cause) == "revoked" \
        and code_tail(effect) == "no_key"


RULES = (_dnssec_bogus, _domain_lookup_broken, _port25_blocked_here, _port_unreachable,
         _server_unreachable_for_login, _cname_mx_name_mismatch, _certificate_explains_login,
         _certificate_explains_mta_sts, _locked_account_explains_rejection, _provider_mixture,
         _revoked_key_explains_no_key)


# --- the diagnosis -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    """One fact seen on several subjects: the findings' ids, most important first."""

    ids: tuple[str, ...]
    summary: str


@dataclass
class Diagnosis:
    """Ids, causes, order, groups and headline of one report's findings."""

    findings: list[Finding]  # in the report's fixed order
    ids: list[str]  # ids[i] belongs to findings[i]
    caused_by: dict[str, str] = field(default_factory=dict)  # effect id -> cause id
    root_causes: list[str] = field(default_factory=list)  # problem ids that nothing explains, ranked
    groups: list[Group] = field(default_factory=list)
    headline: str = ""
    _at: dict[str, int] = field(init=False, repr=False, default_factory=dict)  # id -> index

    def __post_init__(self) -> None:
        self._at = {fid: i for i, fid in enumerate(self.ids)}

    def by_id(self, fid: str) -> Finding:
        return self.findings[self._at[fid]]

    def id_of(self, finding: Finding) -> str:
        for i, f in enumerate(self.findings):
            if f is finding:
                return self.ids[i]
        return self.ids[self.findings.index(finding)]

    def consequences(self, fid: str) -> list[str]:
        """Everything a root explains, directly or through a chain, ranked."""
        children: dict[str, list[str]] = {}
        for effect, cause in self.caused_by.items():
            children.setdefault(cause, []).append(effect)
        out, todo = [], [fid]
        while todo:
            direct = children.get(todo.pop(), [])
            out += direct
            todo += direct
        return sorted(out, key=lambda i: rank_key(self.by_id(i)))

    def to_dict(self) -> dict[str, object]:
        return {"headline": self.headline, "root_causes": list(self.root_causes),
                "groups": [{"ids": list(g.ids), "summary": g.summary} for g in self.groups]}


# Within the same impact and severity, what to fix first: the basics before what builds on them
# (SPF and DKIM before DMARC, which needs one of them to pass).
FAMILY_ORDER = ("dns", "dnssec", "mx", "tcp", "smtp", "imap", "pop3", "tls", "cert", "auth", "login", "roundtrip",
                "dane", "mta_sts", "provider", "spf", "dkim", "dmarc", "tls_rpt", "ptr", "dnsbl", "servers",
                "autoconfig")


def _family_rank(f: Finding) -> int:
    fam = family(f)
    return FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER)


def rank_key(f: Finding) -> tuple[int, int, int, str, str, str]:
    return (impact_of(f), _SEVERITY[f.status], _family_rank(f), f.check, f.code, f.subject)


def fixed_order(findings: Iterable[Finding]) -> list[Finding]:
    """The report's order: the same findings give the same order every run."""
    return sorted(findings, key=lambda f: (f.check, f.subject, f.code, f.summary))


def diagnose(findings: Sequence[Finding], domain: str = "", *, interrupted: bool = False) -> Diagnosis:
    """The diagnosis of ``findings`` (in the report's fixed order; ids are f1, f2, ... in that order);
    ``interrupted``: the run was stopped (Ctrl-C) before every check ended."""
    ids = [f"f{i + 1}" for i in range(len(findings))]
    d = Diagnosis(list(findings), ids)
    problems = [(fid, f) for fid, f in zip(ids, findings, strict=True) if f.status in PROBLEMS]
    for fid, effect in problems:
        if family(effect) == "message":  # `maildoctor message`: each recipient's fate is its own, no rule links them
            continue  # (and a bounce for 200 recipients would cost 200 x 200 rule checks)
        cause = _best_cause(effect, fid, problems)
        if cause is not None:
            d.caused_by[fid] = cause
    _break_cycles(d)
    roots = [fid for fid, _ in problems if fid not in d.caused_by]
    d.root_causes = sorted(roots, key=lambda r: _root_key(d, r))
    d.groups = _groups(d)
    d.headline = headline(d, domain, interrupted=interrupted)
    return d


def _best_cause(effect: Finding, effect_id: str, problems: list[tuple[str, Finding]]) -> str | None:
    """The first rule (in RULES order) that links some other problem to ``effect``; ties by rank."""
    for rule in RULES:
        causes = [(cid, c) for cid, c in problems if cid != effect_id and rule(c, effect)]
        # a finding cannot be explained by one of the same rule that it would explain back
        causes = [(cid, c) for cid, c in causes if not rule(effect, c) or rank_key(c) < rank_key(effect)]
        if causes:
            return min(causes, key=lambda p: rank_key(p[1]))[0]
    return None


def _break_cycles(d: Diagnosis) -> None:
    for start in list(d.caused_by):
        path, cur = [start], d.caused_by.get(start)
        while cur is not None:
            if cur in path:  # a loop: its best-ranked member becomes the root
                loop = path[path.index(cur):]
                d.caused_by.pop(min(loop, key=lambda i: rank_key(d.by_id(i))), None)
                break
            path.append(cur)
            cur = d.caused_by.get(cur)


def _root_key(d: Diagnosis, root: str) -> tuple[int, int, int, str, str, str]:
    members = [d.by_id(root)] + [d.by_id(c) for c in d.consequences(root)]
    f = d.by_id(root)
    return (min(impact_of(m) for m in members), min(_SEVERITY[m.status] for m in members), _family_rank(f),
            f.check, f.code, f.subject)


def group_key(f: Finding) -> tuple[str, str, str]:
    """Same family, same kind of code, same status: the same fact (e.g. one certificate on five ports,
    one wrong password on SMTP, IMAP and POP3)."""
    return (family(f), code_tail(f), f.status.value)


def _groups(d: Diagnosis) -> list[Group]:
    buckets: dict[tuple[str, str, str], list[str]] = {}
    for fid in d.root_causes:
        buckets.setdefault(group_key(d.by_id(fid)), []).append(fid)
    groups = []
    for members in buckets.values():
        if len(members) > 1:
            first = d.by_id(members[0])
            groups.append(Group(tuple(members), f"{first.summary} (and on {len(members) - 1} more)"))
    return groups


def headline(d: Diagnosis, domain: str, *, interrupted: bool = False) -> str:
    """One sentence: the verdict and the top root cause in plain words."""
    name = domain or "this domain"
    if not d.root_causes:
        if d.findings and family(d.findings[0]) == "message":  # `maildoctor message`: what the message is
            return d.findings[0].summary.rstrip(".") + "."
        passed = sum(f.status is Status.PASS for f in d.findings)
        if interrupted:  # no "looks healthy" for a run that was stopped: what was not tested is unknown
            return (f"Interrupted before every check ran: no problem found for {name} in the {passed} tests that "
                    "passed so far.")
        if passed:
            return f"Mail for {name} looks healthy: {passed} tests passed."
        return f"Nothing about mail for {name} could be tested."
    top = d.by_id(d.root_causes[0])
    members = [top] + [d.by_id(i) for i in d.consequences(d.root_causes[0])]
    impact = min(impact_of(m) for m in members)
    worst = Status.worst([m.status for m in members])
    what = top.summary.rstrip(".")
    if top.host and top.host not in what and endpoint_of(top):
        what = f"{top.subject}: {what}"
    if family(top) == "message":  # `maildoctor message`: about one message, its summary says it all
        sentence = f"{what}."
    elif top.status is Status.ERROR:
        sentence = f"{name} could not be fully tested: {what}."
    elif worst is Status.WARN:
        sentence = f"Mail for {name} works, with a warning: {what}."
    else:
        sentence = {
            Impact.DELIVERY: f"Mail to {name} cannot be delivered: {what}.",
            Impact.SENDING: f"Sending mail through {name}'s servers fails: {what}.",
            Impact.READING: f"Reading mail at {name} fails: {what}.",
            Impact.SECURITY: f"Mail for {name} is not secure: {what}.",
            Impact.PRACTICE: f"Mail for {name} works, but needs attention: {what}.",
        }[impact]
    follow = len(d.consequences(d.root_causes[0]))
    if follow:
        sentence += f" {follow} other problem{'s' if follow != 1 else ''} follow{'s' if follow == 1 else ''} from this."
    grouped = {fid: g.ids[0] for g in d.groups for fid in g.ids}
    more = len({grouped.get(r, r) for r in d.root_causes}) - 1  # problems as listed: a group is one
    if more:
        sentence += f" {more} more problem{'s' if more != 1 else ''} below."
    if interrupted:  # what was found stands; whether the rest "works" is unknown
        return f"Interrupted before every check ran; found so far: {sentence[0].lower()}{sentence[1:]}"
    return sentence
