"""`maildoctor probe`'s arguments: its options (one table, for argparse and for a quick reader), and
the Request they make once checked.

A monitoring job gives the same plain arguments every time (``HOST:PORT --sni NAME -w 21``): those are
read without argparse (``quick_args``), which with its gettext and help formatters costs ~4 ms of a
start-up that must fit in ~35 ms. Anything else (``--help``, an abbreviated option, a value argparse
would refuse) goes to argparse (``parser``), whose reading and messages are the contract;
tests/unit/test_probe_args.py proves the quick reader gives what argparse gives wherever it answers.
"""

from __future__ import annotations

import _socket
import os
import types

from diagnose.engine.hostnames import TargetError, normalise_domain, port_number, split_host_port
from diagnose.engine.timeouts import DEFAULT_TIMEOUT
from diagnose.engine.value import Value
from diagnose.net.mailports import IMPLICIT_TLS, PROTOCOL

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name)
if TYPE_CHECKING:
    import argparse

PROTOCOLS = ("smtp", "imap", "pop3")
MAX_TIMEOUT = 600.0  # seconds, as for `check`

TARGET_HELP = ("host name or IP address ([IPv6]:PORT), port 25 by default; the port gives the protocol "
               "(25, 587, 465 SMTP; 143, 993 IMAP; 110, 995 POP3) and implicit TLS (465, 993, 995)")
# (option strings, argparse.add_argument's keywords): the one definition of every option
OPTIONS: tuple[tuple[tuple[str, ...], dict], ...] = (
    (("--protocol",), {"choices": PROTOCOLS, "metavar": "smtp|imap|pop3", "help": "the protocol, for another port"}),
    (("--tls",), {"choices": ("starttls", "implicit"), "metavar": "starttls|implicit",
                  "help": "STARTTLS or TLS from the start, for another port"}),
    (("--address",), {"metavar": "IP", "help": "connect to this address instead of resolving HOST "
                                               "(HOST is still the name the certificate must carry)"}),
    (("--sni",), {"metavar": "NAME", "help": "with HOST an IP address: the name to send (SNI) and to find "
                                             "in the certificate"}),
    (("--nameserver", "-n"), {"metavar": "IP[:PORT]", "action": "append", "default": [],
                              "help": "resolve HOST through this resolver (repeatable); default: the system's"}),
    (("--timeout", "-t"), {"metavar": "SECONDS", "type": float, "default": DEFAULT_TIMEOUT * 2,
                           "help": "time limit of the whole probe (default %(default)g); more than 0, at most 600"}),
    (("--warning", "-w"), {"metavar": "DAYS", "type": int, "default": 14,
                           "help": "WARNING when the certificate expires within DAYS (default %(default)s)"}),
    (("--critical", "-c"), {"metavar": "DAYS", "type": int, "default": 7,
                            "help": "CRITICAL when it expires within DAYS (default %(default)s); expired is always "
                                    "CRITICAL"}),
    (("--ca-file",), {"metavar": "PEM", "help": "also trust these CA certificates"}),
    (("--ehlo",), {"metavar": "NAME", "default": "", "help": "the EHLO name (default: this machine's address "
                                                            "literal)"}),
)


def parser() -> argparse.ArgumentParser:
    import argparse

    columns = _width()

    class HelpFormatter(argparse.RawDescriptionHelpFormatter):
        """argparse's, with the terminal width asked of the terminal directly, and once (argparse makes one
        formatter per argument, and its default imports shutil, with bz2, lzma and zlib, for the width)."""

        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None) -> None:
            super().__init__(prog, indent_increment, max_help_position, columns if width is None else width)

    ap = argparse.ArgumentParser(
        prog="maildoctor probe",
        description="Check one mail port for monitoring: greeting, STARTTLS or implicit TLS, and the certificate "
                    "(trust, name, expiry). Nagios plugin output; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        epilog="Examples:\n  maildoctor probe mx.example.com:25 --nameserver 192.0.2.53\n"
               "  maildoctor probe 192.0.2.7:993 --sni imap.example.com -w 21 -c 7\n"
               "  maildoctor probe mail.example.com:2525 --address 192.0.2.7 --protocol smtp --tls starttls",
        formatter_class=HelpFormatter)
    ap.add_argument("target", metavar="HOST[:PORT]", help=TARGET_HELP)
    for flags, keywords in OPTIONS:
        ap.add_argument(*flags, **keywords)
    return ap


def _width() -> int:
    try:
        width = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size().columns
    except (AttributeError, ValueError, OSError):
        width = 80
    return width - 2


def quick_args(argv: list[str]) -> types.SimpleNamespace | None:
    """What ``parser().parse_args(argv)`` gives, for arguments in the plain forms only: one target, the
    exact option strings with their value as the next argument or after ``=``, each value one argparse
    accepts. None for anything else: argparse reads it then, and says what is wrong."""
    by_flag = {flag: (flags, keywords) for flags, keywords in OPTIONS for flag in flags}
    values: dict[str, object] = {_dest(flags): keywords.get("default") for flags, keywords in OPTIONS}
    target = None
    rest = iter(argv)
    for arg in rest:
        if not arg.startswith("-"):
            if target is not None:
                return None
            target = arg
            continue
        flag, equals, value = arg.partition("=")
        if flag not in by_flag:
            return None  # --help, an abbreviation, -t5, --, or a mistake: argparse's to read or refuse
        flags, keywords = by_flag[flag]
        if not equals:
            following = next(rest, None)
            if following is None or following.startswith("-"):
                return None
            value = following
        try:
            typed = keywords.get("type", str)(value)
        except ValueError:
            return None
        if typed not in keywords.get("choices", (typed,)):
            return None
        dest = _dest(flags)
        old = values[dest]
        values[dest] = [*old, typed] if isinstance(old, list) else typed  # "append": a new list, as argparse
    if target is None:
        return None
    return types.SimpleNamespace(target=target, **values)


def _dest(flags: tuple[str, ...]) -> str:
    return flags[0].removeprefix("--").replace("-", "_")


class UsageError(ValueError):
    """A bad argument: one line on stderr, UNKNOWN."""


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


def canonical_ip(text: str) -> str | None:
    """An IP address in its canonical form (IPv6 compressed; a zone, ``%eth0``, kept as typed), or None.
    The socket C module's inet_pton/inet_ntop rather than the ipaddress module (or socket's, which
    loads enum and selectors): the probe's start-up stays ~3 ms shorter."""
    address, percent, zone = text.partition("%")
    family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    if percent and (family == _socket.AF_INET or not zone or "%" in zone):
        return None
    try:
        return _socket.inet_ntop(family, _socket.inet_pton(family, address)) + percent + zone
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


def make_request(args: argparse.Namespace | types.SimpleNamespace) -> Request:
    host, port = split_target(args.target)
    port = port or 25
    if canonical_ip(host) is None:
        try:
            host = normalise_domain(host)[0]
        except TargetError as exc:
            raise UsageError(f"bad host: {exc}") from None
    else:
        host = canonical_ip(host) or host
    if args.sni:
        if canonical_ip(host) is None:
            raise UsageError("--sni is for an IP address target; give the host name as HOST (and --address IP)")
        try:
            sni = normalise_domain(args.sni)[0]
        except TargetError as exc:
            raise UsageError(f"bad --sni: {exc}") from None
        address, host = host, sni
    else:
        address = host if canonical_ip(host) else ""
    if args.address:
        if canonical_ip(args.address) is None:
            raise UsageError(f"bad --address {args.address!r}: give an IP address")
        address = canonical_ip(args.address) or ""
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


