"""Pure DMARC (RFC 7489, RFC 9989): record syntax, where the policy is found, alignment. Used by the
dmarc.record check and by `maildoctor message`."""
