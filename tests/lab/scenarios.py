"""The lab's data: its hosts and its scenario domains.

Everything here is relative: a host is a last octet plus a name under the
lab's TLD, and every record is a template rendered per lab, so the same data
gives ``mx1.healthy.test`` at ``127.77.0.10`` for one lab and
``mx1.healthy.example`` at ``127.78.0.10`` for another.

Templates (str.format) may use:

* ``{tld}``             the lab's TLD, e.g. ``test``
* ``{domain}``          the scenario's own domain, e.g. ``healthy.test``
* ``{HOST.fqdn}``       a host's name, e.g. ``{mx1.fqdn}`` -> ``mx1.healthy.test``
* ``{HOST.addr}``       a host's address, e.g. ``{mx1.addr}`` -> ``127.77.0.10``

Every host gets an A record (in the zone its name falls in) and a PTR record
automatically; scenarios list only their other records. Owners are relative to
the scenario domain (``@`` is the apex). Write absolute names with a trailing
dot.

To add a scenario: add an entry to SCENARIOS (and, if it needs its own
address, a host to HOSTS with a free octet and the services that must listen
there). Nothing else has to change: zones, PTRs, certificates, listeners and
``lab.scenarios`` facts are all derived from these tables.

No AAAA records: the only IPv6 address allowed for the lab is ::1, which every
lab on the machine would share, so parallel labs would clash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.lab.policydata import (
    AUTOCONFIG_XML,
    AUTODISCOVER_LOOP_XML,
    AUTODISCOVER_XML,
    DKIM_RSA_512,
    DKIM_RSA_2048,
    dkim,
    sts_policy,
)

# Services a host can offer; which server provides them.
POSTFIX_SERVICES = {"smtp": 25, "submission": 587, "submissions": 465}
DOVECOT_SERVICES = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
DNS_SERVICES = {"dns-auth": 53, "dns-resolver": 53}
WEB_SERVICES = {"https": 443, "http": 80, "ocsp": 80}  # webserver.py: Scenario.web files; the CA's CRLs, OCSP


@dataclass(frozen=True)
class Host:
    octet: int  # last octet of the address (the lab's net gives the rest)
    name: str  # name relative to the TLD: "mx1.healthy" -> mx1.healthy.<tld>
    services: tuple[str, ...] = ()
    firewall: str | None = None  # "drop": all TCP to the address is DROPped
    note: str = ""
    tls: str = ""  # certificate variant (pki.VARIANTS): expired, expiring, wrongname, selfsigned, nochain
    postfix: tuple[str, ...] = ()  # extra smtpd options for this host's listeners, e.g. "smtpd_tls_security_level=none"
    dovecot: tuple[str, ...] = ()  # extra Dovecot settings in this host's `local ADDR { }` block
    ptr: str = ""  # PTR target instead of the host's own name (relative to the TLD, like name); "-": no PTR
    sans: tuple[str, ...] = ()  # more names in its certificate (absolute, wildcards allowed)


@dataclass(frozen=True)
class Scenario:
    expected: str  # short description of what a diagnosis should find
    records: tuple[tuple[str, str, str], ...] = ()  # (owner, type, rdata template)
    served: bool = True  # False: the domain does not exist at all (NXDOMAIN), unless delegated below
    delegate_to: str = ""  # a host key: the TLD delegates the (unserved) domain to that host as its name server
    extra: dict = field(default_factory=dict)  # free-form facts for tests
    dnssec: str = ""  # "signed", or "bogus": signed but its DS in the TLD zone is wrong (SERVFAIL)
    web: dict = field(default_factory=dict)  # "LABEL/path" -> file template, served by host web as LABEL.<domain>


HOSTS: dict[str, Host] = {
    # infrastructure
    "ns": Host(53, "ns1", ("dns-auth",), note="Knot, authoritative for every lab zone"),
    "resolver": Host(54, "resolver", ("dns-resolver",), note="Unbound, the resolver to use"),
    # healthy.<tld>
    "mx1": Host(
        10,
        "mx1.healthy",
        ("smtp", "submission", "submissions"),
        note="Postfix: 25, 587 (STARTTLS+AUTH), 465 (TLS+AUTH)",
    ),
    "mx2": Host(11, "mx2.healthy", ("smtp",), note="Postfix: 25 (backup MX)"),
    "smtp": Host(12, "smtp.healthy", ("submission", "submissions"), note="Postfix: submission host, 587 and 465"),
    # the providers' own servers, impersonated (names ending in "." are absolute: PROVIDER_ZONES serve them)
    "gmx": Host(160, "smtp.google.com.", ("smtp",), sans=("aspmx.l.google.com",),
                note="Postfix: 25, Google Workspace's MX (impersonated)"),
    "msmx": Host(161, "mail.protection.outlook.com.", ("smtp",), sans=("*.mail.protection.outlook.com",),
                 note="Postfix: 25, Microsoft 365's MX for every <domain-dashed>.mail.protection.outlook.com"),
    "imap": Host(
        20, "imap.healthy", ("imap", "imaps", "pop3", "pop3s"), note="Dovecot: 143 (STARTTLS), 993, 110 (STLS), 995"
    ),
    # fault hosts
    "refused": Host(30, "mx.refused", note="nothing listens: connection refused"),
    "lamens": Host(32, "ns1.lame", note="nothing listens: the only name server of lame.<tld> (a lame delegation)"),
    "filtered": Host(31, "mx.filtered", firewall="drop", note="all TCP to it DROPped by iptables: connect times out"),
    "implicit": Host(40, "implicit", ("smtp",), note="Postfix: 25, apex A of implicit.<tld>"),
    "mixedbad": Host(41, "mx1.mixed", note="nothing listens: connection refused"),
    "mixedok": Host(42, "mx2.mixed", ("smtp",), note="Postfix: 25"),
    # server probe faults (certificates, TLS, greeting, AUTH): one host each, Postfix on 25
    "certexpired": Host(60, "mx.certexpired", ("smtp",), tls="expired", note="Postfix: 25, expired certificate"),
    "certexpiring": Host(
        61, "mx.certexpiring", ("smtp",), tls="expiring", note="Postfix: 25, certificate expires in 5 days"
    ),
    "certwrongname": Host(
        62, "mx.certwrongname", ("smtp",), tls="wrongname", note="Postfix: 25, certificate for another name"
    ),
    "certselfsigned": Host(
        63, "mx.certselfsigned", ("smtp",), tls="selfsigned", note="Postfix: 25, self-signed certificate"
    ),
    "certnochain": Host(64, "mx.certnochain", ("smtp",), tls="nochain", note="Postfix: 25, intermediate not sent"),
    "nostarttls": Host(
        65, "mx.nostarttls", ("smtp",), postfix=("smtpd_tls_security_level=none",), note="Postfix: 25 without STARTTLS"
    ),
    # smtpd_delay_reject=no runs the client restrictions (here: sleep 15 s) before the 220 greeting
    "slowgreet": Host(
        66,
        "mx.slowgreet",
        ("smtp",),
        postfix=("smtpd_delay_reject=no", "smtpd_client_restrictions=sleep,15"),
        note="Postfix: 25, greets after 15 s",
    ),
    "noauth": Host(
        67,
        "smtp.noauth",
        ("submission", "submissions"),
        postfix=("smtpd_sasl_auth_enable=no",),
        note="Postfix: 587/465 without AUTH",
    ),
    "legacytls": Host(
        68,
        "mx.legacytls",
        ("smtp",),
        postfix=("smtpd_tls_protocols=>=TLSv1", "smtpd_tls_mandatory_protocols=>=TLSv1"),
        note="Postfix: 25, still accepts TLS 1.0/1.1",
    ),
    # DNS policy faults (SPF, DMARC, DKIM, MTA-STS, PTR, DNSBL: see policydata.py), octets 150-159
    "web": Host(150, "web", ("https", "http"), note="static HTTPS: MTA-STS policies, autoconfig files, "
                "Autodiscover answers; HTTP 80: only redirects (PROVIDER_REDIRECTS)"),
    # the lab CA's publication points, named in every leaf (pki.py); key "capub": "ca" would be certs/ca.pem
    # the lab's identity provider (authserver.py): HTTPS 443 for clients, HTTP 80 for Dovecot's introspection
    "idp": Host(157, "idp", ("https", "http"), note="OAuth 2.0 authorization server (authserver.py)"),
    "capub": Host(155, "ca", ("http",), note="HTTP 80: the lab CA's CRLs (root and intermediates) and CA certificates (webserver.py)"),
    "ocsp": Host(156, "ocsp", ("ocsp",), note="HTTP 80: OCSP answers by openssl ocsp (webserver.py)"),
    "listed": Host(151, "mx.listed", ("smtp",), note="Postfix: 25; listed on the lab DNSBL dnsbl.<tld>"),
    "ptrbad": Host(152, "mx.ptrbad", ("smtp",), ptr="mail.elsewhere", note="Postfix: 25; PTR -> a name without A"),
    "ptrgeneric": Host(153, "mx.ptrgeneric", ptr="dsl-pool-153.isp", note="nothing listens; PTR is an ISP-style name"),
    "noptr": Host(154, "mx.noptr", ptr="-", note="nothing listens; no PTR record"),
    "tlsabad": Host(69, "mx.tlsabad", ("smtp",), note="Postfix: 25; its TLSA record does not match"),
    # revocation faults (pki.py variants)
    "crlrevoked": Host(73, "mx.crlrevoked", ("smtp",), tls="crlrevoked", note="Postfix: 25, leaf listed in the CRL"),
    "ocsprevoked": Host(74, "mx.ocsprevoked", ("smtp",), tls="ocsprevoked", note="Postfix: 25, revoked only in OCSP"),
    "ocspdown": Host(75, "mx.ocspdown", ("smtp",), tls="ocspdown", note="Postfix: 25, OCSP URL where nothing listens"),
    "crlstale": Host(76, "mx.crlstale", ("smtp",), tls="crlstale", note="Postfix: 25, only a stale CRL"),
    "intrevoked": Host(77, "mx.intrevoked", ("smtp",), tls="intrevoked",
                       note="Postfix: 25, leaf (not revoked) under a second intermediate that the root's CRL revokes"),
    "oldtls": Host(
        72,
        "mx.oldtls",
        ("smtp",),
        postfix=("smtpd_tls_protocols=<=TLSv1.1", "smtpd_tls_mandatory_protocols=<=TLSv1.1"),
        note="Postfix: 25, only TLS 1.0/1.1",
    ),
    "plainsmtp": Host(
        70,
        "smtp.plainauth",
        ("submission",),
        postfix=("smtpd_tls_security_level=may", "smtpd_tls_auth_only=no"),
        note="Postfix: 587 offering AUTH before STARTTLS",
    ),
    # a submission server after basic authentication was switched off: it offers only XOAUTH2 (as Exchange
    # Online does, which takes no OAUTHBEARER)
    "oauthsmtp": Host(
        80,
        "smtp-oauth.healthy",
        ("submission", "submissions"),
        postfix=("smtpd_sasl_mechanism_filter=xoauth2",),
        note="Postfix: 587/465 offering only AUTH XOAUTH2",
    ),
    "plainimap": Host(
        71,
        "imap.plainauth",
        ("imap", "pop3"),
        dovecot=("disable_plaintext_auth = no",),
        note="Dovecot: 143/110 offering login before STARTTLS",
    ),
}

# A BIMI logo in SVG Tiny PS (square, titled, no scripts or external references); no braces: web
# files are str.format templates. A web file whose content is MARK_CERTIFICATE is replaced at start by
# a mark certificate (VMC) the lab CA mints for the site's domain, holding the site's /logo.svg
# (webserver.write_web, pki.CertAuthority.issue_mark).
BIMI_LOGO = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">
  <title>maildoctor lab brand</title>
  <rect width="100" height="100" fill="#1a5fb4"/>
  <circle cx="50" cy="50" r="30" fill="#ffffff"/>
</svg>
"""
MARK_CERTIFICATE = "@mark-certificate"

