"""Writing results: the plan's files and the reports (report.html, report.md with charts/*.png,
report.xlsx, report.json).

- `files`: plan_states.csv, plan_cases.csv and metrics.json (`solve`); comparison.csv,
  sensitivity.csv and metrics.json (`compare`);
- `document`: what every report shows, built once and format-neutral (`explanation`: how each
  state's number came about; `formatting`: numbers as text);
- one renderer per format (`html`, `markdown`, `excel`, `jsonreport`, `charts`), each with
  `FORMAT` (its name for --report) and `render(document) -> {file name: text or bytes}`; a renderer
  may list in `NEEDS` formats whose files it links to, and in `CHART_FORMAT` how it saves the
  charts ("svg", "png"). A new format is a module like these, added to `RENDERERS`.

`write_reports` is called by `solve` with one result and by `compare` with every variant. Every
report is deterministic: the same inputs give byte-identical files, except the run facts (the date
and the wall times), which each file keeps in one place: the "Run" section at the end of the HTML
and Markdown reports, the `run` entry of report.json, and the workbook's created and modified
properties in report.xlsx. Output folders are written all or nothing by `io.output.staged_output`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..compare import Comparison
from ..errors import InputError
from ..io.output import (
    check_output_folder,
    neutralise,
    neutralise_frame,
    staged_output,
    to_jsonable,
    write_content,
    write_csv,
    write_json,
)
from ..pipeline import RunResult
from . import charts, excel, html, jsonreport, markdown
from .chartworker import ChartWorker
from .document import MAX_CASE_ROWS, Document, build
from .explanation import explanation_table
from .solidarity import SolidaritySection
from .files import (
    metrics_document,
    plan_cases_table,
    plan_states_table,
    provenance,
    read_run,
    run_facts,
    run_facts_all,
    write_comparison_files,
    write_plan_files,
)

# Every report format, in the order --report lists them.
RENDERERS = (html, markdown, excel, jsonreport, charts)
REPORT_FORMATS = tuple(r.FORMAT for r in RENDERERS)


def parse_formats(formats: str | None) -> list[str]:
    """'html,md' -> ['html', 'md']; None, '' or 'all' -> every format; 'none' -> []."""
    if formats is None or formats.strip().lower() in ("", "all"):
        return list(REPORT_FORMATS)
    chosen = [f.strip().lower() for f in formats.split(",") if f.strip()]
    if chosen == ["none"]:
        return []
    unknown = [f for f in chosen if f not in REPORT_FORMATS]
    if unknown:
        raise InputError(f"unknown report format '{unknown[0]}'; choose from {', '.join(REPORT_FORMATS)}, all or none")
    return [f for f in REPORT_FORMATS if f in chosen]


def _wanted(chosen: list[str]) -> set[str]:
    """The formats chosen and those whose files they link to."""
    return set(chosen) | {need for r in RENDERERS if r.FORMAT in chosen for need in getattr(r, "NEEDS", ())}


def _shows_charts(renderer) -> bool:
    return hasattr(renderer, "CHART_FORMAT") or "charts" in getattr(renderer, "NEEDS", ())


def chart_formats(formats: str | None) -> tuple[str, ...]:
    """How the reports of `formats` save their charts ("png", "svg"); empty when they have none."""
    wanted = _wanted(parse_formats(formats))
    return tuple(sorted({r.CHART_FORMAT for r in RENDERERS if r.FORMAT in wanted and hasattr(r, "CHART_FORMAT")}))


@contextmanager
def charts_drawn_meanwhile(formats: str | None) -> Iterator[ChartWorker | None]:
    """A `chartworker.ChartWorker` started now when the reports of `formats` have charts (None
    otherwise); `submit` it the results when they exist and pass it to `write_reports`."""
    kinds = chart_formats(formats)
    worker = ChartWorker.start(kinds) if kinds else None
    try:
        yield worker
    finally:
        if worker is not None:
            worker.close()


def write_reports(
    results: list[RunResult],
    folder: Path,
    formats: str | None = None,
    comparison: Comparison | None = None,
    *,
    title: str | None = None,
    run: dict | None = None,
    solidarity: object | None = None,
    drawn_by: ChartWorker | None = None,
) -> list[Path]:
    """Write the selected reports for one or more results into `folder` (see module notes).

    `formats`: comma list of html, md, xlsx, json, charts; None or 'all' for all, 'none' for none.
    `comparison`: a `compare.Comparison` (adds the sensitivity tables); with several results and no
    comparison, the comparison tables are built from the results. `run`: the run facts to print
    (default: the `run` entry of `folder/metrics.json` when there is one, else now). `solidarity`:
    an `optimizer.solidarity.SolidarityResult` whose section the reports add. `drawn_by`: a
    `charts_drawn_meanwhile` worker that was sent these results."""
    chosen = parse_formats(formats)
    if not chosen:
        return []
    results = list(results)
    if not results:
        raise ValueError("no results to report")
    folder = Path(folder)
    section = SolidaritySection(solidarity) if solidarity is not None else None
    document = build(results, run if run is not None else read_run(folder, results), comparison, title, section, drawn_by)
    wanted = _wanted(chosen)
    written = []
    # The formats without charts first: a chart worker may still be drawing.
    for renderer in sorted(RENDERERS, key=_shows_charts):
        if renderer.FORMAT not in wanted:
            continue
        for name, content in renderer.render(document).items():
            write_content(content, folder / name)
            written.append(folder / name)
    return written


__all__ = [
    "MAX_CASE_ROWS",
    "REPORT_FORMATS",
    "RENDERERS",
    "Document",
    "build",
    "chart_formats",
    "charts_drawn_meanwhile",
    "check_output_folder",
    "explanation_table",
    "metrics_document",
    "neutralise",
    "neutralise_frame",
    "parse_formats",
    "plan_cases_table",
    "plan_states_table",
    "provenance",
    "run_facts",
    "run_facts_all",
    "staged_output",
    "to_jsonable",
    "write_comparison_files",
    "write_csv",
    "write_json",
    "write_plan_files",
    "write_reports",
]
