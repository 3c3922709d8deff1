"""The header half of `maildoctor message`: the hops (delays, TLS, clock skew) and the receiver's
verdicts of a delivered message, as findings. Parsing is in diagnose.knowledge.headers."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from diagnose.engine.model import Finding, Status
from diagnose.knowledge import headers
from diagnose.knowledge.headers import duration_words as _words
from diagnose.knowledge.sanitize import clean

HEADERS = "message.headers"
SLOW_HOP_S = 600  # a hop that held the message longer than this is named as slow
SKEW_S = 120  # a hop "before" the previous one by more than this: a clock is wrong

HEADER_TEXTS: dict[str, tuple[str, str]] = {
    "message.hops": ("", ""),
    "message.hops_none": ("", ""),
    "message.auth_ok": ("", ""),
    "message.hop_slow": ("The message waited this long at the previous server before this one received it "
                         "(queued, greylisted, or retried after a refusal).",
                         "Look at the log of the server before this hop for the time the message was queued."),
    "message.clock_skew": ("Each server stamps the time it received the message; a later hop cannot be earlier.",
                           "Synchronise the clocks of the servers named (NTP)."),
    "message.hop_plaintext": ("The Received header of these hops names no encryption: the message crossed the "
                              "network readable by anyone on the path (or the server does not record TLS).",
                              "Enable STARTTLS on the servers named (or on the submission client)."),
    "message.dkim_signed": ("", ""),
    "message.auth_failed": ("The receiving server's Authentication-Results header records these checks as failed: "
                            "mail like this may go to spam or be refused.",
                            "Test the sender domain with `maildoctor check DOMAIN --check spf.record "
                            "--check dkim.keys --check dmarc.record`."),
}


def _when(date: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def header_findings(msg: Any, where: str = "message") -> list[Finding]:
    """The hops (oldest first) with their delays and TLS, and the receiver's Authentication-Results.
    ``where``: the subject of the findings, "message" or "returned original" (the part of a bounce)."""
    at = "" if where == "message" else f"{where} "
    out: list[Finding] = []
    hops = headers.hops(msg)
    total = len(msg.get_all("Received") or [])
    rows: list[dict[str, Any]] = []
    previous: datetime | None = None
    slow: list[tuple[int, float]] = []
    skew: list[tuple[int, float]] = []
    for n, hop in enumerate(hops, 1):
        moment = _when(hop.date)
        delay = (moment - previous).total_seconds() if moment and previous else None
        if delay is not None and delay > SLOW_HOP_S:
            slow.append((n, delay))
        if delay is not None and delay < -SKEW_S:
            skew.append((n, delay))
        rows.append({"hop": n, "from": hop.from_host, "by": hop.by, "protocol": hop.protocol,
                     "tls": hop.tls or None, "time_utc": moment.astimezone(UTC).isoformat() if moment else None,
                     "delay_s": round(delay, 1) if delay is not None else None})
        previous = moment or previous
    stamps = [m for m in (_when(h.date) for h in hops) if m]
    sent = _when(str(msg.get("Date", "") or ""))
    if not hops:
        out.append(Finding(HEADERS, "message.hops_none", where, Status.SKIP,
                           "not tested: the message has no Received header (hops unknown)"))
    else:
        more = f" (the first {len(hops)} of {total} read)" if total > len(hops) else ""
        transit = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else None
        timed = [r for r in rows if r["delay_s"] is not None]
        slowest = max(timed, key=lambda r: r["delay_s"], default=None)
        words = f" in {_words(transit)}" if transit is not None else ""
        if slowest is not None and len(timed) > 1:
            words += f"; the slowest: hop {slowest['hop']} ({slowest['by'] or '?'}) {_words(slowest['delay_s'])}"
        out.append(Finding(HEADERS, "message.hops", where, Status.PASS,
                           f"{len(hops)} hop(s) in the Received header{more}{words}",
                           evidence={"hops": rows, "received_headers": total,
                                     "date_utc": sent.astimezone(UTC).isoformat() if sent else None,
                                     "transit_s": round(transit, 1) if transit is not None else None,
                                     "slowest_hop": slowest["hop"] if slowest else None}))
    if sent and stamps and (ahead := (sent - stamps[0]).total_seconds()) > SKEW_S:
        out.append(Finding(HEADERS, "message.clock_skew", f"{at}Date header", Status.WARN,
                           f"The Date header is {_words(ahead)} later than the first server's time stamp: the "
                           f"sender's clock is ahead", *HEADER_TEXTS["message.clock_skew"],
                           {"hop": 0, "delay_s": round(-ahead, 1), "by": None,
                            "date_utc": sent.astimezone(UTC).isoformat()}))
    for n, delay in slow:
        row = rows[n - 1]
        out.append(Finding(HEADERS, "message.hop_slow", f"{at}hop {n}: {row['by'] or '?'}", Status.WARN,
                           f"Hop {n} ({row['from'] or '?'} -> {row['by'] or '?'}) took {_words(delay)}",
                           *HEADER_TEXTS["message.hop_slow"],
                           {"hop": n, "delay_s": round(delay, 1), "from": row["from"], "by": row["by"]}))
    for n, delay in skew:
        row = rows[n - 1]
        out.append(Finding(HEADERS, "message.clock_skew", f"{at}hop {n}: {row['by'] or '?'}", Status.WARN,
                           f"Hop {n} ({row['by'] or '?'}) is stamped {_words(-delay)} before the hop that came "
                           f"before it: a server's clock is wrong",
                           *HEADER_TEXTS["message.clock_skew"],
                           {"hop": n, "delay_s": round(delay, 1), "by": row["by"]}))
    plain = [row for row, hop in zip(rows, hops, strict=True)  # only hops that name a plain network protocol
             if hop.encrypted is False and hop.from_host and hop.protocol in ("SMTP", "ESMTP", "ESMTPA", "UTF8SMTP")]
    if plain:
        names = ", ".join(f"hop {row['hop']} ({row['by'] or '?'})" for row in plain[:10])
        out.append(Finding(HEADERS, "message.hop_plaintext", where, Status.WARN,
                           f"{len(plain)} hop(s) without TLS: {names}",
                           *HEADER_TEXTS["message.hop_plaintext"],
                           {"hops": [row["hop"] for row in plain]}))
    out.extend(_auth_findings(msg))
    out.extend(_dkim_selectors(msg))
    return out


def _dkim_selectors(msg: Any) -> list[Finding]:
    """The DKIM selectors the message was signed with, and the command that tests each key: a selector
    is what a DNS-only check can only guess (dkim.keys tries it when given --dkim-selector)."""
    sigs = [s for s in headers.signatures(msg) if s.domain and s.selector][:5]
    if not sigs:
        return []
    pairs = list(dict.fromkeys((s.domain.lower(), s.selector) for s in sigs))
    commands = [f"maildoctor check {d} --check dkim.keys --dkim-selector {sel}" for d, sel in pairs]
    return [Finding(HEADERS, "message.dkim_signed", "DKIM-Signature", Status.PASS,
                    "DKIM-signed with " + ", ".join(f"s={sel} d={d}" for d, sel in pairs)
                    + f"; test the key: {commands[0]}",
                    evidence={"signatures": [{"domain": d, "selector": sel} for d, sel in pairs],
                              "commands": commands})]


def _auth_findings(msg: Any) -> list[Finding]:
    verdicts = headers.auth_results(msg)
    if not verdicts:
        return []
    authserv = verdicts[0].authserv
    mine = [v for v in verdicts if v.authserv == authserv]  # the topmost receiver's own verdicts
    rows = [{"method": v.method, "result": v.result, **v.properties} for v in mine]
    failed = [v for v in mine if v.method in ("spf", "dkim", "dmarc") and v.result in ("fail", "softfail",
                                                                                        "permerror", "temperror")]
    subject = clean(authserv, limit=255) or "receiver"
    if failed:
        names = ", ".join(f"{v.method}={v.result}" for v in failed)
        return [Finding(HEADERS, "message.auth_failed", subject, Status.FAIL if any(
            v.method == "dmarc" and v.result == "fail" for v in failed) else Status.WARN,
            f"The receiver {subject} judged: {names}", *HEADER_TEXTS["message.auth_failed"],
            {"authserv_id": subject, "verdicts": rows})]
    return [Finding(HEADERS, "message.auth_ok", subject, Status.PASS,
                    "The receiver " + subject + " judged: " + ", ".join(f"{v.method}={v.result}" for v in mine),
                    evidence={"authserv_id": subject, "verdicts": rows})]
