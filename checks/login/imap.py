"""login.imap: log in on the imap server with the user's credentials (see checks.login.base)."""

from __future__ import annotations

from checks.login.base import LoginCheck
from diagnose.engine.model import Side


class LoginImap(LoginCheck):
    id = "login.imap"
    side = Side.INCOMING
    protocol = "imap"
    title = "Log in on the IMAP server"
