"""The output folder of `relocate solidarity --out DIR`: the tables as CSV and JSON, and the
reports (report.html, report.md with charts/solidarity.png, report.xlsx, report.json) built from
the same `SolidaritySection` a plan's report shows.

Deterministic like every report: only the run facts (the date) change between identical runs, kept
in the Run section of the HTML and Markdown reports, `run` in the JSON files and the workbook's
created property. The folder is written all or nothing by `io.output.staged_output`.
"""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..io.output import json_text, staged_output, write_content, write_csv
from ..solidarity import SolidarityResult
from .charts import png
from .excel import _Book, solidarity_sheets
from .files import run_facts_all
from .html import _CSS, _esc, _pairs, solidarity_html
from .markdown import _cell, solidarity_markdown
from .solidarity import SolidaritySection, solidarity_document, solidarity_frames

# File name of each table of `solidarity_frames`.
CSV_NAMES = {"states": "solidarity_states.csv", "pool": "solidarity_pool.csv", "trade_states": "trade_states.csv", "trade_pool": "trade_pool.csv"}


def render(result: SolidarityResult, formats: list[str], run: dict) -> dict[str, str | bytes]:
    """{file name: content}: the tables always, the reports named in `formats` (see
    `report.parse_formats`; md brings charts)."""
    section = SolidaritySection(result)
    files: dict[str, str | bytes] = {}
    document = solidarity_document(result)
    files["solidarity.json"] = json_text({**document, "tool": f"relocate {__version__}", "run": run})
    if "html" in formats:
        files["report.html"] = _html(section, run)
    if "md" in formats:
        files["report.md"] = _markdown(section, run)
    if "md" in formats or "charts" in formats:
        files[f"charts/{section.chart.name}.png"] = png(section.chart)
    if "xlsx" in formats:
        book = _Book(result.title, run)
        solidarity_sheets(book, result)
        files["report.xlsx"] = book.close()
    if "json" in formats:
        files["report.json"] = files["solidarity.json"]
    return files


def write_solidarity(result: SolidarityResult, out: Path, formats: list[str], *, force: bool = False) -> Path:
    """Write the folder all or nothing; returns it."""
    run = {"created": run_facts_all([])["created"]}  # the date alone: a pool has no solver times
    content = render(result, formats, run)
    with staged_output(out, force=force) as folder:
        for key, frame in solidarity_frames(result).items():
            write_csv(frame, folder / CSV_NAMES[key])
        for name, data in content.items():
            write_content(data, folder / name)
    return out


def _html(section: SolidaritySection, run: dict) -> str:
    title = _esc(section.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{title}</h1></header>",
        *solidarity_html(section),
        '<section id="provenance"><h2>Provenance</h2>',
        _pairs([("Tool", f"relocate {__version__}"), *section.provenance_items()]),
        "</section>",
        '<section id="run"><h2>Run</h2>',
        _pairs([("Created", str(run.get("created", "")))]),
        "</section>",
        f"<footer>relocate {_esc(__version__)}. Everything above except the Run section is the same for the same inputs.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _markdown(section: SolidaritySection, run: dict) -> str:
    out = [f"# {_cell(section.title)}", "", *solidarity_markdown(section), "## Provenance", ""]
    out += [f"- {_cell(k)}: {_cell(v)}" for k, v in [("Tool", f"relocate {__version__}"), *section.provenance_items()]]
    out += ["", "## Run", "", f"- Created: {_cell(run.get('created', ''))}", ""]
    return "\n".join(out)


__all__ = ["CSV_NAMES", "render", "write_solidarity"]
