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

from ..lazy import lazy_names

# Where each name lives, loaded on first use (PEP 562): a chart worker (`chartworker`) imports
# `charts` and `maps` without the pipeline, the solvers and every renderer behind them.
_EXPORTS = {
    "document": ("Document", "MAX_CASE_ROWS", "build"),
    "explanation": ("explanation_table",),
    "files": ("metrics_document", "plan_cases_table", "plan_states_table", "provenance", "run_facts", "run_facts_all", "write_comparison_files", "write_plan_files"),
    "..io.output": ("check_output_folder", "neutralise", "neutralise_frame", "staged_output", "to_jsonable", "write_csv", "write_json"),
    "writing": ("RENDERERS", "REPORT_FORMATS", "chart_formats", "charts_drawn_meanwhile", "parse_formats", "write_reports"),
}


def _module(name: str):
    if name == "document":
        from . import document as module
    elif name == "explanation":
        from . import explanation as module
    elif name == "files":
        from . import files as module
    elif name == "writing":
        from . import writing as module
    else:
        from ..io import output as module
    return module


__all__, __getattr__ = lazy_names(globals(), _EXPORTS, _module)
