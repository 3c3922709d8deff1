"""The codes and texts of `maildoctor message`'s header findings, for the explanations catalogue."""

from __future__ import annotations

from diagnose.app.message_auth import AUTH_TEXTS
from diagnose.app.message_headers import HEADER_TEXTS, HEADERS
from diagnose.app.message_spam import SPAM_TEXTS
from diagnose.engine.model import Side
from diagnose.engine.plugin import Check


class MessageHeaders(Check):
    """Not a plugin: the texts of the header findings of `maildoctor message`."""

    id = HEADERS
    title = "Message header: hops, delays, TLS, authentication re-checked, spam verdicts"
    side = Side.BOTH
    texts = {**HEADER_TEXTS, **AUTH_TEXTS, **SPAM_TEXTS}
