"""The layout checks themselves: each finds the fault it is for on a page made to have it, and nothing on a clean one."""

from __future__ import annotations

import pytest

from tests.browser import chrome, layout

HEAD = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'>"
CLEAN = HEAD + ("<body style='font:15px sans-serif'><table><tr><td><code class=id>tls.certificate</code></td>"
                "<td>mx.example.com</td></tr></table><p>Plain words that wrap as they should.</p>"
                "<svg class=pic viewBox='0 0 200 40' width='100%' style='max-width:200px'><text x=0 y=20 "
                "font-size=12>fits</text></svg>")
FAULTS = {
    "overflow": (layout.OVERFLOW, (), HEAD + "<body><div style='width:2000px'>wide</div>", "px wide"),
    "overlap": (layout.OVERLAP, (), HEAD + "<body><p>first text</p><p style='margin-top:-1.5em'>second text</p>",
                "overlaps"),
    "out of its cell": (layout.OVERLAP, (), HEAD + "<body><table style='table-layout:fixed;width:200px'><tr>"
                        "<td style='width:50px;white-space:nowrap'>a very long cell text</td><td>b</td></tr></table>",
                        "leaves its cell"),
    "broken id": (layout.BROKEN_WORDS, ("code.id", False), HEAD + "<body><div style='width:60px;overflow-wrap:anywhere'>"
                  "<code class=id>tls.certificate</code></div>", "broken over"),
    "broken label": (layout.BROKEN_WORDS, ("td", True), HEAD + "<body><table style='table-layout:fixed;width:90px'>"
                     "<tr><td style='overflow-wrap:anywhere'>mx.certwrongname.test</td></tr></table>", "broken over"),
    "svg sticks out": (layout.SVG_FITS, ("svg.pic", 5), HEAD + "<body><svg class=pic viewBox='0 0 100 40' width=100 "
                       "style='overflow:visible'><text x=60 y=20 font-size=12>sticks out of it</text></svg>",
                       "sticks out"),
    "svg texts touch": (layout.SVG_FITS, ("svg.pic", 5), HEAD + "<body><svg class=pic viewBox='0 0 200 40' width=200>"
                        "<text x=0 y=15 font-size=12>name</text><text x=10 y=26 font-size=12>12 ms</text></svg>",
                        "touches"),
    "svg text too small": (layout.SVG_FITS, ("svg.pic", 9), HEAD + "<body><svg class=pic viewBox='0 0 1000 40' "
                           "width=200><text x=0 y=20 font-size=12>tiny</text></svg>", "px tall"),
    "dark background": (layout.DARK_BACKGROUNDS, (0.6,), HEAD + "<body><pre style='background:#222;color:#eee'>x</pre>",
                        "dark background"),
}


def _load(browser, tmp_path, html: str) -> None:
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    chrome.open_page(browser, page)
    chrome.set_width(browser, 390)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_check_finds_its_fault(browser, tmp_path, fault):
    script, args, html, words = FAULTS[fault]
    _load(browser, tmp_path, html)
    found = layout.problems(browser, script, *args)
    assert found and any(words in p for p in found), found


def test_a_clean_page_passes_every_check(browser, tmp_path):
    _load(browser, tmp_path, CLEAN)
    assert layout.problems(browser, layout.OVERFLOW) == []
    assert layout.problems(browser, layout.OVERLAP) == []
    assert layout.problems(browser, layout.BROKEN_WORDS, "code.id, td", True) == []
    assert layout.problems(browser, layout.BROKEN_WORDS, "code.id", False) == []
    assert layout.problems(browser, layout.SVG_FITS, "svg.pic", 9) == []
    assert layout.problems(browser, layout.DARK_BACKGROUNDS, 0.6) == []
