"""The server's own pages (form, live page, history, login) as HTML strings. Every value that is not
a literal of this module goes through ``html_text`` (sanitised, then escaped, quotes included), as
in the HTML report; no inline script or style anywhere: the CSP forbids both."""

from __future__ import annotations

import time
from collections.abc import Iterable

from diagnose.engine.credentials import OAUTH2, PASSWORD
from reports import EXTENSIONS
from reports.common import STATUS_WORDS, html_text
from reports.html import CSS as REPORT_CSS

FORMATS = tuple(EXTENSIONS)  # the downloads offered, in this order
FORMAT_TITLES = {"html": "HTML", "json": "JSON", "markdown": "Markdown", "text": "Text", "junit": "JUnit XML",
                 "nagios": "Nagios"}


def e(value: object) -> str:
    return html_text(value, newlines=False)


def page(title: str, body: str, *, script: str = "") -> str:
    scripts = f'<script src="/static/{script}" defer></script>' if script else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)} · maildoctor</title>\n"
            '<link rel="stylesheet" href="/static/serve.css">\n'
            f"{scripts}\n</head>\n<body>\n{nav()}\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def nav() -> str:
    return ('<nav class="md-nav"><a class="md-brand" href="/">maildoctor</a>'
            '<a href="/">New diagnosis</a><a href="/history">History</a></nav>')


def badge(status: str) -> str:
    return f'<span class="badge s-{e(status)}">{e(STATUS_WORDS.get(status, status.upper()))}</span>'


def form_page(csrf: str, families: Iterable[str], *, error: str = "", target: str = "", user: str = "",
              chosen: Iterable[str] = (), selectors: str = "", roundtrip: bool = False,
              secret_kind: str = PASSWORD, private_note: str = "") -> str:
    """The diagnosis form; a form sent back (``error``) keeps what was typed, never the secret."""
    chosen = set(chosen)
    kinds = "".join(f'<label class="check"><input type="radio" name="secret_kind" value="{value}" id="kind-{value}"'
                    f'{" checked" if value == secret_kind else ""}> {words}</label>'
                    for value, words in ((PASSWORD, "a password or app password"),
                                         (OAUTH2, "an OAuth 2.0 access token")))
    boxes = "".join(f'<label class="fam"><input type="checkbox" name="check" value="{e(f)}"'
                    f'{" checked" if f in chosen else ""}> {e(f)}</label>' for f in families)
    err = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    note = f'<p class="muted">{e(private_note)}</p>' if private_note else ""
    body = f"""
<h1>Why is mail not working?</h1>
<p class="lead">Give a domain or an email address: maildoctor checks DNS, the mail servers, TLS,
authentication and delivery, and says what is wrong in plain words.</p>
{err}
<form method="post" action="/run" class="diagnose" autocomplete="off">
<input type="hidden" name="csrf" value="{e(csrf)}">
<label class="target">Domain or email address
<input type="text" name="target" id="target" value="{e(target)}" required maxlength="320"
 placeholder="example.com or you@example.com" autofocus spellcheck="false" autocapitalize="off"></label>
<details><summary>Log in too (optional)</summary>
<p class="muted">Tests the login on the submission and mailbox servers. The password or access token is
used for this run only: it is kept in memory, never stored, logged or put in a link.</p>
<label>User name <input type="text" name="user" value="{e(user)}" maxlength="320" autocomplete="off"
 spellcheck="false" autocapitalize="off" placeholder="the address itself when empty"></label>
<label>Password or access token <input type="password" name="password" id="secret" maxlength="4096"
 autocomplete="new-password"></label>
<fieldset class="secret-kind"><legend>The secret above is</legend>{kinds}</fieldset>
<label class="check"><input type="checkbox" name="roundtrip" value="1"{" checked" if roundtrip else ""}>
 Round trip: send a test message and wait for it to arrive (needs the login)</label>
</details>
<details><summary>Which checks</summary>
<p class="muted">None ticked: every check.</p>
<div class="families">{boxes}</div>
<label>DKIM selector(s) <input type="text" name="dkim_selector" value="{e(selectors)}" maxlength="300"
 placeholder="e.g. default, google (comma separated)" spellcheck="false"></label>
</details>
<button type="submit" id="start">Diagnose</button>
</form>
{note}
"""
    return page("Diagnose", body)


