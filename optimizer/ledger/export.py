"""`relocate ledger export`: the status as CSV, Excel and one self-contained HTML page with a
cumulative chart per state, written all or nothing (`io.output.staged_output`).

Deterministic: the same ledger gives the same bytes, except the run facts (the export time) kept in
the HTML's Run section and the workbook's created property; SOURCE_DATE_EPOCH fixes both.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..io.output import neutralise, staged_output, write_csv
from .status import LedgerStatus
from .storage import now_text

FORMATS = ("csv", "xlsx", "html")


def parse_export_formats(text: str | None) -> tuple[str, ...]:
    if text is None:
        return FORMATS
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InputError(f"--format: unknown export format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    return chosen


def export_ledger(status: LedgerStatus, placements: pd.DataFrame, payments: pd.DataFrame, out: Path, *, force: bool = False, formats: tuple[str, ...] = FORMATS, label: str = "") -> list[str]:
    """Write the export into `out` (all or nothing); returns the file names written."""
    created = now_text()
    with staged_output(out, force=force) as folder:
        if "csv" in formats:
            write_csv(status.states, folder / "ledger_states.csv")
            write_csv(status.batches, folder / "ledger_batches.csv")
            write_csv(status.cumulative, folder / "ledger_cumulative.csv")
            write_csv(placements.drop(columns=["row_id"]), folder / "ledger_placements.csv")
            write_csv(payments.drop(columns=["payment_id"]), folder / "ledger_payments.csv")
        if "xlsx" in formats:
            _workbook(status, placements, payments, folder / "ledger.xlsx", created)
        if "html" in formats:
            (folder / "ledger.html").write_text(_page(status, label, created), encoding="utf-8")
        written = sorted(p.name for p in folder.iterdir())
    return written


def _workbook(status: LedgerStatus, placements: pd.DataFrame, payments: pd.DataFrame, path: Path, created: str) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    book.set_properties({"title": "Relocation ledger", "author": f"relocate {__version__}", "created": datetime.fromisoformat(created.replace("Z", ""))})
    bold = book.add_format({"bold": True})
    sheets = {
        "States": status.states,
        "Batches": status.batches,
        "Cumulative": status.cumulative,
        "Placements": placements.drop(columns=["row_id"]),
        "Payments": payments.drop(columns=["payment_id"]),
    }
    for name, frame in sheets.items():
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, [str(c) for c in frame.columns], bold)
        for r, row in enumerate(frame.itertuples(index=False), start=1):
            for c, value in enumerate(row):
                if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                    if np.isfinite(value):
                        ws.write_number(r, c, float(value))
                elif value is not None and not (isinstance(value, float) and np.isnan(value)):
                    ws.write_string(r, c, str(neutralise(str(value))))
    book.close()


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.{digits}f}"
    return _esc(value)


def _table(frame: pd.DataFrame, digits: dict[str, int] | None = None) -> str:
    digits = digits or {}
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            text = _number(value, digits.get(column, 1)) if numeric else _esc(value)
            cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _chart(code: str, name: str, path: pd.DataFrame) -> str:
    """A small SVG: cumulative persons (solid) and the year-to-date fair share (dashed) per batch."""
    width, height, pad = 240, 130, 28
    seqs = path["seq"].to_numpy(dtype=float)
    top = max(float(path["persons"].max()), float(path["ytd_fair_share"].max()), 1.0)
    span = max(seqs.max() - seqs.min(), 1.0)

    def xy(seq: float, value: float) -> str:
        x = pad + (seq - seqs.min()) / span * (width - pad - 8)
        y = height - pad + 8 - value / top * (height - pad - 8)
        return f"{x:.1f},{y:.1f}"

    solid = " ".join(xy(s, v) for s, v in zip(seqs, path["persons"]))
    dashed = " ".join(xy(s, v) for s, v in zip(seqs, path["ytd_fair_share"]))
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_esc(name)}">'
        f'<text x="{pad}" y="12" font-size="11">{_esc(code)} {_esc(name)}</text>'
        f'<text x="2" y="{pad}" font-size="9">{top:,.0f}</text><text x="2" y="{height - pad + 8}" font-size="9">0</text>'
        f'<line x1="{pad}" y1="{height - pad + 8}" x2="{width - 8}" y2="{height - pad + 8}" stroke="#999"/>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{solid}"/>'
        f'<polyline fill="none" stroke="#d62728" stroke-dasharray="4 3" points="{dashed}"/>'
        f'<text x="{pad}" y="{height - 4}" font-size="9">batch {int(seqs.min())} .. {int(seqs.max())}</text>'
        "</svg></figure>"
    )


def _page(status: LedgerStatus, label: str, created: str) -> str:
    names = dict(zip(status.states["code"], status.states["name"]))
    charts = [_chart(code, names.get(code, code), path) for code, path in status.cumulative.groupby("code", sort=False)]
    year = f"{status.year_total:,}" if status.year_total is not None else "not set (--year-total)"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Relocation ledger</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}td.n{text-align:right}figure{display:inline-block;margin:4px}</style></head><body>",
        f"<h1>Relocation ledger</h1><p>{len(status.batches)} batches; {int(status.states['persons'].sum()):,} persons placed; yearly total {year}.</p>",
        "<h2>States</h2>",
        _table(status.states, {"share": 4}),
        "<h2>Cumulative persons per state</h2><p>Solid: persons placed up to each batch; dashed: the year-to-date fair share (share x burden placed).</p>",
        "".join(charts),
        "<h2>Batches</h2>",
        _table(status.batches),
        f"<h2>Run</h2><p>Exported {_esc(created)} by relocate {_esc(__version__)} from {_esc(label)}.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
