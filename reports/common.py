"""What every report format shares: the header fields and per-format escaping of untrusted text.

Everything a server (or a saved JSON file) supplied is untrusted: it goes through
``diagnose.knowledge.sanitize.clean`` (terminal escapes, control characters) and then through the escaper of
the output format. Renderers never put report text into their output any other way.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass

from diagnose.engine.diagnosis import rank_key
from diagnose.engine.model import Finding
from diagnose.engine.report import Report
from diagnose.knowledge.redact import redact_argv
from diagnose.knowledge.sanitize import clean

STATUS_WORDS = {"pass": "PASS", "skip": "SKIP", "warn": "WARN", "error": "ERROR", "fail": "FAIL"}


def header_fields(report: Report) -> list[tuple[str, str]]:
    """(label, value) pairs every format shows first: tool, target, when, where from, how, how long.

    All values are cleaned plain text; the caller escapes them for its format."""
    meta = report.meta or {}
    target = report.target or {}
    domain = target.get("domain_unicode") or target.get("domain") or target.get("input") or "?"
    if target.get("domain") and target.get("domain") != domain:
        domain = f"{domain} ({target['domain']})"
    if target.get("address"):
        domain = f"{target['address']} → {domain}"
    tool = report.tool or {}
    fields = [
        ("Tool", f"{tool.get('name', 'maildoctor')} {tool.get('version', '?')}"),
        ("Target", domain),
        ("When", report.started_at or "?"),
    ]
    if meta.get("anonymized") or not meta.get("host"):
        fields.append(("From", "(host name withheld)" if meta.get("anonymized") else "?"))
    else:
        fields.append(("From", str(meta["host"])))
    if meta.get("public_address") and not meta.get("anonymized"):
        fields.append(("Public address", str(meta["public_address"])))
    if report.resolver or target.get("kind") != "message":  # `maildoctor message` asks no resolver
        fields.append(("Resolver", resolver_text(report)))
    command = meta.get("command")
    if command:
        # redacted again here: a report saved by an older version must not leak a secret either
        fields.append(("Command", shlex.join(redact_argv(str(a) for a in command))))
    if meta.get("profile"):
        fields.append(("Profile", str(meta["profile"])))
    if meta.get("revocation"):
        fields.append(("Revocation", str(meta["revocation"])))
    fields.append(("Total time", f"{report.duration_s:.2f} s"))
    if report.interrupted:
        fields.append(("Interrupted", "yes: some checks did not finish"))
    return [(label, safe(value, newlines=False, limit=1000)) for label, value in fields]


def resolver_text(report: Report) -> str:
    resolver = report.resolver or {}
    servers = resolver.get("nameservers") or []
    text = ", ".join(str(s) for s in servers) or "system resolvers"
    return text


def verdict_words(report: Report) -> str:
    counts = report.counts
    problems = counts["fail"] + counts["warn"] + counts["error"]
    parts = [f"{counts[s]} {s}" for s in ("fail", "error", "warn", "pass", "skip") if counts[s]]
    head = "no problems found" if problems == 0 else f"{problems} problem{'s' if problems != 1 else ''} found"
    return f"{head} ({', '.join(parts) or 'no findings'})"


@dataclass(frozen=True)
class Problem:
    """One thing to fix: a root cause, the same fact on other subjects, and what follows from it."""

    finding: Finding
    also: tuple[Finding, ...] = ()  # the same fact seen on other ports, addresses or protocols
    follows: tuple[Finding, ...] = ()  # consequences, folded under it

    @property
    def members(self) -> tuple[Finding, ...]:
        return (self.finding, *self.also)


def diagnosed(report: Report) -> list[Problem]:
    """The problems to show, root cause first (report.diagnosis): groups merged, consequences folded."""
    d = report.diagnosis
    grouped = {fid: g for g in d.groups for fid in g.ids}
    out, done = [], set()
    for root in d.root_causes:
        if root in done:
            continue
        ids = list(grouped[root].ids) if root in grouped else [root]
        done.update(ids)
        follows = sorted({c for fid in ids for c in d.consequences(fid)}, key=lambda c: rank_key(d.by_id(c)))
        out.append(Problem(d.by_id(ids[0]), tuple(d.by_id(i) for i in ids[1:]), tuple(d.by_id(c) for c in follows)))
    return out


def problems(report: Report) -> list[Finding]:
    """Every finding that needs attention, in diagnosis order: each root cause (and its group), then
    what follows from it."""
    return [f for p in diagnosed(report) for f in (*p.members, *p.follows)]


def headline(report: Report) -> str:
    """The one sentence every format starts with (cleaned plain text)."""
    return safe(report.diagnosis.headline, newlines=False, limit=600)


def by_severity(findings: list) -> list:
    """Worst first, then by check and subject: the order of the summary tables."""
    return sorted(findings, key=lambda f: (-f.status.rank, f.check, f.subject))


# --- escaping ---------------------------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]")  # lone halves (from a crafted JSON file) cannot be encoded


def safe(value: object, *, newlines: bool = True, limit: int = 2000) -> str:
    """Untrusted text, sanitised (terminal escapes, control characters) and encodable as UTF-8."""
    return _SURROGATES.sub("\ufffd", clean(str(value), keep_newlines=newlines, limit=limit))


def html_text(value: object, *, newlines: bool = True) -> str:
    """Untrusted text -> HTML text (also safe inside quoted attributes and SVG)."""
    return html.escape(safe(value, newlines=newlines), quote=True)


# Characters that change meaning anywhere in a line of Markdown (CommonMark + GFM tables,
# strikethrough, math); "_" only where it can open or close emphasis (not inside a word), ">" "#"
# "+" "-" and "1." only where they could start a block (the first character).
_MD_SPECIAL = re.compile(r"([\\`*{}\[\]<|~&$!])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_BLOCK_START = re.compile(r"^(?:(>)|([#+\-])(?=[#\s]|$)|(\d{1,9})([.)])(?=\s|$))")


def _md_escape(text: str, *, line_start: bool = True) -> str:
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    if line_start:
        text = _MD_BLOCK_START.sub(lambda m: f"{m.group(3)}\\{m.group(4)}" if m.group(3) else "\\" + m.group(0), text)
    return text


def _md_lines(value: object) -> list[str]:
    text = safe(value).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return [line.strip() for line in text.split("\n")]


def md_inline(value: object) -> str:
    """Untrusted text -> one line of Markdown that renders as exactly that text (also in a table cell)."""
    return "<br>".join(_md_escape(line) for line in _md_lines(value))


# a code span as our texts write them: opened after a space or an opening bracket/quote, closed before a
# space or punctuation; a backtick inside a word (a value's) neither opens nor closes one
_CODE_SPAN = re.compile(r"""(?<![^\s(\["'])(`+)(?!`)(.+?)(?<!`)\1(?=$|[\s.,;:)\]!?'"])""")


def md_code_span(value: object) -> str:
    """Text -> a Markdown code span whose fence is longer than any backtick run inside (it cannot be closed early)."""
    text = " ".join(_md_lines(value))
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(value: object) -> str:
    """Our explanations and remedies -> one line of Markdown: their `code spans` (commands, settings)
    stay code spans, each in a fence its content cannot close; everything else is escaped as by
    ``md_inline``. Values filled into the text stay inert either way (code or escaped text)."""
    lines = []
    for line in _md_lines(value):
        out, pos = [], 0
        for m in _CODE_SPAN.finditer(line):
            if not m.group(2).strip():
                continue
            out.append(_md_escape(line[pos:m.start()], line_start=pos == 0))
            out.append(md_code_span(m.group(2)))
            pos = m.end()
        out.append(_md_escape(line[pos:], line_start=pos == 0))
        lines.append("".join(out))
    return "<br>".join(lines)


def md_code_block(value: object, info: str = "") -> str:
    """Untrusted text -> a fenced code block whose fence is longer than any backtick run inside."""
    text = safe(value)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


# XML 1.0 allows only these characters (§2.2); anything else makes a parser reject the file. A pattern
# string, compiled by `re` on first use: compiling it costs ~8 ms, which the text and JSON reports do without.
_XML_INVALID = "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def xml_text(value: object, *, newlines: bool = True) -> str:
    """Untrusted text -> characters XML 1.0 allows (ElementTree escapes <, &, quotes itself)."""
    text = clean(str(value), keep_newlines=newlines)
    return re.sub(_XML_INVALID, "\ufffd", text)