def live_page(run_id: str, target: str) -> str:
    body = f"""
<section id="live" data-events="/r/{e(run_id)}/events" data-report="/r/{e(run_id)}">
<h1>Diagnosing <span class="target">{e(target)}</span></h1>
<p id="state" class="state" aria-live="polite">Connecting…</p>
<div id="result" class="result" hidden>
<p id="headline" class="headline"></p>
<p id="verdict" class="verdict"></p>
<p id="refused" class="error" hidden></p>
<p><a id="open-report" class="button" href="/r/{e(run_id)}">Open the report</a></p>
</div>
<h2>Mail flow</h2>
<div id="flow" class="flow"><p class="muted">The picture fills in as the checks finish.</p></div>
<h2>Findings <span id="count" class="muted"></span></h2>
<table class="findings"><thead><tr><th>Status</th><th>Check</th><th>Subject</th><th>Summary</th></tr></thead>
<tbody id="findings"></tbody></table>
<noscript><p>This page needs JavaScript to follow the run live; the report will be at
<a href="/r/{e(run_id)}">this link</a> when it is done.</p></noscript>
</section>
"""
    return page(f"Diagnosing {target}", body, script="live.js")


def report_page(report_html: str, run_id: str, domain: str) -> str:
    """The HTML report (the same renderer as --format html) with the server's bar on top: the
    permanent link and the downloads. The bar is inserted after <body>; its style is the static file."""
    links = " ".join(f'<a href="/r/{e(run_id)}/download/{fmt}" download>{FORMAT_TITLES[fmt]}</a>'
                     for fmt in FORMATS)
    bar = (f'<nav class="md-bar"><a href="/">New diagnosis</a> <a href="/history?q={e(domain)}">History of '
           f'{e(domain)}</a> <a id="permalink" href="/r/{e(run_id)}">Permanent link</a> '
           f'<span class="downloads">Download: {links}</span></nav>')
    head_link = '<link rel="stylesheet" href="/static/serve-bar.css">\n</head>'
    return report_html.replace("</head>", head_link, 1).replace("<body>", "<body>\n" + bar, 1)


def history_page(rows: list, query: str, page_no: int, more: bool) -> str:
    lines = []
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r.created))
        lines.append(f'<tr><td class="when">{e(when)}</td><td><a href="/r/{e(r.id)}">{e(r.target)}</a></td>'
                     f"<td>{badge(r.verdict)}</td><td>{e(r.headline)}</td></tr>")
    table = ("<table class=\"history\"><thead><tr><th>When</th><th>Target</th><th>Verdict</th><th>Headline</th>"
             "</tr></thead><tbody>" + "".join(lines) + "</tbody></table>") if lines else \
        f'<p class="muted">No reports{" for " + e(query) if query else ""}.</p>'
    pages = ""
    if page_no > 0:
        pages += f'<a href="/history?q={e(query)}&amp;page={page_no - 1}">Newer</a> '
    if more:
        pages += f'<a href="/history?q={e(query)}&amp;page={page_no + 1}">Older</a>'
    body = f"""
<h1>History</h1>
<form method="get" action="/history" class="search"><label>Domain <input type="search" name="q"
 value="{e(query)}" maxlength="253" spellcheck="false"></label> <button type="submit">Search</button></form>
{table}
<p class="pages">{pages}</p>
"""
    return page("History", body)


def login_page(csrf: str, error: str = "") -> str:
    err = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = f"""
<h1>Log in</h1>
<p>This maildoctor server asks for its access token.</p>
{err}
<form method="post" action="/login" autocomplete="off">
<input type="hidden" name="csrf" value="{e(csrf)}">
<label>Access token <input type="password" name="token" required maxlength="1024"
 autocomplete="current-password"></label>
<button type="submit">Log in</button>
</form>
"""
    return page("Log in", body)


def message_page(title: str, text: str) -> str:
    return page(title, f"<h1>{e(title)}</h1>\n<p>{e(text)}</p>")


__all__ = ["FORMATS", "REPORT_CSS", "form_page", "history_page", "live_page", "login_page", "message_page",
           "report_page"]
