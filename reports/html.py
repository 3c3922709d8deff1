"""One self-contained HTML file: inline CSS, inline SVG pictures, no scripts, no external assets.

Readable when printed (a print stylesheet opens the collapsed parts). Every piece of report text
goes through ``html_text`` (sanitised, then HTML-escaped, quotes included).
"""

from __future__ import annotations

import json

from diagnose.engine.model import Finding, Status
from diagnose.engine.report import Report
from reports.common import (
    STATUS_WORDS,
    Problem,
    by_severity,
    diagnosed,
    header_fields,
    headline,
    html_text,
    verdict_words,
)
from reports.hops import OTHER, group_by_hop
from reports.svg import COLOURS, flow_svg, hop_timeline_svg, waterfall_svg

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
       max-width: 1100px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
h3 { font-size: 1.08em; margin: .2em 0; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .25em .5em; border-bottom: 1px solid #eee; }
table.meta th { width: 9em; color: #555; font-weight: 600; }
body { overflow-wrap: anywhere; } th { overflow-wrap: break-word; }  /* unbroken server text wraps, labels stay whole */
/* the summary's columns are set, not sized by their content: a long host name wraps in its column */
table.summary { table-layout: fixed; } table.summary td { overflow-wrap: break-word; }
table.summary th:nth-child(1) { width: 11.5em; } table.summary th:nth-child(2) { width: 30%; } table.summary th:nth-child(3) { width: 5.5em; }
code.id { overflow-wrap: normal; word-break: normal; white-space: nowrap; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .6em; white-space: pre-wrap; }
.badge { display: inline-block; min-width: 4.2em; text-align: center; font-weight: 700; font-size: .8em;
         border-radius: 4px; padding: .05em .4em; border: 1.5px solid; white-space: nowrap; }
.headline { font-size: 1.2em; font-weight: 600; margin: .4em 0; }
.verdict { font-size: 1.15em; margin: .4em 0 1em; }
.problem { border-left: 5px solid #ccc; padding: .4em .9em; margin: 1em 0; background: #fcfcfc; page-break-inside: avoid; }
.problem dt { font-weight: 700; margin-top: .4em; } .problem dd { margin: 0 0 0 0; }
details { margin: .4em 0; } summary { cursor: pointer; color: #333; font-weight: 600; }
section.fine summary { font-weight: normal; }  /* a list of passes, not of headings */
.muted { color: #666; } svg { max-width: 100%; height: auto; }
svg.waterfall { max-width: 600px; display: block; } svg.flow-narrow { display: none; }
footer { margin-top: 2em; color: #666; font-size: .85em; }
/* a phone: less margin; the summary's rows become cards (status and check, then subject, then summary);
   the header's and the evidence's labels go above their values */
@media (max-width: 640px) {
  body { font-size: 14px; margin: .8em auto; padding: 0 .7em; }
  h1 { font-size: 1.35em; } .headline { font-size: 1.08em; } .verdict { font-size: 1.05em; }
  svg.flow { display: none; } svg.flow-narrow { display: block; max-width: 420px; margin: 0 auto; }
  table.summary thead { display: none; }
  table.summary, table.summary tbody { display: block; }
  table.summary tr { display: flex; flex-wrap: wrap; align-items: baseline; gap: .1em .5em; padding: .45em 0; border-bottom: 1px solid #e4e4e4; }
  table.summary td { display: block; border: 0; padding: 0; min-width: 0; }
  table.summary td:nth-child(3) { order: -1; }
  table.summary td:nth-child(2), table.summary td:nth-child(4) { flex: 1 0 100%; }
  table.summary td:nth-child(2) { font-weight: 600; }  /* the subject, then its summary below it */
  table.meta th, table.meta td { display: block; width: auto; border: 0; padding: .05em 0; }
  table.meta tr { display: block; border-bottom: 1px solid #eee; padding: .25em 0; }
  table.meta th { font-size: .85em; }
  .problem { padding: .3em .6em; margin: .8em 0; }
  pre { padding: .4em; font-size: .82em; }
}
@media print {
  @page { size: A4; margin: 10mm; }
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; color: #000; }
  /* on paper a problem shows all it has; a pass is its one line (its evidence stays on screen) */
  .problem details::details-content { content-visibility: visible; display: contents; }
  .problem details > * { display: block; } details summary { list-style: none; }
  /* no grey areas on paper: frames and lines only */
  pre, .problem { background: none; } pre { border-color: #bbb; }
  thead { display: table-header-group; }
  .problem, svg, tr, li, table.meta { break-inside: avoid; } h2, h3, summary, dt { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
""" + "".join(
    f".s-{key} {{ color: {stroke}; border-color: {stroke}; background: {fill}; }}\n"
    f".problem.s-{key} {{ border-left-color: {stroke}; background: #fff; color: inherit; }}\n"
    for key, (stroke, fill) in COLOURS.items()
)


def badge(status_value: str) -> str:
    return f'<span class="badge s-{status_value}">{STATUS_WORDS.get(status_value, status_value.upper())}</span>'


def render(report: Report) -> str:
    target = report.target.get("domain_unicode") or report.target.get("domain") or report.target.get("input") or "?"
    worst = report.verdict.value
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>maildoctor report: {html_text(target, newlines=False)}</title>",
           f"<style>{CSS}</style>", "</head>", "<body>", "<header>",
           f"<h1>maildoctor report: {html_text(target, newlines=False)}</h1>",
           f'<p class="headline">{html_text(headline(report))}</p>',
           f'<p class="verdict">{badge(worst)} {html_text(verdict_words(report))}</p>',
           '<table class="meta">']
    out += [
        f"<tr><th>{html_text(label)}</th><td>{html_text(value)}</td></tr>" for label, value in header_fields(report)
    ]
    out += ["</table>", "</header>"]

    message = report.target.get("kind") == "message"
    if message:  # a message read by `maildoctor message`: its own path, not the flow of a domain
        out += ["<section>", "<h2>Hops</h2>", hop_timeline_svg(report.findings),
                '<p class="muted">Each receiving server, oldest first: the bar is the time since the hop before '
                "(green: TLS, red: no TLS, grey: local delivery), with its time stamp in UTC.</p>", "</section>"]
    else:
        out += [
            "<section>",
            "<h2>Mail flow</h2>",
            flow_svg(report.findings, report.services),
            flow_svg(report.findings, report.services, narrow=True),  # shown instead on a phone
            _other_hops(report.findings, report.services),
            "</section>",
        ]

    out += ["<section>", "<h2>Summary</h2>", '<table class="summary">',
            "<thead><tr><th>Check</th><th>Subject</th><th>Status</th><th>Summary</th></tr></thead>", "<tbody>"]
    todo = diagnosed(report)
    bad = [f for p in todo for f in (*p.members, *p.follows)]
    # internal links only: a folded consequence or a group member links to its problem
    anchors = {id(f): f"problem-{n}" for n, p in enumerate(todo, 1) for f in (*p.members, *p.follows)}
    for f in by_severity(report.findings):
        subject = html_text(f.subject)
        if id(f) in anchors:
            subject = f'<a href="#{anchors[id(f)]}">{subject}</a>'
        out.append(f"<tr><td>{_id(f.check)}</td><td>{subject}</td>"
                   f"<td>{badge(f.status.value)}</td><td>{html_text(f.summary)}</td></tr>")
    out += ["</tbody>", "</table>", "</section>"]

    out += ["<section>", "<h2>Problems</h2>"]
    out += [_problem(p, f"problem-{n}") for n, p in enumerate(todo, 1)] or ['<p class="muted">No problems found.</p>']
    out.append("</section>")

    if not message:
        out += ["<section>", "<h2>Where the time went</h2>", waterfall_svg(report.findings),
                '<p class="muted">Per host, the time of each phase as the checks measured it.</p>', "</section>"]

    fine = [f for f in report.findings if f not in bad]
    for title, kind in (("Passed", Status.PASS), ("Skipped", Status.SKIP)):  # passes first, skips apart
        shown = [f for f in fine if f.status is kind]
        if shown:
            out += ['<section class="fine">', f"<h2>{title}</h2>", *(_passed(f) for f in shown), "</section>"]
    out += ['<footer>Made by maildoctor. Each finding code is explained by '
            '<code>maildoctor explain CODE</code>.</footer>', "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _other_hops(findings: list[Finding], services: dict[str, tuple[str, ...]]) -> str:
    groups = group_by_hop(findings, services)
    legend = " ".join(f"{badge(k)}" for k in ("pass", "warn", "fail", "error", "skip"))
    lines = [f'<p class="muted">Each hop shows the worst status of its findings: {legend}</p>']
    if groups[OTHER]:
        worst: dict[str, Finding] = {}  # each check once, with its worst status
        for f in groups[OTHER]:
            if f.check not in worst or f.status.rank > worst[f.check].status.rank:
                worst[f.check] = f
        items = ", ".join(f"{_id(f.check)} {badge(f.status.value)}" for f in worst.values())
        lines.append(f'<p class="muted">Not on the picture: {items}</p>')
    return "\n".join(lines)


def _problem(problem: Problem, anchor: str) -> str:
    f = problem.finding
    out = [f'<article class="problem s-{f.status.value}" id="{anchor}">',
           f'<h3>{badge(f.status.value)} <span class="subject">{html_text(f.subject)}</span></h3>',
           f"<p>{html_text(f.summary)} <span class=\"muted\">(code {_id(f.code)}, "
           f"check {_id(f.check)})</span></p>", "<dl>"]
    if f.explanation:
        out.append(f"<dt>What it means</dt><dd>{html_text(f.explanation)}</dd>")
    if f.remedy:
        out.append(f"<dt>How to fix</dt><dd>{html_text(f.remedy)}</dd>")
    out.append("</dl>")
    if problem.also:
        subjects = ", ".join(f'<span class="subject">{html_text(g.subject)}</span>' for g in problem.also)
        out.append(f"<p>Also on: {subjects}</p>")
    if problem.follows:
        n = len(problem.follows)
        out.append(f'<details class="follows" open><summary>{n} more problem{"s" if n != 1 else ""} '
                   f'follow{"s" if n == 1 else ""} from this</summary><ul>')
        out += [f"<li>{badge(g.status.value)} {_id(g.check)} {html_text(g.subject)} — "
                f"{html_text(g.summary)}</li>" for g in problem.follows]
        out.append("</ul></details>")
    out.append(_evidence(f, opened=True))  # a problem's evidence is open: on screen and when printed
    out.append("</article>")
    return "\n".join(out)


def _passed(f: Finding) -> str:
    head = f"{badge(f.status.value)} {_id(f.check)} {html_text(f.subject)} — {html_text(f.summary)}"
    body = _evidence(f)
    return f"<details><summary>{head}</summary>{body}</details>" if body else f"<p>{head}</p>"


def _evidence(f: Finding, *, opened: bool = False) -> str:
    evidence = dict(f.evidence or {})
    parts = []
    details = "<details open>" if opened else "<details>"
    transcript = evidence.pop("transcript", None)
    if isinstance(transcript, list) and transcript:
        text = "\n".join(str(line) for line in transcript)
        parts.append(
            f"{details}<summary>Transcript ({len(transcript)} lines)</summary><pre>{html_text(text)}</pre></details>"
        )
    cert_keys = [k for k in ("subject", "issuer", "san", "not_before", "not_after", "days_left", "chain", "hostname",
                             "name_matches", "trusted", "self_signed", "validation_error", "key", "signature",
                             "fingerprint")
                 if k in evidence]
    if f.check.startswith("tls.cert") or len(cert_keys) >= 3:
        shown = {k: _value(evidence.pop(k)) for k in cert_keys}
        if "name_matches" in shown:  # the name check beside the trust check: a trusted chain can be for another name
            host = shown.get("hostname", "the host")
            shown["name_matches"] = (f"yes: valid for {host}" if shown["name_matches"] == "true"
                                     else f"no: not valid for {host} (it is for {shown.get('san') or 'other names'})")
        if shown.get("trusted") in ("true", "false"):
            shown["trusted"] = "yes: the chain leads to a trusted CA" if shown["trusted"] == "true" else "no"
        labels = {"name_matches": "name matches", "trusted": "chain trusted"}
        rows = "".join(
            f"<tr><th>{html_text(labels.get(k, k))}</th><td>{html_text(v)}</td></tr>" for k, v in shown.items()
        )
        if rows:
            parts.append(f'{details}<summary>Certificate details</summary><table class="meta">{rows}</table></details>')
    if evidence:
        rows = "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(_value(v))}</td></tr>" for k, v in evidence.items())
        parts.append(f'{details}<summary>Evidence</summary><table class="meta">{rows}</table></details>')
    return "\n".join(parts)


def _id(text: str) -> str:
    """A check id or finding code: code that never wraps (no tls.certifica / te)."""
    return f'<code class="id">{html_text(text, newlines=False)}</code>'


def _value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str, indent=1)