# The user the mail servers know; the password is generated per lab.
MAIL_USER = "user"
MAIL_DOMAIN_SCENARIO = "healthy"
# Every mailbox of the mail domain (all share the lab's password), local part -> its fault:
# "" works; "deny": a locked account: Dovecot refuses the right password with [CONTACTADMIN];
# "discard": Postfix accepts its incoming mail and silently discards it;
# "bounce": Postfix accepts mail for it, Dovecot does not know it: LMTP refuses, Postfix bounces to the sender;
# "oauth": basic authentication switched off: every password is refused with Microsoft's words, OAuth
# tokens (Dovecot's oauth2 passdb, the lab's authserver.py) log in;
# "nosmtp": SMTP AUTH switched off for the mailbox: any submission login (password or token) is refused with
# Microsoft's words, IMAP and POP3 work.
# Any mailbox also takes mail for LOCAL+FOLDER@ (e.g. user+Junk@): Dovecot files it in FOLDER.
MAIL_ACCOUNTS = {MAIL_USER: "", "locked": "deny", "dropped": "discard", "ghost": "bounce", "modern": "oauth",
                 "nosmtp": "nosmtp"}
# what the OAuth-only mailbox answers to any password: Exchange Online's words (535 5.7.139) after basic
# authentication was switched off
BASIC_AUTH_OFF = "Authentication unsuccessful, basic authentication is disabled."
SMTP_AUTH_OFF = "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."

