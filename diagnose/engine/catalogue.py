"""The explanations catalogue: every finding code, what it means and how to fix it.

Built from the ``texts`` of every installed check (plus the expect.* codes and the codes the runner
gives any check), so a check that ships its texts is in the catalogue without further work.
``maildoctor explain CODE`` prints an entry; reports point at it.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from dataclasses import dataclass

from diagnose.engine import aliases
from diagnose.engine.plugin import Check

RFC = re.compile(r"\bRFC\s?(\d{3,5})\b")
_PLACEHOLDER = re.compile(r"\{(\w+)(?:[!:][^{}]*)?\}")
RUNNER_CODES = {  # the runner emits these for any check (diagnose.engine.runner)
    "skipped": ("The check did not run because something it needs is missing (its reason is in the "
                "finding's summary, e.g. the domain has no MX hosts to test).",
                "Fix the finding the reason points at; the check then runs on the next diagnosis."),
    "overrun": ("The check did not finish within its time budget and was stopped, so its result is unknown.",
                "Run again with a larger --timeout; if it keeps happening, report it as a maildoctor bug."),
    "crashed": ("The check failed inside maildoctor (a bug or an unexpected answer it cannot handle), so its "
                "result is unknown. This says nothing about your mail setup.",
                "Run again; if it persists, report a maildoctor bug with the JSON report (--format json)."),
}


@dataclass(frozen=True)
class Entry:
    code: str
    check: str
    title: str  # the check's title
    explanation: str  # templates: facts shown as <name>
    remedy: str
    references: tuple[str, ...] = ()  # links to the RFCs the texts cite

    @property
    def is_quiet(self) -> bool:
        """A pass (or informational) code: nothing to explain."""
        return not self.explanation and not self.remedy


def _template(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"<{m.group(1)}>", text).replace("{{", "{").replace("}}", "}").strip()


def _references(*texts: str) -> tuple[str, ...]:
    numbers = dict.fromkeys(m.group(1) for t in texts for m in RFC.finditer(t))
    return tuple(f"https://www.rfc-editor.org/rfc/rfc{n}" for n in numbers)


def entries_of(check: type[Check]) -> list[Entry]:
    out = []
    for code, pair in check.texts.items():
        explanation, remedy = (tuple(pair) + ("", ""))[:2]
        out.append(Entry(code, check.id, check.title, _template(explanation), _template(remedy),
                         _references(explanation, remedy)))
    return out


def catalogue(checks: list[type[Check]] | None = None) -> dict[str, Entry]:
    """code -> entry for the given checks (default: every installed check, plus expect.* and bulk_sender.*)."""
    if checks is None:
        from diagnose.engine.bulksender import BulkSender
        from diagnose.engine.expect import Expectations
        from diagnose.engine.registry import discover

        checks = [*discover().checks, Expectations, BulkSender]
    found: dict[str, Entry] = {}
    for check in checks:
        for suffix, (explanation, remedy) in RUNNER_CODES.items():
            code = f"{check.id}.{suffix}"
            found.setdefault(code, Entry(code, check.id, check.title, explanation, remedy))
        for entry in entries_of(check):
            found[entry.code] = entry  # the check's own text wins over the runner's generic one
    return found


def explain(code: str, checks: list[type[Check]] | None = None) -> str | None:
    """The catalogue entry for ``code`` as plain text, or None when no installed check knows it.
    A code from before schema 2 (``cert.expired``) gives the entry of its new name."""
    asked = code.strip().lower()
    known = catalogue(checks)
    entry = known.get(asked) or known.get(aliases.code(asked))
    if entry is None:
        return None
    lines = [f"{entry.code}  (check {entry.check}: {entry.title})", ""]
    if entry.code != asked:
        lines[1:1] = [f"({asked} is the name before JSON schema 2.)"]
    if entry.is_quiet:
        lines.append("All is well: this code reports a passing test; there is nothing to fix.")
    for label, body in (("What it means:", entry.explanation), ("How to fix:", entry.remedy)):
        if body:
            lines += [label, textwrap.fill(body, width=92, initial_indent="  ", subsequent_indent="  ",
                                           break_on_hyphens=False, break_long_words=False), ""]
    if entry.references:
        lines += ["Standards:", *(f"  {url}" for url in entry.references), ""]
    lines.append("Words in <angle brackets> are filled in with what the diagnosis saw.")
    return "\n".join(lines).rstrip() + "\n"


def listing(checks: list[type[Check]] | None = None) -> str:
    """Every problem code, grouped by check, with the first sentence of its explanation; then the
    passing codes apart (nothing to explain)."""
    lines: list[str] = []
    passing: list[str] = []
    generic = {text for text, _ in RUNNER_CODES.values()}
    for entry in sorted(catalogue(checks).values(), key=lambda e: (e.check, e.code)):
        if entry.explanation in generic:
            continue  # listed once below
        first = entry.explanation.split(". ")[0].rstrip(".")
        if not first:
            passing.append(entry.code)
            continue
        gist = (first[:100] + "…") if len(first) > 100 else first
        lines.append(f"{entry.code:<34} {gist}")
    lines.append(f"{'<check>.skipped/.overrun/.crashed':<34} any check: not run / stopped / failed inside maildoctor")
    if passing:
        lines += ["", "Passing or informational results (nothing to fix):",
                  textwrap.fill(", ".join(sorted(passing)), width=100, initial_indent="  ", subsequent_indent="  ",
                                break_on_hyphens=False, break_long_words=False)]
    return "\n".join(lines) + "\n"


def similar(code: str, limit: int = 8, checks: list[type[Check]] | None = None) -> list[str]:
    """Known codes most like ``code``, the closest first (for 'did you mean'), then the rest of its
    family (``mx.`` for ``mx.whatever``), most alike first."""
    asked = code.strip().lower()
    known = list(catalogue(checks))
    close = difflib.get_close_matches(asked, known, n=limit, cutoff=0.6)
    head = asked.split(".", 1)[0]
    family = sorted((c for c in known if c.startswith(head + ".") and c not in close),
                    key=lambda c: (-difflib.SequenceMatcher(None, asked, c).ratio(), c))
    return (close + family)[:limit]
