"""A real browser for the explorer: Debian's chromium, headless, driven by selenium through Debian's
chromium-driver, and the explorer served by uvicorn on a free loopback port in this process.

The explorer itself runs in a thread of the test (`optimizer.web.background`). Used by
tests/test_browser.py and scripts/screenshot_explorer.py. Selenium is given both binaries'
paths, so its manager never looks for (or downloads) a browser of its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = (
    None
    if CHROMIUM and CHROMEDRIVER
    else "chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver); the browser tests need them"
)
# The flags that work on this kind of machine (no sandbox as root, no network but loopback).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


@contextmanager
def chromium(width: int = 1400, height: int = 1300) -> Iterator[object]:
    """A selenium Chrome driver on Debian's chromium with a fresh profile, quit at the end."""
    os.environ.setdefault("SE_AVOID_STATS", "true")  # selenium sends nothing anywhere
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="relocate-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def move_slider(driver, name: str, fraction: float) -> None:
    """Click the slider `w:<name>` at `fraction` of its track, as a person would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    slider = driver.find_element(By.CSS_SELECTOR, f'input[name="w:{name}"]')
    width = slider.size["width"]
    ActionChains(driver).move_to_element_with_offset(slider, int((fraction - 0.5) * width), 0).click().perform()


def wait_for_new_status(driver, before: str, timeout: float = 60) -> str:
    """The results' status line once it differs from `before` (the page recomputed)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def changed(d):
        try:
            text = d.find_element(By.CSS_SELECTOR, "#status, #error").text
        except Exception:  # the results are being swapped in
            return False
        return text if text and text != before else False

    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(changed)


def current_status(driver, timeout: float = 60) -> str:
    """The results' status line as soon as it can be read (right after the page loads its script
    may be swapping the results in, and an element found then can be gone when read)."""
    return wait_for_new_status(driver, "", timeout)
