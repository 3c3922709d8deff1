"""Login checks: SMTP AUTH, IMAP and POP3 logins with the user's credentials."""
