"""`maildoctor message FILE`: what a returned message (bounce, auto-reply, feedback report) or a
delivered message's header says, as findings in the one report model, rendered in any format with
the exit codes of `check`.

Not a check plugin: it reads a file, not a domain. The parsing is in diagnose.knowledge (mailfile,
bounce, headers); this module turns what they found into findings with words and remedies.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from diagnose import __version__
from diagnose.app.message_catalogue import MessageHeaders
from diagnose.app.message_headers import header_findings
from diagnose.app.message_recheck import Lookup, header_rechecks, lookup_error
from diagnose.engine.exitcodes import ExitCode, exit_code_for
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check
from diagnose.engine.report import Report
from diagnose.knowledge import bounce
from diagnose.knowledge.mailfile import MAX_BYTES, Loaded, NotAMessage, load
from diagnose.knowledge.sanitize import clean
from diagnose.knowledge.smtpcodes import explain_reply

BOUNCE = "message.bounce"

# reason -> (what it means, what to do); {recipient}, {domain}, {checks}, {commands} are filled in
REASON_TEXTS: dict[str, tuple[str, str]] = {
    "user_unknown": ("The receiving server says the address {recipient} does not exist.",
                     "Check the address for typing mistakes and ask the recipient for the right one; do not resend "
                     "to it unchanged (repeated sends to unknown users hurt your sender reputation)."),
    "mailbox_full": ("The recipient's mailbox is full (over its quota).",
                     "Nothing to fix on your side: tell the recipient another way, or resend later."),
    "mailbox_disabled": ("The recipient's mailbox exists but is disabled or does not accept mail.",
                         "Reach the recipient another way and ask for a working address."),
    "has_moved": ("The recipient's address has moved; the server may name the new one.",
                  "Use the new address the server names (see the server's words)."),
    "host_unknown": ("The recipient's domain could not be found or accepts no mail (no MX/A records, or a null MX).",
                     "Check the domain part of {recipient} for a typing mistake; `maildoctor check {rdomain}` shows "
                     "whether that domain can receive mail at all."),
    "network_error": ("The sending server could not connect to, or lost the connection with, the recipient's "
                      "server.",
                      "Usually passes: the sending server retries. If it persists, `maildoctor check {rdomain}` tests "
                      "whether the recipient's mail servers answer."),
    "expired": ("The sending server gave up after retrying for its maximum queue time.",
                "Find out why the earlier attempts failed (the server's words); `maildoctor check {rdomain}` tests "
                "the recipient's side, then send again."),
    "relay_denied": ("A server refused to pass the mail on (relaying denied): it does not consider you its user.",
                     "Send through your own provider's submission server with a login (port 587 or 465); "
                     "`maildoctor check {sender} --user ... --check login.smtp` tests that login."),
    "auth_failure": ("The receiver refused the mail because the sender's authentication failed there: {checks}.",
                     "Fix the sender domain's {checks} so mail from your servers passes: {commands}."),
    "blocked": ("The receiver blocked the sending server or domain (a blocklist, poor reputation, or missing "
                "reverse DNS).",
                "Find the sending IP address in the server's words, look it up on the blocklist the server names "
                "and request delisting, and give it reverse DNS (PTR) that points back to it; when your mail "
                "leaves through your MX hosts, `maildoctor check {sender_domain} --check dnsbl.listing "
                "--check ptr.fcrdns --dnsbl default` tests their addresses."),
    "rate_limited": ("The receiver limits how much mail it takes from you; it refused for now.",
                     "Send more slowly (fewer messages and connections at once); the sending server retries."),
    "spam": ("The receiver judged the message to be spam.",
             "Check the content and links, make sure SPF, DKIM and DMARC pass "
             "(`maildoctor check {sender_domain}`), and send only to people who asked for your mail."),
    "virus": ("The receiver found a virus or malware in the message.",
              "Scan the attachment; send documents in another form (a link) if it is a false alarm."),
    "policy": ("The receiver refused the message because of its local policy.",
               "Read the server's words for the rule; the recipient's postmaster can tell you more."),
    "message_too_large": ("The message is larger than the receiver accepts.",
                          "Send the attachment as a link or in smaller parts."),
    "system_error": ("The receiving mail system had an internal problem (configuration, storage, a mail loop).",
                     "Not your fault: tell the recipient's postmaster, and try again later."),
    "syntax_error": ("An address or command was malformed.", "Check the recipient address for odd characters."),
    "unknown": ("The server gave no reason maildoctor recognises.", "Read the server's words in the evidence."),
    "autoreply": ("An automatic reply (out of office, vacation): the message was delivered.", ""),
    "feedback": ("A recipient (or their provider's spam button) reported your message as {ftype}.",
                 "Remove that recipient from your lists, and send only mail people asked for; reports like this "
                 "harm the reputation of your domain and servers."),
    "delivered": ("The report says the message was delivered (or relayed on) to this recipient.", ""),
}


# The same reasons when the receiver's complaint is about the SENDER's address, not the recipient's
# (RFC 3463 X.1.7 "bad sender's mailbox address syntax", X.1.8 "bad sender's system address",
# RFC 7505 X.7.27 "sender address has null MX"; Postfix's reject_unknown_sender_domain says
# "Sender address rejected: Domain not found"): the fix is on the sending domain.
SENDER_TEXTS: dict[str, tuple[str, str]] = {
    "host_unknown": ("The receiving server refused the mail because of YOUR address's domain, {sender_domain}: it "
                     "could not find that domain in DNS, or the domain says it takes no mail (a null MX). Servers "
                     "refuse mail from a domain that could not receive the reply.",
                     "Make sure {sender_domain} resolves from the internet and can receive mail (an MX record, or "
                     "at least an address record; no null MX on a domain you send from): "
                     "`maildoctor check {sender_domain}`. A temporary (4.x.x) refusal can also mean the "
                     "receiver's resolver failed to reach your DNS servers."),
    "syntax_error": ("The receiving server refused the sender address {sender} as malformed.",
                     "Send from a plain address (local@domain, no spaces or odd characters); check what your "
                     "mail program or application puts in the envelope sender (MAIL FROM)."),
}
SENDER_WORDS = {"host_unknown": "your sender domain could not be found there",
                "syntax_error": "your sender address is malformed"}
_SENDER_STATUS = {(1, 7), (1, 8), (7, 27)}
_SENDER_WORDS_RE = re.compile(r"sender (?:address|domain) rejected|sender domain (?:not found|unknown|does not exist)",
                              re.I)


def about_sender(r: bounce.Recipient) -> bool:
    """Whether the receiver's complaint is about the sender's address rather than the recipient's."""
    if r.reason not in SENDER_TEXTS:
        return False
    if r.status:
        try:
            _, subject, detail = (int(x) for x in r.status.split("."))
        except ValueError:
            subject = detail = -1
        if (subject, detail) in _SENDER_STATUS:
            return True
    return bool(_SENDER_WORDS_RE.search(r.diagnostic or ""))


