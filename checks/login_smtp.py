"""login.smtp: log in on the submission server with the user's credentials (see diagnose.logincheck)."""

from __future__ import annotations

from diagnose.logincheck import LoginCheck
from diagnose.model import Side


class LoginSmtp(LoginCheck):
    id = "login.smtp"
    side = Side.OUTGOING
    protocol = "smtp"
    title = "Log in on the submission server"
