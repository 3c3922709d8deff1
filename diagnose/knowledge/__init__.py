"""Pure knowledge: certificates, DANE, reply codes, headers, sanitising. No sockets."""
