"""login.smtp: log in on the submission server with the user's credentials (see checks.login.base)."""

from __future__ import annotations

from checks.login.base import LoginCheck
from diagnose.engine.model import Side


class LoginSmtp(LoginCheck):
    id = "login.smtp"
    side = Side.OUTGOING
    protocol = "smtp"
    title = "Log in on the submission server"
