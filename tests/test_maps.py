"""Maps of Europe in the reports, and the charts people expect (capacity marked, variants as dots).

Everything runs on the shipped data: the map file must know every state of inputs/*.csv, the HTML
report's map must show every participant of the shipped scenarios, and states the map cannot draw
(the German Laender) are listed beside it, never dropped.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import InputError
from optimizer.io.states import load_states
from optimizer.metrics import result_metrics
from optimizer.pipeline import run
from optimizer.report import charts, maps, write_reports
from optimizer.report.geometry import europe, match
from optimizer.schema import ScenarioSettings
from conftest import INPUTS, ROOT, scenario_settings

RUN = {"created": "2024-06-01T12:00:00+00:00", "seconds": {}, "stage_seconds": {}}
MAP_FILE = ROOT / "optimizer" / "report" / "data" / "europe.json"
COUNTRY_FILES = sorted(p for p in INPUTS.glob("*.csv") if p.name not in ("de_laender_koenigstein.csv", "example_cases_2023.csv"))


@pytest.fixture(scope="module")
def german_1994():
    settings, base_dir = scenario_settings("german-1994-eu2023.toml")
    return run(settings, base_dir, name="german-1994")


def test_map_file_is_small_sourced_and_has_every_shipped_state():
    data = json.loads(MAP_FILE.read_text(encoding="utf-8"))
    assert MAP_FILE.stat().st_size < 300_000
    assert "Natural Earth" in data["source"] and "public domain" in data["licence"]
    assert data["derived_by"] == "scripts/derive_europe_map.py" and (ROOT / data["derived_by"]).exists()
    assert len(COUNTRY_FILES) == 5
    for path in COUNTRY_FILES:
        states = load_states(path)
        found, missing = match(states)
        assert missing == [], f"{path.name}: {missing}"
        assert sorted(found) == sorted(states.index)


def test_states_without_a_shape_are_explained():
    found, missing = match(load_states(INPUTS / "de_laender_koenigstein.csv"))
    assert found == {}
    assert [m.code for m in missing] == "BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH".split()
    reasons = {m.code: m.reason for m in missing}
    # Same code, another place: Berlin is not Belgium, Bayern is not Belarus.
    assert reasons["BE"] == "BE is Belgium on the map, not Berlin"
    assert reasons["BY"] == "BY is Belarus on the map, not Bayern"
    assert reasons["BW"] == "no shape on the map of Europe"


def test_names_and_codes_a_file_may_use():
    states = pd.DataFrame({"name": ["Česká republika", "Hellas", "United Kingdom", "", "DE"]}, index=["CZ", "EL", "UK", "FR", "DE"])
    found, missing = match(states)
    assert missing == []
    assert {c: s.code for c, s in found.items()} == {"CZ": "CZ", "EL": "GR", "UK": "GB", "FR": "FR", "DE": "DE"}


def test_geometry_is_in_the_frame_and_small_states_are_marked():
    geo = europe()
    xmin, ymin, xmax, ymax = geo.frame
    for shape in geo.shapes:
        for ring in shape.rings:
            assert ring[:, 0].min() >= xmin - 0.1 and ring[:, 0].max() <= xmax + 0.1
            assert ring[:, 1].min() >= ymin - 0.1 and ring[:, 1].max() <= ymax + 0.1
    small = sorted(s.code for s in geo.shapes if s.small and s.code in ("MT", "LU", "LI", "CY", "DE", "BE"))
    assert small == ["CY", "LI", "LU", "MT"]
    # Equal-area projection: Germany as drawn is within 1% of its 357,600 km2 (Natural Earth 1:50m).
    assert abs(geo.by_code["DE"].area_km2 / 357_600 - 1) < 0.01


def _map_chart(result):
    return maps.build([(result.name, result_metrics(result), result.states)])[0]


def test_map_colours_follow_the_values(german_1994):
    metrics = result_metrics(german_1994)
    chart = maps.build([("g", metrics, german_1994.states)])[0]
    per_1000, ratio = maps.panels([metrics])
    order = [s.code for s in europe().shapes]
    for ax, panel in zip(chart.figure.axes[:2], (per_1000, ratio)):
        faces = ax.collections[0].get_facecolors()
        cmap = __import__("matplotlib").colormaps[panel.cmap]
        for code in ("DE", "SE", "IS", "PL"):
            expected = cmap(panel.norm()(metrics.states.at[code, panel.column]))
            assert np.allclose(faces[order.index(code)], expected), (panel.column, code)
    # Exact scale ends: the largest per-1,000 value rounded up to a nice number; ratio symmetric around 1.
    assert per_1000.upper == maps._nice_ceiling(float(metrics.states["per_1000"].max()))
    spread = float((metrics.states["ratio"] - 1).abs().max())  # a state with a target near 1 person
    assert (ratio.lower, ratio.centre, ratio.upper) == (0.94, 1.0, 1.06) and 0.05 < spread <= 0.06


def test_small_states_get_a_circle_and_a_label(german_1994):
    chart = _map_chart(german_1994)
    ax = chart.figure.axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert set(german_1994.participants.index) <= labels
    circles = [c for c in ax.collections[1:] if len(c.get_offsets()) == 1]
    centres = {tuple(np.round(c.get_offsets()[0], 1)) for c in circles}
    geo = europe().by_code
    for code in ("MT", "LU", "CY", "LI"):
        assert tuple(np.round(geo[code].label, 1)) in centres, code


@pytest.mark.parametrize("scenario", ["eu-2015-relocation.toml", "german-1994-eu2023.toml", "german-1994-eu15.toml"])
def test_html_report_map_shows_every_participant(scenario, tmp_path):
    settings, base_dir = scenario_settings(scenario)
    result = run(settings, base_dir, name=scenario)
    write_reports([result], tmp_path, "html,md", run=RUN)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    figure = re.search(r'<figure id="chart-map">(.*?)</figure>', page, re.S)
    assert figure, "no map in the HTML report"
    texts = set(re.findall(r"<text[^>]*>([^<]*)</text>", figure.group(1)))
    assert set(result.participants.index) <= {t.strip() for t in texts}
    assert "Not on the map" not in figure.group(1)
    assert "![" in (tmp_path / "report.md").read_text() and (tmp_path / "charts" / "map.png").stat().st_size > 20_000


def test_unmapped_states_are_listed_beside_the_map(tmp_path):
    settings = ScenarioSettings(states=str(INPUTS / "de_laender_koenigstein.csv"), weight_column="key_2016_pct", total=1000)
    result = run(settings, name="laender")
    chart = _map_chart(result)
    listing = "\n".join(t.get_text() for t in chart.figure.texts)
    for code, name in zip(result.states.index, result.states["name"]):
        assert f"{code} {name}"[:23] in listing
        assert f"{code} (" in chart.caption
    assert "BE (BE is Belgium on the map, not Berlin)" in chart.caption


def test_map_text_is_escaped_and_deterministic(tmp_path):
    path = tmp_path / "states.csv"
    pd.DataFrame(
        {"code": ["DE", "XX"], "name": ["Germany", "<script>alert(1)</script>&"], "population": [1000, 500], "gdp_meur": [10, 5]}
    ).to_csv(path, index=False)
    result = run(ScenarioSettings(states=str(path), total=30, formula="pact-2024"), name="<b>x</b>")
    chart = _map_chart(result)
    svg = charts.svg(chart).decode()
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(1)" in svg
    assert svg == charts.svg(_map_chart(result)).decode()
    assert "Date" not in svg.split("<svg", 1)[0] and "<dc:date>" not in svg


def test_maps_per_variant_share_one_scale_and_stop_at_the_limit(german_1994):
    metrics = result_metrics(german_1994)
    many = [(f"v{k}", metrics, german_1994.states) for k in range(maps.MAX_VARIANTS + 2)]
    built = maps.build(many)
    assert [c.name for c in built] == [f"map-{k + 1}" for k in range(maps.MAX_VARIANTS)]
    assert f"first {maps.MAX_VARIANTS} of {maps.MAX_VARIANTS + 2} variants" in built[-1].caption


def test_allocation_chart_marks_capacity():
    settings, base_dir = scenario_settings("pact-2024-families.toml")
    settings = settings.model_copy(update={"cases": None, "total": 5000, "need_weights": None})
    result = run(settings, base_dir, name="quota")
    metrics = result_metrics(result)
    chart = next(c for c in charts.build([("quota", metrics)]) if c.name == "allocation-1")
    ax = chart.figure.axes[0]
    marks = [c for c in ax.collections if c.get_label() == "capacity (persons)"]
    assert len(marks) == 1
    shown = [t.get_text() for t in ax.get_yticklabels()]
    capacity = metrics.states["capacity"].reindex(shown).to_numpy(dtype=float)
    assert np.array_equal(marks[0].get_offsets()[:, 0], capacity)
    at = int(metrics.states["at_capacity"].sum())
    assert f"({at} of 31 states at capacity)" in chart.caption


def test_variants_are_compared_as_a_dot_plot(german_1994):
    settings, base_dir = scenario_settings("german-1994-eu2023.toml")
    other = run(settings.model_copy(update={"formula": "pact-2024"}), base_dir, name="pact-2024")
    variants = [("german-1994", result_metrics(german_1994)), ("pact-2024", result_metrics(other))]
    chart = charts.build(variants)[0]
    assert chart.name == "comparison"
    ax = chart.figure.axes[0]
    assert not ax.containers, "bars instead of dots"
    codes = [t.get_text() for t in ax.get_yticklabels()]
    dots = [c for c in ax.collections if c.get_label() in ("german-1994", "pact-2024")]
    assert len(dots) == 2
    for collection, (_, m) in zip(dots, variants):
        assert np.array_equal(collection.get_offsets()[:, 0], m.states["allocated"].reindex(codes).to_numpy(dtype=float))


def test_bad_states_file_still_one_clear_error(tmp_path):
    # The map never hides an input error: the run fails first, with the CLI's message.
    path = tmp_path / "s.csv"
    path.write_text("code,name,population\nDE,Germany,-5\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 2"):
        run(ScenarioSettings(states=str(path), total=3, formula="population"))
