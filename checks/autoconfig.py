"""autoconfig.settings: the Thunderbird autoconfig file that lets mail programs set themselves up.

Looked for, over HTTPS, where Thunderbird looks: ``https://autoconfig.<domain>/mail/config-v1.1.xml``
then ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``. The servers it names are
published as the ``autoconfig.settings`` fact and in the evidence; SRV records and common names are
the servers.discover check.
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from diagnose.engine.facts import AUTOCONFIG_SETTINGS
from diagnose.engine.model import Finding, Side, Status
from diagnose.engine.plugin import Check, CheckContext
from diagnose.knowledge.sanitize import clean
from diagnose.net.httpget import FetchResult, https_get
from diagnose.net.resolver import Outcome

PATH = "/mail/config-v1.1.xml"
WELL_KNOWN = "/.well-known/autoconfig/mail/config-v1.1.xml"
MAX_XML = 64 * 1024


@dataclass(frozen=True)
class ServerSetting:
    """One server a mail program is told to use (autoconfig, Autodiscover)."""

    direction: str  # "incoming" or "outgoing"
    protocol: str  # imap, pop3, smtp
    hostname: str
    port: int
    security: str  # SSL, STARTTLS, plain
    username: str = ""
    authentication: str = ""  # the sign-in methods offered, in order: "OAuth2, password-cleartext"

    def describe(self) -> str:
        return f"{self.protocol.upper()} {self.hostname}:{self.port} {self.security}"


def parse_autoconfig(text: str) -> tuple[list[ServerSetting], list[str]]:
    """Pure: the servers of a clientConfig document, and what is wrong with it."""
    if len(text) > MAX_XML:
        return [], [f"the file is larger than {MAX_XML // 1024} KB"]
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.I):
        return [], ["the file contains a DOCTYPE/ENTITY declaration (not allowed here)"]
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [], [f"not well-formed XML ({exc})"]
    if root.tag != "clientConfig":
        return [], [f"the root element is <{clean(root.tag, limit=40)}>, not <clientConfig>"]
    settings, errors = [], []
    for provider in root.findall("emailProvider")[:5]:
        for element, direction in [(e, "incoming") for e in provider.findall("incomingServer")[:10]] + \
                                  [(e, "outgoing") for e in provider.findall("outgoingServer")[:10]]:
            protocol = (element.get("type") or "").lower()
            host = (element.findtext("hostname") or "").strip().lower()
            port_text = (element.findtext("port") or "").strip()
            security = (element.findtext("socketType") or "").strip()
            where = f"<{element.tag} type=\"{clean(protocol, limit=20)}\">"
            if protocol not in ("imap", "pop3", "smtp", "exchange", "ews", "activesync", "jmap"):
                errors.append(f"{where}: unknown type")
                continue
            if protocol not in ("imap", "pop3", "smtp"):
                continue  # other protocols exist in the format; maildoctor does not test them
            if not re.fullmatch(r"[a-z0-9.-]{1,253}|%emaildomain%", host):
                errors.append(f"{where}: hostname {clean(host, limit=60)!r} is not a host name")
                continue
            if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
                errors.append(f"{where}: port {clean(port_text, limit=20)!r} is not a port number")
                continue
            if security not in ("SSL", "STARTTLS", "plain"):
                errors.append(f"{where}: socketType {clean(security, limit=20)!r} must be SSL, STARTTLS or plain")
                continue
            settings.append(ServerSetting(direction, protocol, host, int(port_text), security,
                                          clean(element.findtext("username") or "", limit=80),
                                          ", ".join(clean(a.text or "", limit=40)
                                                    for a in element.findall("authentication")[:4])))
    if not settings and not errors:
        errors.append("it lists no incomingServer or outgoingServer")
    return settings, errors


class Autoconfig(Check):
    id = "autoconfig.settings"
    title = "Mail programs can configure themselves (autoconfig file)"
    background = True  # nothing on the way to the servers waits for it: started after their addresses
    side = Side.BOTH
    services = ("imap", "pop3", "submission")
    provides = (AUTOCONFIG_SETTINGS,)
    texts = {
        "autoconfig.found": ("", ""),
        "autoconfig.none": ("", ""),
        "autoconfig.invalid": (
            "The autoconfig file at {url} (read by Thunderbird and other mail programs to fill in the "
            "server settings) is invalid: {problems}. Mail programs ignore it and make users type the "
            "settings by hand, or guess wrong ones.",
            "Fix the XML; a minimal example:\n<clientConfig version=\"1.1\"><emailProvider id=\"{domain}\">"
            "<domain>{domain}</domain><incomingServer type=\"imap\"><hostname>imap.{domain}</hostname>"
            "<port>993</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
            "<authentication>password-cleartext</authentication></incomingServer><outgoingServer type=\"smtp\">"
            "<hostname>smtp.{domain}</hostname><port>465</port><socketType>SSL</socketType>"
            "<username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>"
            "</outgoingServer></emailProvider></clientConfig>",
        ),
        "autoconfig.plain": (
            "The autoconfig file tells mail programs to use {servers} without encryption (socketType "
            "plain): passwords and mail would cross the network readable by anyone on the way.",
            "Change socketType to SSL (ports 993, 995, 465) or STARTTLS (143, 110, 587) in {url}.",
        ),
        "autoconfig.unreachable": (
            "The autoconfig file at {url} could not be fetched: {problem}. Mail programs "
            "fall back to guessing, which often fails or picks insecure settings.",
            "If you offer autoconfig, make {host} resolve and serve the file there over HTTPS with a "
            "valid certificate for {host}; if you do not, remove the {host} record.",
        ),
    }

    async def run(self, ctx: CheckContext) -> AsyncIterator[Finding]:
        domain = ctx.target.domain
        fetches: list[FetchResult] = []
        places = ((f"autoconfig.{domain}", PATH), (domain, WELL_KNOWN))
        # every name at once (one DNS round), then at most two fetches: ~7 timeouts in the worst case
        names = [(h, t) for h, _p in places for t in ("A", "AAAA")] + [(f"_autodiscover._tcp.{domain}", "SRV"),
                                                                       (f"autodiscover.{domain}", "A")]
        answers = dict(zip(names, await asyncio.gather(*(ctx.dns.query(n, t) for n, t in names)), strict=False))
        for host, path in places:
            a, aaaa = answers[(host, "A")], answers[(host, "AAAA")]
            if not (a.records or aaaa.records):
                failed = [r for r in (a, aaaa) if r.outcome in (Outcome.SERVFAIL, Outcome.TIMEOUT)]
                if failed and host.startswith("autoconfig."):  # a DNS failure is not "not published"
                    fetches.append(FetchResult(f"https://{host}{path}", "", "dns",
                                               f"the address lookup of {host} failed ({failed[0].describe()})"))
                continue
            fetch = await https_get(host, path, a.records + aaaa.records, ca_file=ctx.options.ca_file,
                                    timeout=ctx.timeout, max_body=MAX_XML)
            fetches.append(fetch)
            if fetch.outcome == "ok" and fetch.response is not None and fetch.response.status == 200:
                break
        findings, settings = self.evaluate_autoconfig(domain, fetches)
        # Microsoft Autodiscover is tested by autodiscover.settings (a POX POST); here only whether it exists
        for f in findings:
            f.evidence["autodiscover"] = {"srv": list(answers[names[-2]].records)[:5],
                                          "host": list(answers[names[-1]].records)[:5]}
        if settings:
            ctx.publish(AUTOCONFIG_SETTINGS, tuple(settings))
        else:
            ctx.withhold(AUTOCONFIG_SETTINGS, f"{domain} publishes no usable autoconfig file")
        for finding in findings:
            yield finding

    def evaluate_autoconfig(self, domain: str, fetches: list[FetchResult]) -> tuple[list[Finding], list[ServerSetting]]:
        """Pure: judge the fetch attempts (in order); the first 200 answer is the file."""
        ev: dict = {"tried": [{"url": f.url, "outcome": f.outcome, "detail": clean(f.detail, limit=200),
                               "status": f.response.status if f.response else None} for f in fetches]}
        served = next((f for f in fetches if f.response is not None and f.response.status == 200), None)
        if served is None:
            failed = next(
                (f for f in fetches if f.outcome != "ok" and f.url.startswith(f"https://autoconfig.{domain}/")), None
            )
            if failed is not None:
                host = f"autoconfig.{domain}"
                return [
                    self.finding(
                        "autoconfig.unreachable",
                        Status.ERROR if failed.outcome == "not_allowed" else Status.WARN,  # not tried: no verdict
                        domain,
                        f"autoconfig file at {failed.url} unreachable",
                        evidence=ev,
                        domain=domain,
                        url=failed.url,
                        host=host,
                        problem=clean(failed.detail or failed.outcome, limit=200),
                    )
                ], []
            return [
                self.finding(
                    "autoconfig.none",
                    Status.SKIP,
                    domain,
                    f"{domain} publishes no autoconfig file (optional; see servers.discover for SRV records)",
                    evidence=ev,
                )
            ], []
        assert served.response is not None
        settings, errors = parse_autoconfig(served.response.body.decode("utf-8", "replace"))
        settings = [ServerSetting(**{**asdict(s), "hostname": domain if s.hostname == "%emaildomain%" else s.hostname})
                    for s in settings]
        ev["url"] = served.url
        ev["servers"] = [asdict(s) for s in settings]
        kw: dict[str, Any]  # keywords of self.finding
        kw = dict(evidence=ev, domain=domain, url=served.url)
        if errors:
            return [
                self.finding(
                    "autoconfig.invalid",
                    Status.FAIL,
                    domain,
                    clean(f"autoconfig file is invalid: {errors[0]}", limit=300),
                    problems=clean("; ".join(errors[:5]), limit=600),
                    **kw,
                )
            ], settings
        out = []
        plain = [s.describe() for s in settings if s.security == "plain"]
        if plain:
            out.append(
                self.finding(
                    "autoconfig.plain",
                    Status.WARN,
                    domain,
                    f"autoconfig offers unencrypted {', '.join(plain)}",
                    servers=", ".join(plain),
                    **kw,
                )
            )
        incoming = [s.describe() for s in settings if s.direction == "incoming"]
        outgoing = [s.describe() for s in settings if s.direction == "outgoing"]
        out.insert(
            0,
            self.finding(
                "autoconfig.found",
                Status.PASS,
                domain,
                f"autoconfig: incoming {', '.join(incoming) or 'none'}; outgoing {', '.join(outgoing) or 'none'}",
                **kw,
            ),
        )
        return out, settings
