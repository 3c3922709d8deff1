"""`maildoctor probe HOST[:PORT]`: one mail port judged for monitoring, as a Nagios plugin.

    MAILDOCTOR OK - smtp mx.example.com:25 (192.0.2.7): 220 greeting, STARTTLS TLSv1.3, certificate
    valid 83 days | time=0.041s;;;0 greeting=0.002s;;;0 cert_days=83;14;7

One session (connect, greeting, EHLO/CAPABILITY/CAPA, STARTTLS or implicit TLS: the same
diagnose.net.dialogue the full diagnosis runs), then the certificate judged by
diagnose.knowledge.certs against the system's roots plus --ca-file. Exit codes are the plugin
convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). No revocation lookup, no DNS policy.

Built to start fast: it runs before Typer is imported (diagnose.app.cli.main hands it the
arguments), parses them with argparse and imports neither Rich, Textual nor pydantic; dnspython
only when HOST is a name to resolve (not with an IP address or --address). A port that is well
(the name known and an address to connect to) is judged on a fast path without asyncio or
cryptography (diagnose.net.verified_session: OpenSSL verifies the certificate, as a mail client
would); anything else gets the full session and judgement above, within what is left of --timeout.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

from diagnose.engine.exitcodes import ExitCode
from diagnose.engine.hostnames import TargetError, normalise_domain, port_number, split_host_port
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from diagnose.engine.value import Value
from diagnose.knowledge.sanitize import clean
from diagnose.net.mailports import IMPLICIT_TLS, PROTOCOL
from diagnose.net.verified_session import Quick, verified_session

STATES = {ExitCode.OK: "OK", ExitCode.WARN: "WARNING", ExitCode.FAIL: "CRITICAL", ExitCode.UNKNOWN: "UNKNOWN"}
PROTOCOLS = ("smtp", "imap", "pop3")
MAX_TIMEOUT = 600.0  # seconds, as for `check`


class UsageError(ValueError):
    """A bad argument: one line on stderr, UNKNOWN."""


class Verdict:
    """What the probe found: the worst state, one summary line, detail lines and performance data."""

    def __init__(self, code: ExitCode = ExitCode.OK, summary: list[str] | None = None,
                 details: list[str] | None = None, perf: list[str] | None = None) -> None:
        self.code = code
        self.summary: list[str] = summary if summary is not None else []
        self.details: list[str] = details if details is not None else []
        self.perf: list[str] = perf if perf is not None else []

    def add(self, code: ExitCode, detail: str) -> None:
        """Record a problem; a failure outranks an error (UNKNOWN), as in maildoctor's exit codes."""
        pair = {self.code, code}
        self.code = ExitCode.FAIL if ExitCode.FAIL in pair else max(pair)
        self.details.append(f"{STATES[code]}: {detail}")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, with the terminal width asked of the terminal directly: argparse makes one formatter per
    argument, and its default imports shutil (with bz2, lzma, zlib) for the width (shutil.get_terminal_size)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size().columns
            except (AttributeError, ValueError, OSError):
                width = 80
            width -= 2
        super().__init__(prog, indent_increment, max_help_position, width)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="maildoctor probe",
        description="Check one mail port for monitoring: greeting, STARTTLS or implicit TLS, and the certificate "
                    "(trust, name, expiry). Nagios plugin output; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        epilog="Examples:\n  maildoctor probe mx.example.com:25 --nameserver 192.0.2.53\n"
               "  maildoctor probe 192.0.2.7:993 --sni imap.example.com -w 21 -c 7\n"
               "  maildoctor probe mail.example.com:2525 --address 192.0.2.7 --protocol smtp --tls starttls",
        formatter_class=_HelpFormatter)
    ap.add_argument("target", metavar="HOST[:PORT]",
                    help="host name or IP address ([IPv6]:PORT), port 25 by default; the port gives the protocol "
                         "(25, 587, 465 SMTP; 143, 993 IMAP; 110, 995 POP3) and implicit TLS (465, 993, 995)")
    ap.add_argument("--protocol", choices=PROTOCOLS, metavar="smtp|imap|pop3", help="the protocol, for another port")
    ap.add_argument("--tls", choices=("starttls", "implicit"), metavar="starttls|implicit",
                    help="STARTTLS or TLS from the start, for another port")
    ap.add_argument("--address", metavar="IP", help="connect to this address instead of resolving HOST "
                                                    "(HOST is still the name the certificate must carry)")
    ap.add_argument("--sni", metavar="NAME", help="with HOST an IP address: the name to send (SNI) and to find "
                                                  "in the certificate")
    ap.add_argument("--nameserver", "-n", metavar="IP[:PORT]", action="append", default=[],
                    help="resolve HOST through this resolver (repeatable); default: the system's")
    ap.add_argument("--timeout", "-t", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT * 2,
                    help="time limit of the whole probe (default %(default)g); more than 0, at most 600")
    ap.add_argument("--warning", "-w", metavar="DAYS", type=int, default=14,
                    help="WARNING when the certificate expires within DAYS (default %(default)s)")
    ap.add_argument("--critical", "-c", metavar="DAYS", type=int, default=7,
                    help="CRITICAL when it expires within DAYS (default %(default)s); expired is always CRITICAL")
    ap.add_argument("--ca-file", metavar="PEM", help="also trust these CA certificates")
    ap.add_argument("--ehlo", metavar="NAME", default="", help="the EHLO name (default: this machine's address "
                                                               "literal)")
    return ap


