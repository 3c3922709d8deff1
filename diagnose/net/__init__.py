"""Network: DNS, TCP, mail dialogues, TLS and HTTP."""
