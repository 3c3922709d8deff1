"""login.pop3: log in on the pop3 server with the user's credentials (see checks.login.base)."""

from __future__ import annotations

from checks.login.base import LoginCheck
from diagnose.engine.model import Side


class LoginPop3(LoginCheck):
    id = "login.pop3"
    side = Side.INCOMING
    protocol = "pop3"
    title = "Log in on the POP3 server"