class Request(Value):
    """One probe, as make_request() checked it."""

    __slots__ = ("host", "address", "port", "protocol", "implicit_tls", "timeout", "warn_days", "crit_days",
                 "nameservers", "ca_file", "ehlo")
    host: str  # the name the certificate must carry (or the IP address)
    address: str  # where to connect ("" = resolve host)
    port: int
    protocol: str
    implicit_tls: bool
    timeout: float  # seconds: the whole probe
    warn_days: int
    crit_days: int
    nameservers: tuple[str, ...]
    ca_file: str | None  # a PEM file of CA certificates trusted besides the system's
    ehlo: str

    def __init__(self, *, host: str, address: str, port: int, protocol: str, implicit_tls: bool, timeout: float,
                 warn_days: int, crit_days: int, nameservers: tuple[str, ...] = (),
                 ca_file: str | os.PathLike[str] | None = None, ehlo: str = "") -> None:
        self._init(host, address, port, protocol, implicit_tls, timeout, warn_days, crit_days, nameservers,
                   None if ca_file is None else os.fspath(ca_file), ehlo)

    def at(self, address: str) -> Request:
        """The same probe, connecting to ``address`` (HOST resolved)."""
        return Request(host=self.host, address=address, port=self.port, protocol=self.protocol,
                       implicit_tls=self.implicit_tls, timeout=self.timeout, warn_days=self.warn_days,
                       crit_days=self.crit_days, nameservers=self.nameservers, ca_file=self.ca_file, ehlo=self.ehlo)


def _ip(text: str) -> str | None:
    """An IP address in its canonical form (IPv6 compressed; a zone, ``%eth0``, kept as typed), or None.
    socket's inet_pton/inet_ntop rather than the ipaddress module: socket is loaded anyway (ssl), the
    module would cost the probe's start-up ~3 ms."""
    address, percent, zone = text.partition("%")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if percent and (family == socket.AF_INET or not zone or "%" in zone):
        return None
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, address)) + percent + zone
    except (OSError, ValueError):  # not an address (ValueError: a NUL or a character outside ASCII)
        return None


def split_target(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address -> (host, port or None)."""
    try:
        host, typed = split_host_port(text)
    except ValueError as exc:
        raise UsageError(f"bad target {text.strip()!r}: {exc}") from None
    if typed is None:
        return host, None
    port = port_number(typed)
    if port is None:
        raise UsageError(f"bad port in {text.strip()!r}: expected 1-65535")
    return host, port


def make_request(args: argparse.Namespace) -> Request:
    host, port = split_target(args.target)
    port = port or 25
    if _ip(host) is None:
        try:
            host = normalise_domain(host)[0]
        except TargetError as exc:
            raise UsageError(f"bad host: {exc}") from None
    else:
        host = _ip(host) or host
    if args.sni:
        if _ip(host) is None:
            raise UsageError("--sni is for an IP address target; give the host name as HOST (and --address IP)")
        try:
            sni = normalise_domain(args.sni)[0]
        except TargetError as exc:
            raise UsageError(f"bad --sni: {exc}") from None
        address, host = host, sni
    else:
        address = host if _ip(host) else ""
    if args.address:
        if _ip(args.address) is None:
            raise UsageError(f"bad --address {args.address!r}: give an IP address")
        address = _ip(args.address) or ""
    if args.protocol is None and port not in PROTOCOL:
        raise UsageError(f"port {port} is not a standard mail port: say which protocol with --protocol smtp|imap|pop3")
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    if not (0 <= args.critical <= 3650 and 0 <= args.warning <= 3650):
        raise UsageError("--warning and --critical must be between 0 and 3650 days")
    if args.critical > args.warning:
        raise UsageError(f"--critical ({args.critical} days) must not be more than --warning ({args.warning} days)")
    if args.ca_file is not None and not os.path.isfile(args.ca_file):
        raise UsageError(f"--ca-file {args.ca_file}: no such file")
    implicit = port in IMPLICIT_TLS if args.tls is None else args.tls == "implicit"
    return Request(host=host, address=address, port=port, protocol=args.protocol or PROTOCOL[port],
                   implicit_tls=implicit, timeout=args.timeout, warn_days=args.warning, crit_days=args.critical,
                   nameservers=tuple(args.nameserver), ca_file=args.ca_file, ehlo=args.ehlo)


def run(req: Request) -> Verdict:
    """The whole probe within req.timeout: the fast path when it applies, else (or when it finds
    something to explain) the full one (diagnose.app.probe_full) with what is left of the time."""
    start = time.monotonic()  # after the imports: as the full path counts its time
    if not req.address:
        from diagnose.app.probe_full import resolve_now

        address, state, why = resolve_now(req)  # within half of req.timeout
        if not address:
            v = Verdict(summary=[subject(req, "")])
            v.add(state, why)
            return v
        req = req.at(address)
    if _ip(req.host) is None:  # a name to verify (an address target: certs judges it)
        q = verified_session(host=req.host, address=req.address, port=req.port, protocol=req.protocol,
                             implicit_tls=req.implicit_tls, timeout=req.timeout * 0.9,
                             deadline=start + req.timeout, warn_days=req.warn_days, ca_file=req.ca_file,
                             ehlo_name=req.ehlo)
        if q.ok:
            return healthy(req, q, start)
        if q.connect_error is not None or q.timed_out_phase:  # the wait is spent: say what was seen
            from diagnose.app.probe_full import explain

            return explain(req, q, start)
    from diagnose.app.probe_full import probe_now

    return probe_now(req, spent=time.monotonic() - start)


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
    ap = parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, which would read as CRITICAL)
        return ExitCode.OK if exc.code == 0 else ExitCode.UNKNOWN
    try:
        req = make_request(args)
    except UsageError as exc:
        print(f"maildoctor: error: {exc}", file=sys.stderr)
        print(nagios_line(f"MAILDOCTOR UNKNOWN - {exc}"))
        return ExitCode.UNKNOWN
    try:
        v = run(req)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    sys.stdout.write(render(v))
    return int(v.code)