# Zones of the providers' own names, served by the lab's Knot and reached through stub zones in Unbound,
# so provider recognition and the provider.* checks meet the documented records (diagnose/knowledge/
# providers.toml) on loopback. Owners are relative to the zone ("@" its apex); rdata templates as above.
PROVIDER_ZONES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "google.com": (
        ("_spf", "TXT", '"v=spf1 ip4:{gmx.addr} ~all"'),
        ("aspmx.l", "A", "{gmx.addr}"),
    ),
    "outlook.com": (
        ("spf.protection", "TXT", '"v=spf1 ip4:{msmx.addr} -all"'),
        ("*.mail.protection", "A", "{msmx.addr}"),
        ("autodiscover", "A", "{web.addr}"),
    ),
    "onmicrosoft.com": (  # the tenant "labtenant" holds the DKIM keys Microsoft 365 signs with
        ("*._domainkey.labtenant", "TXT", dkim(DKIM_RSA_2048)),
    ),
    "office365.com": (  # the client servers Autodiscover names: the lab's Dovecot and submission Postfix
        ("outlook", "A", "{imap.addr}"),
        ("smtp", "A", "{smtp.addr}"),
    ),
}
# HTTPS files of provider names (webserver.py); an Autodiscover POST is answered from its file, the
# request's address put in for %EMAILADDRESS%
PROVIDER_WEB = {
    "autodiscover.outlook.com": {"/autodiscover/autodiscover.xml": AUTODISCOVER_XML},
}

