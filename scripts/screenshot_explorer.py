#!/usr/bin/env python3
"""Screenshot of the explorer for the README: docs/explorer.png.

    .venv/bin/python scripts/screenshot_explorer.py [OUT.png]

Serves the explorer on a free loopback port (`optimizer.web.background`), opens it in Debian's
headless chromium (through chromium-driver, as tests/test_browser.py does), moves the population
weight to about 70% with the mouse, waits for the page to recompute and saves the window. Needs
`apt-get install -y chromium chromium-driver`; exits 3 when they are missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import MISSING, chromium, move_slider, wait_for_new_status  # noqa: E402

from optimizer.web import background  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "explorer.png"
    if MISSING:
        print(f"screenshot_explorer: {MISSING}", file=sys.stderr)
        return 3
    from selenium.webdriver.common.by import By

    with background(ROOT / "inputs") as address, chromium(1280, 1180) as driver:
        driver.get(address + "/")
        status = driver.find_element(By.ID, "status").text
        move_slider(driver, "population", 0.7)
        wait_for_new_status(driver, status)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
