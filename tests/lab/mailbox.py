"""Take one message out of the lab user's INBOX over IMAP (STARTTLS), waiting for it to arrive."""

from __future__ import annotations

import imaplib
import ssl
import time


def take_message(lab, key: str, token: str, *, wait: float = 20.0, poll: float = 0.3) -> bytes | None:
    """The raw message whose ``key`` (an IMAP SEARCH key: SUBJECT, BODY) holds ``token``, deleted from
    the mailbox once read; None when none arrived within ``wait`` seconds."""
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    ctx.check_hostname = False  # the lab's IMAP host is reached by address
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        imap = imaplib.IMAP4(lab.host("imap"), 143, timeout=10)
        try:
            imap.starttls(ctx)
            imap.login(lab.user, lab.password)
            imap.select("INBOX")
            _, data = imap.search(None, key, token)
            for num in data[0].split():
                _, parts = imap.fetch(num, "(RFC822)")
                imap.store(num, "+FLAGS", "\\Deleted")
                imap.expunge()
                return parts[0][1]
        finally:
            imap.logout()
        time.sleep(poll)
    return None
