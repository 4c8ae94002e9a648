"""Headless Chromium (Debian's chromium + chromium-driver) for the web pages' tests, cut off from any network
but 127.0.0.1, and helpers to wait, read the network log and save screenshots at desktop and phone widths."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from ferbench.services.readiness import wait_until

DESKTOP = (1280, 900)
PHONE = (390, 844)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = None if CHROMIUM and CHROMEDRIVER else (
    "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver; .ci/run installs them)")
T = TypeVar("T")


def start_chromium() -> webdriver.Chrome:
    assert CHROMIUM and CHROMEDRIVER, MISSING
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--metrics-recording-only",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--hide-scrollbars",
                # No name resolves but the loopback address: the pages and /docs must need nothing from outside.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def wait_for(condition: Callable[[], T], *, timeout_s: float = 15.0, what: str = "the page") -> T:
    """Polls `condition` until it returns something truthy; exceptions count as 'not yet'."""
    return wait_until(condition, timeout_s=timeout_s, what=what, error=AssertionError, interval_s=0.1)


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser sent a request for since the last call (Chrome's performance log); requests
    that the page's Content-Security-Policy blocked never left the browser and are not counted."""
    sent: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message.get("method") == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for request, url in sent.items() if request not in blocked]


def console_errors(driver: webdriver.Chrome, *, answered: tuple[int, ...] = ()) -> list[str]:
    """The console's errors, less Chrome's line for each API answer with an `answered` status (a 422 the page shows)."""
    expected = tuple(f"status of {code} " for code in answered)
    return [e["message"] for e in driver.get_log("browser")
            if e.get("level") == "SEVERE" and not any(s in e["message"] for s in expected)]


def fits_width(driver: webdriver.Chrome) -> bool:
    """True when the page itself does not scroll sideways (wide tables scroll inside their own box)."""
    return bool(driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"))


def screenshot(driver: webdriver.Chrome, folder: Path, name: str) -> list[Path]:
    """The whole page at desktop and at phone width: `name-1280.png` and `name-phone.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for label, (width, height) in (("1280", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(width, height)
        time.sleep(0.3)  # let the layout settle at the new width
        # The window's own frame takes part of its height: add it, so that the viewport holds the whole page.
        full, frame = driver.execute_script("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
        driver.set_window_size(width, min(max(int(full) + int(frame), height), 4000))
        time.sleep(0.2)
        path = folder / f"{name}-{label}.png"
        driver.save_screenshot(str(path))
        saved.append(path)
    driver.set_window_size(*DESKTOP)
    return saved

