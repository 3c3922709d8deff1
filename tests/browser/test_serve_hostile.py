"""`maildoctor serve` in a real browser against a hostile server (tests/hostile's kit): terminal
escapes and HTML in its banners reach the live page and the report as text, never as markup."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import chrome
from tests.hostile.conftest import DNS_INDEX, Kit, addr, case_records, domain
from tests.web.server import Serve

pytestmark = pytest.mark.browser
CASE, INDEX = "webescapes", 40  # 127.A.200.40, apart from the hostile suite's own cases
# recorded in every page before its own scripts: a dialog opened, an element the server's words injected
WATCH = """
window.__alerts = 0; window.alert = () => { window.__alerts += 1; };
"""


@pytest.fixture(scope="module")
def hostile():
    kit = Kit({"dns": {"address": addr(DNS_INDEX), "records": case_records(CASE, INDEX, services=("smtp", "imap"))},
               "servers": [{"address": addr(INDEX), "ports": [25, 587, 143], "behaviour": "hostile_text", "args": {}}]})
    yield kit
    kit.stop()


def test_hostile_words_are_text_on_the_live_page_and_in_the_report(browser, hostile, tmp_path, browser_artifacts):
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    try:
        with Serve(tmp_path, "--allow-private", "--timeout", "1", nameserver=addr(DNS_INDEX)) as server:
            chrome.open_page(browser, server.url + "/")
            browser.find_element(By.ID, "target").send_keys(domain(CASE))
            browser.find_element(By.ID, "start").click()
            WebDriverWait(browser, 60, 0.1).until(
                lambda d: "done" in (d.find_element(By.ID, "live").get_attribute("class") or ""))
            for page in ("live", "report"):
                if page == "report":
                    browser.find_element(By.ID, "open-report").click()
                    WebDriverWait(browser, 30, 0.1).until(lambda d: d.find_elements(By.ID, "permalink"))
                text = browser.execute_script("return document.body.textContent")
                # the words arrived (the page is about them) as text, with the escapes gone
                assert "REDlink" in text or "RED" in text, (page, text[:2000])
                if page == "report":  # the transcripts carry the banner whole
                    assert "<script>alert('x')</script> <b>bold</b>" in text, text[:3000]
                assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text, page
                # no element came from them: only our own script, no <b>, no javascript: link; no dialog
                scripts = browser.execute_script("return [...document.scripts].map(s => s.src)")
                assert all(src.endswith("/static/live.js") for src in scripts), (page, scripts)
                assert browser.find_elements(By.TAG_NAME, "b") == [], page
                assert not browser.execute_script(
                    "return [...document.querySelectorAll('a[href]')].some(a => a.href.startsWith('javascript:'))")
                assert browser.execute_script("return window.__alerts") == 0, page
                chrome.screenshot(browser, browser_artifacts / f"serve-hostile-{page}.png", width=1280)
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
