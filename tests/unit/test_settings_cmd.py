"""`maildoctor settings`: merging autoconfig with SRV/common-name discovery, and the text a person copies."""

from checks.autoconfig import ServerSetting
from diagnose.app.settings_cmd import Setting, render_text, settings_from_facts
from diagnose.engine.facts import ServiceHost


def test_autoconfig_first_then_srv_without_duplicates():
    auto = (ServerSetting("incoming", "imap", "imap.example.com", 993, "SSL"),)
    submission = (ServiceHost("smtp.example.com", ("192.0.2.2",), (587, 465), "SRV _submission._tcp"),)
    mailbox = (ServiceHost("imap.example.com", ("192.0.2.3",), (993, 143), "common name"),)
    settings = settings_from_facts(auto, submission, mailbox)
    assert [(s.direction, s.protocol, s.host, s.port, s.security, s.source) for s in settings] == [
        ("incoming", "IMAP", "imap.example.com", 993, "SSL/TLS", "autoconfig file"),
        ("incoming", "IMAP", "imap.example.com", 143, "STARTTLS", "common name"),
        ("outgoing", "SMTP", "smtp.example.com", 587, "STARTTLS", "SRV _submission._tcp"),
        ("outgoing", "SMTP", "smtp.example.com", 465, "SSL/TLS", "SRV _submission._tcp"),
    ]
    text = render_text("example.com", settings, "me@example.com")
    assert "IMAP  server imap.example.com  port 993  security SSL/TLS" in text
    assert "SMTP  server smtp.example.com  port 587  security STARTTLS" in text and "me@example.com" in text


def test_nothing_found_says_so():
    text = render_text("example.com", settings_from_facts(None, None, None), None)
    assert text.count("none found") == 2


def test_each_port_is_credited_to_the_source_that_gave_it():
    # Given one host found by the IMAP SRV record and by the POP3 SRV record (the discovery merged them)
    mailbox = (ServiceHost("mail.example.com", ("192.0.2.3",), (993, 995), "SRV _imaps._tcp; SRV _pop3s._tcp"),)
    settings = {s.protocol: s.source for s in settings_from_facts(None, None, mailbox)}
    # Then IMAP is credited to the IMAP record only, POP3 to the POP3 record only
    assert settings == {"IMAP": "SRV _imaps._tcp", "POP3": "SRV _pop3s._tcp"}
    # a protocol-neutral source (a common name) is what is left for the other protocol
    mailbox = (ServiceHost("mail.example.com", ("192.0.2.3",), (993, 995), "SRV _imaps._tcp; common name"),)
    assert {s.protocol: s.source for s in settings_from_facts(None, None, mailbox)} == {
        "IMAP": "SRV _imaps._tcp", "POP3": "common name"}


def test_the_user_name_is_what_the_autoconfig_file_says():
    auto = (ServerSetting("incoming", "imap", "imap.example.com", 993, "SSL", "%EMAILADDRESS%"),)
    text = render_text("example.com", settings_from_facts(auto, None, None), "me@example.com")
    line = next(line for line in text.splitlines() if line.startswith("User name"))
    assert "usually" not in line and "%EMAILADDRESS%" in line and "me@example.com" in line, line
    auto = (ServerSetting("incoming", "imap", "imap.example.com", 993, "SSL", "%EMAILLOCALPART%"),)
    line = render_text("example.com", settings_from_facts(auto, None, None), "me@example.com").splitlines()[-1]
    assert "%EMAILLOCALPART%" in line and "(me)" in line and "full email address" not in line, line
    # no autoconfig file: a guess, said as one; and the JSON keeps its keys (no username)
    text = render_text("example.com", [], None)
    assert "usually your full email address (you@example.com)" in text
    assert "username" not in settings_from_facts(auto, None, None)[0].to_dict()


