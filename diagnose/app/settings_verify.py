"""Published settings (autoconfig file, Autodiscover, SRV records) tried on their servers: does the
server at that host and port speak what the domain says (SSL/TLS from the first byte, STARTTLS, TLS
that completes)? One short session per setting (the dialogue of the server checks), all at once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from diagnose.engine.plugin import Options
from diagnose.net.dialogue import IMPLICIT_TLS, PROTOCOL, Dialogue, Endpoint, run_dialogue

MAX_PROBES = 12  # settings tried at most (a sane domain publishes a handful)


def disagreement(security: str, port: int, d: Dialogue) -> str:
    """Pure: '' when the server agrees with the published ``security`` on ``port``, else how it differs."""
    host = f"{d.endpoint.host}:{port}"
    if not d.connected:
        return f"nothing answers on {host} ({d.connect_detail or d.connect.value})"
    implicit = port in IMPLICIT_TLS
    if security == "SSL/TLS" and not implicit:
        if d.greeting_ok:
            return f"{host} greets in plain text (it expects STARTTLS), not SSL/TLS"
    elif security == "SSL/TLS" and d.tls is None:
        return f"no TLS handshake on {host}: {d.tls_error or d.failure_words or d.failure or 'refused'}"
    elif security == "STARTTLS" and implicit:
        if d.tls is not None:
            return f"{host} speaks TLS from the first byte (SSL/TLS), not STARTTLS"
    elif security == "STARTTLS" and not d.starttls_offered and d.greeting_ok:
        return f"{host} does not offer STARTTLS"
    elif security == "STARTTLS" and d.tls is None and d.starttls_offered:
        return f"STARTTLS on {host} fails: {d.tls_error or d.failure_words or d.failure}"
    elif security == "none" and (d.starttls_offered or d.tls is not None):
        return f"{host} offers TLS, but the published setting says to use none"
    if not d.greeting_ok and d.failure_phase:
        return f"no usable greeting from {host} ({d.failure_phase}: {d.failure_words or d.failure})"
    return ""


async def verify(settings: list, dns, options: Options) -> list:
    """The settings, each published one with ``server`` set ('ok' or the disagreement)."""
    async def one(s):
        answer = await dns.query(s.host, "A")
        if not answer.records:
            return replace(s, server=f"{s.host} has no address ({answer.describe()})")
        role = "submission" if s.protocol == "SMTP" else "mailbox"
        d = await run_dialogue(Endpoint(role, s.host, answer.records[0], s.port), timeout=options.timeout,
                               ehlo_name=options.ehlo_name)
        return replace(s, server=disagreement(s.security, s.port, d) or "ok")

    # a port of another protocol than its standard one cannot be spoken to here: left untried
    chosen = [i for i, s in enumerate(settings) if s.published and PROTOCOL.get(s.port, "").upper()
              in (s.protocol, "SMTP" if s.protocol == "SMTP" else "")][:MAX_PROBES]
    done = await asyncio.gather(*(one(settings[i]) for i in chosen))
    out = list(settings)
    for i, s in zip(chosen, done, strict=True):
        out[i] = s
    return out
