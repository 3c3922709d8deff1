"""Check ids and finding codes renamed in JSON schema 2, old name -> new name: the one table.

Schema 2 names every check ``family.aspect`` and starts every code with its check's family
(see diagnose.engine.plugin.Check). The old names stay accepted where a person or a file gives
them: ``--check``/``--skip`` and profiles (registry.select), ``maildoctor explain`` (catalogue)
and saved schema-1 reports (report.Report.from_dict).
"""

from __future__ import annotations

CHECK_IDS: dict[str, str] = {
    "spf": "spf.record",
    "dmarc": "dmarc.record",
    "dkim": "dkim.keys",
    "mta_sts": "mta_sts.policy",
    "tls_rpt": "tls_rpt.record",
    "dnsbl": "dnsbl.listing",
    "dnssec": "dnssec.chain",
    "autoconfig": "autoconfig.settings",
    "roundtrip": "roundtrip.delivery",
    "delivery.path": "roundtrip.path",
}

_CERT = ("ok", "none", "malformed", "sni_differs", "expired", "not_yet_valid", "expiring", "name_mismatch",
         "self_signed", "chain_incomplete", "untrusted", "weak_key", "weak_signature")
_DELIVERY = ("hops", "hop_plaintext", "auth_ok", "auth_none", "auth_failed", "dkim_signed", "dkim_invalid",
             "dkim_unsigned")
_BOUNCE = ("user_unknown", "mailbox_full", "mailbox_disabled", "has_moved", "host_unknown", "network_error",
           "expired", "relay_denied", "auth_failure", "blocked", "rate_limited", "spam", "virus", "policy",
           "message_too_large", "system_error", "syntax_error", "autoreply", "feedback", "delivered", "unknown",
           "none")
RUNNER_SUFFIXES = ("skipped", "overrun", "crashed")  # codes the runner gives any check: {id}.skipped ...

CODES: dict[str, str] = {
    **{f"cert.{word}": f"tls.cert_{word}" for word in _CERT},  # tls.certificate
    **{f"delivery.{word}": f"roundtrip.{word}" for word in _DELIVERY},  # delivery.path -> roundtrip.path
    **{f"message.bounce_{word}": f"bounce.{word}" for word in _BOUNCE},  # issue 16's contract, within schema 2
    **{f"{old}.{suffix}": f"{new}.{suffix}" for old, new in CHECK_IDS.items() for suffix in RUNNER_SUFFIXES},
}


def check_id(name: str) -> str:
    """The schema-2 id of a check named ``name`` (unchanged when it was not renamed)."""
    return CHECK_IDS.get(name, name)


def code(name: str) -> str:
    """The schema-2 code of ``name`` (unchanged when it was not renamed)."""
    return CODES.get(name, name)


def ids_for(pattern: str) -> list[str]:
    """New ids an old ``--check``/``--skip`` pattern meant: an old id or an old id prefix (``delivery``)."""
    pattern = pattern.rstrip(".")
    return [new for old, new in CHECK_IDS.items() if old == pattern or old.startswith(pattern + ".")]
