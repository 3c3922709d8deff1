"""login.imap: log in on the imap server with the user's credentials (see diagnose.logincheck)."""

from __future__ import annotations

from diagnose.logincheck import LoginCheck
from diagnose.model import Side


class LoginImap(LoginCheck):
    id = "login.imap"
    side = Side.INCOMING
    protocol = "imap"
    title = "Log in on the IMAP server"
