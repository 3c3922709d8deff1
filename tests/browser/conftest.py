"""Browser tests: pages laid out by a real headless Chromium (tests/browser/chrome.py).

`browser` is a session-wide headless Chromium (Selenium WebDriver) with a fresh profile in a temp
dir; `chrome.set_width` / `chrome.screenshot(driver, path, width=...)` / `chrome.print_pdf` size,
photograph and print the page it has loaded (`chrome.open_page`: loopback and file:// only).
`browser_artifacts` is the directory the screenshots and PDFs go to (MAILDOCTOR_BROWSER_ARTIFACTS,
or a pytest temp dir); the session's last lines say where it is. A test that takes `browser` is
marked `browser` (`-m "not browser"` leaves them out). Chromium not installed is a failure with the
set-up to run, never a skip, as for the lab.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.browser import chrome

_artifacts: list[Path] = []


@pytest.fixture(scope="session")
def browser():
    gone = chrome.missing()
    if gone:
        pytest.fail(f"headless Chromium is not installed (missing {', '.join(gone)}): {chrome.INSTALL_HINT}",
                    pytrace=False)
    home = Path(tempfile.mkdtemp(prefix="mdchrome-"))
    profile = home / "profile"
    profile.mkdir()
    try:
        driver = chrome.start(profile)
    except Exception as e:  # WebDriverException and friends: say what failed, with the driver's log
        log = home / "chromedriver.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"headless Chromium failed to start: {e}\n{tail}", pytrace=False)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_artifacts(tmp_path_factory) -> Path:
    """Where screenshots and PDFs are saved: MAILDOCTOR_BROWSER_ARTIFACTS if set, else a temp dir."""
    wanted = os.environ.get("MAILDOCTOR_BROWSER_ARTIFACTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    _artifacts.append(path)
    return path


def pytest_terminal_summary(terminalreporter):
    for path in _artifacts:
        terminalreporter.write_line(f"browser tests: screenshots and PDFs in {path}")
