"""Which protocol each standard mail port speaks, and which start with TLS (no imports: the probe's fast
path and the asyncio dialogue share it)."""

PROTOCOL = {25: "smtp", 587: "smtp", 465: "smtp", 143: "imap", 993: "imap", 110: "pop3", 995: "pop3"}
IMPLICIT_TLS = {465, 993, 995}
