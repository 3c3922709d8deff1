"""The probe's full path: what diagnose.app.probe's fast path hands on when a port is not simply well.

HOST resolved through dnspython (asyncio), the whole dialogue of diagnose.net.dialogue (the one the full
diagnosis runs) and the certificate judged by diagnose.knowledge.certs against the system's roots plus
--ca-file, within what is left of --timeout; the findings become Nagios states, summary words and
performance data. Imported only when needed: asyncio, dnspython and cryptography are its cost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from cryptography import x509

from diagnose.app.probe import Verdict, connect_failed, subject
from diagnose.app.probe_args import Request
from diagnose.engine.exitcodes import ExitCode
from diagnose.engine.model import Status
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from diagnose.knowledge.certs import evaluate_certificate
from diagnose.knowledge.sanitize import clean
from diagnose.net.dialogue import Dialogue, Endpoint, run_dialogue
from diagnose.net.tcp import ConnectOutcome
from diagnose.net.tls import TlsInfo, trust_store
from diagnose.net.verified_session import Quick


def resolve_now(req: Request) -> tuple[str, ExitCode, str]:
    """``resolve`` from synchronous code (the fast path's caller)."""
    return asyncio.run(resolve(req))


def probe_now(req: Request, spent: float = 0.0) -> Verdict:
    """``probe`` from synchronous code, after ``spent`` seconds of the fast path."""
    return asyncio.run(probe(req, spent=spent))


def explain(req: Request, q: Quick, start: float) -> Verdict:
    """The fast session's timeout, in the words of judge() (the wait is spent: no second try)."""
    v = Verdict(summary=[subject(req, req.address)])
    judge(req, dialogue_of(req, q), v, dt.datetime.now(dt.UTC))
    v.perf.insert(0, f"time={time.monotonic() - start:.3f}s;;;0")
    return v


async def resolve(req: Request) -> tuple[str, ExitCode, str]:
    """(address, OK, "") or ("", state, why): the first address of HOST, IPv4 first, through dnspython."""
    # dnspython: only for a HOST to resolve (not for an address target with a certificate to explain)
    from diagnose.net.resolver import Dns, Outcome, ResolverUnreachable, parse_nameserver

    try:
        servers = [parse_nameserver(n) for n in req.nameservers] or None
    except ValueError as exc:
        return "", ExitCode.UNKNOWN, str(exc)
    budget = req.timeout / 2  # seconds: half the probe for DNS, at most; an attempt and a retry each a quarter
    try:
        dns = Dns(servers, timeout=min(budget / 2, DEFAULT_TIMEOUT))
        async with asyncio.timeout(budget):
            answers = await asyncio.gather(dns.query(req.host, "A"), dns.query(req.host, "AAAA"))
    except ResolverUnreachable as exc:
        return "", ExitCode.UNKNOWN, str(exc)
    except TimeoutError:
        return "", ExitCode.UNKNOWN, f"no DNS answer for {req.host} within {budget:g} s"
    for answer in answers:
        if answer.outcome is Outcome.ANSWER and answer.records:
            return answer.records[0], ExitCode.OK, ""
    if all(a.outcome in (Outcome.NXDOMAIN, Outcome.NODATA) for a in answers):
        return "", ExitCode.FAIL, f"{req.host} {answers[0].describe()}"
    return "", ExitCode.UNKNOWN, f"{req.host} {answers[0].describe()}"


def judge(req: Request, d: Dialogue, v: Verdict, now: dt.datetime) -> None:
    """The session's findings -> states, summary words and performance data."""
    words = clean(d.failure_words, limit=200, keep_newlines=False)
    if not d.connected:
        connect_failed(v, d.connect.value, d.connect_detail)
        return
    if d.greeting_ok:
        v.summary.append(f"{d.greeting_code} greeting" if d.greeting_code else "greeting OK")
        if d.greeting_delay_s is not None:
            v.perf.append(f"greeting={d.greeting_delay_s:.3f}s;;;0")
    elif d.failure_phase in ("greeting", "TLS handshake") or not d.greeting:
        if d.failure_phase == "TLS handshake":
            v.add(ExitCode.FAIL, f"implicit TLS handshake failed: {words or d.tls_error}")
            v.summary.append("TLS handshake failed")
        else:
            v.add(ExitCode.FAIL, f"no usable greeting ({d.failure or 'none'}): {words}".rstrip(": "))
            v.summary.append(f"greeting {d.failure or 'missing'}")
        return
    if d.failure_phase and d.tls is None:
        v.add(ExitCode.FAIL, f"{d.failure_phase} failed ({d.failure}): {words}".rstrip(": "))
        v.summary.append(f"{d.failure_phase} failed")
        return
    if d.tls is None:
        v.add(ExitCode.FAIL, "the server does not offer STARTTLS: mail to and from it travels unencrypted")
        v.summary.append("no STARTTLS")
        return
    how = "implicit TLS" if req.implicit_tls else "STARTTLS"
    v.summary.append(f"{how} {d.tls.version}")
    judge_certificate(req, list(d.tls.chain), v, now)
    if d.failure_phase:  # after TLS (e.g. EHLO refused after STARTTLS)
        v.add(ExitCode.WARN, f"{d.failure_phase} failed ({d.failure}): {words}".rstrip(": "))


def judge_certificate(req: Request, chain: list, v: Verdict, now: dt.datetime) -> None:
    """diagnose.knowledge.certs judges; the probe adds only the --critical days on top of its warning."""
    store = trust_store(Path(req.ca_file) if req.ca_file else None)
    verdict = evaluate_certificate(chain, req.host, now, req.warn_days, anchors=store.anchors,
                                   intermediates=store.intermediates)
    days = verdict.evidence.get("days_left")
    for issue in verdict.issues:
        state = {Status.FAIL: ExitCode.FAIL, Status.ERROR: ExitCode.UNKNOWN, Status.WARN: ExitCode.WARN}.get(
            issue.status, ExitCode.OK)
        if issue.code == "tls.cert_expiring" and days is not None and days < req.crit_days:
            state = ExitCode.FAIL
        v.add(state, f"{issue.code}: {clean(issue.summary, limit=300, keep_newlines=False)}")
    if days is not None:
        v.perf.append(f"cert_days={days};{req.warn_days};{req.crit_days}")
    # the status line names the worst problem in certs' own words ("certificate is self-signed")
    worst = sorted((i for i in verdict.issues if i.status in (Status.FAIL, Status.WARN)),
                   key=lambda i: i.status is not Status.FAIL)
    v.summary.append(clean(worst[0].summary, limit=200, keep_newlines=False) if worst else
                     f"certificate valid {days} days")


def dialogue_of(req: Request, q: Quick) -> Dialogue:
    """The fast session's findings as the dialogue record judge() reads (a wait that ran out after the
    connect: what the full session would have recorded). A refused connect never comes here: the fast
    path says it itself (diagnose.app.probe.connect_failed)."""
    ep = Endpoint("probe", req.host, req.address, req.port, speaks=req.protocol, tls_from_start=req.implicit_tls)
    d = Dialogue(ep)
    d.connect = ConnectOutcome.CONNECTED
    d.greeting, d.greeting_ok, d.greeting_code = q.greeting, q.greeting_ok, q.greeting_code
    d.greeting_delay_s = q.greeting_delay_s
    if q.tls_version:  # the wait ran out after a verified handshake: the certificate is still judged
        d.tls = TlsInfo(q.tls_version, "", 0, tuple(x509.load_der_x509_certificate(c) for c in q.chain_der))
    elif "handshake" in q.timed_out_phase:
        d.tls_error = q.timeout_detail
    d.stop(q.timed_out_phase, "timeout", q.timeout_detail)
    return d


async def probe(req: Request, spent: float = 0.0) -> Verdict:
    """The full probe, within what is left of req.timeout after ``spent`` seconds (DNS, the fast path);
    each phase of the dialogue a little inside that."""
    v = Verdict(summary=[f"{req.protocol} {req.host}:{req.port}"])
    start = time.monotonic() - spent
    budget = max(req.timeout - spent, 0.001)
    try:
        async with asyncio.timeout(budget):
            address = req.address
            if not address:
                address, state, why = await resolve(req)
                if not address:
                    v.add(state, why)
                    return v
            v.summary[0] = subject(req, address)
            ep = Endpoint("probe", req.host, address, req.port, speaks=req.protocol, tls_from_start=req.implicit_tls)
            # each phase a little inside the whole: one stalled phase is reported as itself
            d = await run_dialogue(ep, timeout=budget * 0.9, ehlo_name=req.ehlo)
    except TimeoutError:
        v.add(ExitCode.FAIL, f"no complete answer within --timeout {req.timeout:g} s")
        v.summary.append(f"timed out after {req.timeout:g} s")
        v.perf.append(f"time={time.monotonic() - start:.3f}s;;;0")
        return v
    judge(req, d, v, dt.datetime.now(dt.UTC))
    v.perf.insert(0, f"time={time.monotonic() - start:.3f}s;;;0")
    return v
