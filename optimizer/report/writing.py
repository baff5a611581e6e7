"""`write_reports` and the choice of formats: the reports of one or more results, each format
rendered from one `document.Document` (see the package's notes)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

# The renderers as modules (an import of the package itself would be a cycle with its lazy names).
import optimizer.report.charts as charts
import optimizer.report.excel as excel
import optimizer.report.html as html
import optimizer.report.jsonreport as jsonreport
import optimizer.report.markdown as markdown

from ..compare import Comparison
from ..errors import InputError
from ..io.output import write_content
from ..pipeline import RunResult
from .chartworker import ChartWorker
from .workerstart import end
from .document import build
from .files import read_run
from .solidarity import SolidaritySection

if TYPE_CHECKING:
    from .workerstart import WorkerProcess

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
def charts_drawn_meanwhile(formats: str | None, started: WorkerProcess | None = None) -> Iterator[ChartWorker | None]:
    """A `chartworker.ChartWorker` when the reports of `formats` have charts (None otherwise):
    the worker process `started` early (`workerstart.early_worker`; ended here if unused), or one
    started now; `submit` it the results when they exist and pass it to `write_reports`."""
    kinds = chart_formats(formats)
    if not kinds:
        end(started)
    worker = ChartWorker.start(kinds, started) if kinds else None
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