# plain-HTTP redirects of host web (any Host header), as autodiscover.outlook.com on port 80 gives them
PROVIDER_REDIRECTS = {
    "/autodiscover/autodiscover.xml": "https://autodiscover.outlook.com/autodiscover/autodiscover.xml",
}

_GOOD_POLICY = (  # SPF and DMARC that pass, for the policy-fault domains
    ("@", "TXT", '"v=spf1 mx -all"'),
    ("_dmarc", "TXT", '"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"'),
)
_MX1 = (("@", "MX", "10 {mx1.fqdn}."),)
_STS = (("_mta-sts", "TXT", '"v=STSv1; id=lab1"'), ("mta-sts", "A", "{web.addr}"))

_DMARC = (("_dmarc", "TXT", '"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"'),)
_GOOGLE = (("@", "MX", "1 {gmx.fqdn}."), ("google._domainkey", "TXT", dkim(DKIM_RSA_2048)), *_DMARC)
_MS_SPF = (("@", "TXT", '"v=spf1 include:spf.protection.outlook.com -all"'),)
_MS = (
    ("@", "MX", "0 {domain_dashed}.mail.protection.outlook.com."),
    ("autodiscover", "CNAME", "autodiscover.outlook.com."),
    ("selector1._domainkey", "CNAME", "selector1-{domain_dashed}._domainkey.labtenant.onmicrosoft.com."),
    *_DMARC,
)
_MS_S2 = (("selector2._domainkey", "CNAME", "selector2-{domain_dashed}._domainkey.labtenant.onmicrosoft.com."),)

