"""The model step's named phases: create (aggregate, targets, matrix), solve (warm start, stages),
assign (units to cases), post-process (share the overflow, tally the plan).

`plan()` runs them all; `solve()` stops at counts per case type, for callers that need no case
list (the `lp` quota method).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import Counts, Plan, Stage, overall_status, state_table
from ..io.cases import case_weights
from ..settings import Objective, Settings
from ..targets import fair_targets, hosted_persons
from .assign import assign_cases, explain_infeasible
from .backends import make_backend
from .matrix import PlacementModel
from .overflow import share_overflow
from .problem import make_problem
from .stages import solve_stages
from .types import CaseTypes, build_types, quota_types
from .warmstart import warm_start


@dataclass(frozen=True)
class Solution:
    """The solved model: units of each type per state, honoured link-class units per state, the
    stages, the targets it was solved against, timings, and the backend that solved it."""

    counts: np.ndarray
    honoured: np.ndarray
    stages: tuple[Stage, ...]
    target: pd.Series
    times: dict[str, float]
    backend: str


def solve(
    states: pd.DataFrame,
    shares: pd.Series,
    types: CaseTypes,
    settings: Settings,
    *,
    reference: bool = False,
    share: bool = True,
) -> Solution:
    """Solve the placement of `types` among the participants `states`.

    With `reference`, HiGHS solves the PuLP formulation of the same matrix (slower; for tests and
    checks) instead of the matrix loaded in bulk. With `share` (the default), the solver's plan is
    moved towards the fair shares within capacities (`share_overflow`); the `lp` quota method
    breaks its ties its own way and turns that off.
    """
    t0 = time.perf_counter()
    total_burden = float((types.count * types.burden).sum())
    target = fair_targets(shares, total_burden, hosted_persons(states, settings.count_hosted))
    problem = make_problem(states, target.to_numpy(dtype=float), types)
    t1 = time.perf_counter()
    start_x, start_y = warm_start(types, problem.capacity, problem.need_capacity, problem.target)
    t2 = time.perf_counter()

    def time_left() -> float | None:
        if settings.time_limit is None:
            return None
        return settings.time_limit - (time.perf_counter() - t0)

    backend = make_backend(settings, reference)
    model = PlacementModel(problem, backend)
    solved = solve_stages(model, settings, start_x, start_y, time_left, lambda: explain_infeasible(states, types))
    counts = solved.counts
    if share:
        counts = share_overflow(problem, counts, solved.honoured, keep_worst=settings.objective == Objective.MINIMAX)
    solve_seconds = sum(st.seconds for st in solved.stages)
    build_seconds = (t1 - t0) + (time.perf_counter() - t2) - solve_seconds
    times = {"warm_start": t2 - t1, "build": build_seconds, "solve": solve_seconds}
    return Solution(counts, solved.honoured, solved.stages, target, times, backend.name)


def plan(
    states: pd.DataFrame,
    shares: pd.Series,
    settings: Settings,
    *,
    cases: pd.DataFrame | None = None,
    total: int | None = None,
    reference: bool = False,
) -> Plan:
    """Create, solve, assign and tally: the whole step from targets to a plan. `reference`: see `solve`."""
    if (cases is None) == (total is None):
        raise InputError("give either a case list or a total, not both or neither")
    t0 = time.perf_counter()
    n_states = len(states)
    types = build_types(cases, list(states.index), settings) if cases is not None else quota_types(int(total), n_states)
    aggregate_seconds = time.perf_counter() - t0
    solution = solve(states, shares, types, settings, reference=reference)
    t1 = time.perf_counter()

    target = solution.target.to_numpy()
    counts = solution.counts
    total_persons = int((types.count * types.persons).sum())
    if cases is not None:
        placed = assign_cases(cases, case_weights(cases, settings.need_weights), types, counts, solution.honoured, states)
        table = state_table(states, shares, target, placed.persons, placed.burden, placed.cases, placed.links_honoured)
        tally = Counts(
            cases=len(cases),
            persons=total_persons,
            placed_persons=int(placed.persons.sum()),
            placed_cases=int(placed.cases.sum()),
            case_types=int(types.n_types),
            link_classes=int(len(types.link_count)),
            cases_with_links=placed.cases_with_links,
            links_honoured=int(placed.links_honoured.sum()),
            groups=placed.groups,
            groups_kept_together=placed.groups_kept_together,
            cases_split=placed.groups_split,
        )
        case_table = placed.table
    else:
        persons = counts[0].astype(np.int64)
        table = state_table(states, shares, target, persons, persons.astype(float), persons, np.zeros(n_states))
        tally = Counts(cases=int(total), persons=total_persons, placed_persons=int(persons.sum()), placed_cases=int(persons.sum()))
        case_table = None
    for need, q in types.need_persons.items():
        table[f"persons_{need}"] = (counts * q[:, None]).sum(axis=0)
    times = {"aggregate": aggregate_seconds, **solution.times, "assign": time.perf_counter() - t1}
    status, gap = overall_status(solution.stages)
    return Plan(
        states=table,
        cases=case_table,
        status=status,
        gap=gap,
        stages=solution.stages,
        solver=settings.solver.value,
        settings=settings,
        times=times,
        counts=tally,
        need_dimensions=tuple(types.need_persons),
        backend=solution.backend,
    )
