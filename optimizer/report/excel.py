"""report.xlsx: sheets Summary, States, Cases, Metrics, Comparison, Sensitivity, Explanation (and
Origins, the origin x destination cells, when cases have origins), with numbers stored as numbers.

XlsxWriter, about twice as fast as openpyxl on long case lists. Its zip entries carry fixed dates, so
the workbook's created/modified properties are its only run-dependent bytes (it holds no wall times).
"""

from __future__ import annotations

import io
import math
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from .. import __version__
from ..io.output import neutralise, neutralise_frame, plain_cells
from ..metrics import METRIC_INFO
from .document import HEADLINE, MAX_CASE_ROWS, Document, unplaced_cases
from .files import plan_cases_table
from .solidarity import solidarity_frames
from .xlsxrows import BULK_ROWS, add_rows, column_cells, column_letters, rows_xml

FORMAT = "xlsx"

_FORMATS = {
    "share": "0.0000%",
    "capacity_use": "0.0%",
    "ratio": "0.0000",
    "deviation_pct": "0.00",
}


def render(document: Document) -> dict[str, bytes]:
    views = document.views
    out = _Book(document.title, document.run)
    _summary(out, document)
    states = pd.concat([v.metrics.states.reset_index().assign(variant=v.name) for v in views], ignore_index=True)
    out.sheet("States", _variant_first(states))
    _cases(out, document)
    metric_rows = []
    for key, (label, formula) in METRIC_INFO.items():
        metric_rows.append([key, label, formula] + [getattr(v.metrics.overall, key) for v in views])
    out.sheet("Metrics", pd.DataFrame(metric_rows, columns=["metric", "label", "formula"] + [v.name for v in views]), {})
    if document.wide is not None:
        out.sheet("Comparison", document.wide)
    else:
        out.note("Comparison", "One plan: run `relocate compare` to compare variants.")
    if document.sensitivity is not None:
        out.sheet("Sensitivity", document.sensitivity)
    explanation = pd.concat([v.explanation.reset_index().assign(variant=v.name) for v in views], ignore_index=True)
    out.sheet("Explanation", _variant_first(explanation))
    if document.origin_views:
        origins = pd.concat([v.result.plan.origins.assign(variant=v.name) for v in document.origin_views], ignore_index=True)
        out.sheet("Origins", _variant_first(origins))
    if document.solidarity is not None:
        solidarity_sheets(out, document.solidarity.result)
    return {"report.xlsx": out.close()}


# Sheet names of the solidarity pool's tables (`report.solidarity.solidarity_frames`).
SOLIDARITY_SHEETS = {"pool": "Solidarity pool", "states": "Solidarity states", "trade_pool": "Trade", "trade_states": "Trade states"}


def solidarity_sheets(out: "_Book", result) -> None:
    """The pool line by line (with articles), per state, and the settlement when there is one."""
    for key, frame in solidarity_frames(result).items():
        out.sheet(SOLIDARITY_SHEETS[key], frame, {"relocations_of_fair_share": "0.0%", "deduction_share": "0.0%"})


def _variant_first(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["variant"] + [c for c in frame.columns if c != "variant"]]


