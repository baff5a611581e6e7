"""The explorer in a real browser: Debian's headless chromium loads the page, a weight is moved with
the mouse, and the quota table and the map must show what the Python API computes for the slider's
new position. One browser session for the module (the machine's two cores are shared)."""

from __future__ import annotations

import time

import pytest

from browser import MISSING, chromium, current_status, move_slider, wait_for_new_status
from conftest import INPUTS

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402 (only with a browser)
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from optimizer.keys import PRESETS  # noqa: E402
from optimizer.metrics import result_metrics  # noqa: E402
from optimizer.pipeline import run  # noqa: E402
from optimizer.report.maps import panels  # noqa: E402
from optimizer.settings import ScenarioSettings  # noqa: E402
from optimizer.web import background  # noqa: E402
from optimizer.web.svg import hex_colour  # noqa: E402


@pytest.fixture(scope="module")
def page():
    with background(INPUTS) as address, chromium() as driver:
        driver.get(address + "/")
        yield driver


def cell(driver, table: str, code: str, column: int) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'#{table} tr[data-code="{code}"] td:nth-child({column})').text


def fill(driver, column: str, code: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'svg.map[data-column="{column}"] path[data-code="{code}"]').get_attribute("fill")


def test_moving_a_weight_updates_the_table_and_the_map(page):
    status = current_status(page)
    assert status.startswith("pact-2024: Population 50.0%, GDP 50.0%")
    before = {code: (cell(page, "quotas", code, 5), fill(page, "per_1000", code)) for code in ("DE", "PL", "IE")}
    started = time.perf_counter()
    move_slider(page, "population", 0.9)
    status = wait_for_new_status(page, status)
    seconds = time.perf_counter() - started
    population = float(page.find_element(By.CSS_SELECTOR, 'input[name="w:population"]').get_attribute("value"))
    assert 80 < population < 100, population
    assert f"Population {100 * population / (population + 50):.1f}%" in status
    # What the Python API gives for the slider's position, exactly.
    formula = PRESETS["pact-2024"].with_weights({"population": population, "gdp_meur": 50.0})
    result = run(ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=30000, formula=formula.model_dump()))
    metrics = result_metrics(result)
    per_1000 = panels([metrics])[0]
    for code in ("DE", "PL", "IE"):
        persons = int(result.plan.states.at[code, "allocated"])
        assert cell(page, "quotas", code, 5) == f"{persons:,}"
        assert fill(page, "per_1000", code) == hex_colour(per_1000.colour(metrics.states.at[code, "per_1000"]))
    after = {code: (cell(page, "quotas", code, 5), fill(page, "per_1000", code)) for code in ("DE", "PL", "IE")}
    assert after["PL"] != before["PL"] and after["IE"] != before["IE"]  # table and map both moved
    print(f"weight move -> page updated in {seconds:.2f} s (browser, server and rendering)")


def test_a_new_preset_resets_the_sliders_in_the_page(page):
    # The sliders come back out of band with the results (htmx's hx-swap-oob): only a browser shows
    # that they really replace the old ones.
    status = current_status(page)
    exclude = page.find_element(By.NAME, "exclude")
    exclude.send_keys("LI")  # eu-2015 inverts unemployment, which Liechtenstein lacks
    status = wait_for_new_status(page, status)
    Select(page.find_element(By.NAME, "preset")).select_by_value("eu-2015")
    status = wait_for_new_status(page, status)
    assert status.startswith("eu-2015: Population 40.0%, GDP 40.0%, Asylum applications per million 10.0%, Unemployment rate 10.0%")
    values = {s.get_attribute("name"): float(s.get_attribute("value")) for s in page.find_elements(By.CSS_SELECTOR, "#sliders input[type=range]")}
    assert values == {"w:population": 40, "w:gdp_meur": 40, "w:asylum_per_million": 10, "w:unemployment_pct": 10, "w:area_km2": 0}
    assert len(page.find_elements(By.CSS_SELECTOR, "#quotas tbody tr")) == 30
    Select(page.find_element(By.NAME, "preset")).select_by_value("pact-2024")
    status = wait_for_new_status(page, status)
    exclude.clear()
    exclude.send_keys(" ")  # an input event: the page recomputes without the exclusion
    wait_for_new_status(page, status)


def test_a_family_plan_solves_from_the_page(page):
    status = current_status(page)
    Select(page.find_element(By.NAME, "data")).select_by_value("shipped:example_states_2023.csv")
    status = wait_for_new_status(page, status)
    Select(page.find_element(By.NAME, "cases")).select_by_value("shipped:example_cases_2023.csv")
    WebDriverWait(page, 60).until(lambda d: "2,000 family cases (5,765 persons)" in d.find_element(By.ID, "results").text)
    page.find_element(By.ID, "solve").click()
    WebDriverWait(page, 180, poll_frequency=0.2).until(lambda d: "5,765 of 5,765" in d.find_element(By.ID, "results").text)
    cards = {c.find_element(By.TAG_NAME, "span").text: c.find_element(By.TAG_NAME, "b").text for c in page.find_elements(By.CSS_SELECTOR, ".card")}
    assert cards["status"] == "optimal" and cards["persons placed"] == "5,765 of 5,765"
    assert len(page.find_elements(By.CSS_SELECTOR, "#quotas tbody tr")) == 31
    shot = page.get_screenshot_as_png()
    assert len(shot) > 50_000  # a drawn page, not a blank one