def test_autodiscover_and_the_providers_documented_settings_are_credited():
    from checks.provider.signals import Hosting
    from diagnose.knowledge.providers import Signals, load, recognise

    cat = load()
    signals = Signals("example.com", mx=("example-com.mail.protection.outlook.com",))
    hosting = Hosting(signals, tuple(recognise(signals, cat.providers)))
    ad = (ServerSetting("incoming", "imap", "imap.example.com", 993, "SSL"),)
    settings = settings_from_facts(None, None, None, ad, hosting)
    sources = {(s.protocol, s.host, s.port): s.source for s in settings}
    assert sources[("IMAP", "imap.example.com", 993)] == "Autodiscover"
    assert sources[("SMTP", "smtp.office365.com", 587)] == "Microsoft 365 documentation"
    assert settings[-1].to_dict()["reference"].startswith("https://learn.microsoft.com/")
    assert [s.published for s in settings][:1] == [True] and not settings[-1].published


def test_a_published_setting_the_server_disagrees_with_is_flagged():
    from diagnose.app.settings_verify import disagreement
    from diagnose.net.dialogue import Dialogue, Endpoint
    from diagnose.net.tcp import ConnectOutcome

    def dialogue(port, **kw):
        d = Dialogue(Endpoint("mailbox", "imap.example.com", "192.0.2.3", port), connect=ConnectOutcome.CONNECTED,
                     greeting_ok=True)
        for k, v in kw.items():
            setattr(d, k, v)
        return d

    tls = object()
    assert disagreement("SSL/TLS", 993, dialogue(993, tls=tls)) == ""
    assert disagreement("STARTTLS", 143, dialogue(143, starttls_offered=True, tls=tls)) == ""
    assert "does not offer STARTTLS" in disagreement("STARTTLS", 143, dialogue(143))
    assert "from the first byte" in disagreement("STARTTLS", 993, dialogue(993, tls=tls))
    assert "no TLS handshake" in disagreement("SSL/TLS", 993, dialogue(993, greeting_ok=False, tls_error="bad cert"))
    refused = dialogue(993, connect=ConnectOutcome.REFUSED, connect_detail="connection refused")
    assert "nothing answers on imap.example.com:993" in disagreement("SSL/TLS", 993, refused)
    text = render_text("example.com", [Setting("incoming", "IMAP", "imap.example.com", 993, "SSL/TLS",
                                               "autoconfig file", server="nothing answers")], None)
    assert "! but the server disagrees: nothing answers" in text


_ISPDB = """<clientConfig version="1.1"><emailProvider id="example.com">
<incomingServer type="imap"><hostname>imap.example.com</hostname><port>993</port><socketType>SSL</socketType>
<username>%EMAILADDRESS%</username>{imap_auth}</incomingServer>
<outgoingServer type="smtp"><hostname>smtp.example.com</hostname><port>465</port><socketType>SSL</socketType>
<username>%EMAILADDRESS%</username>{smtp_auth}</outgoingServer></emailProvider></clientConfig>"""


def _from_file(imap_auth: str, smtp_auth: str) -> list[Setting]:
    from checks.autoconfig import parse_autoconfig

    declared, errors = parse_autoconfig(_ISPDB.format(imap_auth=imap_auth, smtp_auth=smtp_auth))
    assert not errors, errors
    return settings_from_facts(declared, None, None)


def test_an_autoconfig_file_that_asks_for_oauth2_is_said_with_how_to_test_it():
    # Given an autoconfig file whose servers take only OAuth2 (as Microsoft 365's entry in Thunderbird's ISPDB)
    only = "<authentication>OAuth2</authentication>"
    settings = _from_file(only, only)
    text = render_text("example.com", settings, "me@example.com")
    # Then the person is told the program signs in through the provider's page, with no mailbox password
    assert "Sign-in: OAuth2 for IMAP imap.example.com, SMTP smtp.example.com" in text
    assert "take no mailbox password" in text and "password: none, an OAuth2 sign-in" in text
    assert "your mailbox password." not in text
    assert "maildoctor login --provider NAME --user me@example.com" in text
    assert "maildoctor check example.com --user me@example.com --oauth2 NAME" in text
    assert settings[0].to_dict()["authentication"] == "OAuth2"


def test_oauth2_offered_beside_a_password_and_a_password_only_file():
    both = "<authentication>OAuth2</authentication><authentication>password-cleartext</authentication>"
    text = render_text("example.com", _from_file(both, both), None)
    assert "a password is offered too" in text and "your mailbox password, or an OAuth2 sign-in" in text
    plain = "<authentication>password-cleartext</authentication>"
    text = render_text("example.com", _from_file(plain, plain), None)
    assert "OAuth2" not in text and "password: your mailbox password." in text
