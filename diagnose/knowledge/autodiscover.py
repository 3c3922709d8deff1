"""Microsoft Autodiscover, the "plain old XML" (POX) flavour Outlook and many phones use: the request
maildoctor POSTs and the reading of the answer. Pure: no sockets.

Request and response follow Microsoft's POX Autodiscover reference (Exchange 2007 onwards):
https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/pox-autodiscover-web-service-reference-for-exchange
An answer is ``<Autodiscover><Response><Account>`` with ``<Action>`` settings (``<Protocol>`` elements:
``Type`` IMAP/POP3/SMTP, ``Server``, ``Port``, ``SSL`` on/off, ``Encryption`` SSL/TLS/None), or a
``redirectAddr`` / ``redirectUrl`` to ask again elsewhere, or an ``<Error>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from diagnose.knowledge.sanitize import clean

PATH = "/autodiscover/autodiscover.xml"
REQUEST_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MAX_XML = 64 * 1024
PROTOCOLS = {"IMAP": "imap", "POP3": "pop3", "SMTP": "smtp"}


def request_body(email: str) -> bytes:
    """The POX request for ``email``."""
    from xml.sax.saxutils import escape  # it imports urllib.request and http.client: only when a request is made

    return (f'<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="{REQUEST_SCHEMA}"><Request>'
            f"<EMailAddress>{escape(email)}</EMailAddress>"
            f"<AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>"
            "</Request></Autodiscover>").encode()


@dataclass(frozen=True)
class AutodiscoverServer:
    """One server an Autodiscover answer lists."""

    direction: str  # incoming / outgoing
    protocol: str  # imap, pop3, smtp
    hostname: str
    port: int
    security: str  # SSL, STARTTLS, plain (as in checks.autoconfig.ServerSetting)
    username: str = ""


@dataclass(frozen=True)
class AutodiscoverAnswer:
    """An Autodiscover answer read: its servers, a redirect, or why it is unusable."""

    servers: tuple[AutodiscoverServer, ...] = ()
    redirect_addr: str = ""
    redirect_url: str = ""
    error: str = ""  # the <Error> of the answer, or why it could not be read
    problems: tuple[str, ...] = field(default=())  # protocols that were skipped, and why


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _security(port: int, ssl_flag: str, encryption: str) -> str:
    encryption = encryption.upper()
    if encryption in ("SSL",):
        return "SSL"
    if encryption in ("TLS", "AUTO"):
        return "STARTTLS" if port in (143, 110, 587, 25) else "SSL"
    if encryption == "NONE" or ssl_flag.lower() == "off":
        return "plain"
    # SSL "on" (the default when absent): implicit TLS on the TLS ports, STARTTLS on the others
    return "SSL" if port in (993, 995, 465) else "STARTTLS"


def parse_response(text: str) -> AutodiscoverAnswer:
    """Pure: what an Autodiscover answer says; never raises."""
    if len(text) > MAX_XML:
        return AutodiscoverAnswer(error=f"the answer is larger than {MAX_XML // 1024} KB")
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.I):
        return AutodiscoverAnswer(error="the answer contains a DOCTYPE/ENTITY declaration (not allowed here)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return AutodiscoverAnswer(error=f"not well-formed XML ({exc})")
    if _local(root.tag) != "Autodiscover":
        tag = clean(_local(root.tag), limit=40)
        return AutodiscoverAnswer(error=f"the root element is <{tag}>, not <Autodiscover>")
    error = next((e for e in root.iter() if _local(e.tag) == "Error"), None)
    if error is not None:
        words = _child(error, "Message") or _child(error, "ErrorCode") or "an error without a message"
        return AutodiscoverAnswer(error=clean(f"the server answered with an error: {words}", limit=200))
    account = next((e for e in root.iter() if _local(e.tag) == "Account"), None)
    if account is None:
        return AutodiscoverAnswer(error="the answer has no <Account> element")
    action = _child(account, "Action")
    if action == "redirectAddr":
        return AutodiscoverAnswer(redirect_addr=clean(_child(account, "RedirectAddr"), limit=254))
    if action == "redirectUrl":
        return AutodiscoverAnswer(redirect_url=clean(_child(account, "RedirectUrl"), limit=300))
    servers: list[AutodiscoverServer] = []
    problems: list[str] = []
    for proto in [e for e in account if _local(e.tag) == "Protocol"][:20]:
        kind = _child(proto, "Type").upper()
        if kind not in PROTOCOLS:
            continue  # EXCH, EXPR, WEB: Exchange's own protocols, not tested here
        host = _child(proto, "Server").lower().rstrip(".")
        port_text = _child(proto, "Port")
        if not re.fullmatch(r"[a-z0-9.-]{1,253}", host):
            problems.append(f"{kind}: Server {clean(host, limit=60)!r} is not a host name")
            continue
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
            problems.append(f"{kind}: Port {clean(port_text, limit=20)!r} is not a port number")
            continue
        port = int(port_text)
        servers.append(AutodiscoverServer("outgoing" if kind == "SMTP" else "incoming", PROTOCOLS[kind], host, port,
                                          _security(port, _child(proto, "SSL"), _child(proto, "Encryption")),
                                          clean(_child(proto, "LoginName"), limit=80)))
    if not servers and not problems:
        problems.append(f"it lists no IMAP, POP3 or SMTP server (Action {clean(action, limit=30) or 'missing'})")
    return AutodiscoverAnswer(tuple(servers), problems=tuple(problems))
