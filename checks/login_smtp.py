"""login.smtp: log in on the submission server with the user's credentials (see diagnose.logincheck)."""

from __future__ import annotations

from diagnose.logincheck import LoginCheck


class LoginSmtp(LoginCheck):
    protocol = "smtp"
    title = "Log in on the submission server"
