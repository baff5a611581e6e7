"""The plan's own files: plan_states.csv, plan_cases.csv and metrics.json (`relocate solve`), and
comparison.csv, sensitivity.csv and metrics.json (`relocate compare`).

Values that change from run to run (wall times, the date) are kept in one place, the `run` entry of
`metrics.json`, so everything else is byte-identical for the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..compare import Comparison
from ..io.cases import CASE_COLUMNS
from ..io.output import neutralise, sha256, with_input_columns, write_csv, write_json
from ..metrics import origin_metrics, result_metrics
from ..pipeline import RunResult
from ..runfacts import run_date


def plan_states_table(result: RunResult) -> pd.DataFrame:
    """The plan's states table plus the per-state fairness columns (see `optimizer.metrics`)."""
    table = result.plan.states.reset_index()
    table["deviation_pct"] = np.where(table["target"] > 0, 100 * table["deviation"] / table["target"].where(table["target"] > 0), np.nan)
    per_state = result_metrics(result).states
    for column in ("ratio", "per_1000", "per_bn_gdp", "capacity_use"):
        table[column] = per_state[column].to_numpy()
    # The states file's own columns, as written (nothing the user gave is lost on the way).
    states = result.states
    own = {c: pd.Series(v, index=states.index).reindex(table["code"]).to_numpy() for c, v in states.attrs.get("text", {}).items()}
    return with_input_columns(table, own, states.attrs.get("headers", {}))


def plan_cases_table(result: RunResult) -> pd.DataFrame | None:
    """One row per case: where it goes and why, then the case file's own columns as written."""
    table = _plan_cases(result)
    if table is None or result.cases is None:
        return table
    cases = result.cases.set_index("case_id")
    own = {c: cases[c].reindex(table["case_id"]).to_numpy() for c in cases.columns if c not in CASE_COLUMNS}
    return with_input_columns(table, own, result.cases.attrs.get("headers", {}))


def _plan_cases(result: RunResult) -> pd.DataFrame | None:
    if result.plan.cases is None:
        return None
    columns = ["case_id", "state", "size", "weight", "group", "links", "link_honoured", "reason"]
    if "origin" in result.plan.cases.columns:
        columns.insert(1, "origin")  # relocation from several states: where the case is now
    return result.plan.cases[columns]


def provenance(result: RunResult) -> dict:
    return {
        "tool": f"relocate {__version__}",
        "inputs": {role: {"path": path, "sha256": sha256(path)} for role, path in result.inputs.items() if path},
        "formula": {"name": result.formula.name, "title": result.formula.title, "source": result.formula.source},
        "method": result.method,
        "participants": list(result.participants.index),
    }


def _seconds(result: RunResult) -> tuple[dict, dict]:
    """(wall seconds per step, wall seconds per stage) of one result."""
    plan = result.plan
    return {k: round(v, 4) for k, v in plan.times.items()}, {st.name: round(st.seconds, 4) for st in plan.stages}


def run_facts(result: RunResult) -> dict:
    """What changes from one run to the next: kept together in one place."""
    seconds, stage_seconds = _seconds(result)
    return {"created": run_date(), "seconds": seconds, "stage_seconds": stage_seconds}


def run_facts_all(results: list[RunResult]) -> dict:
    """The run facts of several results (a comparison), in one entry."""
    timed = {r.name: _seconds(r) for r in results}
    return {
        "created": run_date(),
        "seconds": {name: seconds for name, (seconds, _) in timed.items()},
        "stage_seconds": {name: stages for name, (_, stages) in timed.items()},
    }


def read_run(folder: Path, results: list[RunResult]) -> dict:
    """The run facts already written to metrics.json in this folder, so every file tells the same."""
    path = folder / "metrics.json"
    if path.exists():
        try:
            run = json.loads(path.read_text(encoding="utf-8")).get("run")
        except (ValueError, OSError):
            run = None
        if isinstance(run, dict) and "created" in run:
            if len(results) == 1 and "seconds" in run and results[0].name not in run.get("seconds", {}):
                # metrics.json of `solve` holds one result's facts: key them by its name.
                return {
                    "created": run["created"],
                    "seconds": {results[0].name: run.get("seconds", {})},
                    "stage_seconds": {results[0].name: run.get("stage_seconds", {})},
                }
            return run
    return run_facts_all(results)


def stages(result: RunResult) -> list[dict]:
    return [{"name": st.name, "status": st.status, "gap": st.gap, "objective": st.objective, "proof": st.proof} for st in result.plan.stages]


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
        "stages": stages(result),
        "counts": plan.counts.as_dict(),
        "ties": list(plan.ties),
        "provenance": provenance(result),
        "fairness": result_metrics(result).overall.to_dict(),
    }
    origins = origin_metrics(plan)
    if origins is not None:
        document["origins"] = origins
    if extra:
        document.update(extra)
    document["run"] = run_facts(result)
    return document


def write_plan_files(result: RunResult, folder: Path, extra_metrics: dict | None = None) -> list[Path]:
    """The plan itself: plan_states.csv, plan_cases.csv (case plans), plan_origins.csv (cases
    with origins) and metrics.json."""
    written = []
    path = folder / "plan_states.csv"
    write_csv(plan_states_table(result), path)
    written.append(path)
    cases = plan_cases_table(result)
    if cases is not None:
        path = folder / "plan_cases.csv"
        write_csv(cases, path)
        written.append(path)
    if result.plan.origins is not None:
        path = folder / "plan_origins.csv"
        write_csv(result.plan.origins, path)
        written.append(path)
    path = folder / "metrics.json"
    write_json(metrics_document(result, extra_metrics), path)
    written.append(path)
    return written


def write_comparison_files(comparison: Comparison, folder: Path) -> list[Path]:
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
                "counts": r.plan.counts.as_dict(),
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
