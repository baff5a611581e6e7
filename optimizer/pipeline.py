"""One run, end to end: inputs -> key -> targets -> model -> plan.

The command line and the Python API both come through here, so a scenario file, command-line flags
and a `[[variants]]` table all mean the same thing. Settings given on the command line override the
scenario file; a variant overrides its scenario.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import apportion as apportionment
from .checks import Reading, check_plan_inputs, reading
from .errors import InputError, show
from .io.output import sha256  # noqa: F401 (moved to io.output; kept importable from here)
from .keys import Formula, KeyResult, compute_key, resolve_formula, weight_column_formula
from .model import plan as solve_plan
from .results import Counts, Plan, Stage, Status, column_or_nan, state_table
from .io.cases import has_origins, load_cases
from .io.states import load_states
from .participants import participants
from .settings import ScenarioSettings, Settings, model_settings
from .targets import state_targets

DEFAULT_METHOD = "lp"


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced, with what it was made from (for reports and provenance)."""

    name: str
    settings: ScenarioSettings
    formula: Formula
    method: str
    states: pd.DataFrame  # the whole states table (after capacity overrides)
    participants: pd.DataFrame
    key: KeyResult
    plan: Plan
    inputs: dict[str, str]  # role -> path
    cases: pd.DataFrame | None = None  # the case list as loaded (its other columns go to plan_cases.csv)
    reading: Reading = field(default_factory=Reading)  # the columns used and only carried along


def merge(base: ScenarioSettings, override: ScenarioSettings) -> ScenarioSettings:
    """`override`'s given (non-None) settings on top of `base`."""
    given = override.model_dump(exclude_none=True, exclude={"variants", "name"})
    return base.model_copy(update=given)


