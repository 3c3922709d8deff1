"""Hostile server text (terminal escapes, HTML, Markdown, XML-breaking characters) cannot break any format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.engine.report import Report
from reports import renderer
from tests.reports.sample import HOSTILE, hostile_report
from tests.reports.test_renderers import assert_junit_shape, assert_well_nested, markdown_tokens, parse_html

# Text a server could send, plus the characters that mean something to our formats.
NASTY = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60) | st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "&",
            '"',
            "'",
            "|",
            "`",
            "```",
            "\n",
            "\r",
            "\t",
            "\x1b[31m",
            "\x1b]8;;http://x\x07",
            "\x00",
            "\x08",
            "\x7f",
            "\ud800",
            "\ufffe",
            "]]>",
            "-->",
            "<!--",
            "<script>",
            "</svg>",
            "*",
            "_",
            "[",
            "](",
            "$",
            "#",
            "\\",
            "&amp;",
            "&#0;",
            "\u202e",
            "|---|",
            "1. ",
            "- ",
            "> ",
            "# ",
            "+ ",
            "    ",
            "===",
            "~~~",
        ]
    ),
    max_size=25,
).map("".join)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ESCAPE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def assert_no_control_chars(out: str) -> None:
    assert not ESCAPE.search(out), repr(ESCAPE.search(out))


@SETTINGS
@given(NASTY)
def test_html_structure_survives(text):
    page = renderer("html")(hostile_report(text))
    page.encode("utf-8")
    assert_well_nested(page)
    doc = parse_html(page)
    tags = [t for t, _ in doc.tags]
    assert "script" not in tags and "img" not in tags
    assert tags.count("svg") == 3 and tags.count("article") == 2 and tags.count("html") == 1
    assert all(not name.startswith("on") and name != "src" for _, attrs in doc.tags for name in attrs)
    assert all(
        value.startswith("#problem-") for _, attrs in doc.tags for name, value in attrs.items() if name == "href"
    )
    assert_no_control_chars(page)


@SETTINGS
@given(NASTY)
def test_markdown_structure_survives(text):
    out = renderer("markdown")(hostile_report(text))
    out.encode("utf-8")
    tokens = markdown_tokens(out)
    assert [t.type for t in tokens].count("table_open") == 2
    # every row of every table has exactly the columns of its head
    widths, row = [], 0
    for t in tokens:
        if t.type == "tr_open":
            row = 0
        elif t.type in ("td_open", "th_open"):
            row += 1
        elif t.type == "tr_close":
            widths.append(row)
    assert widths.count(2) == len(widths) - 3 and widths.count(4) == 3, widths  # header table; summary (head + 2)
    inline_kinds = {c.type for t in tokens if t.type == "inline" for c in t.children or []}
    assert inline_kinds <= {"text", "softbreak", "strong_open", "strong_close", "html_inline", "hardbreak",
                            "code_inline"}, inline_kinds
    # code spans only where our texts write them (explanation, remedy), never in the tables or headings
    coded = [t.content for t in tokens if t.type == "inline" and any(c.type == "code_inline" for c in t.children)]
    assert all(c.startswith(("**What it means:**", "**How to fix:**")) for c in coded), coded
    html_bits = {c.content for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "html_inline"}
    assert html_bits <= {"<br>"}, html_bits
    kinds = {t.type for t in tokens}
    assert not kinds & {"bullet_list_open", "ordered_list_open", "blockquote_open", "code_block", "hr", "html_block"}, (
        kinds
    )
    headings = [t for t in tokens if t.type == "heading_open"]
    assert len(headings) == 5  # title, Summary, Problems, two problems
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 3  # transcript and evidence of the failure, evidence of the warning
    assert_no_control_chars(out)


@SETTINGS
@given(NASTY)
def test_junit_parses_and_keeps_its_shape(text):
    out = renderer("junit")(hostile_report(text))
    root = ET.fromstring(out.encode("utf-8"))
    assert_junit_shape(root)
    assert len(root.findall("./testsuite/testcase")) == 2
    assert len(root.findall(".//failure")) == 1


@SETTINGS
@given(NASTY)
def test_nagios_stays_one_status_line(text):
    out = renderer("nagios")(hostile_report(text))
    first = out.splitlines()[0]
    assert first.count(" | ") == 1 and first.count("|") == 1
    assert first.split(" | ")[1].startswith("time=0.500s;;;0")
    assert_no_control_chars(out)


@SETTINGS
@given(NASTY)
def test_text_and_json_are_terminal_safe(text):
    report = hostile_report(text)
    out = renderer("text")(report)
    out.encode("utf-8")
    assert "\x1b" not in out
    data = renderer("json")(report)
    data.encode("utf-8")
    assert json.loads(data)["findings"][0]["code"] == "smtp.greeting_bad"


def test_the_classic_banner_is_neutralised_everywhere():
    report = hostile_report(HOSTILE)
    html_page = renderer("html")(report)
    assert "<script>" not in html_page and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_page
    assert "<img" not in html_page and "\x1b" not in html_page
    md = renderer("markdown")(report)
    assert "\\<script>" in md
    kinds = {c.type for t in markdown_tokens(md) if t.type == "inline" for c in t.children or []}
    assert "link_open" not in kinds and "image" not in kinds, kinds
    # the banner's `code` is a code span only inside the remedy ("Ask …"), where backtick spans are code
    coded = [t.content for t in markdown_tokens(md) if t.type == "inline"
             and any(c.type == "code_inline" for c in t.children)]
    assert all(c.startswith(("**What it means:**", "**How to fix:**")) for c in coded), coded
    xml = renderer("junit")(report)
    assert "<script>" not in xml and "&lt;script&gt;" in xml
    for out in (html_page, md, xml, renderer("nagios")(report), renderer("text")(report)):
        assert "\x1b" not in out and "s3cret" not in out


def test_saved_json_with_hostile_content_renders(tmp_path):
    data = json.loads(renderer("json")(hostile_report()))
    for fmt in ("html", "markdown", "junit", "nagios", "text"):
        renderer(fmt)(Report.from_dict(data)).encode("utf-8")
