"""The receivers' spam verdicts in a delivered message's header, decoded into plain words.

Microsoft 365 / Exchange Online Protection: ``X-Forefront-Antispam-Report`` (``FIELD:value;`` pairs),
``X-Microsoft-Antispam`` (BCL, PCL) and ``X-MS-Exchange-Organization-SCL``, as documented in
"Anti-spam message headers in Microsoft 365" (learn.microsoft.com, defender-office-365
message-headers-eop-mdo) and "Spam confidence level" / "Bulk complaint level" pages.
SpamAssassin: ``X-Spam-Status`` (``Yes, score=7.1 required=5.0 tests=A,B autolearn=no ...``),
``X-Spam-Flag``, ``X-Spam-Score``, rule names as in SpamAssassin's rule set (50_scores.cf and the
rule descriptions). Pure functions on header text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from diagnose.knowledge.sanitize import clean

SFV = {
    "BLK": "blocked: the sender is on the recipient's Blocked Senders list",
    "NSPM": "not spam: spam filtering marked the message as clean",
    "SFE": "allowed: the sender is on the recipient's Safe Senders list (filtering skipped)",
    "SKA": "allowed by the organisation's anti-spam policy (allowed senders or domains), filtering skipped",
    "SKB": "blocked by the organisation's anti-spam policy (blocked senders or domains)",
    "SKI": "internal mail between mailboxes of the same organisation, filtering skipped",
    "SKN": "marked not spam before filtering (a mail flow rule), filtering skipped",
    "SKQ": "released from quarantine to the recipients",
    "SKS": "marked as spam before filtering (a mail flow rule)",
    "SPM": "spam: spam filtering marked the message as spam",
}
CAT = {
    "AMP": "anti-malware", "BIMP": "brand impersonation", "BULK": "bulk mail", "DIMP": "domain impersonation",
    "FTBP": "anti-malware filter: blocked attachment type", "GIMP": "impersonation found by mailbox intelligence",
    "HPHSH": "high confidence phishing", "HPHISH": "high confidence phishing", "HSPM": "high confidence spam",
    "INTOS": "intra-organisation phishing", "MALW": "malware", "OSPM": "outbound spam", "PHSH": "phishing",
    "SAP": "Safe Attachments", "SPM": "spam", "SPOOF": "spoofing (the From domain failed authentication)",
    "UIMP": "user impersonation", "NONE": "no threat found",
}
IPV = {"CAL": "the connecting IP is on the organisation's IP Allow List (filtering skipped)",
       "NLI": "the connecting IP is on no IP reputation list"}
SFTY = {"9.19": "domain impersonation safety tip", "9.20": "user impersonation safety tip",
        "9.25": "first contact safety tip (the recipient rarely gets mail from this sender)"}
FIELDS = {
    "ARC": "ARC headers seen", "CAT": "protection policy that applied", "CIP": "connecting IP address",
    "CTRY": "country of the connecting IP", "DIR": "direction (INB inbound, OUT outbound, INT internal)",
    "H": "HELO/EHLO name of the connecting server", "IPV": "IP reputation", "LANG": "language of the message",
    "PTR": "reverse DNS (PTR) of the connecting IP", "SCL": "spam confidence level", "SFP": "spam filter policy",
    "SFS": "spam rules matched (Microsoft's internal ids)", "SFTY": "safety tip", "SFV": "spam filtering verdict",
    "SRV": "BULK: bulk mail by the BCL threshold", "X-CustomSpam": "advanced spam filter option matched",
    "BCL": "bulk complaint level", "PCL": "phishing confidence level", "EFV": "filtering verdict (EFV)",
}
SPAM_CATEGORIES = {"SPM", "HSPM", "PHSH", "HPHSH", "HPHISH", "MALW", "SPOOF", "DIMP", "UIMP", "GIMP", "BIMP",
                   "INTOS", "AMP", "FTBP", "OSPM"}
HIGH_CONFIDENCE = {"HSPM", "HPHSH", "HPHISH", "MALW", "AMP"}
BULK_THRESHOLD = 7  # Microsoft's default BCL threshold in the anti-spam policy


def scl_words(scl: int) -> str:
    if scl == -1:
        return "-1: not scanned (safe sender, internal or allowed): delivered to the inbox"
    if scl in (0, 1):
        return f"{scl}: not spam, delivered to the inbox"
    if scl in (5, 6):
        return f"{scl}: spam, delivered to the Junk Email folder (or quarantined, as the policy says)"
    if scl >= 7:
        return f"{scl}: high confidence spam, Junk Email folder or quarantine"
    return f"{scl}: not used by Microsoft's filter (set by a mail flow rule)"


def bcl_words(bcl: int) -> str:
    if bcl == 0:
        return "0: not from a bulk sender"
    if bcl <= 3:
        return f"{bcl}: a bulk sender that draws few complaints"
    if bcl <= 7:
        return f"{bcl}: a bulk sender that draws a mixed number of complaints"
    return f"{bcl}: a bulk sender that draws many complaints"


def pcl_words(pcl: int) -> str:
    return f"{pcl}: {'likely phishing' if pcl >= 4 else 'probably not phishing'}"


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    meaning: str


@dataclass
class MicrosoftVerdict:
    fields: list[Field] = field(default_factory=list)
    sfv: str = ""
    cat: str = ""
    scl: int | None = None
    bcl: int | None = None
    pcl: int | None = None

    @property
    def spam(self) -> bool:
        return self.sfv in ("SPM", "BLK", "SKS", "SKB") or self.cat in SPAM_CATEGORIES or (
            self.scl is not None and self.scl >= 5)

    @property
    def high_confidence(self) -> bool:
        return self.cat in HIGH_CONFIDENCE or (self.scl is not None and self.scl >= 7 and self.sfv not in ("SKS",))

    @property
    def bulk(self) -> bool:
        return self.cat == "BULK" or (self.bcl is not None and self.bcl >= BULK_THRESHOLD)


def _pairs(value: str) -> list[tuple[str, str]]:
    out = []
    for part in re.sub(r"\s+", " ", value).split(";")[:60]:
        name, sep, val = part.strip().partition(":")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,20}", name.strip()):
            out.append((name.strip(), clean(val.strip(), limit=200, keep_newlines=False)))
    return out


def _int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?\d{1,2}", text.strip()) else None


def microsoft(msg) -> MicrosoftVerdict | None:
    """Decode Microsoft's headers, or None when the message has none of them."""
    forefront = msg.get("X-Forefront-Antispam-Report")
    antispam = msg.get("X-Microsoft-Antispam")
    org_scl = msg.get("X-MS-Exchange-Organization-SCL")
    if forefront is None and antispam is None and org_scl is None:
        return None
    verdict = MicrosoftVerdict()
    for name, value in [*_pairs(str(forefront or "")), *_pairs(str(antispam or ""))]:
        key = name.upper() if name.upper() in FIELDS else name
        meaning = FIELDS.get(key, "")
        if key == "SFV":
            verdict.sfv = value.upper()
            meaning = SFV.get(verdict.sfv, meaning)
        elif key == "CAT":
            verdict.cat = value.upper()
            meaning = f"{CAT.get(verdict.cat, 'unknown category')}"
        elif key == "IPV":
            meaning = IPV.get(value.upper(), meaning)
        elif key == "SFTY":
            meaning = SFTY.get(value, "a safety tip was shown")
        elif key in ("SCL", "BCL", "PCL") and (n := _int(value)) is not None:
            setattr(verdict, key.lower(), n)
            meaning = {"SCL": scl_words, "BCL": bcl_words, "PCL": pcl_words}[key](n)
        if meaning:
            verdict.fields.append(Field(key, value, meaning))
    if verdict.scl is None and org_scl is not None and (n := _int(str(org_scl))) is not None:
        verdict.scl = n
        verdict.fields.append(Field("SCL", str(n), scl_words(n)))
    return verdict


