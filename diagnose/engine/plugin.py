"""What a check plugin is: a class with metadata and an async ``run`` that yields findings."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from diagnose.engine.facts import FactBoard
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.target import Target
from diagnose.engine.timeouts import DEFAULT_TIMEOUT, Timeouts


class Resolver(Protocol):
    """What the engine and the checks ask of DNS; the front doors hand in the concrete resolver
    (diagnose.net.resolver.Dns), so the engine needs no network code."""

    async def query(self, name: str, rdtype: str) -> Any:
        """One lookup, classified (a diagnose.net.resolver.DnsResult); never raises for DNS errors."""
        ...

    def describe(self) -> dict[str, Any]:
        """The resolver, for the report header."""
        ...

    @property
    def nameservers(self) -> list[str]:
        """The servers asked, as "address:port" (dnssec names them in its findings)."""
        ...


@dataclass(frozen=True)
class Options:
    """User settings every check may read."""

    timeout: float = DEFAULT_TIMEOUT  # --timeout, seconds: the base of ``timeouts``
    ca_file: Path | None = None
    dkim_selectors: tuple[str, ...] = ()  # --dkim-selector; empty: try common selectors
    dnsbl_zones: tuple[str, ...] = ()  # --dnsbl; empty: no blocklist queries ("default": the public list)
    cert_warn_days: int = 14  # --cert-warn-days: a certificate expiring sooner is a warning
    revocation: bool = True  # --no-revocation: False, no OCSP/CRL/AIA request goes to a certificate authority
    ehlo_name: str = ""  # --ehlo: the EHLO name of SMTP probes; empty: our address literal, e.g. [192.0.2.7]
    smtp_hosts: tuple[str, ...] = ()  # --smtp-host: submission servers to test instead of discovering them
    imap_hosts: tuple[str, ...] = ()  # --imap-host
    pop_hosts: tuple[str, ...] = ()  # --pop-host
    credentials: Any = (
        None  # diagnose.engine.credentials.CredentialSet (--user, --password-env...); None: no login tests
    )
    allow_plaintext_auth: bool = False  # --allow-plaintext-auth: credentials may go over a connection without TLS
    roundtrip: Any = None  # diagnose.engine.credentials.RoundTrip (--roundtrip, --to, --roundtrip-timeout); None: off
    required: tuple[Any, ...] = ()  # diagnose.engine.required.Requirement: checks asked for; not testable = error
    extra: dict[str, Any] = field(default_factory=dict)  # settings of third-party checks
    # batch: port-25 outcomes shared between targets (diagnose.net.shared.SharedConnects); None: each run tries
    connects: Any = None

    @property
    def timeouts(self) -> Timeouts:
        """Every time limit of the run, derived from ``timeout`` (diagnose.engine.timeouts)."""
        return Timeouts(self.timeout)


class CheckContext:
    """Everything a running check may use: the target, DNS, settings and the fact board."""

    def __init__(self, target: Target, dns: Resolver, options: Options, facts: FactBoard) -> None:
        self.target = target
        self.dns = dns
        self.options = options
        self._facts = facts

    @property
    def timeout(self) -> float:
        """--timeout itself; a probe asks ``timeouts`` for its own limit."""
        return self.options.timeout

    @property
    def timeouts(self) -> Timeouts:
        return self.options.timeouts

    async def fact(self, name: str) -> Any:
        """Wait for a fact from another check; raises FactUnavailable with the reason it is missing."""
        return await self._facts.get(name)

    def publish(self, name: str, value: Any) -> None:
        self._facts.publish(name, value)

    def withhold(self, name: str, reason: str) -> None:
        self._facts.withhold(name, reason)


class Check:
    """Base class of check plugins. Subclasses set the class attributes and implement ``run``.

    ``texts`` maps each finding code the check emits to (explanation, remedy) templates that
    are formatted with the keyword facts given to ``finding``.

    Names (public, JSON schema 2; tests/unit/test_naming.py holds them):
    - ``id`` is ``family.aspect``, two lowercase snake_case words: ``spf.record``, ``tls.certificate``.
    - every code starts with the family, the id up to its first dot, then a dot and lowercase
      snake_case words (more dots allowed): ``spf.pass_all``, ``tls.cert_expired``, ``login.smtp.ok``.
      A code belongs to one check; checks of one family keep theirs apart (``tls.ok``/``tls.cert_ok``).
      ``code_family`` names another first word where a public contract fixed it (``message.bounce``
      emits ``bounce.<reason>``, as issue 16's JSON contract says).
    - the runner's codes ``{id}.skipped``, ``{id}.overrun``, ``{id}.crashed`` follow by themselves.
    A renamed id or code goes into diagnose.engine.aliases so the old name keeps working.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    side: ClassVar[Side] = Side.BOTH
    services: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[tuple[str, ...]] = ()
    provides: ClassVar[tuple[str, ...]] = ()
    wants: ClassVar[tuple[str, ...]] = ()  # facts used when a selected check provides them (never pulls it in)
    implied_by: ClassVar[str] = ""  # an Options field that, when set, asks for this check (e.g. "credentials")
    texts: ClassVar[dict[str, tuple[str, str]]] = {}
    optional: ClassVar[bool] = False  # True: runs only when named with --check (e.g. bimi.logo)
    code_family: ClassVar[str] = ""  # the first word of the codes when it is not the id's family (rare)
    # True: nothing on the way to the servers waits for this check (DNS policy records, provider
    # signals): it starts once the servers' addresses are known, so its lookups fill the time the
    # run spends waiting for servers instead of delaying the first connections (diagnose.engine.runner)
    background: ClassVar[bool] = False

    def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:  # pragma: no cover - interface
        raise NotImplementedError

    def finding(
        self,
        code: str,
        status: Status,
        subject: str,
        summary: str,
        *,
        evidence: dict[str, Any] | None = None,
        duration_s: float = 0.0,
        host: str = "",
        reason: str = "",
        untested: bool = False,
        **facts: Any,
    ) -> Finding:
        """Build a finding of this check; explanation and remedy come from ``texts[code]``.

        ``reason`` says why a skipped test was skipped (or an error's test could not run), in words
        that fit after "not tested: "; without it, the summary is the reason. ``untested``: this skip
        means the test could not be made (implied by a code ending in ``.skipped``), not an answer."""
        explanation, remedy = self.texts.get(code, ("", ""))
        values = _Facts(host=host, subject=subject, **({"reason": reason} if reason else {}), **facts)
        return Finding(
            check=self.id,
            code=code,
            subject=subject,
            status=status,
            summary=summary,
            explanation=explanation.format_map(values).strip(),
            remedy=remedy.format_map(values).strip(),
            evidence=evidence or {},
            duration_s=duration_s,
            side=self.side,
            host=host,
            reason=reason,
            untested=untested,
        )


class _Facts(dict[str, Any]):
    """Template values; a placeholder without a value stays visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.elapsed`` in seconds."""

    def __enter__(self) -> Stopwatch:
        self.start = time.monotonic()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.start