class MessageBounce(Check):
    """Not a plugin (it reads a file, not a domain): a Check only for its id and texts (the catalogue)."""

    id = BOUNCE
    title = "Returned message (bounce, auto-reply, feedback report)"
    side = Side.OUTGOING
    code_family = "bounce"  # issue 16's JSON contract: code bounce.<reason> (message.bounce_<reason> before)
    texts = {**{f"bounce.{reason}": pair for reason, pair in REASON_TEXTS.items()},
             "bounce.none": ("", ""),
             "message.input_partial": ("Part of the input was not read (too large, or nested too deeply) or its "
                                       "MIME structure is broken: the analysis covers what was read.",
                                       "Give the returned message as saved by the mail program (.eml).")}


def catalogue_checks() -> list[type[Check]]:
    """Every installed check, the expect.* codes, and the codes of `maildoctor message`."""
    from diagnose.engine.bulksender import BulkSender
    from diagnose.engine.expect import Expectations
    from diagnose.engine.registry import discover

    return [*discover().checks, Expectations, BulkSender, MessageBounce, MessageHeaders]


REASON_WORDS = {"user_unknown": "no such user", "host_unknown": "no such domain (or it takes no mail)",
                "network_error": "could not connect to the receiving server", "expired": "retried too long",
                "relay_denied": "relaying denied", "auth_failure": "the receiver's SPF/DKIM/DMARC check failed",
                "blocked": "sender blocked (blocklist, reputation or reverse DNS)", "rate_limited": "too much mail "
                "at once (rate limited)", "spam": "judged to be spam", "virus": "a virus was found",
                "policy": "refused by the receiver's policy", "system_error": "the receiving system failed",
                "syntax_error": "malformed address or command", "unknown": "no reason given"}
