"""How fast the explorer answers a weight move: `python -m benchmarks.explorer [--moves N] [--browser]`.

Quota mode on the shipped 31 states (inputs/eu_plus_2023.csv, 30,000 persons, the Pact key, the
default `lp` method), the population slider moved back and forth between 30% and 70%:

- over HTTP: the explorer served by uvicorn on 127.0.0.1, each move one POST /explore as htmx sends
  it, timed from the request to the last byte of the answer (key, quotas, metrics, chart and both
  maps); the server's own computing time (the page's `data-seconds`) beside it;
- with --browser (Debian's chromium through chromium-driver): the slider clicked with the mouse in
  headless chromium; the page itself times the move from the input event to the new results
  settled in place (htmx's 60 ms input delay, the request, the swap and the layout included), and
  the time until WebDriver sees the new status line is reported beside it.

It prints the median, 90th percentile and maximum in seconds; --json FILE keeps every time.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "inputs"
FORM = {"data": "shipped:eu_plus_2023.csv", "cases": "none", "preset": "pact-2024", "method": "lp", "total": "30000", "exclude": ""}


def _weights(k: int) -> tuple[float, float]:
    population = 30.0 + (k * 7.3) % 40.0  # 30-70%, a new value each move
    return population, 50.0


def over_http(address: str, moves: int) -> tuple[list[float], list[float]]:
    """(round-trip seconds, server computing seconds) per move."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(address + "/").read()  # a session, and everything imported and drawn once
    total, server = [], []
    for k in range(moves):
        population, gdp = _weights(k)
        form = {**FORM, "sliders_for": f"pact-2024|{FORM['data']}", "w:population": f"{population:.1f}", "w:gdp_meur": f"{gdp:.1f}"}
        body = urllib.parse.urlencode(form).encode()
        started = time.perf_counter()
        page = opener.open(urllib.request.Request(address + "/explore", data=body, headers={"HX-Request": "true"})).read().decode()
        total.append(time.perf_counter() - started)
        found = re.search(r'data-seconds="([\d.]+)"', page)
        if not found:
            raise SystemExit(f"move {k}: no result in the answer: {page[:300]}")
        server.append(float(found.group(1)))
    return total, server


def in_browser(address: str, moves: int) -> tuple[list[float], list[float]]:
    """(seconds the page measured from the input event to the new results settled, seconds the
    test saw from its click to the new status line, which adds WebDriver's own round trips)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import MISSING, chromium, move_slider, wait_for_new_status
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if MISSING:
        raise SystemExit(MISSING)
    page, seen = [], []
    with chromium() as driver:
        driver.get(address + "/")
        for k in range(moves):
            status = driver.find_element(By.ID, "status").text
            driver.execute_script("delete document.body.dataset.pageSeconds")
            started = time.perf_counter()
            move_slider(driver, "population", 0.3 + 0.4 * ((k * 0.37) % 1.0))
            wait_for_new_status(driver, status)
            seen.append(time.perf_counter() - started)
            page.append(float(WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.pageSeconds"))))
    return page, seen


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(values):.3f} s, p90 {p90:.3f} s, max {max(values):.3f} s ({len(values)} moves)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40, help="weight moves over HTTP (default 40)")
    parser.add_argument("--browser", action="store_true", help="also move the slider in headless chromium (10 moves)")
    parser.add_argument("--json", type=Path, help="write every time here")
    args = parser.parse_args()
    from optimizer.web import background

    with background(INPUTS) as address:
        total, server = over_http(address, args.moves)
        results = {"http_round_trip_s": total, "server_compute_s": server}
        print(f"over HTTP, request to last byte: {_summary(total)}")
        print(f"server computing (data-seconds):  {_summary(server)}")
        if args.browser:
            page, seen = in_browser(address, 10)
            results["browser_input_to_settled_s"] = page
            results["webdriver_click_to_status_s"] = seen
            print(f"browser, input event to results settled (measured by the page): {_summary(page)}")
            print(f"browser, WebDriver click to new status seen (adds its round trips): {_summary(seen)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
