"""The browser harness itself: Chromium lays pages out, screenshots and prints them, and stays on loopback."""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException

from tests.browser import chrome

PAGE = ("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'><title>t</title>"
        "<body style='margin:0'><div id=box style='width:100%;height:50px'>hello</div>")


@pytest.fixture
def page(tmp_path) -> Path:
    p = tmp_path / "page.html"
    p.write_text(PAGE, encoding="utf-8")
    return p


@pytest.fixture
def loopback_server(tmp_path):
    """A static HTTP server on 127.0.0.1 (a free port) serving PAGE as /index.html."""
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_width_sets_the_layout_viewport(browser, page):
    # Given a page whose box is as wide as the viewport
    chrome.open_page(browser, page)
    for width in (1280, 390):
        # When the browser is set to that width
        chrome.set_width(browser, width)
        # Then the page is laid out that wide
        got = browser.execute_script("return document.getElementById('box').getBoundingClientRect().width")
        assert got == width, (width, got)


def test_loopback_http_loads(browser, loopback_server):
    chrome.open_page(browser, loopback_server)
    assert browser.execute_script("return document.getElementById('box').textContent") == "hello"


def test_outside_addresses_are_refused_before_the_browser(browser):
    for url in ("http://192.0.2.1/", "https://example.com/", "ftp://127.0.0.1/"):
        with pytest.raises(ValueError, match="only loopback"):
            chrome.open_page(browser, url)


def test_outside_requests_never_leave(browser, page):
    # Given a page that the test steers past open_page's guard (as a page's own link or script would)
    chrome.open_page(browser, page)
    # When it asks for an outside name and an outside address (TEST-NET-1: never routed)
    for url in ("http://example.com/", "http://192.0.2.1/"):
        try:
            browser.get(url)
        except WebDriverException as e:  # the driver reports the network error of the load
            assert re.search(r"net::ERR_(PROXY_CONNECTION_FAILED|NAME_NOT_RESOLVED)", str(e)), (url, str(e)[:300])
            continue
        # (or Chromium shows its own error page)
        text = browser.execute_script("return document.body ? document.body.innerText : ''")
        assert "ERR_" in text or browser.current_url.startswith("chrome-error:"), (url, text[:300])


def test_screenshot_and_pdf(browser, page, browser_artifacts):
    chrome.open_page(browser, page)
    png = chrome.screenshot(browser, browser_artifacts / "harness-390.png", width=390)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # PNG IHDR: width at bytes 16..20
    assert int.from_bytes(png.read_bytes()[16:20], "big") == 390
    pdf = chrome.print_pdf(browser, browser_artifacts / "harness.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run([chrome.poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
