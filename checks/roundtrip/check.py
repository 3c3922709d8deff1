"""roundtrip.delivery: send a real message from the account to itself (or --to) and read it back (opt-in: --roundtrip).

Stages, each its own finding: accepted by the submission server (queue id), then delivered (with
the latency), delivered to Junk, or accepted but never delivered within --roundtrip-timeout. A
4xx on the way is a deferral (greylisting, rate limits), not a broken account. The delivered
copy's header goes to the roundtrip.path check as the fact ``roundtrip.copy``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from checks.login.base import choose_endpoints, login_fact, open_session
from checks.servercheck import subject
from diagnose.engine.facts import (  # the copy's fact lives in the engine: checks.dkim reads it without this module
    MAILBOX_HOSTS,
    ROUNDTRIP_COPY,
    SUBMISSION_HOSTS,
    DeliveredCopy,
    FactUnavailable,
)
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext, Options
from diagnose.knowledge.authreply import Outcome

if TYPE_CHECKING:  # the message exchange is imported when there is a round trip to make
    from checks.roundtrip.exchange import Delivery, Submission


class RoundTrip(Check):
    id = "roundtrip.delivery"
    title = "A test message goes out and arrives back"
    side = Side.BOTH
    services = ("submission", "imap", "pop3")
    needs = (SUBMISSION_HOSTS, MAILBOX_HOSTS, login_fact("smtp"))  # the last only when login.smtp runs too
    provides = (ROUNDTRIP_COPY,)
    implied_by = "roundtrip"  # --roundtrip asks for it (diagnose.engine.required)
    texts = {
        "roundtrip.accepted": ("", ""),
        "roundtrip.delivered": ("", ""),
        "roundtrip.rejected": (
            "{host} refused the test message from {sender} to {recipient} at the {stage} step: \u201c{words}\u201d "
            "({explained}). Mail sent this way does not leave.",
            "Read the server's words: a 5.7.1 at RCPT usually means the account may not send as {sender} or to "
            "that recipient (sender restrictions, relay rules); a 5.1.1 means the recipient does not exist; a "
            "5.7.x at DATA is a content or policy filter. The fix is on {host} (e.g. Postfix "
            "`smtpd_sender_login_maps`, `smtpd_recipient_restrictions`), or use the address the account owns.",
        ),
        "roundtrip.deferred": (
            "{host} answered the test message with a temporary refusal at the {stage} step: \u201c{words}\u201d "
            "({explained}). Servers do this on purpose to slow down unknown senders (greylisting) or when a "
            "sender exceeds a rate limit; a mail program would try again later. The account itself works.",
            "Run again in a few minutes. If it keeps happening, ask the administrator of {host} about rate "
            "limits or greylisting for authenticated users (they should be exempt, e.g. Postfix "
            "`permit_sasl_authenticated` before the greylisting check).",
        ),
        "roundtrip.not_delivered": (
            "{host} accepted the test message for {recipient} (queue id {queue_id}), but it did not arrive in "
            "the mailbox on {mailbox} within {timeout:g} s, neither in the inbox nor in a Junk folder. Mail is "
            "accepted and then lost or stuck: queued behind a broken delivery, bounced, or silently discarded "
            "by a filter.",
            "On {host}, follow the queue id in the mail log (Postfix: `grep {queue_id} /var/log/mail.log`; "
            "`postqueue -p` lists stuck mail) to see where it went: a `status=deferred` names the delivery "
            "problem, `discarded` or `status=sent (discarded)` points at a filter or transport rule. A longer "
            "--roundtrip-timeout helps if delivery is merely slow. Should the message still arrive, delete it "
            "by hand (subject \u201cmaildoctor round trip test {token}\u201d).",
        ),
        "roundtrip.bounced": (
            "{host} accepted the test message for {recipient} (queue id {queue_id}), but it came back as "
            "undeliverable after {latency:.1f} s: \u201c{bounce}\u201d. The submission works; the delivery "
            "behind it does not.",
            "The reason names the broken step: a 5.1.1 means the recipient does not exist there, 5.2.2 a full "
            "mailbox, 5.4.x a routing or DNS problem, 5.7.x a policy refusal by the receiving server. On {host}, "
            "the mail log lines of queue id {queue_id} show the same in more detail.",
        ),
        "roundtrip.junk": (
            "The test message arrived after {latency:.1f} s, but in the folder {folder} instead of the inbox: "
            "the receiving side's spam filter judged mail from this account to itself as spam. Users will miss "
            "mail sent the same way.",
            "Look at the spam filter's score headers in the copy (X-Spam-Status, X-Rspamd-*) and at the "
            "roundtrip.path findings (SPF, DKIM and DMARC of the copy): failing authentication is the usual "
            "cause. Mark the message as not spam to train the filter.",
        ),
        "roundtrip.unverified": (
            "The test message was accepted, but maildoctor could not look into the mailbox to see whether it "
            "arrived: {problem}.",
            "Fix the incoming login first (see the login.imap and login.pop3 findings), then run again.",
        ),
        "roundtrip.not_deleted": (
            "The test message arrived, but maildoctor could not delete it afterwards: {detail}.",
            "Delete the message with the subject \u201cmaildoctor round trip test {token}\u201d by hand.",
        ),
    }

    @staticmethod
    def min_budget_s(options: Options) -> float:
        """The runner's time limit: the wait for delivery plus the sessions around it."""
        rt = options.roundtrip
        return options.timeouts.roundtrip(rt.timeout if rt else 0)

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        rt, creds = ctx.options.roundtrip, ctx.options.credentials
        domain = ctx.target.domain
        if rt is None:
            yield self.finding(
                "roundtrip.delivery.skipped",
                Status.SKIP,
                domain,
                "not tested: a round trip sends mail; ask for it with --roundtrip",
                reason="a round trip sends mail; ask for it with --roundtrip",
            )
            return
        if creds is None or creds.outgoing is None or creds.incoming is None:
            yield self.finding(
                "roundtrip.delivery.skipped", Status.SKIP, domain,
                "not tested: no credentials (--user, --password-env)",
                reason="no credentials (--user, --password-env)",
            )
            return
        recipient = rt.to or (creds.incoming.user if "@" in creds.incoming.user else ctx.target.address or "")
        sender = creds.outgoing.user if "@" in creds.outgoing.user else recipient
        if not recipient:
            yield self.finding(
                "roundtrip.delivery.skipped", Status.SKIP, domain,
                "not tested: the user name is no address; give --to ADDRESS",
                reason="the user name is no address; give --to ADDRESS",
            )
            return
        out = await _usable(ctx, "smtp")
        if isinstance(out, str):
            yield self.finding("roundtrip.delivery.skipped", Status.SKIP, domain, f"not sent: {out}", reason=out)
            return
        refused = await _refused_before(ctx, out)
        if refused:
            yield self.finding("roundtrip.delivery.skipped", Status.SKIP, subject(out), f"not sent: {refused}",
                               host=out.host, reason=refused)
            return
        from checks.roundtrip.exchange import await_delivery, build_message, new_token, submit

        token = new_token()
        sub = await submit(
            open_session(ctx, out, creds.outgoing), sender, recipient, build_message(sender, recipient, token)
        )
        first = self.judge_submission(sub, sender, recipient, token)
        yield replace(first, side=Side.OUTGOING)  # the sending half; the delivery findings are the incoming half
        if not sub.accepted:
            return
        inc = await _usable(ctx, "imap")
        if isinstance(inc, str):
            inc = await _usable(ctx, "pop3")
        if isinstance(inc, str):
            yield self.finding("roundtrip.unverified", Status.SKIP, recipient, "accepted; delivery not checked: " + inc,
                               problem=inc)
            return
        delivery = await await_delivery(lambda: open_session(ctx, inc, creds.incoming), token,
                                        accepted_at=sub.accepted_at, deadline=sub.accepted_at + rt.timeout)
        for finding in self.judge_delivery(delivery, sub, recipient, token, rt.timeout):
            yield replace(finding, side=Side.INCOMING)
        if delivery.found:
            ctx.publish(ROUNDTRIP_COPY, DeliveredCopy(delivery.message, delivery.folder, recipient, delivery.latency_s))
        else:
            ctx.withhold(ROUNDTRIP_COPY, "the test message was not delivered (see roundtrip)")

    def judge_submission(self, sub: Submission, sender: str, recipient: str, token: str) -> Finding:
        """Pure: the finding for the submission step."""
        from diagnose.knowledge.smtpcodes import explain_reply, is_temporary  # a round trip was asked for: rare

        ep = sub.endpoint
        ev = {"sender": sender, "recipient": recipient, "token": token, "server_said": sub.words,
              "replies": [{"step": step, "reply": f"{code} {text}", "meaning": explain_reply(code, text)}
                          for step, code, text in sub.replies],
              "transcript": sub.transcript}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=sub.elapsed_s, host=ep.host, sender=sender, recipient=recipient,
                  words=sub.words, stage=sub.stage)
        if sub.accepted:
            ev["queue_id"] = sub.queue_id
            qid = f"queue id {sub.queue_id}" if sub.queue_id else "no queue id in the reply"
            return self.finding("roundtrip.accepted", Status.PASS, subject(ep),
                                f"{ep.host} accepted the test message for {recipient} ({qid})", **kw)
        if sub.login is None or sub.login.outcome.value != "ok":
            how = sub.login.outcome.value if sub.login else "no session"
            why = f"the login on {ep.host}:{ep.port} did not work ({how}: {sub.words}; see login.smtp)"
            return self.finding(
                "roundtrip.delivery.skipped",
                Status.SKIP,
                subject(ep),
                f"not sent: {why}",
                reason=why,
                **kw,
            )
        if sub.code is None:
            return self.finding("roundtrip.rejected", Status.FAIL, subject(ep),
                                f"{ep.host} broke off while taking the message: {sub.words}",
                                explained="no reply", **kw)
        ev["reply_explained"] = explain_reply(sub.code, sub.words)
        code, status = (
            ("roundtrip.deferred", Status.WARN) if is_temporary(sub.code) else ("roundtrip.rejected", Status.FAIL)
        )
        verb = "deferred" if is_temporary(sub.code) else "refused"
        return self.finding(code, status, subject(ep), f"{ep.host} {verb} the test message at {sub.stage}: {sub.words}",
                            explained=ev["reply_explained"], **kw)

    def judge_delivery(self, d: Delivery, sub: Submission, recipient: str, token: str, timeout: float) -> list[Finding]:
        """Pure: the findings for the wait in the mailbox."""
        mailbox = f"{d.endpoint.host}:{d.endpoint.port}"
        ev = {"recipient": recipient, "token": token, "mailbox": mailbox, "polls": d.polls,
              "queue_id": sub.queue_id, "transcript": d.transcript}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, host=d.endpoint.host, recipient=recipient, mailbox=mailbox, token=token,
                  queue_id=sub.queue_id or "unknown", timeout=timeout)
        if d.problem:
            return [self.finding("roundtrip.unverified", Status.SKIP, recipient,
                                 f"accepted; delivery not checked: {d.problem}", problem=d.problem, **kw)]
        if d.bounced:
            kw["host"] = sub.endpoint.host
            ev.update(bounce=d.bounce_words, latency_s=round(d.latency_s, 2), cleanup=d.delete_detail)
            return [self.finding("roundtrip.bounced", Status.FAIL, recipient,
                                 f"accepted, then bounced after {d.latency_s:.1f} s: {d.bounce_words}; the bounce "
                                 f"{d.delete_detail.split(';')[0]}", bounce=d.bounce_words, latency=d.latency_s, **kw)]
        if not d.found:
            qid = f" (queue id {sub.queue_id})" if sub.queue_id else ""
            kw["host"] = sub.endpoint.host  # the texts name the server that accepted it, whose log tells more
            return [self.finding("roundtrip.not_delivered", Status.FAIL, recipient,
                                 f"accepted by {sub.endpoint.host}{qid} but not delivered within {timeout:g} s", **kw)]
        ev.update(folder=d.folder, latency_s=round(d.latency_s, 2), cleanup=d.delete_detail)
        junk = d.folder not in ("INBOX", "the POP3 mailbox")
        code, status = ("roundtrip.junk", Status.WARN) if junk else ("roundtrip.delivered", Status.PASS)
        where = (
            f"in {d.folder} (spam folder)"
            if junk
            else ("in the inbox" if d.folder == "INBOX" else "in the POP3 mailbox")
        )
        findings = [
            self.finding(
                code,
                status,
                recipient,
                f"delivered {where} after {d.latency_s:.1f} s; test message {d.delete_detail.split(';')[0]}",
                folder=d.folder,
                latency=d.latency_s,
                **kw,
            )
        ]
        if not d.deleted:
            findings.append(self.finding("roundtrip.not_deleted", Status.WARN, recipient,
                                         f"the test message is still in {d.folder}: {d.delete_detail}",
                                         detail=d.delete_detail, **{**kw, "evidence": {"cleanup": d.delete_detail}}))
        return findings


async def _refused_before(ctx: CheckContext, ep) -> str:
    """Why not to try this login again: login.smtp already saw it refused (a second failure can get an
    address banned); "" when it worked or was not tried."""
    try:
        tried = await ctx.fact(login_fact("smtp"))
    except FactUnavailable:
        return ""
    for r in tried:
        if (r.endpoint.host, r.endpoint.port) == (ep.host, ep.port) and r.outcome is not Outcome.OK:
            return f"the login on {ep.host}:{ep.port} did not work ({r.outcome.value}: {r.words}; see login.smtp)"
    return ""


async def _usable(ctx: CheckContext, protocol: str):
    """The first endpoint the login checks would use, or why there is none."""
    chosen = await choose_endpoints(ctx, protocol)
    if isinstance(chosen, str):
        return chosen
    for ep, why in chosen:
        if not why:
            return ep
    ep, why = chosen[0]
    return f"{ep.host}:{ep.port} {why}"

