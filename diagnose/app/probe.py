"""`maildoctor probe HOST[:PORT]`: one mail port judged for monitoring, as a Nagios plugin.

    MAILDOCTOR OK - smtp mx.example.com:25 (192.0.2.7): 220 greeting, STARTTLS TLSv1.3, certificate
    valid 83 days | time=0.041s;;;0 greeting=0.002s;;;0 cert_days=83;14;7

One session (connect, greeting, EHLO/CAPABILITY/CAPA, STARTTLS or implicit TLS: the same
diagnose.net.dialogue the full diagnosis runs), then the certificate judged by
diagnose.knowledge.certs against the system's roots plus --ca-file. Exit codes are the plugin
convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). No revocation lookup, no DNS policy.

Built to start fast: it runs before Typer is imported (diagnose.app.entry hands it the arguments),
reads plain arguments without argparse (diagnose.app.probe_args) and imports neither Rich, Textual
nor pydantic; dnspython only when HOST is a name to resolve (not with an IP address or --address). A
port that is well (the name known and an address to connect to) is judged on a fast path without
asyncio or cryptography (diagnose.net.verified_session: OpenSSL verifies the certificate, as a mail
client would); anything else gets the full session and judgement (diagnose.app.probe_full), within
what is left of --timeout. tests/test_probe_fastpath.py lists what the healthy path may not import.
"""

from __future__ import annotations

import sys
import time

from diagnose.app.probe_args import Request, UsageError, canonical_ip, make_request, parser, quick_args
from diagnose.engine.hostnames import port_number, split_host_port
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from diagnose.knowledge.sanitize import clean
from diagnose.net.verified_session import Quick, verified_session

# The Nagios plugin states, the probe's exit codes: the numbers of diagnose.engine.exitcodes.ExitCode's
# OK, WARN, FAIL, UNKNOWN and INTERRUPTED (tests/unit/test_probe_args.py), as plain ints: ExitCode is an
# IntEnum, and enum with functools costs the healthy path ~4 ms of start-up
OK, WARNING, CRITICAL, UNKNOWN, INTERRUPTED = 0, 1, 2, 3, 130
STATES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


class Verdict:
    """What the probe found: the worst state, one summary line, detail lines and performance data."""

    def __init__(self, code: int = OK, summary: list[str] | None = None,
                 details: list[str] | None = None, perf: list[str] | None = None) -> None:
        self.code = code
        self.summary: list[str] = summary if summary is not None else []
        self.details: list[str] = details if details is not None else []
        self.perf: list[str] = perf if perf is not None else []

    def add(self, code: int, detail: str) -> None:
        """Record a problem; a failure outranks an error (UNKNOWN), as in maildoctor's exit codes."""
        pair = {self.code, code}
        self.code = CRITICAL if CRITICAL in pair else max(pair)
        self.details.append(f"{STATES[code]}: {detail}")


def run(req: Request) -> Verdict:
    """The whole probe within req.timeout: the fast path when it applies, else (or when it finds
    something to explain) the full one (diagnose.app.probe_full) with what is left of the time."""
    start = time.monotonic()  # after the imports: as the full path counts its time
    if not req.address:
        address = quick_address(req)  # the clear case, without dnspython
        if address is None:  # anything else in dnspython's words
            from diagnose.app.probe_full import resolve_now

            address, state, why = resolve_now(req)  # within half of req.timeout
            if not address:
                v = Verdict(summary=[subject(req, "")])
                v.add(state, why)
                return v
        req = req.at(address)
    if canonical_ip(req.host) is None:  # a name to verify (an address target: certs judges it)
        q = verified_session(host=req.host, address=req.address, port=req.port, protocol=req.protocol,
                             implicit_tls=req.implicit_tls, timeout=req.timeout * 0.9,
                             deadline=start + req.timeout, warn_days=req.warn_days, ca_file=req.ca_file,
                             ehlo_name=req.ehlo)
        if q.ok:
            return healthy(req, q, start)
        if q.connect_error is not None:  # refused, unreachable, no answer: said without the full path
            from diagnose.net.connecterrors import classify_socket_error

            outcome, detail = classify_socket_error(q.connect_error)
            v = Verdict(summary=[subject(req, req.address)], perf=[f"time={time.monotonic() - start:.3f}s;;;0"])
            connect_failed(v, outcome.value, detail)
            return v
        if q.timed_out_phase:  # the wait is spent: say what was seen
            from diagnose.app.probe_full import explain

            return explain(req, q, start)
    from diagnose.app.probe_full import probe_now

    return probe_now(req, spent=time.monotonic() - start)