# SpamAssassin rules seen most often, in plain words (rule descriptions of SpamAssassin 3.4/4.0).
RULES = {
    "ALL_TRUSTED": "passed only through trusted servers",
    "BAYES_00": "the Bayes filter says almost certainly not spam (0-1%)",
    "BAYES_05": "Bayes: 1-5% spam probability", "BAYES_20": "Bayes: 5-20% spam probability",
    "BAYES_40": "Bayes: 20-40% spam probability", "BAYES_50": "Bayes: 40-60% spam probability",
    "BAYES_60": "Bayes: 60-80% spam probability", "BAYES_80": "Bayes: 80-95% spam probability",
    "BAYES_95": "Bayes: 95-99% spam probability", "BAYES_99": "Bayes: 99-100% spam probability",
    "BAYES_999": "Bayes: 99.9-100% spam probability",
    "DKIM_SIGNED": "the message has a DKIM signature (not necessarily valid)",
    "DKIM_VALID": "a DKIM signature verifies", "DKIM_VALID_AU": "a DKIM signature of the From domain verifies",
    "DKIM_VALID_EF": "a DKIM signature of the envelope-from domain verifies",
    "DKIM_INVALID": "the DKIM signature does not verify", "DKIM_ADSP_NXDOMAIN": "the From domain does not exist",
    "SPF_PASS": "SPF passes", "SPF_FAIL": "SPF fails (the sending server is not allowed)",
    "SPF_SOFTFAIL": "SPF soft-fails (~all)", "SPF_NEUTRAL": "SPF neutral", "SPF_NONE": "the sender has no SPF record",
    "SPF_HELO_PASS": "SPF of the HELO name passes", "SPF_HELO_NONE": "the HELO name has no SPF record",
    "SPF_HELO_FAIL": "SPF of the HELO name fails", "SPF_HELO_SOFTFAIL": "SPF of the HELO name soft-fails",
    "DMARC_PASS": "DMARC passes", "DMARC_NONE": "DMARC fails, the policy is p=none",
    "DMARC_QUAR": "DMARC fails, the policy is p=quarantine", "DMARC_REJECT": "DMARC fails, the policy is p=reject",
    "DMARC_MISSING": "the From domain has no DMARC record",
    "RCVD_IN_DNSWL_NONE": "the sending server is on the DNSWL allow list (no trust level)",
    "RCVD_IN_DNSWL_LOW": "the sending server is on DNSWL (low trust)",
    "RCVD_IN_DNSWL_MED": "the sending server is on DNSWL (medium trust)",
    "RCVD_IN_DNSWL_HI": "the sending server is on DNSWL (high trust)",
    "RCVD_IN_MSPIKE_H2": "the sending IP has a good reputation (Mailspike)",
    "RCVD_IN_MSPIKE_WL": "the sending IP is on Mailspike's allow list",
    "RCVD_IN_SBL": "the sending IP is on Spamhaus SBL (known spam source)",
    "RCVD_IN_XBL": "the sending IP is on Spamhaus XBL (hijacked or infected machine)",
    "RCVD_IN_PBL": "the sending IP is on Spamhaus PBL (an address that should not send mail directly)",
    "RCVD_IN_ZEN_BLOCKED_OPENDNS": "the Spamhaus query was refused (public resolver): the lookup did not happen",
    "RCVD_IN_BL_SPAMCOP_NET": "the sending IP is on the SpamCop blocklist",
    "RCVD_IN_VALIDITY_RPBL": "the sending IP has a poor reputation (Validity)",
    "URIBL_BLOCKED": "the URIBL query was refused (public resolver): the lookup did not happen",
    "URIBL_DBL_SPAM": "a link points to a domain on Spamhaus DBL", "URIBL_ABUSE_SURBL": "a link is on SURBL (abuse)",
    "URIBL_BLACK": "a link is on the URIBL black list",
    "HTML_MESSAGE": "the message contains HTML", "MIME_HTML_ONLY": "the message has HTML and no plain-text part",
    "HTML_IMAGE_ONLY_08": "HTML with images and hardly any text", "HTML_IMAGE_RATIO_02": "HTML with a high image ratio",
    "MISSING_DATE": "no Date header", "MISSING_MID": "no Message-ID header", "MISSING_HEADERS": "no To header",
    "MISSING_FROM": "no From header", "MISSING_SUBJECT": "no Subject header", "EMPTY_MESSAGE": "the message is empty",
    "FREEMAIL_FROM": "sent from a free mail provider", "FREEMAIL_REPLYTO": "Reply-To at a free mail provider",
    "FREEMAIL_FORGED_REPLYTO": "Reply-To at a free mail provider differs from From",
    "RDNS_NONE": "the sending server has no reverse DNS (PTR)",
    "RDNS_DYNAMIC": "the sending server's reverse DNS looks like a dynamic (home) address",
    "HELO_DYNAMIC_IPADDR": "the HELO name looks like a dynamic address", "NO_RELAYS": "no Received relays",
    "SUBJ_ALL_CAPS": "the subject is in capitals", "LOTS_OF_MONEY": "mentions large sums of money",
    "HEADER_FROM_DIFFERENT_DOMAINS": "From and envelope sender are in different domains",
    "PYZOR_CHECK": "listed in the Pyzor spam checksum database", "RAZOR2_CHECK": "listed in Vipul's Razor",
    "DCC_CHECK": "seen in bulk by the DCC checksum network", "TO_NO_BRKTS_PCNT": "To without angle brackets",
    "DATE_IN_FUTURE_06_12": "the Date header is 6-12 hours in the future",
    "DATE_IN_PAST_03_06": "the Date header is 3-6 hours in the past",
    "T_SCC_BODY_TEXT_LINE": "(test rule) body text line heuristic", "NICE_REPLY_A": "looks like a real reply",
    "MAILING_LIST_MULTI": "sent through a mailing list", "SUSPICIOUS_RECIPS": "many similar recipients",
}
# Rules that point at something the sender can fix (not content heuristics)
SENDER_RULES = {"SPF_FAIL": "spf", "SPF_SOFTFAIL": "spf", "SPF_NONE": "spf", "DKIM_INVALID": "dkim",
                "DMARC_QUAR": "dmarc", "DMARC_REJECT": "dmarc", "DMARC_NONE": "dmarc", "DMARC_MISSING": "dmarc",
                "RDNS_NONE": "ptr", "RDNS_DYNAMIC": "ptr", "RCVD_IN_SBL": "dnsbl", "RCVD_IN_XBL": "dnsbl",
                "RCVD_IN_PBL": "dnsbl", "RCVD_IN_BL_SPAMCOP_NET": "dnsbl", "MISSING_DATE": "headers",
                "MISSING_MID": "headers"}