_AUTH_COMMANDS = {"spf": "spf.record", "dkim": "dkim.keys", "dmarc": "dmarc.record", "ptr": "ptr.fcrdns"}


class InputError(Exception):
    """Bad input: shown as one line, exit code 3."""


def read_input(source: str, stdin: BinaryIO | None = None) -> tuple[bytes, bool, str]:
    """(at most MAX_BYTES of the file or standard input, was there more, the name to show)."""
    if source == "-":
        stream = stdin or sys.stdin.buffer
        data = stream.read(MAX_BYTES + 1)
        return data[:MAX_BYTES], len(data) > MAX_BYTES, "standard input"
    path = Path(source)
    shown = clean(source, limit=300, keep_newlines=False)
    try:
        if path.is_dir():
            raise InputError(f"{shown} is a directory, not a message file")
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"cannot read {shown}: {exc.strerror or exc}") from None
    return data[:MAX_BYTES], len(data) > MAX_BYTES, path.name


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip("<> ").lower() if "@" in address else ""


def bounce_findings(returned: bounce.Returned, sender: str) -> list[Finding]:
    """One finding per recipient of a returned message; a pass when the message is no bounce."""
    if returned.kind == "none":
        return [Finding(BOUNCE, "bounce.none", "message", Status.PASS,
                        "Not a bounce, auto-reply or feedback report: nothing was returned", side=Side.OUTGOING)]
    out = []
    for r in returned.recipients:
        if r.reason == "autoreply":
            status = Status.PASS
        elif r.reason == "delivered":
            status = Status.PASS
        elif r.reason == "feedback":
            status = Status.WARN
        else:
            status = Status.FAIL if r.permanent else Status.WARN
        out.append(_bounce_finding(returned, r, status, sender))
    return out


def _bounce_finding(returned: bounce.Returned, r: bounce.Recipient, status: Status, sender: str) -> Finding:
    sender_domain = _domain(sender) or "your-domain"
    checks = list(r.auth_checks) or ["spf", "dkim", "dmarc"]
    commands = ", ".join(f"`maildoctor check {sender_domain} --check {_AUTH_COMMANDS[c]}`" for c in checks)
    fill = {"recipient": r.recipient, "rdomain": _domain(r.recipient) or "the-recipient-domain",
            "sender": sender or "you@your-domain", "sender_domain": sender_domain,
            "checks": " and ".join(c.upper() if c != "ptr" else "reverse DNS (PTR)" for c in checks),
            "commands": commands, "ftype": returned.details.get("feedback_type", "abuse")}
    sender_side = about_sender(r)
    explanation, remedy = (t.format(**fill) for t in (SENDER_TEXTS if sender_side else REASON_TEXTS)[r.reason])
    said = r.diagnostic
    if r.reply_code and r.reply_code.isdigit():
        words = explain_reply(int(r.reply_code), f"{r.status or ''} {said}")
        explanation = f"{explanation} ({words})"
    if r.reason == "autoreply":
        summary = f"Automatic reply from {r.recipient}: {said}" if said else f"Automatic reply from {r.recipient}"
    elif r.reason == "feedback":
        summary = f"Feedback report ({fill['ftype']}) about mail to {r.recipient}"
    elif r.reason == "delivered":
        summary = f"Delivered to {r.recipient}" + (f" ({r.action})" if r.action else "")
    else:
        kind = "not delivered, the sending server gave up" if r.reason == "expired" else "refused for good" \
            if r.permanent else ("delayed" if r.action == "delayed" else "refused for now")
        code = " ".join(x for x in (r.reply_code, r.status) if x)
        words = SENDER_WORDS[r.reason] if sender_side else REASON_WORDS.get(r.reason, r.reason.replace("_", " "))
        summary = f"Mail to {r.recipient} {kind}: {words}" + (
            f" ({code})" if code else "")
    evidence: dict[str, Any] = {
        "recipient": r.recipient, "status": r.status, "reply_code": r.reply_code, "reason": r.reason,
        "permanent": r.permanent, "remote_mta": r.remote_mta or None, "diagnostic": said or None,
        "action": r.action or None, "format": returned.source, "reporting_mta": returned.reporting_mta or None,
    }
    if sender_side:
        evidence["about"] = "sender"  # the receiver refused the sender's address, not the recipient's
    if r.reason == "auth_failure":
        evidence["failed_checks"] = list(r.auth_checks)
    if returned.details:
        evidence["details"] = dict(returned.details)
    return Finding(BOUNCE, f"bounce.{r.reason}", r.recipient, status, summary, explanation, remedy,
                   evidence, side=Side.OUTGOING)


