"""TLS: the handshake and the certificate the server presents."""
