"""Greeting checks: SMTP, IMAP and POP3 banners and capabilities."""