def analyse(loaded: Loaded) -> list[Finding]:
    msg = loaded.message
    try:
        returned = bounce.analyse(msg)
    except RecursionError:  # MIME nested thousands of levels deep
        returned = bounce.Returned("none", "")
        loaded.notes.append("the MIME structure is nested too deeply to read the parts")
    # who sent the returned mail: the original's From (the domain DMARC judges), else the bounce's addressee
    original = bounce.original_header(msg) if returned.kind in ("dsn", "plaintext") else None
    sender = _address_in(clean(str(original.get("From", "") if original else ""), limit=320, keep_newlines=False)) \
        or _address_in(clean(str(msg.get("To", "") or ""), limit=320, keep_newlines=False))
    out = bounce_findings(returned, sender)
    out.extend(header_findings(msg))
    if original is not None and original.get_all("Received"):  # how the returned mail travelled before it failed
        out.extend(f for f in header_findings(original, "returned original") if f.code != "message.hops_none")
    defects = len(getattr(msg, "defects", []) or [])
    if loaded.partial or defects:
        cut = [n for n in loaded.notes if "not read" in n or "were read" in n]
        words = "; ".join(cut + ([f"{defects} MIME defect(s)"] if defects else []))
        out.append(Finding(BOUNCE, "message.input_partial", "message", Status.SKIP,
                           f"not tested in full: {words}", *MessageBounce.texts["message.input_partial"],
                           evidence={"notes": list(loaded.notes)}))
    return out


def _address_in(text: str) -> str:
    import re

    m = re.search(r"[^\s<>@\"'(),;:]{1,64}@[A-Za-z0-9.-]{1,253}", text)
    return m.group(0) if m else ""


def build_report(findings: list[Finding], name: str, loaded: Loaded, started: datetime, elapsed: float) -> Report:
    subject = clean(str(loaded.message.get("Subject", "") or ""), limit=200, keep_newlines=False)
    return Report(
        target={"input": name, "domain": "", "domain_unicode": "", "address": None, "kind": "message",
                "subject": subject},
        started_at=started.isoformat(timespec="seconds"), duration_s=elapsed, resolver={}, findings=findings,
        tool={"name": "maildoctor", "version": __version__},
        checks=[{"id": c.id, "title": c.title, "side": c.side.value, "services": []}
                for c in (MessageBounce, MessageHeaders)],
        meta={"input": {"bytes": loaded.size, "truncated": loaded.truncated, "notes": list(loaded.notes),
                        "headers_only": loaded.headers_only}},
    )


def run_message(source: str, fmt: str, output: Path | None, *, fail_on: str | None = None,
                stdin: BinaryIO | None = None, require: tuple[str, ...] = (), lookup: Lookup | None = None,
                anonymize: bool = False) -> ExitCode:
    """Read, analyse, render. ``lookup``: how to ask DNS for the authentication re-checks (None: offline)."""
    from diagnose.app.session import write_atomically
    from reports import renderer

    started = datetime.now(UTC)
    clock = time.monotonic()
    if why := lookup_error(lookup):
        print(f"maildoctor: error: {why}", file=sys.stderr)
        return ExitCode.UNKNOWN
    try:
        data, truncated, name = read_input(source, stdin)
        loaded = load(data, truncated=truncated)
    except (InputError, NotAMessage) as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        return ExitCode.UNKNOWN
    findings = analyse(loaded)
    returned = any(f.check == BOUNCE and f.code.startswith("bounce.") and f.code != "bounce.none" for f in findings)
    # a returned message is judged by what it says about the original, not by its own authentication
    findings += header_rechecks(loaded, lookup, authentication=not returned)
    if "bulk-sender" in require:  # --require bulk-sender: one-click unsubscribe (RFC 8058) judged on the message
        from diagnose.app import bulkmessage

        findings += bulkmessage.findings(loaded.message)
    report = build_report(findings, clean(name, limit=200, keep_newlines=False), loaded, started,
                          time.monotonic() - clock)
    if anonymize:
        from diagnose.app.message_privacy import anonymized

        report = anonymized(report, loaded.message)
    if fail_on:
        report.meta["fail_on"] = fail_on
    text = renderer(fmt)(report)
    if output is not None:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)
    return exit_code_for(report.worst, fail_on)
