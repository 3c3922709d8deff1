"""tcp.connect: can we open a TCP connection to port 25 on every address of every MX host?"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from checks.servercheck import FamilyFallback
from diagnose.engine.facts import MX_HOSTS, MailHost
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.net.tcp import ConnectOutcome, ConnectResult, endpoint, tcp_connect

SMTP_PORT = 25


def backup_mx(finding: Finding, connected: set[str]) -> Finding:
    """A host's failure while another MX host connects is a warning that says so: senders try the
    next MX (RFC 5321 §5.1), so mail still arrives, later and through the other host."""
    others = sorted(connected - {finding.host})
    if finding.status is not Status.FAIL or not others:
        return finding
    return replace(finding, status=Status.WARN,
                   summary=f"{finding.summary} (mail still arrives: senders go on to {', '.join(others[:3])})")


class TcpConnect(Check):
    id = "tcp.connect"
    title = "Port 25 is reachable on every MX address"
    side = Side.INCOMING
    services = ("smtp",)
    needs = (MX_HOSTS,)
    texts = {
        "tcp.connected": ("", ""),
        "tcp.refused": (
            "{host} at {address} answered, but refused the connection on port {port}: no mail server "
            "is listening there (or a firewall rejects the connection actively). Senders that pick this "
            "address cannot deliver to it.",
            "Start the mail server on {address} and make sure it listens on port {port} on that address "
            "(for Postfix: `inet_interfaces` in main.cf and the `smtp inet` line in master.cf; check "
            "with `ss -ltn 'sport = :{port}'`). If the server moved, update the A/AAAA record of {host}.",
        ),
        "tcp.timeout": (
            "Nothing answered on {address} port {port} within {timeout:g} s: the packets were most "
            "likely dropped by a firewall on the way or at the server. Note that outbound port 25 is "
            "often blocked by ISPs, home routers and cloud providers (AWS, Azure, Google Cloud), so "
            "this can also mean that port 25 is blocked where maildoctor runs, not at the server.",
            "First test from a network that allows outbound port 25 (another server, or "
            "`maildoctor check` on a host with port 25 open). If it still times out, open TCP port "
            "{port} to the internet in the server's firewall and in the provider's security group.",
        ),
        "tcp.unreachable": (
            "There is no network route from here to {address} ({detail}), so no connection to port "
            "{port} could be attempted.",
            "Check that {address} is the right address for {host} and that the host is online; "
            "`traceroute {address}` shows where the path ends.",
        ),
        "tcp.no_local_support": (
            "This machine cannot open connections to {address} ({detail}); usually it has no IPv6 "
            "connectivity. The address was not tested.",
            "Run maildoctor from a machine with IPv6 to test this address.",
        ),
        "tcp.error": (
            "Connecting to {address} port {port} failed with an error maildoctor does not recognise: "
            "{detail}. The port could not be tested from here.",
            "Run the check again; if it persists, test the connection by hand (`nc -vz {address} {port}`) "
            "and check this machine's network settings (firewall, proxy, routing).",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        hosts: tuple[MailHost, ...] = await ctx.fact(MX_HOSTS)
        targets = [(h, addr) for h in hosts for addr in h.addresses]
        probes = [asyncio.ensure_future(self._probe(ctx, h, addr)) for h, addr in targets]
        fallback = FamilyFallback()  # a refusing IPv6 address of a host that works over IPv4: a warning
        connected: set[str] = set()
        try:
            for next_done in asyncio.as_completed(probes):
                finding = await next_done
                if finding.status is Status.PASS:
                    connected.add(finding.host)
                if fallback.hold(finding):
                    yield finding
        finally:
            for p in probes:
                p.cancel()
        for finding in fallback.release():
            yield backup_mx(finding, connected)

    async def _probe(self, ctx: CheckContext, host: MailHost, address: str) -> Finding:
        shared = ctx.options.connects  # a batch shares one attempt per address between its targets
        result = await (shared.connect(address, SMTP_PORT, timeout=ctx.timeout) if shared is not None
                        else tcp_connect(address, SMTP_PORT, timeout=ctx.timeout))
        return self.evaluate(host.name, result, timeout=ctx.timeout)

    def evaluate(self, host: str, result: ConnectResult, *, timeout: float) -> Finding:
        """Pure: turn a connect result into a finding."""
        subject = endpoint(host, result.address, result.port)
        ms = result.elapsed_s * 1000
        ev = {"host": host, "address": result.address, "port": result.port, "outcome": result.outcome.value,
              "elapsed_ms": round(ms, 1), "detail": result.detail}
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, duration_s=result.elapsed_s, host=host, address=result.address,
                  port=result.port, timeout=timeout, detail=result.detail)
        match result.outcome:
            case ConnectOutcome.CONNECTED:
                return self.finding(
                    "tcp.connected", Status.PASS, subject, f"port {result.port} open (connected in {ms:.0f} ms)", **kw
                )
            case ConnectOutcome.REFUSED:
                return self.finding(
                    "tcp.refused", Status.FAIL, subject, f"connection to port {result.port} refused", **kw
                )
            case ConnectOutcome.TIMEOUT:
                return self.finding("tcp.timeout", Status.FAIL, subject,
                                    f"no answer on port {result.port} within {timeout:g} s (probably filtered)", **kw)
            case ConnectOutcome.UNREACHABLE:
                return self.finding(
                    "tcp.unreachable", Status.FAIL, subject, f"{result.address} is unreachable ({result.detail})", **kw
                )
            case ConnectOutcome.NO_LOCAL_SUPPORT:
                return self.finding("tcp.no_local_support", Status.SKIP, subject,
                                    f"not tested: this machine cannot reach {result.address} ({result.detail})",
                                    reason=f"this machine cannot reach {result.address} ({result.detail})",
                                    untested=True, **kw)
        return self.finding("tcp.error", Status.ERROR, subject, f"connection failed: {result.detail}", **kw)