@dataclass
class SpamAssassinVerdict:
    spam: bool
    score: float | None
    required: float | None
    rules: list[Field] = field(default_factory=list)  # name, score ("" unknown), meaning
    version: str = ""


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def spamassassin(msg) -> SpamAssassinVerdict | None:
    """Decode X-Spam-Status (and X-Spam-Flag / X-Spam-Score), or None when absent."""
    status = msg.get("X-Spam-Status")
    flag = msg.get("X-Spam-Flag")
    score_header = msg.get("X-Spam-Score")
    if status is None and flag is None and score_header is None:
        return None
    text = re.sub(r"\s+", " ", str(status or "")).strip()[:4000]
    spam = text.lower().startswith("yes") or str(flag or "").strip().upper() == "YES"
    score = _float(m.group(1)) if (m := re.search(r"\b(?:score|hits)=(-?[\d.]+)", text)) else \
        _float(str(score_header or "").strip())
    required = _float(m.group(1)) if (m := re.search(r"\brequired=(-?[\d.]+)", text)) else None
    version = m.group(1) if (m := re.search(r"\bversion=([\w.]+)", text)) else ""
    rules: list[Field] = []
    if m := re.search(r"\btests=(.*?)(?:\s+\w+=|$)", text):
        for item in re.split(r"[,\s]+", m.group(1))[:80]:
            name, _, value = item.partition("=")  # "tests=BAYES_99=3.5,SPF_PASS=-0.001" (with scores) or plain
            name = clean(name.strip(), limit=60, keep_newlines=False)
            if not re.fullmatch(r"[A-Z0-9_]{2,60}", name) or name == "NONE":
                continue
            rules.append(Field(name, value, RULES.get(name, "")))
    return SpamAssassinVerdict(spam, score, required, rules, version)
