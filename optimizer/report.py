"""Writing results: plan tables, metrics and reports, all or nothing.

Every file goes first into a hidden staging folder beside the output folder, which is moved into
place only when everything was written: a failed or interrupted run leaves no partial output. Values
that change from run to run (wall times, the date) are kept in one place, the `run` entry of
`metrics.json`, so everything else is byte-identical for the same inputs.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
from .metrics import METRIC_INFO, PlanMetrics, result_metrics, total_burden
from .pipeline import RunResult, sha256

# Spreadsheets run cells starting with these as formulas (CSV/formula injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would execute with a quote; numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    neutralise_frame(frame).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")


def to_jsonable(value: object) -> object:
    """Plain JSON types; NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(data: dict, path: Path) -> None:
    path.write_text(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_output_folder(out_dir: Path, force: bool) -> None:
    """An output folder may be written when it does not exist, is empty, or `force` is given."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", file=out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError("output folder is not empty; use --force to replace it", file=out_dir)


@contextmanager
def staged_output(out_dir: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `out_dir`, on any failure it is removed."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    lock = _hold(staging)
    try:
        yield staging
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, trash / "old")
            os.replace(staging, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)


# A run killed with SIGKILL cannot remove its staging folder. Each run holds an exclusive flock on
# its own, so the next run for the same output removes those nobody holds (POSIX; elsewhere stale
# folders stay, hidden and harmless).


def _hold(folder: Path) -> int | None:
    try:
        import fcntl
    except ImportError:
        return None
    handle = os.open(folder, os.O_RDONLY)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _clear_stale_staging(out_dir: Path) -> None:
    try:
        import fcntl
    except ImportError:
        return
    parent, prefix = out_dir.absolute().parent, f".{out_dir.name}.partial-"
    for folder in parent.iterdir():
        if not folder.name.startswith(prefix) or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            handle = os.open(folder, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live run is writing it
        else:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(handle)


# ---------------------------------------------------------------------------------------------
# Plan tables


def plan_states_table(result: RunResult) -> pd.DataFrame:
    """The plan's states table plus the per-state fairness columns (see `optimizer.metrics`)."""
    table = result.plan.states.reset_index()
    table["deviation_pct"] = np.where(table["target"] > 0, 100 * table["deviation"] / table["target"].where(table["target"] > 0), np.nan)
    per_state = result_metrics(result).states
    for column in ("ratio", "per_1000", "per_bn_gdp", "capacity_use"):
        table[column] = per_state[column].to_numpy()
    return table


def plan_cases_table(result: RunResult) -> pd.DataFrame | None:
    if result.plan.cases is None:
        return None
    columns = ["case_id", "state", "size", "weight", "group", "links", "link_honoured", "reason"]
    return result.plan.cases[columns]


def provenance(result: RunResult) -> dict:
    return {
        "tool": f"relocate {__version__}",
        "inputs": {role: {"path": path, "sha256": sha256(path)} for role, path in result.inputs.items() if path},
        "formula": {"name": result.formula.name, "title": result.formula.title, "source": result.formula.source},
        "method": result.method,
        "participants": list(result.participants.index),
    }


def run_facts(result: RunResult) -> dict:
    """What changes from one run to the next: kept together in one place."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": {k: round(v, 4) for k, v in result.plan.times.items()},
        "stage_seconds": {st.name: round(st.seconds, 4) for st in result.plan.stages},
    }


def metrics_document(result: RunResult, extra: dict | None = None) -> dict:
    plan = result.plan
    document = {
        "name": result.name,
        "status": plan.status,
        "gap": plan.gap,
        "solver": plan.solver,
        "settings": {
            "links": plan.settings.links,
            "objective": plan.settings.objective,
            "mip_rel_gap": plan.settings.gap,
            "time_limit": plan.settings.time_limit,
            "require_all": plan.settings.require_all,
            "count_hosted": plan.settings.count_hosted,
            "need_weights": plan.settings.need_weights,
        },
        "objective": {st.name: st.objective for st in plan.stages},
        "stages": [{"name": st.name, "status": st.status, "gap": st.gap, "objective": st.objective} for st in plan.stages],
        "counts": plan.counts,
        "ties": list(plan.ties),
        "provenance": provenance(result),
        "fairness": result_metrics(result).overall.to_dict(),
    }
    if extra:
        document.update(extra)
    document["run"] = run_facts(result)
    return document


def write_plan_files(result: RunResult, folder: Path, extra_metrics: dict | None = None) -> list[Path]:
    """The plan itself: plan_states.csv, plan_cases.csv (case plans) and metrics.json."""
    written = []
    path = folder / "plan_states.csv"
    write_csv(plan_states_table(result), path)
    written.append(path)
    cases = plan_cases_table(result)
    if cases is not None:
        path = folder / "plan_cases.csv"
        write_csv(cases, path)
        written.append(path)
    path = folder / "metrics.json"
    write_json(metrics_document(result, extra_metrics), path)
    written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Reports: report.html, report.md (+ charts/*.png), report.xlsx, report.json
#
# `write_reports` is called by `solve` with one result and by `compare` with every variant. Every
# report is deterministic: the same inputs give byte-identical files, except the run facts (the
# date and the wall times), which each file keeps in one place: the "Run" section at the end of
# the HTML and Markdown reports, the `run` entry of report.json, and the workbook's created and
# modified properties in report.xlsx (which holds no wall times).

REPORT_FORMATS = ("html", "md", "xlsx", "json", "charts")
# Above this many cases the case list stays in plan_cases.csv only (Excel stops at 1,048,576 rows).
MAX_CASE_ROWS = 100_000
MAX_HTML_UNPLACED = 200


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


def _source_date() -> datetime | None:
    """SOURCE_DATE_EPOCH, the reproducible-builds convention, fixes the run date when set."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (ValueError, OverflowError):
        raise InputError(f"SOURCE_DATE_EPOCH '{value}' is not a number of seconds") from None


def run_facts_all(results: list[RunResult]) -> dict:
    """The run facts of several results (a comparison), in one entry."""
    created = _source_date() or datetime.now(timezone.utc)
    return {
        "created": created.isoformat(timespec="seconds"),
        "seconds": {r.name: {k: round(v, 4) for k, v in r.plan.times.items()} for r in results},
        "stage_seconds": {r.name: {st.name: round(st.seconds, 4) for st in r.plan.stages} for r in results},
    }


def _read_run(folder: Path, results: list[RunResult]) -> dict:
    """The run facts already written to metrics.json in this folder, so every file tells the same."""
    path = folder / "metrics.json"
    if path.exists():
        try:
            run = json.loads(path.read_text(encoding="utf-8")).get("run")
        except (ValueError, OSError):
            run = None
        if isinstance(run, dict) and "created" in run:
            if len(results) == 1 and "seconds" in run and results[0].name not in run.get("seconds", {}):
                return {
                    "created": run["created"],
                    "seconds": {results[0].name: run.get("seconds", {})},
                    "stage_seconds": {results[0].name: run.get("stage_seconds", {})},
                }
            return run
    return run_facts_all(results)


# ---------------------------------------------------------------------------------------------
# What the reports show, built once


def explanation_table(result: RunResult) -> pd.DataFrame:
    """How each state's number came about.

    key_amount = share x B (B: the burden to share, plus what is already hosted under
    --count-hosted); `effect:<criterion>` = that criterion's contribution to the share x B (the
    population effect, the GDP effect, ...), `effect:remainder` = what the caps cut, spread again;
    the effects sum to key_amount. hosted_adjustment = target - key_amount (0 unless
    --count-hosted). difference = burden - target: rounding to whole persons or families, and
    capacity (`capacity_binding`: the state is at capacity and below its target)."""
    plan = result.plan
    states = plan.states
    contributions = result.key.contributions.reindex(states.index)
    capped = result.key.capped.reindex(states.index)
    hosted_total = 0.0
    if plan.settings.count_hosted and "hosted" in result.participants.columns:
        hosted_total = float(result.participants["hosted"].fillna(0).sum())
    base = total_burden(plan) + hosted_total
    out = pd.DataFrame(index=states.index)
    out["name"] = states["name"].to_numpy()
    out["share"] = states["share"].to_numpy(dtype=float)
    out["key_amount"] = out["share"] * base
    for column in contributions.columns:
        values = contributions[column].to_numpy(dtype=float) * base
        if column == "remainder" and not (np.abs(values) > 1e-9).any():
            continue
        out[f"effect:{column}"] = values
    out["capped"] = [
        "; ".join(c for c in capped.columns if bool(capped.at[code, c])) for code in states.index
    ]
    out["hosted_adjustment"] = states["target"].to_numpy(dtype=float) - out["key_amount"].to_numpy()
    out["target"] = states["target"].to_numpy(dtype=float)
    out["allocated"] = states["allocated"].to_numpy()
    out["burden"] = states["burden"].to_numpy(dtype=float)
    out["difference"] = out["burden"] - out["target"]
    out["capacity"] = states["capacity"].to_numpy(dtype=float) if "capacity" in states.columns else np.nan
    out["at_capacity"] = states["at_capacity"].to_numpy(dtype=bool) if "at_capacity" in states.columns else False
    out["capacity_binding"] = out["at_capacity"] & (out["difference"] < -1e-9)
    any_binding = bool(out["capacity_binding"].any())
    whole = "families" if plan.cases is not None else "persons"
    reasons = []
    for diff, binding in zip(out["difference"], out["capacity_binding"]):
        if binding:
            reasons.append("capacity full")
        elif abs(diff) < 1:
            reasons.append(f"rounding to whole {whole}")
        elif diff > 0 and any_binding:
            reasons.append("takes over from states at capacity")
        else:
            reasons.append(f"whole {whole}")
    out["reason"] = reasons
    out["explanation"] = [_explain(result, out, code, base) for code in states.index]
    return out


def _num(value: float, digits: int = 1, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    value = round(float(value), digits)
    if value == 0:
        value = 0.0  # no "-0" or "+0"
        sign = False
    text = f"{value:{'+' if sign else ''},.{digits}f}"
    return text.replace("-", "−")


def _explain(result: RunResult, table: pd.DataFrame, code: str, base: float) -> str:
    row = table.loc[code]
    effects = [c for c in table.columns if c.startswith("effect:")]
    parts = []
    for column in effects:
        label = column.split(":", 1)[1]
        label = "remainder of the caps" if label == "remainder" else label
        capped = " (capped)" if label in row["capped"].split("; ") else ""
        parts.append(f"{label} {_num(row[column], 1, sign=True)}{capped}")
    text = (
        f"{code} {row['name']}: key share {100 * row['share']:.3f}% of {_num(base, 0)} = {_num(row['key_amount'])}"
        f" ({', '.join(parts)})."
    )
    if abs(row["hosted_adjustment"]) > 1e-9:
        text += f" Already hosted: {_num(row['hosted_adjustment'], 1, sign=True)}, target {_num(row['target'])}."
    units = ""
    if abs(row["burden"] - row["allocated"]) > 1e-9:
        units = f" ({_num(row['burden'])} burden units)"
    text += f" Allocated {_num(row['allocated'], 0)} persons{units}, {_num(row['difference'], 1, sign=True)} against the target: {row['reason']}."
    if math.isfinite(row["capacity"]):
        state = "full" if row["at_capacity"] else "not reached"
        text += f" Capacity {_num(row['capacity'], 0)} persons, {state}."
    return text


@dataclass
class _View:
    """One result and everything derived from it, for the reports."""

    index: int
    result: RunResult
    metrics: PlanMetrics
    explanation: pd.DataFrame
    provenance: dict

    @property
    def name(self) -> str:
        return self.result.name


def _views(results: list[RunResult], comparison=None) -> list[_View]:
    metrics = list(comparison.metrics) if comparison is not None else [result_metrics(r) for r in results]
    return [
        _View(i + 1, r, m, explanation_table(r), provenance(r)) for i, (r, m) in enumerate(zip(results, metrics))
    ]


def _title(results: list[RunResult], title: str | None) -> str:
    if title:
        return title
    titles = {r.settings.title for r in results}
    if len(titles) == 1 and None not in titles:
        return str(titles.pop())
    if len(results) == 1:
        return results[0].name
    return "Comparison: " + ", ".join(r.name for r in results)


def _comparison_frames(results: list[RunResult], comparison) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """(wide state x variant table, metrics per variant, long sensitivity) or None each."""
    from .compare import comparison_table, metrics_table, wide_table

    if len(results) < 2 and comparison is None:
        return None, None, None
    if comparison is not None:
        sensitivity = comparison.sensitivity if not comparison.sensitivity.empty else None
        return comparison.wide(), comparison.metrics_table(), sensitivity
    names = [r.name for r in results]
    return wide_table(comparison_table(results), names), metrics_table(results, [result_metrics(r) for r in results]), None


# ---------------------------------------------------------------------------------------------
# Charts (matplotlib, Agg backend; deterministic SVG and PNG)

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _legend_label(text: str) -> str:
    # Matplotlib hides legend entries whose label starts with an underscore.
    return " " + text if text.startswith("_") else text


@dataclass
class _Chart:
    name: str
    caption: str
    figure: object  # matplotlib Figure


def _charts(views: list[_View]) -> list[_Chart]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    charts: list[_Chart] = []
    first = views[0].metrics.states
    order = list(first.sort_values(["target", "burden"], ascending=[True, True], kind="mergesort").index)
    codes = list(dict.fromkeys(order + [c for v in views for c in v.metrics.states.index if c not in order]))
    height = max(3.0, 0.24 * len(codes) + 1.2)

    for view in views:
        per = view.metrics.states.reindex([c for c in codes if c in view.metrics.states.index])
        fig = Figure(figsize=(9, height), dpi=100)
        ax = fig.add_subplot()
        y = np.arange(len(per))
        ax.barh(y, per["burden"], color=_PALETTE[(view.index - 1) % 10], height=0.7, label="allocated")
        ax.scatter(per["target"], y, color="black", marker="|", s=180, linewidths=2, zorder=3, label="fair share (target)")
        ax.set_yticks(y, [str(c) for c in per.index])
        ax.set_xlabel("burden units (persons unless weighted)")
        ax.set_title(f"Allocation against fair share: {view.name}", loc="left")
        ax.legend(loc="lower right", frameon=False)
        ax.grid(axis="x", color="#dddddd")
        ax.set_axisbelow(True)
        fig.tight_layout()
        charts.append(_Chart(f"allocation-{view.index}", f"Allocation against fair share per state ({view.name}); the black mark is the target.", fig))

    if len(views) > 1:
        fig = Figure(figsize=(9, max(3.0, 0.32 * len(codes) + 1.2)), dpi=100)
        ax = fig.add_subplot()
        y = np.arange(len(codes))
        width = 0.8 / len(views)
        for k, view in enumerate(views):
            values = view.metrics.states["allocated"].reindex(codes).fillna(0).to_numpy(dtype=float)
            ax.barh(y - 0.4 + width * (k + 0.5), values, height=width, color=_PALETTE[k % 10], label=_legend_label(view.name))
        ax.set_yticks(y, [str(c) for c in codes])
        ax.set_xlabel("persons allocated")
        ax.set_title("Variants compared: persons per state", loc="left")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045 * 12 / fig.get_figheight()), ncol=min(len(views), 5), frameon=False)
        ax.grid(axis="x", color="#dddddd")
        ax.set_axisbelow(True)
        fig.tight_layout()
        charts.insert(0, _Chart("comparison", "Persons allocated per state in each variant.", fig))

    fig = Figure(figsize=(9, height), dpi=100)
    ax = fig.add_subplot()
    y = np.arange(len(codes))
    markers = "os^Dvp*hX<"
    for k, view in enumerate(views):
        ratio = view.metrics.states["ratio"].reindex(codes).to_numpy(dtype=float)
        ax.scatter(ratio, y, color=_PALETTE[k % 10], marker=markers[k % len(markers)], s=28, label=_legend_label(view.name), zorder=3)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y, [str(c) for c in codes])
    ax.set_xlabel("ratio to fair share (allocated / target); 1 = exactly the fair share")
    ax.set_title("Ratio to fair share", loc="left")
    ax.ticklabel_format(axis="x", useOffset=False)
    if len(views) > 1:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045 * 12 / fig.get_figheight()), ncol=min(len(views), 5), frameon=False)
    ax.grid(axis="x", color="#dddddd")
    ax.set_axisbelow(True)
    fig.tight_layout()
    charts.append(_Chart("ratio", "Ratio to fair share per state: allocation over target (1 is exactly fair).", fig))

    fig = Figure(figsize=(6, 6), dpi=100)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="black", linewidth=1, label="equality")
    for k, view in enumerate(views):
        x, yy = view.metrics.lorenz
        gini = view.metrics.overall.gini
        label = f"{view.name} (Gini {gini:.4f})" if math.isfinite(gini) else view.name
        ax.plot(x, yy, color=_PALETTE[k % 10], marker=markers[k % len(markers)], markersize=3, linewidth=1.5, label=_legend_label(label))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("cumulative share of fair-share targets")
    ax.set_ylabel("cumulative share of allocation")
    ax.set_title("Lorenz curve of the ratio to fair share", loc="left")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(color="#eeeeee")
    fig.tight_layout()
    charts.append(_Chart("lorenz", "Lorenz curve: states sorted by ratio to fair share; the further below the diagonal, the less even.", fig))
    return charts


