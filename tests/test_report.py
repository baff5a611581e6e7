"""Reports: contents, escaping, determinism, the Excel workbook, and a real headless browser."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from optimizer import metrics as m
from optimizer.compare import compare, variants_from_formulas
from optimizer.errors import InputError
from optimizer.pipeline import run
from optimizer.report import document as document_module
from optimizer.report.chartworker import decode_request, encode_request
from optimizer.report.document import chart_variants
from optimizer.report import charts_drawn_meanwhile, explanation_table, parse_formats, staged_output, write_comparison_files, write_plan_files, write_reports
from optimizer.schema import ScenarioSettings
from conftest import DATA, INPUTS, ROOT, relocate, scenario_settings

RUN = {"created": "2024-06-01T12:00:00+00:00", "seconds": {}, "stage_seconds": {}}
OTHER_RUN = {"created": "2025-01-02T03:04:05+00:00", "seconds": {"x": {"solve": 1.5}}, "stage_seconds": {}}


@pytest.fixture(scope="module")
def eu2015():
    settings, base_dir = scenario_settings("eu-2015-relocation.toml")
    return run(settings, base_dir, name="eu-2015 relocation")


@pytest.fixture(scope="module")
def families():
    settings, base_dir = scenario_settings("pact-2024-families.toml")  # ~5 s: the one family plan here
    return run(settings, base_dir, name="families")


@pytest.fixture(scope="module")
def evil(tmp_path_factory):
    """States whose names a browser or a spreadsheet would execute."""
    folder = tmp_path_factory.mktemp("evil")
    frame = pd.DataFrame(
        {
            "code": ["AA", "BB", "CC", "DD"],
            "name": ["<script>alert('x')</script> & Co", '=HYPERLINK("http://evil.example")', "+cmd|' /C calc'!A0", "@SUM(1+1) | pipe"],
            "population": [1000, 2000, 500, 800],
            "gdp_meur": [500, 100, 1000, 800],
            "capacity": [None, None, 3, None],
        }
    )
    path = folder / "evil.csv"
    frame.to_csv(path, index=False)
    return run(ScenarioSettings(states=str(path), total=100, formula="pact-2024"), name="<b>evil</b>")


def test_parse_formats():
    assert parse_formats(None) == ["html", "md", "xlsx", "json", "charts"]
    assert parse_formats("all") == parse_formats(None)
    assert parse_formats("none") == []
    assert parse_formats(" md, HTML") == ["html", "md"]
    with pytest.raises(InputError, match="unknown report format 'pdf'"):
        parse_formats("html,pdf")


def test_all_reports_for_one_quota_plan(eu2015, tmp_path):
    written = write_reports([eu2015], tmp_path, None, run=RUN)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    assert names == ["charts/allocation-1.png", "charts/lorenz.png", "charts/map.png", "charts/ratio.png", "report.html", "report.json", "report.md", "report.xlsx"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    # Self-contained: no scripts, no external resources of any kind.
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only references inside the page (SVG clip paths)
    assert not re.search(r'(src|href)="(?!#)', page)
    assert page.count("<svg") == 4 and "Lorenz curve" in page and "Ratio to fair share" in page
    for section in ("summary", "charts", "states", "explanation", "metrics", "provenance", "run"):
        assert f'<section id="{section}">' in page
    assert "SHA-256" in page and "relocate 0.1.0" in page and "eu-2015" in page
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for chart in ("map", "allocation-1", "ratio", "lorenz"):
        assert f"(charts/{chart}.png)" in md
        assert (tmp_path / "charts" / f"{chart}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = json.loads((tmp_path / "report.json").read_text())
    variant = document["variants"][0]
    expected = m.result_metrics(eu2015).overall
    assert variant["metrics"]["loosemore_hanby"] == pytest.approx(expected.loosemore_hanby)
    assert variant["metrics"]["persons_placed"] == 120000
    assert len(variant["states"]) == 22 and variant["formula"]["name"] == "eu-2015"
    assert document["run"] == RUN and "comparison" not in document


def test_only_the_chosen_formats(eu2015, tmp_path):
    assert write_reports([eu2015], tmp_path, "none") == []
    written = write_reports([eu2015], tmp_path, "charts", run=RUN)
    assert all(p.parent.name == "charts" and p.suffix == ".png" for p in written) and len(written) == 4
    (tmp_path / "json").mkdir()
    written = write_reports([eu2015], tmp_path / "json", "json", run=RUN)
    assert [p.name for p in written] == ["report.json"]


def test_excel_workbook(eu2015, tmp_path):
    write_reports([eu2015], tmp_path, "xlsx", run=RUN)
    book = load_workbook(tmp_path / "report.xlsx")
    assert {"Summary", "States", "Cases", "Metrics", "Comparison"} <= set(book.sheetnames)
    sheet = book["States"]
    header = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 22
    col = {name: i for i, name in enumerate(header)}
    assert all(isinstance(r[col["allocated"]], int) for r in rows)
    assert all(isinstance(r[col["share"]], float) for r in rows)
    assert sum(r[col["allocated"]] for r in rows) == 120000
    assert sheet.cell(row=2, column=col["share"] + 1).number_format == "0.0000%"
    metrics = {r[0]: r for r in book["Metrics"].iter_rows(min_row=2, values_only=True)}
    assert metrics["persons_placed"][3] == 120000
    assert isinstance(metrics["loosemore_hanby"][3], float)
    assert book.properties.created.isoformat().startswith("2024-06-01T12:00:00")


def test_long_sheets_are_written_in_bulk_with_the_cells_xlsxwriter_writes(families, monkeypatch):
    """Above `xlsxrows.BULK_ROWS` rows a sheet's cells are written in bulk: the same values, types
    and number formats as XlsxWriter's own cells, text escaped as XlsxWriter escapes it."""
    from optimizer.report import excel
    from optimizer.report.files import plan_cases_table

    cases = plan_cases_table(families)
    cases["note"] = ["", " padded ", "a < b & c > d", "tab\tin", "bell\x07", "=1+1"] * (len(cases) // 6) + [""] * (len(cases) % 6)
    cases["share"] = np.where(cases["size"] > 2, cases["size"] / 7, np.nan)
    cases["big"] = cases["size"] > 2

    def workbook(bulk_rows: int) -> bytes:
        monkeypatch.setattr(excel, "BULK_ROWS", bulk_rows)
        book = excel._Book("cases", RUN)
        book.sheet("Cases", cases, {"share": "0.0%"})
        return book.close()

    bulk, own = workbook(10), workbook(10**9)
    sheet = lambda data: zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert 't="inlineStr"' in sheet(bulk) and 't="inlineStr"' not in sheet(own)
    assert "<t>bell_x0007_</t>" in sheet(bulk) and '<t xml:space="preserve"> padded </t>' in sheet(bulk) and "a &lt; b &amp; c &gt; d" in sheet(bulk)
    assert bulk == workbook(10)  # deterministic
    read = lambda data: load_workbook(io.BytesIO(data))["Cases"]
    a, b = read(bulk), read(own)
    assert a.max_row == b.max_row == len(cases) + 1 and a.dimensions == b.dimensions
    for row_a, row_b in zip(a.iter_rows(), b.iter_rows()):
        assert [(c.value, c.data_type, c.number_format) for c in row_a] == [(c.value, c.data_type, c.number_format) for c in row_b]
    assert "'=1+1" in [row[list(cases.columns).index("note")] for row in a.iter_rows(values_only=True)]  # neutralised


def test_user_text_is_escaped_and_neutralised(evil, tmp_path):
    write_plan_files(evil, tmp_path)
    write_reports([evil], tmp_path, None, run=RUN)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<b>evil" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in page
    assert "&lt;b&gt;evil&lt;/b&gt;" in page
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script" not in md and "@SUM(1+1) \\| pipe" in md
    book = load_workbook(tmp_path / "report.xlsx")
    names = [row[2] for row in book["States"].iter_rows(min_row=2, values_only=True)]
    assert names == ["<script>alert('x')</script> & Co", "'=HYPERLINK(\"http://evil.example\")", "'+cmd|' /C calc'!A0", "'@SUM(1+1) | pipe"]
    states_csv = pd.read_csv(tmp_path / "plan_states.csv")
    assert states_csv["name"].str.startswith(("=", "+", "-", "@")).sum() == 0
    # CC is at capacity (3) and below its target: the explanation says so.
    explained = explanation_table(evil)
    assert explained.at["CC", "capacity_binding"] and explained.at["CC", "reason"] == "capacity full"
    assert "Capacity 3 persons, full." in explained.at["CC", "explanation"]


def _zip_entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def test_reports_are_deterministic_except_the_run_facts(eu2015, tmp_path):
    one, two, three = tmp_path / "1", tmp_path / "2", tmp_path / "3"
    for folder, facts in ((one, RUN), (two, RUN), (three, OTHER_RUN)):
        folder.mkdir()
        write_reports([eu2015], folder, None, run=facts)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    for name in files:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    # Another run: only the run section (HTML, Markdown), the run entry (JSON) and the workbook's
    # dates differ.
    for name in ("charts/allocation-1.png", "charts/ratio.png", "charts/lorenz.png"):
        assert (one / name).read_bytes() == (three / name).read_bytes()
    strip_html = lambda text: re.sub(r'<section id="run">.*?</section>', "", text, flags=re.S)
    a, b = (one / "report.html").read_text(), (three / "report.html").read_text()
    assert a != b and strip_html(a) == strip_html(b)
    strip_md = lambda text: text[: text.index("## Run")]
    a, b = (one / "report.md").read_text(), (three / "report.md").read_text()
    assert a != b and strip_md(a) == strip_md(b)
    a, b = json.loads((one / "report.json").read_text()), json.loads((three / "report.json").read_text())
    assert a.pop("run") != b.pop("run") and a == b
    a, b = _zip_entries(one / "report.xlsx"), _zip_entries(three / "report.xlsx")
    assert a.pop("docProps/core.xml") != b.pop("docProps/core.xml") and a == b


def test_explanation_sums_up(eu2015):
    explained = explanation_table(eu2015)
    effects = [c for c in explained.columns if c.startswith("effect:")]
    # eu-2015: four criteria, and what the caps cut is spread by the base key
    assert effects == ["effect:population", "effect:gdp_meur", "effect:1/asylum_per_million", "effect:1/unemployment_pct", "effect:remainder"]
    assert explained[effects].sum(axis=1).to_numpy() == pytest.approx(explained["target"].to_numpy())
    assert (explained["fair_adjustment"].abs() < 1e-9).all()
    assert explained["difference"].to_numpy() == pytest.approx((explained["burden"] - explained["target"]).to_numpy())
    assert (explained["capped"] != "").sum() > 0
    assert set(explained["reason"]) == {"rounding to whole persons"}
    # By hand: Germany's population effect is 0.4 x its population share x 120,000
    states = eu2015.participants
    assert explained.at["DE", "effect:population"] == pytest.approx(0.4 * states.at["DE", "population"] / states["population"].sum() * 120000)


def test_explanation_with_persons_already_hosted():
    result = run(ScenarioSettings(states=str(DATA / "hosted.csv"), total=100, formula="pact-2024", count_hosted=True))
    explained = explanation_table(result)
    # Shares 1/4, 1/4, 1/2 of 100 new arrivals; AA already hosts 50, CC's capacity is 30. Water
    # level L with max(0, L/4 - 50) + L/4 + min(L/2, 30) = 100: L = 240, so AA 60 - 50 = 10,
    # BB 60, CC 30 (held at capacity): every state below its capacity ends at L/4 = 60 per
    # quarter of key share, counting what it hosts.
    assert explained["key_amount"].tolist() == pytest.approx([25.0, 25.0, 50.0])
    assert explained["target"].tolist() == pytest.approx([10.0, 60.0, 30.0])
    assert explained["fair_adjustment"].tolist() == pytest.approx([-15.0, 35.0, -20.0])
    assert "already hosts 50: its share of everyone" in explained.at["AA", "explanation"]
    assert "held at its capacity of 30.0" in explained.at["CC", "explanation"]
    metrics = m.result_metrics(result).overall
    assert metrics.zero_target_allocated == 0
    assert result.plan.states["allocated"].tolist() == [10, 60, 30]


def test_family_plan_reports(families, tmp_path):
    write_plan_files(families, tmp_path)
    write_reports([families], tmp_path, None)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    document = json.loads((tmp_path / "report.json").read_text())
    # One run timestamp, in every file that has one
    assert document["run"]["created"] == saved["run"]["created"]
    assert saved["fairness"]["cases_split"] == 0 and saved["fairness"]["states_at_capacity"] > 0
    variant = document["variants"][0]
    assert len(variant["cases"]) == 2000 and variant["counts"]["cases_split"] == 0
    book = load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert book["Cases"].max_row == 2001
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<section id="cases">' in page and "family groups kept together" in page
    explained = explanation_table(families)
    # Italy is full (652 places) below its key target: its fair target is its capacity, and the
    # states with room share the rest at one level (Germany, full too, is raised above its key)
    assert explained.at["IT", "capacity_binding"] and explained.at["IT", "reason"] == "capacity full"
    assert explained.at["IT", "target_note"].startswith("held at its capacity")
    assert not explained.at["DE", "capacity_binding"] and explained.at["DE", "target"] > explained.at["DE", "key_amount"]
    assert explained["fair_adjustment"].to_numpy() == pytest.approx((explained["target"] - explained["key_amount"]).to_numpy())
    assert explained["fair_adjustment"].sum() == pytest.approx(0.0, abs=1e-6)
    # The plan table gained the fairness columns, and both targets.
    states = pd.read_csv(tmp_path / "plan_states.csv")
    assert {"ratio", "per_1000", "per_bn_gdp", "capacity_use", "deviation_pct", "key_target", "target", "target_note"} <= set(states.columns)
    assert states.set_index("code").at["IT", "capacity_use"] == 1.0


def test_charts_drawn_by_the_worker_are_the_charts_drawn_here(tmp_path, monkeypatch):
    """The chart worker draws a comparison's charts in a second process: the same bytes, every
    report; a worker that is gone leaves the drawing to the command."""
    comparison = compare(ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=30000), variants_from_formulas(["german-1994", "pact-2024"]))
    here, there, gone = tmp_path / "here", tmp_path / "there", tmp_path / "gone"
    write_reports(comparison.results, here, None, comparison, run=RUN)
    with charts_drawn_meanwhile(None) as worker:
        worker.submit(comparison.results, comparison)
        drawn = worker.charts()
        assert drawn is not None and all(chart.figure is None for chart in drawn)
        assert [sorted(chart.saved) for chart in drawn] == [["png", "svg"]] * (2 + 2 + 3)
        with monkeypatch.context() as patch:
            patch.setattr(document_module, "draw_all", lambda variants: pytest.fail("drawn here, not by the worker"))
            write_reports(comparison.results, there, None, comparison, run=RUN, drawn_by=worker)
    files = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file())
    assert len(files) == 7 + 4 and files == sorted(p.relative_to(there) for p in there.rglob("*") if p.is_file())
    for name in files:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    # Tables that JSON would not give back as they are stay in this process.
    variants = chart_variants(comparison.results, list(comparison.metrics))
    assert decode_request(encode_request(variants, ("svg",)))[1] == ("svg",)
    name, metrics, states = variants[0]
    odd = [(name, metrics, states.assign(when=pd.Timestamp("2026-01-01"))), (name, metrics, states.assign(phase=1j)), (name, metrics, states.assign(pair=[(1, 2)] * len(states)))]
    assert [encode_request([variant], ("svg",)) for variant in odd] == [None, None, None]
    with charts_drawn_meanwhile("xlsx,json") as worker:
        assert worker is None  # no report with charts: no worker
    with charts_drawn_meanwhile("md") as worker:
        worker.submit(comparison.results, comparison)
        worker.close()
        assert worker.charts() is None
        write_reports(comparison.results, gone, "md", comparison, run=RUN, drawn_by=worker)
    assert (gone / "charts" / "map-1.png").read_bytes() == (here / "charts" / "map-1.png").read_bytes()