SCENARIOS: dict[str, Scenario] = {
    # provider scenarios: the providers' names are served by PROVIDER_ZONES
    "gworkspace": Scenario(
        "Google Workspace set up as documented: MX smtp.google.com, include:_spf.google.com, google._domainkey, DMARC",
        (*_GOOGLE, ("@", "TXT", '"v=spf1 include:_spf.google.com ~all"')),
    ),
    "m365": Scenario(
        "Microsoft 365 set up as documented: MX <domain-dashed>.mail.protection.outlook.com, "
        "include:spf.protection.outlook.com, selector1/selector2 CNAMEs, autodiscover CNAME (Autodiscover answers)",
        (*_MS, *_MS_SPF, *_MS_S2),
    ),
    "gnoinclude": Scenario(
        "MX at Google Workspace, SPF without include:_spf.google.com (provider.spf_include_missing)",
        (*_GOOGLE, ("@", "TXT", '"v=spf1 mx -all"')),
    ),
    "mixedspf": Scenario(
        "MX at Google Workspace, SPF authorising only Microsoft 365 (provider.mixed)",
        (*_GOOGLE, *_MS_SPF),
    ),
    "m365mxold": Scenario(
        "Microsoft 365 set up (autodiscover, DKIM CNAMEs, SPF) while the MX still points at Google Workspace "
        "(provider.mx_elsewhere)",
        (("@", "MX", "1 {gmx.fqdn}."), ("google._domainkey", "TXT", dkim(DKIM_RSA_2048)),
         ("@", "TXT", '"v=spf1 include:_spf.google.com include:spf.protection.outlook.com -all"'), *_MS[1:], *_MS_S2),
    ),
    "adloop": Scenario(
        "Autodiscover at autodiscover.adloop answers every request with a redirect to an address of the same "
        "domain (a loop): followed a bounded number of times (autodiscover.invalid)",
        (*_MX1, ("autodiscover", "A", "{web.addr}")),
        web={"autodiscover/autodiscover/autodiscover.xml": AUTODISCOVER_LOOP_XML},
    ),
    "m365onesel": Scenario(
        "Microsoft 365 with selector2._domainkey missing (provider.dkim_selector_missing)",
        (*_MS, *_MS_SPF),
    ),
    "healthy": Scenario(
        "two working MX hosts (10 mx1, 20 mx2), submission and IMAP hosts; DNSSEC-signed; SPF, DMARC, "
        "DKIM (selector default), MTA-STS covering both MX, TLS-RPT, autoconfig",
        (
            ("@", "MX", "10 {mx1.fqdn}."),
            ("@", "MX", "20 {mx2.fqdn}."),
            ("@", "TXT", '"v=spf1 mx -all"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"'),
            ("default._domainkey", "TXT", dkim(DKIM_RSA_2048)),
            *_STS,
            ("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"'),
            ("autoconfig", "A", "{web.addr}"),
        ),
        dnssec="signed",
        web={
            "mta-sts/.well-known/mta-sts.txt": sts_policy("{mx1.fqdn}", "{mx2.fqdn}"),
            "autoconfig/mail/config-v1.1.xml": AUTOCONFIG_XML,
        },
    ),
    "spflimit": Scenario(
        "SPF needs 12 DNS lookups (3 includes of 3 each), over the limit of 10 (spf.too_many_lookups)",
        (
            *_MX1,
            ("@", "TXT", '"v=spf1 include:a._spf.{domain} include:b._spf.{domain} include:c._spf.{domain} -all"'),
            *((f"{n}._spf", "TXT", '"v=spf1 mx:healthy.{tld} a:{mx1.fqdn} a:{mx2.fqdn} ~all"') for n in "abc"),
        ),
    ),
    "spftwo": Scenario(
        "two SPF records (spf.multiple)", (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'), ("@", "TXT", '"v=spf1 a -all"'))
    ),
    "nodmarc": Scenario("SPF but no DMARC record (dmarc.missing)", (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'))),
    "dmarcnone": Scenario(
        "DMARC p=none (dmarc.p_none)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'), ("_dmarc", "TXT", '"v=DMARC1; p=none; rua=mailto:d@{domain}"')),
    ),
    "dkimweak": Scenario(
        "DKIM key at selector default is 512-bit RSA (dkim.weak_key)",
        (*_MX1, *_GOOD_POLICY, ("default._domainkey", "TXT", dkim(DKIM_RSA_512))),
    ),
    "dkimrevoked": Scenario(
        "DKIM key at selector default is revoked, empty p= (dkim.revoked)",
        (*_MX1, *_GOOD_POLICY, ("default._domainkey", "TXT", '"v=DKIM1; k=rsa; p="')),
    ),
    "stsmx": Scenario(
        "MTA-STS policy lists another MX name (mta_sts.mx_not_covered)",
        (*_MX1, *_GOOD_POLICY, *_STS),
        web={"mta-sts/.well-known/mta-sts.txt": sts_policy("mx.elsewhere.{tld}")},
    ),
    "stsdown": Scenario(
        "_mta-sts TXT, but nothing serves the policy (mta_sts.policy_unreachable)",
        (*_MX1, *_GOOD_POLICY, ("_mta-sts", "TXT", '"v=STSv1; id=lab1"'), ("mta-sts", "A", "{refused.addr}")),
    ),
    "listed": Scenario(
        "the MX address is listed on the lab DNSBL dnsbl.<tld> (dnsbl.listed with --dnsbl dnsbl.<tld>)",
        (("@", "MX", "10 {listed.fqdn}."), *_GOOD_POLICY),
    ),
    "dnsbl": Scenario(
        "a DNS blocklist (RFC 5782): lists 127.0.0.2 and the listed host; dead.dnsbl.<tld> never answers",
        (
            ("2.0.0.127", "A", "127.0.0.2"),
            ("2.0.0.127", "TXT", '"maildoctor lab listing: test entry"'),
            ("{listed.rev}", "A", "127.0.0.2"),
            ("{listed.rev}", "TXT", '"maildoctor lab listing: sent spam to a trap"'),
            ("dead", "NS", "{refused.fqdn}."),
        ),
    ),
    "ptrbad": Scenario(
        "the MX address's PTR names mail.elsewhere.<tld>, which has no A (ptr.mismatch)",
        (("@", "MX", "10 {ptrbad.fqdn}."), *_GOOD_POLICY),
    ),
    "bogus": Scenario(
        "signed, but the DS in the TLD zone is wrong: validating resolvers SERVFAIL (dnssec.bogus)",
        (*_MX1, *_GOOD_POLICY),
        dnssec="bogus",
    ),
    "island": Scenario("signed, but no DS in the TLD zone (dnssec.island)", (*_MX1, *_GOOD_POLICY), dnssec="island"),
    "spfpassall": Scenario("SPF +all (spf.pass_all)", (*_MX1, ("@", "TXT", '"v=spf1 mx +all"'))),
    "spfvoid": Scenario(
        "SPF with 3 lookups of names that do not exist (spf.void_lookups)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx a:gone1.{domain} a:gone2.{domain} a:gone3.{domain} -all"')),
    ),
    "spfinclude": Scenario(
        "SPF includes a name without SPF (spf.include_missing)",
        (*_MX1, ("@", "TXT", '"v=spf1 include:nospf.{domain} -all"'), ("nospf", "TXT", '"hello"')),
    ),
    "dmarcbad": Scenario(
        "DMARC with p=block (dmarc.syntax)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'), ("_dmarc", "TXT", '"v=DMARC1; p=block"')),
    ),
    "dmarcext": Scenario(
        "DMARC reports to healthy.<tld>, which has not agreed (dmarc.report_unauthorized)",
        (
            *_MX1,
            ("@", "TXT", '"v=spf1 mx -all"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=reject; rua=mailto:dmarc@healthy.{tld}"'),
        ),
    ),
    "dkimtesting": Scenario(
        "DKIM key with t=y (dkim.testing)",
        (*_MX1, *_GOOD_POLICY, ("default._domainkey", "TXT", dkim(DKIM_RSA_2048, "t=y; "))),
    ),
    "ststesting": Scenario(
        "MTA-STS mode testing (mta_sts.mode)",
        (*_MX1, *_GOOD_POLICY, *_STS),
        web={"mta-sts/.well-known/mta-sts.txt": sts_policy("{mx1.fqdn}", mode="testing")},
    ),
    "stsbad": Scenario(
        "MTA-STS policy file is not a policy (mta_sts.policy_invalid)",
        (*_MX1, *_GOOD_POLICY, *_STS),
        web={"mta-sts/.well-known/mta-sts.txt": "<html>policy moved</html>\n"},
    ),
    "tlsrptbad": Scenario(
        "TLS-RPT rua is not a URI (tls_rpt.invalid)",
        (*_MX1, *_GOOD_POLICY, ("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=tlsrpt@{domain}"')),
    ),
    "acbad": Scenario(
        "autoconfig file is not valid XML (autoconfig.invalid)",
        (*_MX1, *_GOOD_POLICY, ("autoconfig", "A", "{web.addr}")),
        web={"autoconfig/mail/config-v1.1.xml": "<clientConfig><emailProvider>\n"},
    ),
    "ptrgeneric": Scenario(
        "the MX address's PTR is dsl-pool-153.isp.<tld>, forward-confirmed but generic (ptr.generic)",
        (("@", "MX", "10 {ptrgeneric.fqdn}."), *_GOOD_POLICY),
    ),
    "isp": Scenario(
        "an ISP's zone: the generic name of ptrgeneric's address", (("dsl-pool-153", "A", "{ptrgeneric.addr}"),)
    ),
    "noptr": Scenario(
        "the MX address has no PTR record (ptr.missing)", (("@", "MX", "10 {noptr.fqdn}."), *_GOOD_POLICY)
    ),
    "spfneutral": Scenario("SPF ?all (spf.neutral_all)", (*_MX1, ("@", "TXT", '"v=spf1 mx ?all"'))),
    "spfnoall": Scenario("SPF without all (spf.no_all)", (*_MX1, ("@", "TXT", '"v=spf1 mx"'))),
    "spfptr": Scenario("SPF uses ptr (spf.ptr)", (*_MX1, ("@", "TXT", '"v=spf1 ptr -all"'))),
    "spfsyntax": Scenario(
        "SPF with an invalid address (spf.syntax)", (*_MX1, ("@", "TXT", '"v=spf1 ip4:300.1.1.1 -all"'))
    ),
    "spfloop": Scenario("SPF includes itself (spf.loop)", (*_MX1, ("@", "TXT", '"v=spf1 include:{domain} -all"'))),
    "dmarctwo": Scenario(
        "two DMARC records (dmarc.multiple)",
        (
            *_MX1,
            ("@", "TXT", '"v=spf1 mx -all"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=reject"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=none"'),
        ),
    ),
    "dmarcpct": Scenario(
        "DMARC pct=20 (dmarc.pct)",
        (
            *_MX1,
            ("@", "TXT", '"v=spf1 mx -all"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=reject; pct=20; rua=mailto:d@{domain}"'),
        ),
    ),
    "dmarcsp": Scenario(
        "DMARC sp=none (dmarc.sp_none)",
        (
            *_MX1,
            ("@", "TXT", '"v=spf1 mx -all"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=reject; sp=none; rua=mailto:d@{domain}"'),
        ),
    ),
    "dmarcnorua": Scenario(
        "DMARC without rua (dmarc.no_rua)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'), ("_dmarc", "TXT", '"v=DMARC1; p=reject"')),
    ),
    "spfodd": Scenario(
        "SPF valid by RFC 7208 but odd: macros, a dual cidr, an unknown modifier (spf.odd, never spf.syntax)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx a:%{{d}}/24//64 exists:%{{ir}}.%{{v}}._spf.%{{d}} -all report=%{{l}}"'),
         ("_dmarc", "TXT", '"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"')),
    ),
    "dmarcbis": Scenario(
        "DMARC with the RFC 9989 tags np=none and t=y, and pct=50 (dmarc.np_none, dmarc.testing, dmarc.pct)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'),
         ("_dmarc", "TXT", '"v=DMARC1; p=reject; np=none; t=y; pct=50; psd=n; rua=mailto:d@{domain}"')),
    ),
    "dmarcpsd": Scenario(
        "a public suffix by DMARC (psd=y): for shop.<domain> the tree walk (RFC 9989) and the PSL (RFC 7489) "
        "give different organizational domains (dmarc.org_domain_differs)",
        (*_MX1, ("shop", "MX", "10 {mx1.fqdn}."), ("shop", "TXT", '"v=spf1 mx -all"'),
         ("_dmarc", "TXT", '"v=DMARC1; p=reject; psd=y; rua=mailto:d@{domain}"')),
    ),
    "bimiok": Scenario(
        "BIMI: record, SVG Tiny PS logo and a mark certificate served by the lab's HTTPS server, DMARC p=reject "
        "(bimi.logo, with --check bimi)",
        (*_MX1, *_GOOD_POLICY, ("bimi", "A", "{web.addr}"),
         ("default._bimi", "TXT", '"v=BIMI1; l=https://bimi.{domain}/logo.svg; a=https://bimi.{domain}/vmc.pem"')),
        web={"bimi/logo.svg": BIMI_LOGO, "bimi/vmc.pem": MARK_CERTIFICATE},
    ),
    "bimidmarc": Scenario(
        "BIMI published, but DMARC p=quarantine; sp=none; pct=50 switches it off (bimi.dmarc_blocks)",
        (*_MX1, ("@", "TXT", '"v=spf1 mx -all"'), ("bimi", "A", "{web.addr}"),
         ("_dmarc", "TXT", '"v=DMARC1; p=quarantine; sp=none; pct=50; rua=mailto:dmarc@{domain}"'),
         ("default._bimi", "TXT", '"v=BIMI1; l=https://bimi.{domain}/logo.svg; a=https://bimi.{domain}/vmc.pem"')),
        web={"bimi/logo.svg": BIMI_LOGO, "bimi/vmc.pem": MARK_CERTIFICATE},
    ),
    "dkimbad": Scenario(
        "DKIM p= is not a key (dkim.syntax)",
        (*_MX1, *_GOOD_POLICY, ("default._domainkey", "TXT", '"v=DKIM1; k=rsa; p=bm90IGEga2V5"')),
    ),
    "stsshort": Scenario(
        "MTA-STS max_age 300 s (mta_sts.max_age_short)",
        (*_MX1, *_GOOD_POLICY, *_STS),
        web={"mta-sts/.well-known/mta-sts.txt": sts_policy("{mx1.fqdn}", max_age=300)},
    ),
    "stsrecord": Scenario(
        "_mta-sts TXT without id= (mta_sts.record_invalid)", (*_MX1, *_GOOD_POLICY, ("_mta-sts", "TXT", '"v=STSv1;"'))
    ),
    "acplain": Scenario(
        "autoconfig tells mail programs to use IMAP without TLS (autoconfig.plain)",
        (*_MX1, *_GOOD_POLICY, ("autoconfig", "A", "{web.addr}")),
        web={
            "autoconfig/mail/config-v1.1.xml": AUTOCONFIG_XML.replace(
                "<port>993</port><socketType>SSL</socketType>", "<port>143</port><socketType>plain</socketType>"
            )
        },
    ),
    "sts404": Scenario(
        "the MTA-STS policy URL answers 404 (mta_sts.policy_http)",
        (*_MX1, *_GOOD_POLICY, *_STS),
        web={"mta-sts/index.txt": "the policy is not here\n"},
    ),
    "stscert": Scenario(
        "MTA-STS enforce, but the MX certificate is for another name (mta_sts.mx_cert)",
        (("@", "MX", "10 {certwrongname.fqdn}."), *_GOOD_POLICY, *_STS),
        web={"mta-sts/.well-known/mta-sts.txt": sts_policy("{certwrongname.fqdn}")},
    ),
    "daneunsigned": Scenario(
        "TLSA for the MX in an unsigned zone (dane.records_unsigned)",
        (
            ("@", "MX", "10 mx.{domain}."),
            ("mx", "A", "{mx1.addr}"),
            *_GOOD_POLICY,
            ("_25._tcp.mx", "TLSA", "3 1 1 " + "ab" * 32),
        ),
    ),
    "daneunusable": Scenario(
        "signed; TLSA for the MX with PKIX usage 1 only (dane.records_unusable)",
        (
            ("@", "MX", "10 mx.{domain}."),
            ("mx", "A", "{mx1.addr}"),
            *_GOOD_POLICY,
            ("_25._tcp.mx", "TLSA", "1 1 1 " + "ab" * 32),
        ),
        dnssec="signed",
    ),
    "srvonly": Scenario(
        "settings only in SRV records (RFC 6186): submission 587 -> smtp.healthy, IMAPS 993 -> imap.healthy",
        (
            *_MX1,
            *_GOOD_POLICY,
            ("_submission._tcp", "SRV", "0 1 587 {smtp.fqdn}."),
            ("_imaps._tcp", "SRV", "0 1 993 {imap.fqdn}."),
            ("_pop3._tcp", "SRV", "0 0 0 ."),
        ),
    ),
    "refused": Scenario(
        "single MX whose port 25 refuses connections",
        (("@", "MX", "10 {refused.fqdn}."),),
    ),
    "filtered": Scenario(
        "single MX whose port 25 is silently dropped (connect times out)",
        (("@", "MX", "10 {filtered.fqdn}."),),
    ),
    "nullmx": Scenario(
        "null MX (RFC 7505): the domain accepts no mail",
        (("@", "MX", "0 ."),),
    ),
    "implicit": Scenario(
        "no MX; the apex A record is the implicit MX (RFC 5321 5.1) and port 25 works",
        (),  # the apex A comes from host "implicit"
    ),
    "cnamemx": Scenario(
        "MX target is a CNAME (RFC 2181 10.3 violation) to a working host",
        (
            ("@", "MX", "10 mail.{domain}."),
            ("mail", "CNAME", "{mx1.fqdn}."),
        ),
    ),
    "dangling": Scenario(
        "MX target name does not exist (NXDOMAIN)",
        (("@", "MX", "10 mx.{domain}."),),
    ),
    "nodata": Scenario(
        "domain exists (TXT at apex) but has no MX and no A/AAAA",
        (("@", "TXT", '"maildoctor lab: no mail here"'),),
    ),
    "ipliteral": Scenario(
        "MX target is a name that looks like an IP address (it resolves to nothing)",
        (("@", "MX", "10 {mx1.addr}."),),
    ),
    "mixed": Scenario(
        "two MX hosts: preferred one refuses, backup works",
        (
            ("@", "MX", "10 {mixedbad.fqdn}."),
            ("@", "MX", "20 {mixedok.fqdn}."),
        ),
    ),
    "nxdomain": Scenario(
        "the domain does not exist at all (NXDOMAIN)",
        served=False,
    ),
    "lame": Scenario(
        "the TLD delegates the domain to a name server that does not answer (dns.lame_delegation)",
        served=False,
        delegate_to="lamens",
    ),
    "cnameloop": Scenario(
        "the MX target is a CNAME that leads back to itself (mx.cname_loop)",
        (
            ("@", "MX", "10 mx.{domain}."),
            ("mx", "CNAME", "loop.{domain}."),
            ("loop", "CNAME", "mx.{domain}."),
        ),
    ),
    # server probe faults: each domain's single MX is the fault host of the same name
    **{
        name: Scenario(expected, (("@", "MX", f"10 {{{name}.fqdn}}."),))
        for name, expected in (
            ("certexpired", "MX certificate expired (tls.cert_expired)"),
            ("certexpiring", "MX certificate expires in 5 days (tls.cert_expiring)"),
            ("certwrongname", "MX certificate is for another name (tls.cert_name_mismatch)"),
            ("certselfsigned", "MX certificate is self-signed (tls.cert_self_signed)"),
            ("certnochain", "MX sends its certificate without the intermediate (tls.cert_chain_incomplete)"),
            ("nostarttls", "MX offers no STARTTLS on 25 (tls.no_starttls)"),
            ("slowgreet", "MX greets only after 15 s (smtp.greeting_timeout, inconclusive)"),
            ("legacytls", "MX still accepts TLS 1.0/1.1 (tls.legacy_accepted)"),
            ("oldtls", "MX speaks only TLS 1.0/1.1 (tls.only_legacy)"),
            ("crlrevoked", "MX certificate listed in the CA's CRL (tls.revocation_revoked)"),
            ("ocsprevoked", "MX certificate revoked in OCSP, not in the CRL (tls.revocation_revoked)"),
            ("ocspdown", "MX certificate's OCSP responder refuses connections (tls.revocation_unavailable)"),
            ("crlstale", "MX certificate's only CRL is past its next update (tls.revocation_stale)"),
            ("intrevoked", "MX certificate's intermediate CA is revoked by the root "
                           "(tls.revocation_intermediate_revoked)"),
        )
    },
    "noauth": Scenario(
        "MX works; submission host smtp.noauth offers no AUTH on 587/465 (auth.missing)",
        (("@", "MX", "10 {mx1.fqdn}."),),
    ),
    "plainauth": Scenario(
        "MX works; smtp.plainauth (587) and imap.plainauth (143, 110) offer login before TLS (auth.before_tls)",
        (("@", "MX", "10 {mx1.fqdn}."),),
    ),
    "srv": Scenario(
        "SRV records (RFC 6186) name the servers: submission on smtp.healthy (587, 465), IMAP on imap.healthy "
        '(993 only); POP3 explicitly not offered (SRV target ".")',
        (
            ("@", "MX", "10 {mx1.fqdn}."),
            ("_submission._tcp", "SRV", "0 1 587 {smtp.fqdn}."),
            ("_submissions._tcp", "SRV", "0 1 465 {smtp.fqdn}."),
            ("_imaps._tcp", "SRV", "0 1 993 {imap.fqdn}."),
            ("_pop3._tcp", "SRV", "0 0 0 ."),
            ("_pop3s._tcp", "SRV", "0 0 0 ."),
        ),
    ),
    "blocked25": Scenario(
        "MX port 25 times out (the filtered host) while the submission host works: looks like a network "
        "that blocks outgoing port 25 (smtp.port25_blocked_here)",
        (("@", "MX", "10 {filtered.fqdn}."), ("_submissions._tcp", "SRV", "0 1 465 {smtp.fqdn}.")),
    ),
    "tlsabad": Scenario(
        "signed zone; the TLSA at _25._tcp of the MX matches no certificate (dane.mismatch)",
        (("@", "MX", "10 {tlsabad.fqdn}."), ("_25._tcp.mx", "TLSA", "3 1 1 " + "00" * 32)),
        dnssec="signed",
    ),
}
