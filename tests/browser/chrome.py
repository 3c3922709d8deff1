"""Headless Chromium for the browser tests: start it offline, size it, screenshot a page, print it to PDF.

Debian's `chromium` and `chromium-driver` (tests/lab/install.sh) driven by Selenium 4 through an
explicit `Service(CHROMEDRIVER)`, so Selenium Manager never looks for (or downloads) a driver.

Chromium may load pages from loopback and file:// only: every other request goes to a proxy
address where nothing listens (127.0.0.1:9, the discard port) and fails there, while loopback
bypasses the proxy; the host resolver answers "not found" for every name but localhost, so not even
a DNS query leaves the machine. `open_page` refuses any other URL before Chromium sees it.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = "run `sudo tests/lab/install.sh` (Debian's chromium + chromium-driver), then `bash scripts/setup.sh`"

# a proxy where nothing listens: anything not on loopback fails at once, nothing leaves the machine
DEAD_PROXY = "127.0.0.1:9"
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in CI: Chromium refuses to run sandboxed as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-pings",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--hide-scrollbars",  # screenshots without a scrollbar eating width
    f"--proxy-server=http://{DEAD_PROXY}",
    # loopback goes direct (Chromium's implicit bypass, said explicitly here)
    "--proxy-bypass-list=localhost;127.0.0.0/8;[::1]",
    # names (and IP literals: the rules see them too) other than loopback resolve to nothing
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE [::1]",
)


def missing() -> list[str]:
    """The browser's programs (and the Python binding) that are not installed."""
    gone = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        gone.append("selenium (pip install -e '.[test]')")
    return gone


def start(user_data_dir: Path, *, width: int = 1280, height: int = 900):
    """A headless Chromium (Selenium WebDriver) with a fresh profile in `user_data_dir`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager, were it ever asked: no downloads
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--window-size={width},{height}")
    service = Service(CHROMEDRIVER, log_output=str(user_data_dir.parent / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    set_width(driver, width, height)
    return driver


def is_local_url(url: str) -> bool:
    """file://, about:blank, data: or http(s) to a loopback address or localhost."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data") or url == "about:blank":
        return True
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def open_page(driver, url: str | Path) -> None:
    """Load a loopback or file:// page (a Path is a file); anything else is refused here."""
    if isinstance(url, Path):
        url = url.resolve().as_uri()
    if not is_local_url(url):
        raise ValueError(f"browser tests load only loopback and file:// pages, not {url!r}")
    driver.get(url)


def set_width(driver, width: int, height: int = 900) -> None:
    """Lay the page out for a viewport `width` CSS pixels wide (below 600: as a phone, touch and all)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
    })


def page_height(driver) -> int:
    return int(driver.execute_script(
        "return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0))"))


def screenshot(driver, path: Path, *, width: int, max_height: int = 20000) -> Path:
    """Lay the loaded page out `width` px wide and save all of it (up to `max_height` px) as PNG at `path`."""
    set_width(driver, width)
    height = min(page_height(driver), max_height)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    })
    path.write_bytes(base64.b64decode(shot["data"]))
    set_width(driver, width)
    return path


def print_pdf(driver, path: Path, **options) -> Path:
    """Print the loaded page to PDF (DevTools Page.printToPDF; A4 portrait unless `options` say otherwise)."""
    params = {
        "printBackground": True,  # what the print CSS asks for is what gets printed
        "preferCSSPageSize": True,
        "paperWidth": 8.27, "paperHeight": 11.69,  # A4, inches
        "marginTop": 0.4, "marginBottom": 0.4, "marginLeft": 0.4, "marginRight": 0.4,
    }
    params.update(options)
    pdf = driver.execute_cdp_cmd("Page.printToPDF", params)
    path.write_bytes(base64.b64decode(pdf["data"]))
    return path


def poppler(tool: str) -> str:
    """Path of a poppler-utils program (pdfinfo, pdftoppm, pdftotext); missing is an error, not a skip."""
    found = shutil.which(tool)
    if not found:
        raise RuntimeError(f"{tool} is not installed: {INSTALL_HINT} (poppler-utils)")
    return found
