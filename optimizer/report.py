"""Writing results: plan tables, metrics and reports, all or nothing.

Every file goes first into a hidden staging folder beside the output folder, which is moved into
place only when everything was written: a failed or interrupted run leaves no partial output. Values
that change from run to run (wall times, the date) are kept in one place, the `run` entry of
`metrics.json`, so everything else is byte-identical for the same inputs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError
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


@contextmanager
def staged_output(out_dir: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `out_dir`, on any failure it is removed."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", file=out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError("output folder is not empty; use --force to replace it", file=out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
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


# ---------------------------------------------------------------------------------------------
# Plan tables


def plan_states_table(result: RunResult) -> pd.DataFrame:
    table = result.plan.states.reset_index()
    table["deviation_pct"] = np.where(table["target"] > 0, 100 * table["deviation"] / table["target"].where(table["target"] > 0), np.nan)
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