def quick_address(req: Request) -> str | None:
    """HOST's address by diagnose.net.quickdns, asked of the first resolver (the first --nameserver, else
    the first of /etc/resolv.conf, the one dnspython asks first) within a quarter of --timeout; None
    when that gives no clear answer (the full look-up then says what is wrong)."""
    server = first_resolver(req.nameservers)
    if server is None:
        return None
    from diagnose.net.quickdns import first_address  # here: a probe given an address asks no DNS

    return first_address(req.host, server, min(req.timeout / 4, DEFAULT_TIMEOUT))


def first_resolver(nameservers: tuple[str, ...]) -> tuple[str, int] | None:
    """(address, port) of the first resolver, when it is a plain one (no IPv6 zone); else None."""
    if nameservers:
        try:
            host, typed = split_host_port(nameservers[0])
        except ValueError:
            return None  # a bad --nameserver: the full look-up reports it
        port = 53 if typed is None else port_number(typed)
    else:
        try:
            with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as conf:
                host = next((line.split()[1] for line in conf if line.split()[:1] == ["nameserver"]
                             and len(line.split()) > 1), "")
        except OSError:
            return None
        port = 53
    address = canonical_ip(host)
    return (address, port) if address and "%" not in address and port else None


def connect_failed(v: Verdict, outcome: str, detail: str) -> None:
    """A connection that could not be made, in the probe's words (probe_full.judge says it the same way)."""
    v.add(CRITICAL, f"cannot connect: {detail or outcome}")
    v.summary.append(f"connection {outcome}")


def subject(req: Request, address: str) -> str:
    """The status line's subject: "smtp mx.example.com:25 (192.0.2.7)"."""
    what = f"{req.protocol} {req.host}:{req.port}"
    if address and address != req.host:
        what += f" ([{address}])" if ":" in address else f" ({address})"
    return what


def healthy(req: Request, q: Quick, start: float) -> Verdict:
    """The fast path's OK, in the words and perfdata judge() gives a healthy session."""
    how = "implicit TLS" if req.implicit_tls else "STARTTLS"
    greeting = f"{q.greeting_code} greeting" if q.greeting_code else "greeting OK"
    v = Verdict(summary=[subject(req, req.address), greeting, f"{how} {q.tls_version}",
                         f"certificate valid {q.days_left} days"])
    v.perf = [f"time={time.monotonic() - start:.3f}s;;;0"]
    if q.greeting_delay_s is not None:
        v.perf.append(f"greeting={q.greeting_delay_s:.3f}s;;;0")
    v.perf.append(f"cert_days={q.days_left};{req.warn_days};{req.crit_days}")
    return v


def render(v: Verdict) -> str:
    """The status line (what was probed: what was seen | perfdata), then one line per problem."""
    rest = v.summary[1:] or [d.split(": ", 1)[-1] for d in v.details[:1]]
    words = v.summary[0] + (": " + ", ".join(rest) if rest else "")
    lines = [nagios_line(f"MAILDOCTOR {STATES[v.code]} - {words}") + (" | " + " ".join(v.perf) if v.perf else "")]
    lines += [nagios_line(d) for d in v.details]
    return "\n".join(lines) + "\n"


def nagios_line(text: str) -> str:
    """One line of plugin output: sanitised, without the perfdata separator."""
    return clean(text, limit=600, keep_newlines=False).replace("|", "/").strip()


def main(argv: list[str]) -> int:
    args = quick_args(argv)  # the plain arguments a monitoring job gives, without argparse's start-up
    try:
        parsed = args if args is not None else parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, which would read as CRITICAL)
        return OK if exc.code == 0 else UNKNOWN
    try:
        req = make_request(parsed)
    except UsageError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        print(nagios_line(f"MAILDOCTOR UNKNOWN - {exc}"))
        return UNKNOWN
    try:
        v = run(req)
    except KeyboardInterrupt:
        return INTERRUPTED
    sys.stdout.write(render(v))
    return int(v.code)
