"""`maildoctor serve` in a real browser (headless Chromium) against the lab: submit the form, watch
the findings arrive, open the report, download JSON; 20 diagnoses at once with the CLI's results and
the server under 300 MB; a private target refused; the token asked for; screenshots at desktop and
phone widths (in the browser artifacts directory); an OAuth access token chosen on the form logs in."""

from __future__ import annotations

import base64
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import chrome
from tests.test_oauth_lab import mint
from tests.web.server import Serve, cli_report, lab_args, outcome

pytestmark = [pytest.mark.lab, pytest.mark.browser]
DESKTOP, PHONE = 1280, 390
DOCS = Path(__file__).resolve().parents[2] / "docs"
TOKEN = "browser-test-token-0123456789abcdef"
# recorded in every page before its own scripts: CSP violations, and the findings table as it grows
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
window.__seen = [];
document.addEventListener('DOMContentLoaded', () => {
  const rows = document.getElementById('findings'), result = document.getElementById('result');
  if (!rows) return;
  new MutationObserver(() => window.__seen.push({rows: rows.children.length, done: !result.hidden}))
    .observe(rows, {childList: true});
});
"""


@pytest.fixture(scope="module")
def watched(browser):
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    yield browser
    browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


def wait(driver, what, timeout: float = 90):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: what(d))


def no_csp_violations(driver) -> list:
    return driver.execute_script("return window.__csp || []")


def submit(driver, base: str, target: str) -> str:
    chrome.open_page(driver, base + "/")
    box = driver.find_element(By.ID, "target")
    box.clear()
    box.send_keys(target)
    driver.find_element(By.ID, "start").click()
    wait(driver, lambda d: "/r/" in d.current_url, 30)
    return driver.current_url


def wait_done(driver, timeout: float = 120) -> None:
    wait(driver, lambda d: "done" in (d.find_element(By.ID, "live").get_attribute("class") or ""), timeout)


def test_submit_watch_open_the_report_and_download_json(watched, lab, tmp_path, browser_artifacts):
    driver = watched
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    with Serve(tmp_path, *lab_args(lab, "--allow-private"), nameserver=lab.resolver) as server:
        chrome.open_page(driver, server.url + "/")
        chrome.screenshot(driver, browser_artifacts / "serve-form-desktop.png", width=DESKTOP)
        chrome.screenshot(driver, browser_artifacts / "serve-form-phone.png", width=PHONE)
        chrome.set_width(driver, DESKTOP)
        # Given the form, When a lab domain is submitted
        submit(driver, server.url, lab.domain("healthy"))
        # Then findings arrive one by one before the headline shows, and the run ends with it
        wait_done(driver)
        seen = driver.execute_script("return window.__seen")
        assert any(s["rows"] >= 1 and not s["done"] for s in seen), seen
        assert len({s["rows"] for s in seen}) > 5, seen  # many updates, not one final table
        headline = driver.find_element(By.ID, "headline").text
        assert "healthy." in headline, headline
        # the mail-flow picture is drawn as SVG (not its text), each hop a box of real size
        drawn = driver.execute_script("""const svg = document.querySelector('#flow svg');
            const rect = svg && svg.querySelector('g.hop rect');
            return svg ? [svg.namespaceURI, rect ? rect.getBBox().width : 0, svg.getBoundingClientRect().height] : null""")
        assert drawn and drawn[0] == "http://www.w3.org/2000/svg" and drawn[1] > 100 and drawn[2] > 100, drawn
        assert driver.find_element(By.ID, "state").text == "Done."
        assert no_csp_violations(driver) == []
        chrome.screenshot(driver, browser_artifacts / "serve-live-desktop.png", width=DESKTOP)
        screen = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})  # one screen, for the README
        (browser_artifacts / "serve-live-screen.png").write_bytes(base64.b64decode(screen["data"]))
        if os.environ.get("MAILDOCTOR_UPDATE_DOCS") == "1":  # the README's picture: docs/serve-live.png
            (DOCS / "serve-live.png").write_bytes(base64.b64decode(screen["data"]))
        chrome.screenshot(driver, browser_artifacts / "serve-live-phone.png", width=PHONE)
        chrome.set_width(driver, DESKTOP)
        # the phone layout does not scroll sideways
        chrome.set_width(driver, PHONE)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE
        screen = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        (browser_artifacts / "serve-live-phone-screen.png").write_bytes(base64.b64decode(screen["data"]))
        chrome.set_width(driver, DESKTOP)
        # When the report is opened
        driver.find_element(By.ID, "open-report").click()
        wait(driver, lambda d: d.find_elements(By.ID, "permalink"), 30)
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("maildoctor report: healthy.")
        # the report's own style is allowed by its hash: it is laid out, and nothing was blocked
        assert no_csp_violations(driver) == []
        assert driver.execute_script(
            "return getComputedStyle(document.querySelector('.badge')).borderRadius") == "4px"
        chrome.screenshot(driver, browser_artifacts / "serve-report-desktop.png", width=DESKTOP)
        chrome.screenshot(driver, browser_artifacts / "serve-report-phone.png", width=PHONE)
        chrome.set_width(driver, DESKTOP)
        # And JSON is downloaded
        driver.find_element(By.LINK_TEXT, "JSON").click()
        got = wait(driver, lambda d: [p for p in downloads.glob("*.json")], 30)
        report = json.loads(got[0].read_text())
        assert report["target"]["domain"] == lab.domain("healthy") and report["schema_version"] == 2
        assert got[0].name.startswith("maildoctor-healthy.")


def test_twenty_diagnoses_at_once_match_the_cli_and_stay_under_300_mb(watched, lab, tmp_path):
    driver = watched
    names = ["healthy", "mixed", "nodmarc", "dmarcnone", "spftwo", "dkimweak", "refused", "nullmx",
             "certexpired", "nostarttls"]
    domains = [lab.domain(n) for n in names] * 2  # 20 runs, each domain twice
    with Serve(tmp_path, *lab_args(lab, "--allow-private", "--max-runs", "20", "--rate", "100"),
               nameserver=lab.resolver) as server:
        baseline = server.rss_peak_kb()

        at_once: list[int] = []

        def one(domain: str) -> dict:
            c = server.client()
            run = c.start(domain)
            events = c.events(run, timeout=180)
            kinds = [k for k, _ in events]
            assert kinds[-2:] == ["done", "end"], (domain, kinds)
            at_once.append(dict(events)["queued"]["running"])  # runs in the server when this one started
            return json.loads(c.get(f"{run}/download/json").body)

        # the browser starts one of the 20 through the form and watches it live, while 19 come over HTTP
        with ThreadPoolExecutor(max_workers=19) as pool:
            futures = [pool.submit(one, d) for d in domains[1:]]
            submit(driver, server.url, domains[0])
            wait_done(driver, 180)
            browser_run = driver.current_url.split("/r/")[1]
            web = [json.loads(server.client().get(f"/r/{browser_run}/download/json").body)]
            web += [f.result(timeout=240) for f in futures]
        peak_mb = server.rss_peak_kb() / 1024
        log = server.log
    assert log.count("finished:") == 20, log
    assert max(at_once) >= 10, at_once  # they did overlap
    expected = {d: outcome(cli_report(lab, d)) for d in set(domains)}
    for report in web:
        domain = report["target"]["domain"]
        assert outcome(report) == expected[domain], domain
    print(f"20 runs at once: server peak RSS {peak_mb:.0f} MB (at start {baseline / 1024:.0f} MB)")
    assert peak_mb < 300, f"server peak RSS {peak_mb:.0f} MB (at start {baseline / 1024:.0f} MB)"


def test_a_private_target_is_refused(watched, lab, tmp_path, browser_artifacts):
    driver = watched
    with Serve(tmp_path, *lab_args(lab), nameserver=lab.resolver) as server:  # no --allow-private
        # a name of a private network is refused on the form
        submit_url = server.url
        chrome.open_page(driver, submit_url + "/")
        driver.find_element(By.ID, "target").send_keys("printer.local")
        driver.find_element(By.ID, "start").click()
        error = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"), 30)[0].text
        assert "public mail domains only" in error, error
        # a public-looking name whose addresses are loopback is refused at connect time
        submit(driver, server.url, lab.domain("healthy"))
        wait_done(driver)
        refused = driver.find_element(By.ID, "refused")
        assert refused.is_displayed()
        assert f"{lab.host('mx1')} (a loopback address)" in refused.text, refused.text
        chrome.screenshot(driver, browser_artifacts / "serve-refused-desktop.png", width=DESKTOP)
        chrome.set_width(driver, DESKTOP)


def test_the_token_is_asked_for(watched, tmp_path, browser_artifacts):
    driver = watched
    with Serve(tmp_path, "--token-env", "MD_BROWSER_TOKEN", host="127.0.0.3",
               env={"MD_BROWSER_TOKEN": TOKEN}) as server:
        # Given a server with a token, When the browser opens it, Then it lands on the login form
        chrome.open_page(driver, server.url + "/")
        assert driver.current_url.endswith("/login")
        driver.find_element(By.NAME, "token").send_keys("wrong-token-wrong-token")
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        error = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"), 30)[0].text
        assert "not the access token" in error
        chrome.screenshot(driver, browser_artifacts / "serve-login-phone.png", width=PHONE)
        chrome.set_width(driver, DESKTOP)
        driver.find_element(By.NAME, "token").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        wait(driver, lambda d: d.find_elements(By.ID, "target"), 30)
        assert TOKEN not in driver.current_url and TOKEN not in driver.page_source
        assert no_csp_violations(driver) == []



def test_an_oauth_access_token_chosen_on_the_form_logs_in(watched, lab, tmp_path, browser_artifacts):
    driver = watched
    user = lab.account("modern")  # the lab's OAuth-only mailbox: no password would do
    token = mint(lab)["access_token"]
    with Serve(tmp_path, *lab_args(lab, "--allow-private"), nameserver=lab.resolver) as server:
        # Given the form, When the login is opened, the token typed and "an OAuth 2.0 access token" chosen
        chrome.open_page(driver, server.url + "/")
        driver.find_element(By.ID, "target").send_keys(user)
        driver.find_element(By.XPATH, "//summary[contains(., 'Log in')]").click()
        driver.find_element(By.NAME, "user").send_keys(user)
        driver.find_element(By.ID, "secret").send_keys(token)
        driver.find_element(By.ID, "kind-oauth2").click()
        driver.find_element(By.XPATH, "//summary[contains(., 'Which checks')]").click()
        for family in ("login", "servers"):
            driver.find_element(By.CSS_SELECTOR, f"input[name=check][value={family}]").click()
        assert driver.find_element(By.ID, "kind-oauth2").is_selected()
        chrome.screenshot(driver, browser_artifacts / "serve-form-oauth-phone.png", width=PHONE)
        chrome.set_width(driver, DESKTOP)
        driver.find_element(By.ID, "start").click()
        wait(driver, lambda d: "/r/" in d.current_url, 30)
        wait_done(driver)
        # Then the login rows show up passed, and the token is in neither the link nor the page
        table = driver.find_element(By.ID, "findings").text
        assert "login.smtp" in table and "login.imap" in table, table
        assert token not in driver.current_url and token not in driver.page_source
        assert no_csp_violations(driver) == []
        run = driver.current_url.split("/r/")[1]
        report = json.loads(server.client().get(f"/r/{run}/download/json").body)
    found = {f["check"]: f["status"] for f in report["findings"] if f["check"].startswith("login.")}
    assert found.get("login.smtp") == "pass" and found.get("login.imap") == "pass", found