def test_chart_worker_started_before_the_imports():
    """`relocate solve` and `relocate compare` start the chart worker before they import pandas
    (`optimizer.launch`), when the command line says the reports will have charts; the reports
    then use that very process, and one that is not wanted after all is ended."""
    from optimizer.report.workerstart import early_worker, wants_charts

    assert wants_charts(["solve", "x.toml"]) and wants_charts(["compare", "--report", "json,md", "x.toml"])
    assert wants_charts(["solve", "--report=html"]) and wants_charts(["--version", "solve"])
    assert not wants_charts(["solve", "--report", "none"]) and not wants_charts(["solve", "--report=xlsx,json"])
    assert not wants_charts(["ledger", "status"]) and not wants_charts(["solve", "--help"]) and not wants_charts([])
    early = early_worker(["solve", "x.toml"])
    assert early is not None and early_worker(["apportion", "x.csv"]) is None
    with charts_drawn_meanwhile(None, early) as worker:
        assert worker._process is early and early.poll() is None
    assert early.poll() is not None  # ended with the reports
    unused = early_worker(["solve"])
    with charts_drawn_meanwhile("json", unused) as worker:
        assert worker is None and unused.poll() is not None


def test_solve_and_compare_leave_the_charts_to_the_worker(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(document_module, "draw_all", lambda variants: pytest.fail("charts drawn by the command, not its worker"))
    scenario = INPUTS / "scenarios" / "eu-2015-relocation.toml"
    for command in (["solve", scenario], ["compare", scenario, "--formula", "eu-2015", "--formula", "pact-2024", "--sensitivity", "none"]):
        code, _, err = relocate(*command, "--out", tmp_path / command[0], "--report", "html,md", capsys=capsys)
        assert code == 0, err
        assert (tmp_path / command[0] / "charts" / "ratio.png").stat().st_size > 10_000


def test_solve_imports_neither_the_database_nor_the_charts_library_before_it_needs_them():
    code = "import sys, optimizer.cli; print(sorted({'sqlalchemy', 'matplotlib'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    # and the chart worker imports the drawing code without the pipeline and the solvers
    code = "import sys, optimizer.report.chartworker; print(sorted({'optimizer.pipeline', 'pulp', 'highspy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_comparison_reports(tmp_path):
    base = ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=30000, exclude=["LI"], title="Keys & <friends>")
    comparison = compare(base, variants_from_formulas(["german-1994", "pact-2024"]))
    with staged_output(tmp_path / "out") as folder:
        write_comparison_files(comparison, folder)
        write_reports(comparison.results, folder, None, comparison, title=base.title)
    out = tmp_path / "out"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>Keys &amp; &lt;friends&gt;</title>" in page
    assert '<section id="comparison">' in page and "Sensitivity to the criterion weights" in page
    assert page.count("<svg") == 2 + 3 + 2  # allocation per variant, comparison, ratio, Lorenz, a map per variant
    book = load_workbook(out / "report.xlsx")
    assert {"Comparison", "Sensitivity"} <= set(book.sheetnames)
    header = [c.value for c in book["Comparison"][1]]
    assert header[:4] == ["code", "name", "allocated:german-1994", "allocated:pact-2024"]
    document = json.loads((out / "report.json").read_text())
    assert [v["name"] for v in document["variants"]] == ["german-1994", "pact-2024"]
    assert len(document["comparison"]["sensitivity"]) == (3 + 2) * 2 * 30
    assert json.loads((out / "metrics.json").read_text())["run"] == document["run"]
    # Several results without a Comparison object: the tables are built from the results.
    plain = tmp_path / "plain"
    plain.mkdir()
    write_reports(comparison.results, plain, "json", run=RUN)
    assert "sensitivity" not in json.loads((plain / "report.json").read_text())["comparison"]