def resolve_path(value: str | None, base_dir: Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return path


def _apply_capacity_overrides(states: pd.DataFrame, overrides: dict[str, int] | None) -> pd.DataFrame:
    if not overrides:
        return states
    unknown = [c for c in overrides if c not in states.index]
    if unknown:
        raise InputError(
            f"capacity override for unknown state code(s) {', '.join(show(c) for c in unknown)} "
            f"(not in {states.attrs.get('source', 'the states file')})"
        )
    out = states.copy()
    out.attrs = dict(states.attrs)
    if "capacity" not in out.columns:
        out["capacity"] = np.nan
    for code, value in overrides.items():
        if value < 0:
            raise InputError(f"capacity override for {code} is negative")
        minimum = out.at[code, "minimum"] if "minimum" in out.columns else float("nan")
        if not np.isnan(minimum) and value < minimum:
            raise InputError(
                f"capacity override {value} for {code} is below its minimum {minimum:.0f}",
                file=states.attrs.get("source"),
                row=states.attrs.get("rows", {}).get(code),
                column="minimum",
            )
        out.at[code, "capacity"] = float(value)
    return out


# `relocate check` applies them as a run does, without running.
apply_capacity_overrides = _apply_capacity_overrides


def choose_formula(settings: ScenarioSettings, base_dir: Path | None) -> Formula:
    if settings.weight_column and settings.formula:
        raise InputError("give either a formula or a weight column, not both")
    if settings.weight_column:
        return weight_column_formula(settings.weight_column)
    if not settings.formula:
        raise InputError("no formula given: use --formula NAME|FILE.toml or --weight-column COLUMN")
    return resolve_formula(settings.formula, base_dir)


def key_for(settings: ScenarioSettings, base_dir: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, KeyResult]:
    """Load the states, select participants and compute the key: (all states, participants, key)."""
    states_path = resolve_path(settings.states, base_dir)
    if states_path is None:
        raise InputError("no states file given")
    states = _apply_capacity_overrides(load_states(states_path, settings.decimal), settings.capacity)
    chosen = participants(states, settings.only, settings.exclude)
    formula = choose_formula(settings, base_dir)
    return states, chosen, compute_key(chosen, formula)


def run(
    settings: ScenarioSettings,
    base_dir: Path | None = None,
    name: str = "plan",
    *,
    cases: pd.DataFrame | None = None,
    states: pd.DataFrame | None = None,
    destinations: pd.Series | None = None,
) -> RunResult:
    """Run one scenario. `cases`/`states` may be passed pre-loaded (compare reuses them).
    `destinations`: relocations pledged per state (`SolidarityResult.destination_targets()`), the
    destinations' targets in place of the key's when the cases have origins (ignored otherwise).
    The time limit counts from here: reading and checking the inputs take from it."""
    started = time.perf_counter()
    states_path = resolve_path(settings.states, base_dir)
    cases_path = resolve_path(settings.cases, base_dir)
    if states is None:
        if states_path is None:
            raise InputError("no states file given")
        states = load_states(states_path, settings.decimal)
    states = _apply_capacity_overrides(states, settings.capacity)
    chosen = participants(states, settings.only, settings.exclude)
    formula = choose_formula(settings, base_dir)
    key = compute_key(chosen, formula)
    method = apportionment.canonical_method(settings.method or DEFAULT_METHOD)
    solve_settings = model_settings(settings)
    deadline = None if solve_settings.time_limit is None else started + solve_settings.time_limit

    if cases is None and cases_path is not None:
        cases = load_cases(cases_path, settings.decimal)
    if cases is None and settings.total is None:
        raise InputError("nothing to place: give a cases file (--cases) or a total (--total)")
    check_plan_inputs(states, cases, settings.total, method, solve_settings.need_weights)

    if cases is not None:
        pledged = destinations if destinations is not None and has_origins(cases) else None
        result = solve_plan(chosen, key.shares, solve_settings, cases=cases, destinations=pledged, deadline=deadline)
    elif method == "lp" and solve_settings.objective == "minimax":
        # Another objective than the apportionment methods': the model as it is.
        result = solve_plan(chosen, key.shares, solve_settings, total=settings.total, deadline=deadline)
    else:
        # Plain quotas: the apportionment step (whose lp method is this same model) adds a
        # canonical choice among equally good allocations and reports the ties.
        result = rule_plan(chosen, key.shares, int(settings.total), method, solve_settings)

    inputs = {"states": str(states_path) if states_path else states.attrs.get("source", "")}
    if cases_path is not None:
        inputs["cases"] = str(cases_path)
    return RunResult(
        name=name,
        settings=settings,
        formula=formula,
        method=method,
        states=states,
        participants=chosen,
        key=key,
        plan=result,
        inputs=inputs,
        cases=cases,
        reading=reading(states, chosen, formula, cases, solve_settings.need_weights, solve_settings.count_hosted, solve_settings.hosted_column),
    )


def rule_plan(states: pd.DataFrame, shares: pd.Series, total: int, method: str, settings: Settings) -> Plan:
    """A quota plan by a closed-form apportionment method (Hamilton, a divisor method, quota)."""
    targets = state_targets(states, shares, float(total), count_hosted=settings.count_hosted, hosted_column=settings.hosted_column)
    capacity = column_or_nan(states, "capacity") if "capacity" in states.columns else None
    minimum = column_or_nan(states, "minimum") if "minimum" in states.columns else None
    weights = targets.fair if targets.fair.sum() > 0 else shares.to_numpy()
    result = apportionment.apportion(
        weights,
        total,
        method,
        capacity=capacity,
        minimum=minimum,
        labels=list(states.index),
        solver=settings.solver,
        time_limit=settings.time_limit,
    )
    allocated = result.allocated.astype(np.int64)
    table = state_table(states, shares, targets, allocated, allocated.astype(float), allocated, np.zeros(len(states)))
    deviation = float(np.abs(table["deviation"]).sum())
    gap = None if result.gap is None or np.isnan(result.gap) else float(result.gap)
    status = Status(result.status)
    return Plan(
        states=table,
        cases=None,
        status=status,
        gap=gap,
        stages=(Stage("total_deviation", deviation, status, gap, 0.0, "rule" if method != "lp" else "solver" if status == Status.OPTIMAL else "none"),),
        solver=settings.solver.value if method == "lp" else f"rule:{method}",
        settings=settings,
        times={},
        counts=Counts(cases=total, persons=total, placed_persons=int(allocated.sum()), placed_cases=int(allocated.sum())),
        ties=tuple(t.description for t in result.ties),
        # the lp method solves the placement model through the default backend of its solver
        backend=("highs" if settings.solver == "highs" else "pulp:cbc") if method == "lp" else "rule",
    )
