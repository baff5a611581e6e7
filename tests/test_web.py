"""`relocate serve`: the explorer's pages, computations, uploads, downloads and safety, through
Starlette's test client (no browser: tests/test_browser.py drives a real one)."""

from __future__ import annotations

import io
import re
import signal
import socket
import time
import zipfile
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from optimizer.errors import InputError
from optimizer.keys import PRESETS
from optimizer.pipeline import run
from optimizer.settings import ScenarioSettings
from optimizer.web import explorer
from optimizer.web.app import create_app
from conftest import INPUTS, ROOT, relocate_process

STATES = "shipped:eu_plus_2023.csv"
BASE = {"data": STATES, "cases": "none", "preset": "pact-2024", "method": "lp", "total": "30000", "exclude": ""}
SLIDERS_FOR = f"pact-2024|{STATES}"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import tempfile

    root = tmp_path_factory.mktemp("web")
    saved = tempfile.tempdir
    tempfile.tempdir = str(root)  # every session folder goes here, so the test can see what is written
    try:
        yield create_app(INPUTS)
    finally:
        tempfile.tempdir = saved


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def rows(page: str, table: str) -> dict[str, list[str]]:
    """code -> cells of a table in a page (cells as text, tags removed)."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', page, re.S).group(1)
    out = {}
    for row in re.findall(r'<tr data-code="([^"]*)">(.*?)</tr>', body, re.S):
        out[row[0]] = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)]
    return out


def map_values(page: str, column: str) -> dict[str, tuple[str, str]]:
    """code -> (fill, value) of the participants on one map panel."""
    body = re.search(rf'<svg[^>]*data-column="{column}"(.*?)</svg>', page, re.S).group(1)
    return {code: (fill, value) for fill, code, value in re.findall(r'fill="(#\w+)"[^>]*data-code="(\w+)" data-value="([^"]*)"', body)}


def status(page: str) -> str:
    match = re.search(r'<p class="(?:status|error)"[^>]*>(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


def api_allocation(formula, total=30000, states="eu_plus_2023.csv", method="lp", exclude=None) -> dict[str, int]:
    result = run(ScenarioSettings(states=str(INPUTS / states), total=total, formula=formula.model_dump(), method=method, exclude=exclude))
    return {code: int(v) for code, v in result.plan.states["allocated"].items()}


def test_page_opens_on_the_shipped_data(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    quotas = rows(page, "quotas")
    assert len(quotas) == 31 and quotas["DE"][:2] == ["DE", "Germany"]
    # The Pact key on 2023 data, exactly as the Python API places 30,000 persons.
    expected = api_allocation(PRESETS["pact-2024"])
    assert {c: int(r[4].replace(",", "")) for c, r in quotas.items()} == expected
    assert sum(expected.values()) == 30000
    # Two map panels, every participant on each, with its value.
    panels = re.findall(r'<svg[^>]*class="map" data-column="(\w+)"(.*?)</svg>', page, re.S)
    assert [p[0] for p in panels] == ["per_1000", "ratio"]
    for _, body in panels:
        assert set(re.findall(r'data-code="(\w+)" data-value', body)) | set(re.findall(r'<circle[^>]*data-code="(\w+)"', body)) >= set(expected)
    assert "pact-2024: Population 50.0%, GDP 50.0%" in status(page)
    # Every asset from this server: no address outside it in any src or href.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.content == (ROOT / "optimizer" / "web" / "static" / "htmx.min.js").read_bytes()


def test_moving_a_weight_recomputes_key_quotas_metrics_and_map(client):
    before = client.post("/explore", data={**BASE, "sliders_for": SLIDERS_FOR, "w:population": "50", "w:gdp_meur": "50"}).text
    assert "(weights changed)" not in status(before)  # untouched sliders: the preset exactly
    after = client.post("/explore", data={**BASE, "sliders_for": SLIDERS_FOR, "w:population": "80", "w:gdp_meur": "20"}).text
    assert "pact-2024 (weights changed): Population 80.0%, GDP 20.0%" in status(after)
    expected = api_allocation(PRESETS["pact-2024"].with_weights({"population": 0.8, "gdp_meur": 0.2}))
    quotas = rows(after, "quotas")
    assert {c: int(r[4].replace(",", "")) for c, r in quotas.items()} == expected
    assert rows(before, "quotas")["PL"][4] != quotas["PL"][4]  # Poland: more people than GDP
    key = rows(after, "key")
    assert key["PL"][2] == quotas["PL"][2]  # the key share shown in both tables
    maps = [map_values(p, "per_1000") for p in (before, after)]
    per_1000 = 1000 * expected["PL"] / 36_620_970  # Poland's population in eu_plus_2023.csv
    assert maps[1]["PL"][1] == f"{per_1000:.3f}" != maps[0]["PL"][1]
    assert maps[1]["PL"][0] != maps[0]["PL"][0]  # and its colour
    metrics = rows(after, "metrics")
    assert metrics  # the metrics table came back too


def test_adding_a_criterion_and_its_error(client):
    # Unemployment at 10%: Liechtenstein has no rate, so the CLI's own message comes back...
    form = {**BASE, "sliders_for": SLIDERS_FOR, "w:population": "45", "w:gdp_meur": "45", "w:unemployment_pct": "10"}
    page = client.post("/explore", data=form).text
    formula = explorer.with_weights(PRESETS["pact-2024"], {"population": 45, "gdp_meur": 45, "unemployment_pct": 10})
    with pytest.raises(InputError) as err:
        run(ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=30000, formula=formula.model_dump()))
    assert status(page) == "relocate: error: " + str(err.value).replace(f"{ROOT}/", "").replace("'", "&#39;")
    assert "row 32, column &#39;unemployment_pct&#39;" in page
    # ... and without it the criterion takes part, inverse as in the EU 2015 key.
    page = client.post("/explore", data={**form, "exclude": "LI"}).text
    quotas = rows(page, "quotas")
    assert "LI" not in quotas and len(quotas) == 30
    assert {c: int(r[4].replace(",", "")) for c, r in quotas.items()} == api_allocation(formula, exclude=["LI"])


def test_changing_the_preset_resets_the_sliders(client):
    page = client.post("/explore", data={**BASE, "preset": "eu-2015", "exclude": "LI", "sliders_for": SLIDERS_FOR, "w:population": "80", "w:gdp_meur": "20"}).text
    sliders = re.search(r'<div id="sliders" hx-swap-oob="true">(.*?)</div>', page, re.S).group(1)
    values = dict(re.findall(r'name="w:(\w+)"[^>]*value="([\d.]+)"', sliders))
    assert values == {"population": "40.0", "gdp_meur": "40.0", "asylum_per_million": "10.0", "unemployment_pct": "10.0", "area_km2": "0.0"}
    assert 'value="eu-2015|shipped:eu_plus_2023.csv"' in sliders
    assert status(page).startswith("eu-2015: ")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": "12.5"}, "total: give a whole number of persons"),
        ({"method": "borda"}, "unknown method 'borda'"),
        ({"exclude": "XX"}, "--exclude: unknown state code(s) 'XX'"),
        ({"data": "shipped:../pyproject.toml"}, "states: &#39;shipped:../pyproject.toml&#39; is not one of the offered files"),
        ({"data": "upload"}, "no states file uploaded yet"),
        ({"preset": "nope"}, "unknown formula 'nope'"),
    ],
)
def test_bad_choices_give_one_clear_line(client, change, message):
    page = client.post("/explore", data={**BASE, **change}).text
    line = status(page)
    assert line.startswith("relocate: error: ") and "\n" not in line
    assert message.replace("'", "&#39;") in line


def test_family_plan_solves_from_the_page(client):
    form = {**BASE, "data": "shipped:example_states_2023.csv", "cases": "shipped:example_cases_2023.csv"}
    waiting = client.post("/explore", data=form).text
    assert "2,000 family cases (5,765 persons)" in waiting and len(rows(waiting, "key")) == 31
    solved = client.post("/explore", data={**form, "solve": "1"}).text
    assert "5,765 of 5,765" in solved
    cards = dict((v, k) for k, v in re.findall(r"<b>([^<]*)</b><span>([^<]*)</span>", solved))
    assert cards["status"] == "optimal"
    quotas = rows(solved, "quotas")
    assert sum(int(r[4].replace(",", "")) for r in quotas.values()) == 5765


def test_uploads_are_checked_with_the_cli_messages(client, tmp_path):
    bad = b"code,name,population,gdp_meur\nDE,Germany,-5,10\n"
    response = client.post("/upload", files={"states": ("my states.csv", bad, "text/csv")}, data={"data": STATES, "cases": "none"})
    assert response.status_code == 422
    assert "relocate: error: my_states.csv, row 2, column &#39;population&#39;:" in response.text
    huge = b"code\n" + b"X" * (9 * 2**20)
    response = client.post("/upload", files={"states": ("big.csv", huge, "text/csv")})
    assert response.status_code == 413 and "above the limit of 8 MiB" in response.text
    evil = "code,name,population,gdp_meur\nDE,<script>alert(1)</script>,1000,10\nFR,France,2000,30\n".encode()
    response = client.post("/upload", files={"states": ("evil.csv", evil, "text/csv")}, data={"data": STATES, "cases": "none"})
    assert response.status_code == 200 and response.headers["hx-trigger"] == "refresh"
    assert '<option value="upload" selected>uploaded: evil.csv</option>' in response.text
    page = client.post("/explore", data={**BASE, "data": "upload", "total": "30"}).text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert rows(page, "quotas")["DE"][4] == "9"  # (1,000/3,000 + 10/40) / 2 x 30 = 8.75


def test_states_without_a_shape_are_listed_beside_the_map(client):
    states = "code,name,population,gdp_meur\nDE,Germany,83000000,4000000\nXR,Region <X>,2000000,90000\n".encode()
    client.post("/upload", files={"states": ("regions.csv", states, "text/csv")})
    page = client.post("/explore", data={**BASE, "data": "upload", "total": "1000"}).text
    listed = re.search(r'<div class="unmapped" id="unmapped">(.*?)</div>', page, re.S).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", listed)
    # Region X: target 1,000 x (2/85 + 0.09/4.09) / 2 = 22.77 -> 23 persons; 23 / 2,000 thousand
    # inhabitants = 0.0115 per 1,000 (shown 0.011); ratio 23 / 22.77 = 1.010.
    assert cells == ["XR", "Region &lt;X&gt;", "0.011", "1.010", "no shape on the map of Europe"]
    assert rows(page, "quotas")["XR"][4] == "23"


def test_no_shipped_data_says_what_to_do(tmp_path):
    with TestClient(create_app(tmp_path)) as c:
        assert "relocate: error: no states file chosen: upload one, or start relocate serve with --inputs DIR" in c.get("/").text


def test_compare_and_download(app, client):
    client.post("/compare/clear")
    client.post("/explore", data=BASE)
    assert "pact-2024, lp" in client.post("/compare/add", data={"variant_name": ""}).text
    client.post("/explore", data={**BASE, "preset": "german-1994"})
    page = client.post("/compare/add", data={"variant_name": "<b>area</b> too"}).text
    assert "Side by side: pact-2024, lp · &lt;b&gt;area&lt;/b&gt; too" in page
    table = rows(page, "comparison-table")
    german = api_allocation(PRESETS["german-1994"])
    assert int(table["FI"][4].replace(",", "")) == german["FI"]  # second variant's persons
    assert '<figure id="dots">' in page
    archive = client.get("/download/comparison/all.zip")
    assert archive.status_code == 200 and archive.headers["content-disposition"] == 'attachment; filename="relocate-comparison-all.zip"'
    names = set(zipfile.ZipFile(io.BytesIO(archive.content)).namelist())
    assert {"comparison.csv", "metrics.json", "report.html", "report.md", "report.xlsx", "report.json", "charts/comparison.png"} <= names
    html = client.get("/download/plan/report.html")
    assert html.status_code == 200 and html.text.startswith("<!DOCTYPE html>") and '<figure id="chart-map">' in html.text
    plan = zipfile.ZipFile(io.BytesIO(client.get("/download/plan/all.zip").content)).namelist()
    assert "plan_states.csv" in plan and "charts/map.png" in plan
    assert client.get("/download/plan/evil.sh").status_code == 404
    # Downloads are sent, not kept: the session folders hold uploads only.
    root = app.state.sessions.root
    kept = [p.relative_to(root).parts[1:] for p in root.rglob("*") if p.is_file()]
    assert all(parts[0] == "uploads" for parts in kept), kept


def test_writes_only_in_its_temporary_folder(tmp_path):
    import tempfile

    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        app = create_app(INPUTS)
        with TestClient(app) as c:
            assert c.get("/download/plan/all.zip").status_code == 409  # nothing solved yet: nothing to send
            c.post("/upload", files={"states": ("s.csv", (INPUTS / "eu_plus_2023.csv").read_bytes(), "text/csv")})
            assert "30,000 of 30,000" in c.post("/explore", data={**BASE, "data": "upload"}).text
            assert c.get("/download/plan/all.zip").status_code == 200
            root = app.state.sessions.root
            assert [p for p in tmp_path.iterdir()] == [root]
        assert not root.exists()  # removed when the server stops
    finally:
        tempfile.tempdir = saved


def test_only_local_host_names_are_served(client):
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_relocate_serve_command():
    import urllib.request

    port = _free_port()
    server = relocate_process("serve", "--port", str(port), wait=False)
    try:
        line = server.stdout.readline()
        assert line.startswith(f"relocate explorer: http://127.0.0.1:{port}/")
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
                    assert response.status == 200 and b"relocate explorer" in response.read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        # The port is taken now: a second server says so in one line.
        again = relocate_process("serve", "--port", str(port))
        assert again.returncode == 2
        assert again.stderr.strip().startswith(f"relocate: error: cannot listen on 127.0.0.1:{port}")
        # Ctrl+C: the server stops, exits 0 and removes its temporary folder.
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
        assert not Path(line.rsplit("uploads kept in ", 1)[1].split(" until")[0]).exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