def test_solve_writes_every_report_by_default(capsys, tmp_path):
    out_dir = tmp_path / "eu2015"
    code, _, err = relocate("solve", INPUTS / "scenarios" / "eu-2015-relocation.toml", "--out", out_dir, capsys=capsys)
    assert code == 0, err
    names = {p.name for p in out_dir.iterdir()}
    assert {"plan_states.csv", "metrics.json", "report.html", "report.md", "report.xlsx", "report.json", "charts"} <= names
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["fairness"]["participants"] == 22
    assert json.loads((out_dir / "report.json").read_text())["run"]["created"] == metrics["run"]["created"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); the headless-browser check needs it")
def test_report_renders_in_headless_chromium(eu2015, tmp_path):
    from PIL import Image

    write_reports([eu2015], tmp_path, "html", run=RUN)
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "screenshot_report.sh"), str(tmp_path / "report.html"), str(shot), "1000x1400"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 1400)
    # Not a blank page: text, the blue header rule and the chart colours are there.
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50
    pixels = np.asarray(image)
    assert (pixels.min(axis=2) < 100).mean() > 0.01  # some dark text
    assert ((pixels[..., 2] > 150) & (pixels[..., 0] < 80)).any()  # the blue of the charts/header


def test_committed_screenshot_is_small():
    shot = ROOT / "docs" / "report.png"
    assert shot.exists() and 10_000 < shot.stat().st_size < 1_000_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