def _cell(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return neutralise(value)
    return value


def _cells(series: pd.Series) -> list:
    """A column's cells as `_cell` makes them, a column at a time where the type allows."""
    if series.dtype != object and pd.api.types.is_string_dtype(series.dtype):  # text or missing only
        values = neutralise_frame(series.to_frame()).iloc[:, 0].tolist()
        return [value if value.__class__ is str else None for value in values]
    return plain_cells(series, _cell)


class _Book:
    """An XlsxWriter workbook in memory, with its cell formats made once each."""

    def __init__(self, title: str, run: dict):
        import xlsxwriter

        self.buffer = io.BytesIO()
        # Every cell is data: no text becomes a formula, a link or a number.
        self.book = xlsxwriter.Workbook(
            self.buffer,
            {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
        )
        created = datetime.fromisoformat(run["created"]).astimezone(timezone.utc).replace(tzinfo=None) if run.get("created") else datetime(2000, 1, 1)
        self.book.set_properties({"title": title, "author": f"relocate {__version__}", "created": created})
        self.bold = self.book.add_format({"bold": True})
        self.heading = self.book.add_format({"bold": True, "font_size": 14})
        self._numbers: dict[str, object] = {}
        self._bulk: dict[int, tuple[str, str]] = {}  # sheet number: (rows XML, last cell), see `xlsxrows`

    def number(self, pattern: str):
        if pattern not in self._numbers:
            self._numbers[pattern] = self.book.add_format({"num_format": pattern})
        return self._numbers[pattern]

    def sheet(self, name: str, frame: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
        """A table: bold header, one column at a time (with its number format), header frozen."""
        ws = self.book.add_worksheet(name)
        formats = {**_FORMATS, **(formats or {})}
        columns = [str(c) for c in frame.columns]
        ws.write_row(0, 0, [neutralise(c) for c in columns], self.bold)
        values = [_cells(frame.iloc[:, j]) for j in range(len(columns))]
        styles = [self._style(formats, column) for column in columns]
        for j, column in enumerate(columns):
            width = max([len(column)] + [len(str(v)) for v in values[j][:200]])
            ws.set_column(j, j, min(60, max(8, width + 2)))
        ws.freeze_panes(1, 0)
        bulk = [column_cells(v, j, style._get_xf_index() if style else 0) for j, (v, style) in enumerate(zip(values, styles))] if len(frame) > BULK_ROWS else []
        if bulk and None not in bulk:
            # the rows go in after XlsxWriter has written the file (`close`)
            self._bulk[len(self.book.worksheets())] = (rows_xml(bulk), f"{column_letters(len(columns) - 1)}{len(frame) + 1}")
            return
        for j, (column_values, style) in enumerate(zip(values, styles)):
            ws.write_column(1, j, column_values, style)

    def _style(self, formats: dict[str, str], column: str):
        pattern = formats.get(column) or formats.get(column.split(":", 1)[0])
        return self.number(pattern) if pattern else None

    def note(self, name: str, text: str) -> None:
        ws = self.book.add_worksheet(name)
        ws.write_string(0, 0, neutralise(text))
        ws.set_column(0, 0, 100)

    def close(self) -> bytes:
        self.book.close()
        return add_rows(self.buffer.getvalue(), self._bulk) if self._bulk else self.buffer.getvalue()


def _summary(out: _Book, document: Document) -> None:
    """One column per variant: formula, method, solver, status, the headline metrics, provenance."""
    views = document.views
    ws = out.book.add_worksheet("Summary")
    ws.write_string(0, 0, neutralise(document.title), out.heading)
    ws.write_row(2, 0, ["", *[neutralise(v.name) for v in views]], out.bold)
    row = 3

    def line(label: str, values: list) -> None:
        nonlocal row
        ws.write_row(row, 0, [label, *[_cell(v) for v in values]])
        row += 1

    line("Formula", [v.result.formula.name for v in views])
    line("Formula title", [v.result.formula.title for v in views])
    line("Method", [v.result.method for v in views])
    line("Solver", [v.result.plan.solver for v in views])
    line("Status", [v.result.plan.status for v in views])
    line("Gap", [v.result.plan.gap for v in views])
    line("Participants", [len(v.result.participants) for v in views])
    for key in HEADLINE:
        line(METRIC_INFO[key][0], [getattr(v.metrics.overall, key) for v in views])
    row += 1
    line("Tool", [v.provenance["tool"] for v in views])
    roles = list(dict.fromkeys(role for v in views for role in v.provenance["inputs"]))
    for role in roles:
        line(f"Input {role}", [v.provenance["inputs"].get(role, {}).get("path") for v in views])
        line(f"Input {role} SHA-256", [v.provenance["inputs"].get(role, {}).get("sha256") for v in views])
    ws.set_column(0, 0, 48)
    ws.set_column(1, len(views), 24)


def _cases(out: _Book, document: Document) -> None:
    frames = [plan_cases_table(view.result).assign(variant=view.name) for view in document.case_views]
    if not frames:
        out.note("Cases", "Quota plan: no case list (every unit is one person).")
        return
    cases = _variant_first(pd.concat(frames, ignore_index=True))
    if len(cases) > MAX_CASE_ROWS:
        # Too long for a workbook: the unplaced cases here, the whole list in plan_cases.csv.
        cases = unplaced_cases(cases)
    out.sheet("Cases", cases)
