"""DMARC (RFC 7489 and its revision RFC 9989, DMARCbis): record syntax, policy discovery, the check."""

from checks.dmarc.check import DmarcCheck, DmarcLookup, needs_authorization, organizational_domain
from diagnose.knowledge.dmarc.record import DmarcRecord, parse_dmarc, report_domains, report_uris, select_dmarc

__all__ = ["DmarcCheck", "DmarcLookup", "DmarcRecord", "needs_authorization", "organizational_domain",
           "parse_dmarc", "report_domains", "report_uris", "select_dmarc"]
