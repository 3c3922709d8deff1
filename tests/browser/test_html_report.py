"""The HTML report laid out by a real Chromium: on a 1280 px screen, on a 390 px phone and printed to PDF.

Four reports: a healthy lab domain, a broken one with many findings (a wrong-name certificate,
refused and plaintext-login servers), the same broken report with long host and certificate names,
and a hostile one whose server text is a long unbroken run. On each the page's real boxes are
checked (tests/browser/layout.py): nothing wider than the screen, no text on other text or out of
its cell, check ids never broken, the pictures inside the page with readable text. The screenshots
and PDFs are kept in `browser_artifacts` for a look.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reports import renderer
from tests.browser import chrome, layout
from tests.reports.sample import HOSTILE, hostile_report, sample_report

MAILDOCTOR = str(Path(sys.executable).with_name("maildoctor"))
WIDTHS = (1280, 390)
# all the report's text but transcripts and evidence values (hex fingerprints may break anywhere)
PROSE = ("body > header, section > h2, section > p, table.summary, article.problem h3, article.problem p, "
         "article.problem dd, details > summary, li")
LONG = "mx-primary-inbound-01.customer-subdomain-eu-west.certwrongname-holdings"  # replaces mx.certwrongname


def _cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([MAILDOCTOR, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _lab_json(lab, out: Path, domain: str, *extra: str) -> Path:
    proc = _cli("check", domain, "--nameserver", lab.resolver, "--timeout", "2", "--ca-file", str(lab.ca_file),
                "--format", "json", "--output", str(out), "--quiet", *extra)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return out


def _html_of(saved: Path) -> Path:
    page = saved.with_suffix(".html")
    proc = _cli("report", str(saved), "--format", "html", "--output", str(page))
    assert page.exists(), proc.stderr
    return page


@pytest.fixture(scope="module")
def pages(lab, browser_artifacts) -> dict[str, Path]:
    """name -> HTML report file (in the artifacts dir, beside its screenshots)."""
    out = browser_artifacts
    healthy = _lab_json(lab, out / "healthy.json", lab.domain("healthy"))
    broken = _lab_json(lab, out / "broken.json", lab.domain("certwrongname"),
                       "--smtp-host", lab.hostname("certexpired"), "--smtp-host", lab.hostname("certselfsigned"),
                       "--smtp-host", lab.hostname("plainsmtp"), "--imap-host", lab.hostname("plainimap"))
    report = json.loads(broken.read_text())
    assert sum(f["status"] in ("fail", "warn") for f in report["findings"]) >= 8, "the broken report lost its findings"
    # the same diagnosis with long host names: the MX and its certificate's names grow to 80+ characters
    longnames = out / "longnames.json"
    short = lab.hostname("certwrongname").removesuffix("." + lab.tld)  # mx.certwrongname
    longnames.write_text(broken.read_text().replace(short, LONG))
    assert LONG in longnames.read_text()
    hostile = out / "hostile.html"
    unbroken = "X" * 40 + "\u2014" + "ServerSaysThisWithoutAnySpace" * 8  # one 270-character word
    hostile.write_text(renderer("html")(hostile_report(unbroken + " " + HOSTILE)), encoding="utf-8")
    sample = out / "sample.html"  # constructed: short bars under long names in the waterfall, whatever the timings
    sample.write_text(renderer("html")(sample_report()), encoding="utf-8")
    return {"healthy": _html_of(healthy), "broken": _html_of(broken), "longnames": _html_of(longnames),
            "hostile": hostile, "sample": sample}


def _ok(problems: list[str], what: str, shot: Path | None = None) -> None:
    assert not problems, f"{what}{f' (see {shot})' if shot else ''}:\n" + "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["healthy", "broken", "longnames", "hostile", "sample"])
def test_report_lays_out_cleanly(browser, browser_artifacts, pages, name, width):
    # Given the report open at this width
    chrome.open_page(browser, pages[name])
    shot = chrome.screenshot(browser, browser_artifacts / f"{name}-{width}.png", width=width)
    # Then nothing is wider than the screen
    _ok(layout.problems(browser, layout.OVERFLOW), f"{name} at {width}px overflows", shot)
    # and no text lies on other text or runs out of its table cell
    _ok(layout.problems(browser, layout.OVERLAP), f"{name} at {width}px: overlapping text", shot)
    # and no check id or finding code is broken mid-word, in the Check column or anywhere else
    assert browser.execute_script("return document.querySelectorAll('table.summary td:first-child code.id').length") > 0
    _ok(layout.problems(browser, layout.BROKEN_WORDS, "table.summary td:first-child, code.id", False),
        f"{name} at {width}px: a broken id", shot)
    if name != "hostile":  # words and host names break only between labels (at a dot, a hyphen), never inside
        _ok(layout.problems(browser, layout.BROKEN_WORDS, PROSE, True), f"{name} at {width}px: a broken word", shot)
    # and both pictures fit the page, their text readable (>= 9 px on screen): on a phone the mail flow
    # is drawn top to bottom instead of side by side
    flow = "svg.flow" if width > 640 else "svg.flow-narrow"
    shown = browser.execute_script("return [...document.querySelectorAll('svg')].filter(s => s.checkVisibility())"
                                   ".map(s => s.getAttribute('class'))")
    assert shown == [flow.removeprefix("svg."), "waterfall"], shown
    for svg in (flow, "svg.waterfall"):
        _ok(layout.problems(browser, layout.SVG_FITS, svg, 9), f"{name} at {width}px: {svg}", shot)


@pytest.mark.parametrize("name", ["healthy", "broken", "longnames", "hostile"])
def test_report_prints(browser, browser_artifacts, pages, name):
    # Given the report laid out for print at A4's printable width (8.27 in less 2 x 0.4 in margins, 96 px/in)
    chrome.open_page(browser, pages[name])
    chrome.set_width(browser, 717)
    layout.emulate_print(browser, True)
    try:
        # Then it fits the paper, no text overlaps, no ids break, nothing prints on a dark background
        _ok(layout.problems(browser, layout.OVERFLOW), f"{name} printed overflows")
        _ok(layout.problems(browser, layout.OVERLAP), f"{name} printed: overlapping text")
        _ok(layout.problems(browser, layout.BROKEN_WORDS, "table.summary td:first-child, code.id", False),
            f"{name} printed: a broken id")
        _ok(layout.problems(browser, layout.DARK_BACKGROUNDS, 0.6), f"{name} printed: ink wasted")
        # and every part of a problem (evidence, transcript, what follows from it) is printed open, while
        # a pass prints as its one line: a report attached to a ticket is a few pages, not thirty
        hidden = "return [...document.querySelectorAll(arguments[0])].filter(e => !e.checkVisibility()).length"
        closed = browser.execute_script(hidden, ".problem details > :not(summary)")
        assert closed == 0, f"{closed} collapsed parts of problems would not print"
        parts = browser.execute_script("return document.querySelectorAll('section.fine details > :not(summary)').length")
        assert browser.execute_script(hidden, "section.fine details > :not(summary)") == parts, "a pass prints open"
        assert parts > 0 or name == "hostile"
    finally:
        layout.emulate_print(browser, False)
    # When it is printed to PDF
    pdf = chrome.print_pdf(browser, browser_artifacts / f"{name}.pdf")
    info = subprocess.run([chrome.poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages_n = int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1))
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    # Then it is A4 portrait, a sane number of pages for its length
    assert abs(float(size.group(1)) - 595.3) < 1.5 and abs(float(size.group(2)) - 841.9) < 1.5, info  # A4 in pt
    text = subprocess.run([chrome.poppler("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    lines = len([line for line in text.splitlines() if line.strip()])
    assert 1 <= pages_n <= max(3, lines // 25), f"{pages_n} pages for {lines} lines of text"
    # and the page's words are in it: the title, the verdict, the check ids whole
    assert "maildoctor report" in text
    if name != "hostile":
        assert "tls.certificate" in text and "smtp.greeting" in text
    # the first page as PNG, for a look
    subprocess.run([chrome.poppler("pdftoppm"), "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf),
                    str(browser_artifacts / f"{name}-pdf")], check=True)
