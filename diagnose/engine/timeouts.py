"""The one timeout policy: every time limit of a diagnosis, derived from --timeout."""

from __future__ import annotations

from diagnose.engine.value import Value

DEFAULT_TIMEOUT = 5.0  # seconds: --timeout when the user gives none


class Timeouts(Value):
    """Every limit of a run, from ``base`` (--timeout, seconds); probes ask here, never rescale it.

    One operation, at most ``base`` each (no single wait outlasts --timeout):
      connect        base            a TCP connection to one address
      reply          base            one complete reply: a greeting, an EHLO/CAPABILITY answer, any command's
      tls            base            one TLS handshake
      http           base            connect + TLS, and again the response, of one HTTPS address
      dns_attempt    base            one DNS query to one resolver: never cut shorter, so a slow answer
                                     (2.7 s at --timeout 3) stays an answer
      goodbye        min(base, 1)    the answer to QUIT/LOGOUT (the results are already in)
    A few operations in a row:
      dns_total      2 x base        one lookup: an attempt and one retry (a lost datagram)
      http_total     3 x base        one HTTPS fetch, all addresses of the name together
      second_session 4 x base        one more session to a server (TLS 1.0/1.1, no SNI): connect, greeting,
                                     EHLO, STARTTLS, handshake
      login_reply    base + 15 s     the answer to a login: Dovecot delays failures 2 s, up to 15 s
      spf_walk       5 x base        the SPF include walk, all its rounds
      tls_verdicts   3 x base        MTA-STS waiting for the shared sessions' TLS verdicts of the MX hosts
      revocation     6 x base        one certificate's revocation judgement (AIA, OCSP, CRL fetches together)
    Budgets (from the start of the run; every check starts then):
      run            6 x base + 5 s  the whole diagnosis; a check still running then is stopped and
                                     reported as an error naming what it did not finish
      with_logins    run + 15 s      the budget when logins are tested (one login_reply's grace more)
      roundtrip(w)   w + run + 15 s  with --roundtrip: the delivery wait ``w`` (--roundtrip-timeout) on top
    At --timeout 1, 2, 5: run is 11, 17, 35 s.

    A ``Value`` (as a frozen dataclass; the probe's fast path imports this module).
    """

    __slots__ = ("base",)
    base: float

    LOGIN_GRACE = 15.0  # seconds on top of ``reply`` for a login's answer
    GOODBYE_MAX = 1.0

    def __init__(self, base: float = DEFAULT_TIMEOUT) -> None:
        self._init(base)

    @property
    def connect(self) -> float:
        return self.base

    @property
    def reply(self) -> float:
        return self.base

    @property
    def tls(self) -> float:
        return self.base

    @property
    def http(self) -> float:
        return self.base

    @property
    def dns_attempt(self) -> float:
        return self.base

    @property
    def goodbye(self) -> float:
        return min(self.base, self.GOODBYE_MAX)

    @property
    def dns_total(self) -> float:
        return 2 * self.base

    @property
    def http_total(self) -> float:
        return 3 * self.base

    @property
    def second_session(self) -> float:
        return 4 * self.base

    @property
    def login_reply(self) -> float:
        return self.base + self.LOGIN_GRACE

    @property
    def spf_walk(self) -> float:
        return 5 * self.base

    @property
    def tls_verdicts(self) -> float:
        return 3 * self.base

    @property
    def revocation(self) -> float:
        return 6 * self.base

    @property
    def run(self) -> float:
        return 6 * self.base + 5

    @property
    def with_logins(self) -> float:
        return self.run + self.LOGIN_GRACE

    def roundtrip(self, wait: float) -> float:
        return wait + self.with_logins

    def as_dict(self) -> dict[str, float]:
        """The numbers, for the report header."""
        names = ("connect", "reply", "tls", "http", "dns_attempt", "goodbye", "dns_total", "http_total",
                 "second_session", "login_reply", "spf_walk", "tls_verdicts", "revocation", "run", "with_logins")
        return {"base": self.base, **{n: round(getattr(self, n), 3) for n in names}}
