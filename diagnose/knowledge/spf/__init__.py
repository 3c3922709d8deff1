"""Pure SPF (RFC 7208): record syntax and macros, the include tree and its lookup budget, check_host for one
address. Used by the spf.record check and by `maildoctor message`."""