def _rc(name: str) -> dict:
    return {
        "svg.hashsalt": f"relocate-{name}",
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.size": 9,
        "text.parse_math": False,
        "path.simplify": True,
    }


def _render(chart: _Chart, fmt: str) -> bytes:
    import io

    import matplotlib

    with matplotlib.rc_context(_rc(chart.name)):
        buffer = io.BytesIO()
        if fmt == "svg":
            chart.figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        else:
            chart.figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
        return buffer.getvalue()


def _inline_svg(svg: bytes) -> str:
    import re

    text = svg.decode("utf-8")
    text = text[text.index("<svg") :]
    match = re.match(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"', text)
    if match:
        width = match.group(2)
        text = text.replace(match.group(0), f'<svg{match.group(1)} style="width:100%;max-width:{width}pt;height:auto"', 1)
    return text.strip()


def _build_charts(views: list[_View]) -> list[_Chart]:
    import matplotlib

    # Text objects take some rc settings when created: build inside one rc context.
    with matplotlib.rc_context(_rc("build")):
        return _charts(views)


# ---------------------------------------------------------------------------------------------
# Tables for the reports

_STATE_REPORT_COLUMNS = [
    ("code", "Code", "text"),
    ("name", "State", "text"),
    ("share", "Key share", "pct"),
    ("target", "Target", "f1"),
    ("allocated", "Persons", "int"),
    ("burden", "Burden", "f1"),
    ("deviation", "Deviation", "sf1"),
    ("deviation_pct", "Deviation %", "sf2"),
    ("ratio", "Ratio to fair share", "f4"),
    ("per_1000", "Per 1,000 inhabitants", "f3"),
    ("per_bn_gdp", "Per EUR bn GDP", "f2"),
    ("capacity", "Capacity", "int"),
    ("capacity_use", "Capacity use", "pct1"),
    ("at_capacity", "At capacity", "bool"),
    ("cases", "Cases", "int"),
    ("links_honoured", "Links honoured", "int"),
]

_HEADLINE = [
    "total_absolute_deviation",
    "loosemore_hanby",
    "gallagher",
    "ratio_max",
    "ratio_min",
    "ratio_max_min",
    "gini",
    "theil",
    "per_1000_cv",
    "states_at_capacity",
    "persons_unplaced",
    "groups_kept_together",
    "cases_split",
    "links_honoured",
]


def _fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return "–"
    if kind == "text":
        return str(value)
    if kind == "bool":
        return "yes" if bool(value) else ""
    value = float(value)
    if kind == "int":
        return _num(value, 0)
    if kind == "pct":
        return f"{100 * value:.3f}%"
    if kind == "pct1":
        return f"{100 * value:.1f}%"
    if kind.startswith("sf"):
        return _num(value, int(kind[2:]), sign=True)
    if kind.startswith("f"):
        return _num(value, int(kind[1:]))
    if kind.startswith("g"):
        return f"{value:.{int(kind[1:])}g}"
    return str(value)


def _metric_kind(key: str, value) -> str:
    if isinstance(value, str):
        return "text"
    if key in ("loosemore_hanby", "gini", "theil", "per_1000_cv", "per_bn_gdp_cv"):
        return "g4"
    if key.startswith("ratio"):
        return "f4"
    if key in ("gallagher", "per_1000_mean"):
        return "f4"
    if key in ("total_absolute_deviation", "rounding_floor", "target_total", "allocated_total"):
        return "f2"
    return "int"


def _state_rows(view: _View) -> tuple[list[str], list[list[str]], list[str]]:
    per = view.metrics.states.reset_index()
    columns = [(c, label, kind) for c, label, kind in _STATE_REPORT_COLUMNS if c in per.columns]
    if per["capacity"].isna().all():
        columns = [c for c in columns if c[0] not in ("capacity", "capacity_use", "at_capacity")]
    if view.result.plan.cases is None:
        columns = [c for c in columns if c[0] not in ("cases", "links_honoured", "burden")]
    for key in ("per_1000", "per_bn_gdp"):
        if per[key].isna().all():
            columns = [c for c in columns if c[0] != key]
    header = [label for _, label, _ in columns]
    rows = [[_fmt(row[c], kind) for c, _, kind in columns] for _, row in per.iterrows()]
    kinds = [kind for _, _, kind in columns]
    return header, rows, kinds


def _explanation_rows(view: _View) -> tuple[list[str], list[list[str]], list[str]]:
    table = view.explanation.reset_index()
    effects = [c for c in table.columns if c.startswith("effect:")]
    columns = [("code", "Code", "text"), ("name", "State", "text"), ("share", "Key share", "pct"), ("key_amount", "Key x total", "f1")]
    for c in effects:
        label = c.split(":", 1)[1]
        columns.append((c, "caps remainder" if label == "remainder" else f"{label} effect", "sf1"))
    if (table["capped"] != "").any():
        columns.append(("capped", "Capped terms", "text"))
    if (table["hosted_adjustment"].abs() > 1e-9).any():
        columns.append(("hosted_adjustment", "Already hosted", "sf1"))
    allocated_kind = "int" if view.result.plan.cases is None else "f1"
    columns += [("target", "Target", "f1"), ("burden", "Allocated", allocated_kind), ("difference", "Allocated − target", "sf2")]
    if table["capacity"].notna().any():
        columns += [("capacity", "Capacity", "int"), ("capacity_binding", "Capacity binding", "bool")]
    columns.append(("reason", "Why", "text"))
    header = [label for _, label, _ in columns]
    rows = [[_fmt(row[c], kind) for c, _, kind in columns] for _, row in table.iterrows()]
    return header, rows, [k for _, _, k in columns]


# Rows of the summary table that are facts of the run rather than metrics.
_FACTS = {
    "formula": ("Formula", "", lambda v: v.result.formula.name),
    "method": ("Method", "", lambda v: v.result.method),
    "status": ("Solver status", "", lambda v: v.result.plan.status),
}
_STATUS = ["formula", "status", "persons_placed"]


def _metrics_rows(views: list[_View], keys: list[str] | None = None) -> tuple[list[str], list[list[str]], list[str]]:
    keys = keys or list(METRIC_INFO)
    header = ["Metric", "Formula"] + [v.name for v in views]
    rows = []
    for key in keys:
        if key in _FACTS:
            label, formula, get = _FACTS[key]
            rows.append([label, formula] + [str(get(v)) for v in views])
            continue
        label, formula = METRIC_INFO[key]
        values = [getattr(v.metrics.overall, key) for v in views]
        rows.append([label, formula] + [_fmt(value, _metric_kind(key, value)) for value in values])
    return header, rows, ["text", "text"] + ["num"] * len(views)


def _comparison_rows(wide: pd.DataFrame, names: list[str]) -> tuple[list[str], list[list[str]], list[str]]:
    header = ["Code", "State"]
    kinds = ["text", "text"]
    spec = []
    for i, name in enumerate(names):
        spec.append((f"allocated:{name}", (name, "persons"), "int"))
        spec.append((f"share:{name}", (name, "share"), "pct"))
        if i > 0:
            spec.append((f"difference:{name}", (name, "vs first"), "sf0"))
            spec.append((f"rank_change:{name}", (name, "rank change"), "sf0"))
    header += [label for _, label, _ in spec]
    kinds += [k for _, _, k in spec]
    rows = []
    for _, row in wide.iterrows():
        rows.append([str(row["code"]), str(row["name"])] + [_fmt(row.get(c), kind) for c, _, kind in spec])
    return header, rows, kinds


def _sensitivity_rows(sensitivity: pd.DataFrame, variant: str) -> tuple[list[str], list[list[str]], list[str]] | None:
    from .compare import sensitivity_wide

    allocation_known = sensitivity["allocated"].notna().any()
    value = "change" if allocation_known else "target_change"
    wide = sensitivity_wide(sensitivity, variant, value)
    if wide.empty:
        return None
    moved = [c for c in wide.columns if c not in ("code", "name", "allocated_base", "target_base")]
    header = ["Code", "State", "Persons" if allocation_known else "Target"] + [f"{c}" for c in moved]
    kind = "sf0" if allocation_known else "sf2"
    rows = []
    for _, row in wide.iterrows():
        base = _fmt(row["allocated_base"], "int") if allocation_known else _fmt(row["target_base"], "f1")
        rows.append([str(row["code"]), str(row["name"]), base] + [_fmt(row[c], kind) for c in moved])
    return header, rows, ["text", "text", "num"] + ["num"] * len(moved)


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0;color:#1d2430;background:#fff;line-height:1.45}
main{max-width:1320px;margin:0 auto;padding:24px 28px 60px}
header{border-bottom:3px solid #1f77b4;margin-bottom:18px}
h1{font-size:1.7em;margin:0 0 6px}
h2{font-size:1.3em;margin:32px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:1.08em;margin:20px 0 8px}
p.lead{color:#475467;margin:0 0 14px}
nav{font-size:.92em;margin:0 0 12px}nav a{margin-right:14px;color:#1f5fa0}
table{border-collapse:collapse;font-size:.86em;margin:8px 0 16px;width:auto}
th,td{padding:3px 9px;border-bottom:1px solid #e4e7ec;vertical-align:top;white-space:nowrap}
table.wrap td{white-space:normal}
th{background:#f2f4f7;text-align:left;font-weight:600}
th.group{text-align:center;border-left:2px solid #fff}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
.scroll{overflow-x:auto;max-width:100%}
figure{margin:10px 0 24px}figcaption{font-size:.88em;color:#475467}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0 6px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:150px}
.card b{display:block;font-size:1.35em}.card span{font-size:.82em;color:#475467}
.status-optimal,.status-exact{color:#067647}.status-feasible{color:#b54708}
details{margin:6px 0 14px}summary{cursor:pointer;font-weight:600}
ul.explain{font-size:.88em;padding-left:18px}ul.explain li{margin:2px 0}
code{font-size:.92em}
footer{font-size:.82em;color:#667085;margin-top:40px}
@media print{th{position:static}details{display:block}}
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html_table(header: list, rows: list[list[str]], kinds: list[str], wrap: bool = False) -> str:
    numeric = [k not in ("text", "bool") for k in kinds]
    attr = ' class="wrap"' if wrap else ""
    groups = None
    if any(isinstance(h, tuple) for h in header):
        # (variant, measure) headers: the variant once above its columns, the measure below.
        groups = []
        for h in header:
            group = h[0] if isinstance(h, tuple) else ""
            if groups and groups[-1][0] == group:
                groups[-1][1] += 1
            else:
                groups.append([group, 1])
        header = [h[1] if isinstance(h, tuple) else h for h in header]
    head = "".join(f'<th class="num">{_esc(h)}</th>' if n else f"<th>{_esc(h)}</th>" for h, n in zip(header, numeric))
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    if groups:
        top = "".join(f'<th colspan="{n}" class="group">{_esc(g)}</th>' for g, n in groups)
        return (
            f'<div class="scroll"><table{attr}><thead><tr>{top}</tr><tr>{head}</tr></thead><tbody>'
            + "".join(
                "<tr>" + "".join(f'<td class="num">{_esc(c)}</td>' if n else f"<td>{_esc(c)}</td>" for c, n in zip(row, numeric)) + "</tr>"
                for row in rows
            )
            + "</tbody></table></div>"
        )
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{_esc(c)}</td>' if n else f"<td>{_esc(c)}</td>" for c, n in zip(row, numeric))
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table{attr}>{thead}<tbody>{"".join(body)}</tbody></table></div>'


def _provenance_items(view: _View) -> list[tuple[str, str]]:
    result = view.result
    plan = result.plan
    formula = result.formula
    items = [
        ("Tool", view.provenance["tool"]),
        ("Formula", f"{formula.name}: {formula.title}"),
        ("Criteria", "; ".join(
            f"{c.weight:.4g} x {c.direction} of {c.column}" + (f", capped at {c.cap.factor:g} x ({' + '.join(c.cap.of)})" if c.cap else "")
            for c in formula.criteria
        )),
        ("Source", formula.source),
    ]
    if formula.caveats:
        items.append(("Caveats", formula.caveats))
    items += [
        ("Method", result.method),
        ("Solver", plan.solver),
        ("Status", plan.status),
        ("Gap", "–" if plan.gap is None else f"{plan.gap:.3g}"),
        ("Stages", "; ".join(f"{st.name}: {st.objective:,.4f} ({st.status}{'' if st.gap in (None, 0, 0.0) else f', gap {st.gap:.3g}'})" for st in plan.stages)),
        ("Settings", f"links {plan.settings.links}, objective {plan.settings.objective}, MIP gap {plan.settings.gap:g}, "
         f"time limit {plan.settings.time_limit if plan.settings.time_limit is not None else 'none'}, "
         f"count hosted {'yes' if plan.settings.count_hosted else 'no'}"
         + (f", need weights {plan.settings.need_weights}" if plan.settings.need_weights else "")),
        ("Participants", ", ".join(view.provenance["participants"])),
    ]
    for role, entry in view.provenance["inputs"].items():
        items.append((f"Input: {role}", f"{entry['path']} (SHA-256 {entry['sha256']})"))
    for tie in plan.ties:
        items.append(("Tie", tie))
    return items


def _cards(view: _View) -> str:
    o = view.metrics.overall
    plan = view.result.plan
    cards = [
        (f'<b class="status-{_esc(plan.status)}">{_esc(plan.status)}</b>', "solver status"),
        (f"<b>{_esc(_num(o.persons_placed, 0))}</b>", f"of {_esc(_num(o.persons, 0))} persons placed"),
        (f"<b>{_esc(_fmt(o.total_absolute_deviation, 'f1'))}</b>", "total absolute deviation"),
        (f"<b>{_esc(_fmt(o.loosemore_hanby, 'f4'))}</b>", "Loosemore-Hanby index"),
        (f"<b>{_esc(_fmt(o.ratio_min, 'f3'))} – {_esc(_fmt(o.ratio_max, 'f3'))}</b>", "ratio to fair share, min – max"),
        (f"<b>{_esc(_num(o.states_at_capacity, 0))}</b>", "states at capacity"),
    ]
    if plan.cases is not None:
        cards.append((f"<b>{_esc(_num(o.cases_split, 0))}</b>", "family groups split"))
    return '<div class="cards">' + "".join(f'<div class="card">{b}<span>{_esc(s)}</span></div>' for b, s in cards) + "</div>"


def _unplaced(view: _View) -> pd.DataFrame | None:
    cases = view.result.plan.cases
    if cases is None:
        return None
    return cases[cases["state"] == ""]


def render_html(views: list[_View], charts: list[_Chart], frames, title: str, run: dict, notes: tuple[str, ...] = ()) -> str:
    wide, per_variant, sensitivity = frames
    names = [v.name for v in views]
    many = len(views) > 1
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{_esc(title)}</h1>",
    ]
    first = views[0].result
    what = f"{_num(first.plan.counts.get('persons', 0), 0)} persons"
    if first.plan.cases is not None:
        what += f" in {_num(first.plan.counts.get('cases', 0), 0)} family cases"
    lead = (
        f"{'Variants ' + ', '.join(names) if many else 'Formula ' + first.formula.name}; {what}; "
        f"{len(first.participants)} participating states; method {first.method}."
    )
    parts.append(f'<p class="lead">{_esc(lead)}</p></header>')
    toc = [("summary", "Summary"), ("charts", "Charts")]
    if many:
        toc.append(("comparison", "Comparison"))
    toc += [("states", "States"), ("explanation", "How the numbers came about")]
    if any(v.result.plan.cases is not None for v in views):
        toc.append(("cases", "Cases"))
    toc += [("metrics", "Metrics"), ("provenance", "Provenance"), ("run", "Run")]
    parts.append("<nav>" + "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t in toc) + "</nav>")

    parts.append('<section id="summary"><h2>Summary</h2>')
    if not many:
        parts.append(_cards(views[0]))
    header, rows, kinds = _metrics_rows(views, _STATUS + _HEADLINE)
    parts.append(_html_table(header, rows, kinds))
    for note in notes:
        parts.append(f"<p>{_esc(note)}</p>")
    parts.append("</section>")

    parts.append('<section id="charts"><h2>Charts</h2>')
    for chart in charts:
        parts.append(f'<figure id="chart-{_esc(chart.name)}">{_inline_svg(_render(chart, "svg"))}<figcaption>{_esc(chart.caption)}</figcaption></figure>')
    parts.append("</section>")

    if many and wide is not None:
        parts.append('<section id="comparison"><h2>Comparison</h2>')
        parts.append(
            "<p>Persons and key share per state in each variant; the difference and rank change are "
            f"against the first variant ({_esc(names[0])}); a positive rank change means the state moved up "
            "the list (carries more relative to the others).</p>"
        )
        parts.append(_html_table(*_comparison_rows(wide, names)))
        if sensitivity is not None:
            parts.append("<h3>Sensitivity to the criterion weights</h3>")
            factors = sorted(set(sensitivity["factor"]), reverse=True)
            parts.append(
                "<p>How each state's allocation moves when one criterion's weight is multiplied by "
                + ", ".join(f"{f:g}" for f in factors)
                + " (the weights then renormalised to sum to 1), everything else unchanged.</p>"
            )
            for view in views:
                table = _sensitivity_rows(sensitivity, view.name)
                if table is None:
                    continue
                parts.append(f"<details{' open' if view.index == 1 else ''}><summary>{_esc(view.name)}</summary>{_html_table(*table)}</details>")
        parts.append("</section>")

    parts.append('<section id="states"><h2>States</h2>')
    for view in views:
        block = _html_table(*_state_rows(view))
        if many:
            parts.append(f"<details{' open' if view.index == 1 else ''}><summary>{_esc(view.name)}</summary>{block}</details>")
        else:
            parts.append(block)
    parts.append("</section>")

    parts.append('<section id="explanation"><h2>How the numbers came about</h2>')
    parts.append(
        "<p>Each state's key share is a sum of criterion contributions; times the total they give its "
        "effects (population effect, GDP effect, ...), and what caps cut is spread again by the base key "
        "(caps remainder). The effects sum to the state's target. The allocation then differs from the "
        "target by rounding to whole persons or families and where capacity binds.</p>"
    )
    for view in views:
        table = _html_table(*_explanation_rows(view))
        sentences = "".join(f"<li>{_esc(t)}</li>" for t in view.explanation["explanation"])
        inner = f'{table}<details><summary>In words</summary><ul class="explain">{sentences}</ul></details>'
        if many:
            parts.append(f"<details{' open' if view.index == 1 else ''}><summary>{_esc(view.name)}</summary>{inner}</details>")
        else:
            parts.append(inner)
    parts.append("</section>")

    if any(v.result.plan.cases is not None for v in views):
        parts.append('<section id="cases"><h2>Cases</h2>')
        for view in views:
            plan = view.result.plan
            if plan.cases is None:
                continue
            c = plan.counts
            if many:
                parts.append(f"<h3>{_esc(view.name)}</h3>")
            parts.append(
                f"<p>{_esc(_num(c.get('placed_cases', 0), 0))} of {_esc(_num(c.get('cases', 0), 0))} cases placed "
                f"({_esc(_num(c.get('placed_persons', 0), 0))} of {_esc(_num(c.get('persons', 0), 0))} persons); "
                f"{_esc(_num(c.get('groups_kept_together', 0), 0))} of {_esc(_num(c.get('groups', 0), 0))} family groups kept together, "
                f"{_esc(_num(c.get('cases_split', 0), 0))} split; {_esc(_num(c.get('links_honoured', 0), 0))} of "
                f"{_esc(_num(c.get('cases_with_links', 0), 0))} cases with family links placed in a linked state. "
                "The full case list is in plan_cases.csv and report.xlsx.</p>"
            )
            unplaced = _unplaced(view)
            if unplaced is not None and len(unplaced):
                shown = unplaced.head(MAX_HTML_UNPLACED)
                rows = [[str(r.case_id), _num(r.size, 0), str(r.group), str(r.links), str(r.reason)] for r in shown.itertuples()]
                parts.append(f"<h3>Unplaced cases{'' if len(unplaced) <= MAX_HTML_UNPLACED else f' (first {MAX_HTML_UNPLACED} of {len(unplaced):,})'}</h3>")
                parts.append(_html_table(["Case", "Persons", "Group", "Links", "Why"], rows, ["text", "int", "text", "text", "text"]))
        parts.append("</section>")

    parts.append('<section id="metrics"><h2>Metrics</h2>')
    parts.append(
        "<p>a<sub>i</sub>: allocation of state i in burden units, t<sub>i</sub>: its fair-share target, "
        "A and T their sums, r<sub>i</sub> = a<sub>i</sub>/t<sub>i</sub>, w<sub>i</sub> = t<sub>i</sub>/T, "
        "mu = sum w<sub>i</sub> r<sub>i</sub>, p<sub>i</sub> persons, P<sub>i</sub> population, G<sub>i</sub> GDP in EUR million. "
        "A dash: undefined (e.g. no target, or nothing allocated).</p>"
    )
    parts.append(_html_table(*_metrics_rows(views)))
    parts.append("</section>")

    parts.append('<section id="provenance"><h2>Provenance</h2>')
    for view in views:
        if many:
            parts.append(f"<h3>{_esc(view.name)}</h3>")
        rows = [[k, v] for k, v in _provenance_items(view)]
        parts.append(_html_table(["", ""], rows, ["text", "text"], wrap=True))
    parts.append("</section>")

    parts.append('<section id="run"><h2>Run</h2>')
    rows = [["Created", str(run.get("created", ""))]]
    for name, seconds in run.get("seconds", {}).items():
        rows.append([f"Seconds ({name})", ", ".join(f"{k} {v:g}" for k, v in seconds.items()) or "–"])
    for name, seconds in run.get("stage_seconds", {}).items():
        rows.append([f"Stage seconds ({name})", ", ".join(f"{k} {v:g}" for k, v in seconds.items()) or "–"])
    parts.append(_html_table(["", ""], rows, ["text", "text"], wrap=True))
    parts.append("</section>")
    parts.append(f"<footer>{_esc(views[0].provenance['tool'])}. Everything above except this Run section is the same for the same inputs.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown


def _md_cell(text: str) -> str:
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _md_table(header: list[str], rows: list[list[str]], kinds: list[str]) -> str:
    numeric = [k not in ("text", "bool") for k in kinds]
    header = [": ".join(h) if isinstance(h, tuple) else h for h in header]
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines)


def render_markdown(views: list[_View], charts: list[_Chart], frames, title: str, run: dict, notes: tuple[str, ...] = ()) -> str:
    wide, _, sensitivity = frames
    names = [v.name for v in views]
    many = len(views) > 1
    out = [f"# {_md_cell(title)}", ""]
    first = views[0].result
    out.append(
        _md_cell(
            f"{'Variants ' + ', '.join(names) if many else 'Formula ' + first.formula.name}; "
            f"{_num(first.plan.counts.get('persons', 0), 0)} persons; {len(first.participants)} participating states; method {first.method}."
        )
    )
    out += ["", "## Summary", ""]
    for view in views:
        plan = view.result.plan
        out.append(_md_cell(f"- {view.name}: {plan.status}, {view.metrics.overall.persons_placed:,} of {view.metrics.overall.persons:,} persons placed."))
    out += ["", _md_table(*_metrics_rows(views, _HEADLINE)), ""]
    for note in notes:
        out += [_md_cell(note), ""]
    out += ["## Charts", ""]
    for chart in charts:
        out += [f"![{_md_cell(chart.caption)}](charts/{chart.name}.png)", "", _md_cell(chart.caption), ""]
    if many and wide is not None:
        out += ["## Comparison", "", _md_cell(f"Difference and rank change against the first variant ({names[0]}); positive rank change: moved up the list."), ""]
        out += [_md_table(*_comparison_rows(wide, names)), ""]
        if sensitivity is not None:
            out += ["### Sensitivity to the criterion weights", ""]
            for view in views:
                table = _sensitivity_rows(sensitivity, view.name)
                if table is not None:
                    out += [f"#### {_md_cell(view.name)}", "", _md_table(*table), ""]
    out += ["## States", ""]
    for view in views:
        if many:
            out += [f"### {_md_cell(view.name)}", ""]
        out += [_md_table(*_state_rows(view)), ""]
    out += ["## How the numbers came about", ""]
    for view in views:
        if many:
            out += [f"### {_md_cell(view.name)}", ""]
        out += [_md_table(*_explanation_rows(view)), ""]
        out += [f"- {_md_cell(t)}" for t in view.explanation["explanation"]]
        out.append("")
    cased = [v for v in views if v.result.plan.cases is not None]
    if cased:
        out += ["## Cases", ""]
        for view in cased:
            c = view.result.plan.counts
            out.append(_md_cell(
                f"- {view.name}: {c.get('placed_cases', 0):,} of {c.get('cases', 0):,} cases placed; "
                f"{c.get('groups_kept_together', 0):,} of {c.get('groups', 0):,} groups kept together, {c.get('cases_split', 0):,} split; "
                f"{c.get('links_honoured', 0):,} of {c.get('cases_with_links', 0):,} linked cases in a linked state."
            ))
            unplaced = _unplaced(view)
            if unplaced is not None and len(unplaced):
                shown = unplaced.head(MAX_HTML_UNPLACED)
                rows = [[str(r.case_id), _num(r.size, 0), str(r.group), str(r.links), str(r.reason)] for r in shown.itertuples()]
                out += ["", _md_table(["Case", "Persons", "Group", "Links", "Why"], rows, ["text", "int", "text", "text", "text"])]
        out.append("")
    out += ["## Metrics", "", _md_table(*_metrics_rows(views)), ""]
    out += ["## Provenance", ""]
    for view in views:
        if many:
            out += [f"### {_md_cell(view.name)}", ""]
        out += [f"- **{_md_cell(k)}**: {_md_cell(v)}" for k, v in _provenance_items(view)]
        out.append("")
    out += ["## Run", "", f"- Created: {_md_cell(run.get('created', ''))}"]
    for name, seconds in run.get("seconds", {}).items():
        out.append(_md_cell(f"- Seconds ({name}): " + (", ".join(f"{k} {v:g}" for k, v in seconds.items()) or "–")))
    for name, seconds in run.get("stage_seconds", {}).items():
        out.append(_md_cell(f"- Stage seconds ({name}): " + (", ".join(f"{k} {v:g}" for k, v in seconds.items()) or "–")))
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# JSON


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    columns = list(frame.columns)
    for row in frame.itertuples(index=False, name=None):
        out.append({str(c): to_jsonable(v.item() if isinstance(v, np.generic) else v) for c, v in zip(columns, row)})
    return out


def report_document(views: list[_View], frames, title: str, run: dict, comparison=None) -> dict:
    wide, per_variant, sensitivity = frames
    variants = []
    for view in views:
        result = view.result
        plan = result.plan
        entry = {
            "name": view.name,
            "settings": result.settings.model_dump(mode="json", exclude_none=True, exclude={"formula"}),
            "formula": result.formula.model_dump(mode="json"),
            "method": result.method,
            "status": plan.status,
            "gap": plan.gap,
            "solver": plan.solver,
            "stages": [{"name": st.name, "status": st.status, "gap": st.gap, "objective": st.objective} for st in plan.stages],
            "counts": plan.counts,
            "ties": list(plan.ties),
            "metrics": view.metrics.overall.to_dict(),
            "lorenz": {"x": view.metrics.lorenz[0].tolist(), "y": view.metrics.lorenz[1].tolist()},
            "states": _records(view.metrics.states.reset_index()),
            "explanation": _records(view.explanation.reset_index()),
            "provenance": view.provenance,
        }
        if plan.cases is not None:
            cases = plan_cases_table(result)
            if len(cases) <= MAX_CASE_ROWS:
                entry["cases"] = _records(cases)
            else:
                entry["cases_note"] = f"{len(cases):,} cases: the list is in plan_cases.csv; unplaced ones here"
                entry["cases"] = _records(cases[cases["state"] == ""])
        variants.append(entry)
    document = {
        "title": title,
        "tool": f"relocate {__version__}",
        "metric_definitions": {k: {"label": label, "formula": formula} for k, (label, formula) in METRIC_INFO.items()},
        "variants": variants,
    }
    if wide is not None:
        document["comparison"] = {
            "first": views[0].name,
            "states": _records(wide),
            "metrics": _records(per_variant) if per_variant is not None else [],
        }
        if comparison is not None:
            document["comparison"]["long"] = _records(comparison.table)
            document["comparison"]["sensitivity_factors"] = list(comparison.factors)
            document["comparison"]["notes"] = list(comparison.notes)
        if sensitivity is not None:
            document["comparison"]["sensitivity"] = _records(sensitivity)
    document["run"] = run
    return document


# ---------------------------------------------------------------------------------------------
# Excel (XlsxWriter: about twice as fast as openpyxl on long case lists; the zip entries carry
# fixed dates, so the workbook's created/modified properties are its only run-dependent bytes)


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


_XL_FORMATS = {
    "share": "0.0000%",
    "capacity_use": "0.0%",
    "ratio": "0.0000",
    "deviation_pct": "0.00",
}


class _Book:
    """An XlsxWriter workbook in memory, with its cell formats made once each."""

    def __init__(self, title: str, run: dict):
        import io

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

    def number(self, pattern: str):
        if pattern not in self._numbers:
            self._numbers[pattern] = self.book.add_format({"num_format": pattern})
        return self._numbers[pattern]

    def sheet(self, name: str, frame: pd.DataFrame, formats: dict[str, str] | None = None) -> None:
        """A table: bold header, one column at a time (with its number format), header frozen."""
        ws = self.book.add_worksheet(name)
        formats = {**_XL_FORMATS, **(formats or {})}
        columns = [str(c) for c in frame.columns]
        ws.write_row(0, 0, [neutralise(c) for c in columns], self.bold)
        for j, column in enumerate(columns):
            pattern = formats.get(column) or formats.get(column.split(":", 1)[0])
            values = frame.iloc[:, j].tolist()
            ws.write_column(1, j, [_cell(v) for v in values], self.number(pattern) if pattern else None)
            width = max([len(column)] + [len(str(v)) for v in values[:200]])
            ws.set_column(j, j, min(60, max(8, width + 2)))
        ws.freeze_panes(1, 0)

    def note(self, name: str, text: str) -> None:
        ws = self.book.add_worksheet(name)
        ws.write_string(0, 0, neutralise(text))
        ws.set_column(0, 0, 100)

    def close(self) -> bytes:
        self.book.close()
        return self.buffer.getvalue()


def render_xlsx(views: list[_View], frames, title: str, run: dict, comparison=None) -> bytes:
    wide, _, sensitivity = frames
    out = _Book(title, run)
    ws = out.book.add_worksheet("Summary")
    ws.write_string(0, 0, neutralise(title), out.heading)
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
    for key in _HEADLINE:
        line(METRIC_INFO[key][0], [getattr(v.metrics.overall, key) for v in views])
    row += 1
    line("Tool", [v.provenance["tool"] for v in views])
    roles = list(dict.fromkeys(role for v in views for role in v.provenance["inputs"]))
    for role in roles:
        line(f"Input {role}", [v.provenance["inputs"].get(role, {}).get("path") for v in views])
        line(f"Input {role} SHA-256", [v.provenance["inputs"].get(role, {}).get("sha256") for v in views])
    ws.set_column(0, 0, 48)
    ws.set_column(1, len(views), 24)

    states = pd.concat(
        [v.metrics.states.reset_index().assign(variant=v.name) for v in views], ignore_index=True
    )
    out.sheet("States", states[["variant"] + [c for c in states.columns if c != "variant"]])

    frames_cases = []
    for view in views:
        cases = plan_cases_table(view.result)
        if cases is not None:
            frames_cases.append(cases.assign(variant=view.name))
    if frames_cases:
        cases = pd.concat(frames_cases, ignore_index=True)
        cases = cases[["variant"] + [c for c in cases.columns if c != "variant"]]
        if len(cases) > MAX_CASE_ROWS:
            # Too long for a workbook: the unplaced cases here, the whole list in plan_cases.csv.
            cases = cases[cases["state"] == ""]
        out.sheet("Cases", cases)
    else:
        out.note("Cases", "Quota plan: no case list (every unit is one person).")

    metric_rows = []
    for key, (label, formula) in METRIC_INFO.items():
        metric_rows.append([key, label, formula] + [getattr(v.metrics.overall, key) for v in views])
    out.sheet("Metrics", pd.DataFrame(metric_rows, columns=["metric", "label", "formula"] + [v.name for v in views]), {})

    if wide is not None:
        out.sheet("Comparison", wide)
    else:
        out.note("Comparison", "One plan: run `relocate compare` to compare variants.")
    if sensitivity is not None:
        out.sheet("Sensitivity", sensitivity)
    explanation = pd.concat([v.explanation.reset_index().assign(variant=v.name) for v in views], ignore_index=True)
    out.sheet("Explanation", explanation[["variant"] + [c for c in explanation.columns if c != "variant"]])
    return out.close()


# ---------------------------------------------------------------------------------------------
# Entry points


def write_reports(
    results: list[RunResult],
    folder: Path,
    formats: str | None = None,
    comparison=None,
    *,
    title: str | None = None,
    run: dict | None = None,
) -> list[Path]:
    """Write the selected reports for one or more results into `folder` (see module notes).

    `formats`: comma list of html, md, xlsx, json, charts; None or 'all' for all, 'none' for none.
    `comparison`: a `compare.Comparison` (adds the sensitivity tables); with several results and no
    comparison, the comparison tables are built from the results. `run`: the run facts to print
    (default: the `run` entry of `folder/metrics.json` when there is one, else now)."""
    chosen = parse_formats(formats)
    if not chosen:
        return []
    results = list(results)
    if not results:
        raise ValueError("no results to report")
    folder = Path(folder)
    run = run if run is not None else _read_run(folder, results)
    title = _title(results, title)
    views = _views(results, comparison)
    frames = _comparison_frames(results, comparison)
    notes = tuple(comparison.notes) if comparison is not None else ()
    tables = [f for f in chosen if f in ("xlsx", "json")]
    pictures = [f for f in chosen if f not in tables]

    def write_tables() -> list[Path]:
        written = []
        if "xlsx" in tables:
            path = folder / "report.xlsx"
            path.write_bytes(render_xlsx(views, frames, title, run, comparison))
            written.append(path)
        if "json" in tables:
            path = folder / "report.json"
            write_json(report_document(views, frames, title, run, comparison), path)
            written.append(path)
        return written

    def write_pictures() -> list[Path]:
        written: list[Path] = []
        charts = _build_charts(views) if pictures else []
        if "charts" in pictures or "md" in pictures:
            (folder / "charts").mkdir(exist_ok=True)
            for chart in charts:
                path = folder / "charts" / f"{chart.name}.png"
                path.write_bytes(_render(chart, "png"))
                written.append(path)
        if "html" in pictures:
            path = folder / "report.html"
            path.write_text(render_html(views, charts, frames, title, run, notes), encoding="utf-8")
            written.append(path)
        if "md" in pictures:
            path = folder / "report.md"
            path.write_text(render_markdown(views, charts, frames, title, run, notes), encoding="utf-8")
            written.append(path)
        return written

    if tables and pictures and hasattr(os, "fork"):
        # Two independent halves of about equal cost (matplotlib against the workbook and JSON):
        # the workbook and JSON are written by a forked copy of this process at the same time.
        finish = _in_child(write_tables)
        try:
            written = write_pictures()
        except BaseException:
            finish(abandon=True)
            raise
        return written + finish()
    return write_pictures() + write_tables()


def _in_child(work) -> object:
    """Start `work()` (files written, list of paths returned) in a forked child; return a function
    that waits for it and returns the paths, or raises with the child's error (`abandon=True`: kills
    it instead). The child never returns into the caller: it ends with os._exit, so no `finally` of
    ours (such as removing the staging folder) runs in it."""
    import signal
    import sys
    import warnings

    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks (HiGHS may keep idle workers): the
        # child only runs Python and zlib, never the solver, so no lock of theirs is in its way.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        os.close(reader)
        code = 1
        try:
            paths = work()
            message = json.dumps({"paths": [str(p) for p in paths]})
            code = 0
        except BaseException as err:  # noqa: BLE001 (all of it goes back to the parent)
            message = json.dumps({"error": f"{type(err).__name__}: {err}"})
        try:
            with os.fdopen(writer, "w", encoding="utf-8") as pipe:
                pipe.write(message)
        finally:
            os._exit(code)
    os.close(writer)

    def finish(abandon: bool = False) -> list[Path]:
        with os.fdopen(reader, encoding="utf-8") as pipe:
            try:
                if abandon:
                    os.kill(pid, signal.SIGKILL)
                    return []
                text = pipe.read()
            except BaseException:
                os.kill(pid, signal.SIGKILL)
                raise
            finally:
                _, status = os.waitpid(pid, 0)
        answer = json.loads(text) if text else {"error": f"report writer ended with status {status}"}
        if "error" in answer:
            raise RuntimeError(f"writing the reports failed: {answer['error']}")
        return [Path(p) for p in answer["paths"]]

    return finish


def write_comparison_files(comparison, folder: Path) -> list[Path]:
    """comparison.csv (state x variant), sensitivity.csv (when computed) and metrics.json (every
    variant's metrics, with the run facts) for `relocate compare`."""
    folder = Path(folder)
    written = []
    wide = comparison.wide()
    wide.columns = [str(neutralise(str(c))) for c in wide.columns]
    path = folder / "comparison.csv"
    write_csv(wide, path)
    written.append(path)
    if not comparison.sensitivity.empty:
        path = folder / "sensitivity.csv"
        write_csv(comparison.sensitivity, path)
        written.append(path)
    document = {
        "variants": [
            {
                "name": r.name,
                "formula": r.formula.name,
                "method": r.method,
                "status": r.plan.status,
                "gap": r.plan.gap,
                "solver": r.plan.solver,
                "counts": r.plan.counts,
                "fairness": m.overall.to_dict(),
                "provenance": provenance(r),
            }
            for r, m in zip(comparison.results, comparison.metrics)
        ],
        "notes": list(comparison.notes),
        "run": run_facts_all(comparison.results),
    }
    path = folder / "metrics.json"
    write_json(document, path)
    written.append(path)
    return written
