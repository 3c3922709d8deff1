"""`maildoctor settings`: merging autoconfig with SRV/common-name discovery, and the text a person copies."""

from checks.autoconfig import ServerSetting
from diagnose.app.settings_cmd import render_text, settings_from_facts
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
