"""Every report format, rendered from constructed findings and read back by a parser for that format."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from diagnose.engine.report import Report
from reports import RENDERERS, renderer
from tests.reports.sample import sample_report

FORMATS = ["text", "json", "markdown", "html", "junit", "nagios"]


class Tags(HTMLParser):
    """Collects tags, attributes and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "path"}


class Nesting(HTMLParser):
    """Checks that every element is closed, in order (the renderer writes no optional end tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> inside {self.stack[-3:]}")


def assert_well_nested(page: str) -> None:
    checker = Nesting()
    checker.feed(page)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors[:5], checker.stack)


def parse_html(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser


def markdown_tokens(text: str):
    return MarkdownIt("commonmark").enable("table").parse(text)


def test_every_format_is_registered():
    assert set(FORMATS) <= set(RENDERERS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_in_every_format(fmt):
    # Given a report run with a password on the command line
    out = renderer(fmt)(sample_report())
    # Then the header is there and the secret is not
    assert "hunter2" not in out, out
    for needle in ("0.1.0", "support-laptop", "192.0.2.53", "2026-11-27T03:00:00"):
        assert needle in out, (fmt, needle, out[:2000])
    if fmt != "json":
        assert "REDACTED" in out and "1.23 s" in out, out[:2000]


@pytest.mark.parametrize("fmt", FORMATS)
def test_anonymized_report_has_no_host_name(fmt):
    report = sample_report(meta={"anonymized": True, "command": ["maildoctor", "check", "example.com", "--anonymize"]})
    out = renderer(fmt)(report)
    assert "support-laptop" not in out
    if fmt not in ("json",):
        assert "withheld" in out


SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp"}
CASE_CHILDREN = {"failure", "error", "skipped", "system-out"}


def assert_junit_shape(root: ET.Element) -> None:
    """The structure of the JUnit XSD CI systems read (Jenkins/Ant): testsuites > testsuite >
    properties? testcase*; each testcase at most one of failure/error/skipped, then system-out."""
    assert root.tag == "testsuites" and {"tests", "failures", "errors", "time"} <= set(root.attrib)
    for suite in root:
        assert suite.tag == "testsuite" and SUITE_ATTRS >= set(suite.attrib) >= {"name", "tests", "failures", "errors"}
        children = [c.tag for c in suite]
        assert children.count("properties") <= 1 and (children[0] == "properties" or "properties" not in children)
        for case in suite.findall("testcase"):
            assert {"name", "classname", "time"} == set(case.attrib)
            float(case.get("time"))
            tags = [c.tag for c in case]
            assert set(tags) <= CASE_CHILDREN and sum(t in ("failure", "error", "skipped") for t in tags) <= 1
            for child in case:
                if child.tag in ("failure", "error"):
                    assert child.get("message") and child.get("type")
        for key in ("tests", "failures", "errors", "skipped"):
            assert int(suite.get(key)) >= 0
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root)


def test_junit_structure():
    root = ET.fromstring(renderer("junit")(sample_report()).encode())
    assert_junit_shape(root)
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 7  # one per finding
    assert (
        root.get("tests") == "7"
        and root.get("failures") == "1"
        and root.get("errors") == "1"
        and root.get("skipped") == "1"
    )
    kinds = {c.get("name").split(":")[0]: [child.tag for child in c] for c in cases}
    assert kinds["tcp.refused"] == ["failure"]
    assert kinds["auth.crashed"] == ["error"]
    assert kinds["imap.skipped"] == ["skipped"]
    assert kinds["tls.expires_soon"] == ["system-out"]  # warn shows, but passes by default
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        float(suite.get("time"))
    failure = root.find(".//failure")
    assert "How to fix" in failure.text and failure.get("type") == "tcp.refused"


def test_junit_warn_fails_with_fail_on_warn():
    report = sample_report()
    report.meta["fail_on"] = "warn"
    root = ET.fromstring(renderer("junit")(report).encode())
    (warn,) = [c for c in root.iter("testcase") if c.get("name").startswith("tls.expires_soon")]
    assert warn.find("failure") is not None
    assert root.get("failures") == "2"


def test_html_is_self_contained_and_printable():
    page = renderer("html")(sample_report())
    assert_well_nested(page)
    doc = parse_html(page)
    tags = [t for t, _ in doc.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags and "img" not in tags
    for tag, attrs in doc.tags:
        for name, value in attrs.items():
            assert name != "src" and not (value or "").startswith(("http:", "https:", "//")), (tag, attrs)
            assert name != "href" or value.startswith("#problem-"), (tag, attrs)  # only links inside the page
            assert not name.startswith("on"), (tag, attrs)
    assert not re.search(r"https?://|url\(|@import", page.split("<body>")[0]), "no external assets in the head/CSS"
    assert "@media print" in page
    assert tags.count("svg") == 3  # the mail flow (side by side, and top to bottom for a phone) and the waterfall
    assert "details" in tags and "Transcript (3 lines)" in page and "Certificate details" in page


def test_html_flow_marks_each_hop_with_its_worst_status():
    page = renderer("html")(sample_report())
    flow = page.split('class="flow"')[1].split("</svg>")[0]
    assert 'hop hop-fail"><title>Recipient MX: FAIL' in flow  # tcp.refused on port 25
    assert 'hop hop-error"><title>Submission server: ERROR' in flow  # error on port 587 outranks the warn
    assert 'hop hop-skip"><title>Mailbox server' in flow  # imap.greeting skipped
    assert 'hop hop-pass"><title>DNS: PASS' in flow


def test_html_waterfall_has_a_row_per_endpoint_and_phase():
    page = renderer("html")(sample_report())
    waterfall = page.split('class="waterfall"')[1].split("</svg>")[0]
    for row in ("DNS lookups", "mx1.example.com [192.0.2.1]:25", "mx2.example.com [192.0.2.2]:25",
                "smtp.example.com [192.0.2.5]:587"):
        assert f">{row}</text>" in waterfall
    assert "smtp.example.com [192.0.2.5]:587: TLS 50 ms" in waterfall  # the session time of a TLS check
    assert "mx2.example.com [192.0.2.2]:25: connect 1 ms" in waterfall


def test_waterfall_uses_recorded_phase_timings():
    from diagnose.engine.model import Status
    from reports.svg import timings
    from tests.reports.sample import finding

    f = finding("auth.login", "auth.ok", "smtp.example.com [192.0.2.5]:587", Status.PASS, duration_s=0.5,
                evidence={"timings": {"connect": 0.01, "greeting": 0.02, "TLS": 0.03, "auth": 0.2, "bogus": 1}})
    assert timings([f]) == {
        "smtp.example.com [192.0.2.5]:587": {"connect": 0.01, "greeting": 0.02, "TLS": 0.03, "auth": 0.2}
    }


def test_waterfall_takes_the_connect_time_of_a_session_without_tcp_connect():
    from diagnose.engine.model import Status
    from reports.svg import timings
    from tests.reports.sample import finding

    # Given greeting and TLS findings of submission and IMAP endpoints (tcp.connect tests MX port 25 only)
    sub, imaps = "smtp.example.com [192.0.2.5]:587", "imap.example.com [192.0.2.9]:993"
    found = [finding("smtp.greeting", "smtp.greeting", sub, Status.PASS, duration_s=0.1,
                     evidence={"connect_ms": 4.0, "greeting_delay_ms": 20.0}),
             finding("tls.handshake", "tls.ok", sub, Status.PASS, duration_s=0.1),
             finding("imap.greeting", "imap.greeting", imaps, Status.PASS, duration_s=0.08,
                     evidence={"connect_ms": 3.0, "greeting_delay_ms": 5.0}),
             finding("tls.handshake", "tls.ok", imaps, Status.PASS, duration_s=0.08)]
    rows = timings(found)
    # Then each row starts with its connect, and the phases add up to the session
    assert list(rows[sub]) == ["connect", "greeting", "TLS"] and rows[sub]["connect"] == 0.004, rows
    assert list(rows[imaps]) == ["connect", "TLS", "greeting"] and rows[imaps]["connect"] == 0.003, rows
    assert abs(sum(rows[sub].values()) - 0.1) < 1e-9 and abs(sum(rows[imaps].values()) - 0.08) < 1e-9, rows


def test_markdown_summary_table_and_problems():
    text = renderer("markdown")(sample_report())
    tokens = markdown_tokens(text)
    tables = [t for t in tokens if t.type == "table_open"]
    assert len(tables) == 2  # header, summary
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 1 + 7 + 1 + 7  # header table rows (incl. its head) + summary head + one per finding
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    assert len(headings) == 3 and headings[0].startswith("1. ❌ FAIL")  # fail first, then error, then warn
    assert "maildoctor explain tcp.refused" in text


def test_nagios_one_status_line_with_perfdata():
    out = renderer("nagios")(sample_report())
    first, *rest = out.splitlines()
    assert first.startswith("MAILDOCTOR CRITICAL - example.com")
    text, perf = first.split(" | ")
    assert "|" not in text
    assert re.fullmatch(r"time=1\.234s;;;0 fail=1;;;0 error=1;;;0 warn=1;;;0 pass=3;;;0 skip=1;;;0", perf), perf
    assert all("|" not in line for line in rest)


def test_nagios_fail_on_fail_lets_warnings_pass():
    report = sample_report()
    report.findings = [f for f in report.findings if f.status.value in ("pass", "warn")]
    assert renderer("nagios")(report).startswith("MAILDOCTOR WARNING")
    report.meta["fail_on"] = "fail"
    assert renderer("nagios")(report).startswith("MAILDOCTOR OK")


def test_json_round_trip_renders_the_same():
    report = sample_report()
    again = Report.from_dict(json.loads(renderer("json")(report)))
    for fmt in ("markdown", "html", "junit", "nagios"):
        assert renderer(fmt)(again) == renderer(fmt)(report), fmt


def test_waterfall_of_a_big_report_is_bounded():
    from diagnose.engine.model import Status
    from reports.svg import waterfall_svg
    from tests.reports.sample import finding

    many = [finding("tcp.connect", "tcp.connected", f"mx{n}.example.com [192.0.2.{n}]:25", Status.PASS, duration_s=0.01)
            for n in range(60)]
    svg = waterfall_svg(many)
    assert svg.count("<rect") == 5 + 40  # legend + one bar per shown row
    assert "Showing the first 40 of 60 rows." in svg


def test_markdown_remedy_commands_are_code_spans_and_values_in_them_cannot_break_out():
    from diagnose.engine.model import Status
    from tests.reports.sample import finding

    failure = finding(  # a remedy with our code spans, one holding a hostile value
        "tcp.connect", "tcp.refused", "mx2.example.com [192.0.2.2]:25", Status.FAIL, "refused",
        explanation="The *server* said `550 ``<b>x</b>`` no`.",
        remedy="Run `certbot certonly -d mx2.example.com`, then publish `v=spf1 a`b [l](http://evil) -all`.")
    report = sample_report()
    report = dataclasses.replace(report, findings=[failure])
    text = renderer("markdown")(report)
    assert "\\`certbot" not in text  # not escaped into backslashes
    fix = next(t for t in markdown_tokens(text) if t.type == "inline" and t.content.startswith("**How to fix:**"))
    codes = [c.content for c in fix.children if c.type == "code_inline"]
    assert codes == ["certbot certonly -d mx2.example.com", "v=spf1 a`b [l](http://evil) -all"], codes
    assert {c.type for c in fix.children} <= {"text", "strong_open", "strong_close", "code_inline"}
    means = next(t for t in markdown_tokens(text) if t.type == "inline" and t.content.startswith("**What it means:**"))
    assert [c.content for c in means.children if c.type == "code_inline"] == ["550 ``<b>x</b>`` no"]
    assert "em_open" not in {c.type for c in means.children}  # the rest is still escaped


def _html_of(findings):
    return renderer("html")(dataclasses.replace(sample_report(), findings=findings))


def test_html_ids_never_wrap_mid_word():
    page = renderer("html")(sample_report())
    # the CSS keeps code.id whole (other td text may break anywhere: hostile long names)
    rule = re.search(r"code\.id \{([^}]*)\}", page)
    assert rule and "overflow-wrap: normal" in rule.group(1) and "white-space: nowrap" in rule.group(1)
    summary = page.split('class="summary"')[1].split("</table>")[0]
    first_cells = re.findall(r"<tr><td>(.*?)</td>", summary)
    assert first_cells and all(c.startswith('<code class="id">') for c in first_cells), first_cells
    assert '<code class="id">tls.certificate</code>' in summary


def test_html_lists_passes_then_skips_apart():
    page = renderer("html")(sample_report())
    assert "Passed and skipped" not in page
    passed, skipped = page.index("<h2>Passed</h2>"), page.index("<h2>Skipped</h2>")
    assert passed < skipped
    skipped_part = page[skipped:].split("</section>")[0]
    passed_part = page[passed:skipped]
    assert 'badge s-skip' in skipped_part and 'badge s-skip' not in passed_part and 'badge s-pass' in passed_part


def test_html_certificate_details_show_the_name_check_beside_trust():
    from diagnose.engine.model import Side, Status
    from tests.reports.sample import finding

    wrong_name = finding("tls.certificate", "tls.cert_name_mismatch", "mx.example.com [192.0.2.1]:25", Status.FAIL,
                         "certificate is for other.example.net, not mx.example.com", side=Side.INCOMING,
                         evidence={"subject": "CN=other.example.net", "issuer": "Example CA",
                                   "san": ["other.example.net"], "hostname": "mx.example.com",
                                   "name_matches": False, "trusted": True, "days_left": 80})
    page = _html_of([wrong_name])
    details = page.split("<summary>Certificate details</summary>")[1].split("</table>")[0]
    rows = dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", details))
    assert rows["name matches"] == "no: not valid for mx.example.com (it is for other.example.net)", rows
    assert rows["chain trusted"].startswith("yes") and "trusted" not in rows, rows


def test_html_not_on_the_picture_lists_each_check_once():
    from diagnose.engine.model import Status
    from tests.reports.sample import finding

    # one check (no hop of its own) with three findings
    three = [finding("autoconfig.settings", code, f"https://autoconfig.example.com/{n}", status, "x")
             for n, (code, status) in enumerate((("autoconfig.found", Status.PASS), ("autoconfig.invalid", Status.FAIL),
                                                 ("autoconfig.plain", Status.WARN)))]
    page = _html_of(three)
    line = page.split("Not on the picture:")[1].split("</p>")[0]
    assert line.count("autoconfig.settings") == 1 and "s-fail" in line and "s-warn" not in line, line


def _bars(svg: str) -> dict[str, float]:
    """phase -> x of its bar in the one row of a waterfall."""
    return {m.group(2): float(m.group(1))
            for m in re.finditer(r'<rect x="([\d.]+)" y="\d+"[^>]*><title>[^<]*: (\w+) \d+ ms</title>', svg)}


def test_waterfall_draws_phases_in_the_order_they_happened():
    from diagnose.engine.model import Status
    from reports.svg import timings, waterfall_svg
    from tests.reports.sample import finding

    ep = "imap.example.com [192.0.2.9]:993"  # implicit TLS: connect, TLS, then the greeting
    pieced = [finding("tcp.connect", "tcp.connected", ep, Status.PASS, duration_s=0.01),
              finding("imap.greeting", "imap.greeting", ep, Status.PASS, duration_s=0.2,
                      evidence={"greeting_delay_ms": 30}),
              finding("tls.handshake", "tls.ok", ep, Status.PASS, duration_s=0.2)]
    assert list(timings(pieced)[ep]) == ["connect", "TLS", "greeting"]
    bars = _bars(waterfall_svg(pieced))
    assert bars["connect"] < bars["TLS"] < bars["greeting"], bars
    # STARTTLS on 143: the greeting comes first
    plain = [dataclasses.replace(f, subject=ep.replace("993", "143")) for f in pieced]
    assert list(timings(plain)[ep.replace("993", "143")]) == ["connect", "greeting", "TLS"]
    # recorded timings (a login on 465) are drawn in the order recorded, each bar starting where the last ended
    login = finding("login.smtp", "login.smtp.ok", "smtp.example.com [192.0.2.5]:465", Status.PASS,
                    evidence={"timings": {"connect": 0.01, "TLS": 0.05, "greeting": 0.02, "auth": 0.1}})
    svg = waterfall_svg([login])
    bars = _bars(svg)
    assert bars["connect"] < bars["TLS"] < bars["greeting"] < bars["auth"], bars
    tls_width = float(re.search(r'width="([\d.]+)" height="12"[^>]*><title>[^<]*: TLS ', svg).group(1))
    assert abs(bars["greeting"] - (bars["TLS"] + tls_width)) < 0.2
