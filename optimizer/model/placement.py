"""The model step's named phases: create (aggregate, targets, matrix), solve (warm start, stages),
assign (units to cases), post-process (share the overflow, tally the plan).

`plan()` runs them all; `solve()` stops at counts per case type, for callers that need no case
list (the `lp` quota method).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import Counts, Plan, Stage, overall_status, state_table
from ..io.cases import case_weights
from ..settings import Objective, Settings
from ..targets import Targets, pledged_targets, state_targets
from .assign import assign_cases, explain_infeasible
from .backends import make_backend
from .bounds import Relaxation
from .matrix import PlacementModel
from .origins import Cells, cell_targets, cell_warm_start, origin_table
from .problem import Problem, make_problem
from .stages import solve_stages
from .ties import settle_ties
from .types import CaseTypes, build_types, quota_types
from .warmstart import warm_start


# The part of the time limit left after building the problem that the warm start's improvement
# rounds may take.
WARM_START_SHARE = 0.25
# Seconds per case kept from the stages for what follows them within the limit: the ties settled
# and the cases handed out (at a million cases 0.5-1 s; measured in benchmarks/hard.py's ladder).
AFTER_STAGES_PER_CASE = 1e-6


@dataclass(frozen=True)
class Solution:
    """The solved model: units of each type per state, honoured link-class units per state, the
    stages, the targets it was solved against, timings, and the backend that solved it."""

    counts: np.ndarray
    honoured: np.ndarray
    stages: tuple[Stage, ...]
    targets: Targets
    times: dict[str, float]
    backend: str
    ties: tuple[str, ...] = ()
    cells: Cells | None = None  # the origin x destination targets, when cases have origins

    @property
    def target(self) -> np.ndarray:
        """The fair targets the stages were solved against (burden units)."""
        return self.targets.fair


def solve(
    states: pd.DataFrame,
    shares: pd.Series,
    types: CaseTypes,
    settings: Settings,
    *,
    reference: bool = False,
    fairest: bool = True,
    targets: Targets | None = None,
    destinations: pd.Series | None = None,
    deadline: float | None = None,
) -> Solution:
    """Solve the placement of `types` among the participants `states`.

    With `reference`, HiGHS solves the PuLP formulation of the same matrix (slower; for tests and
    checks) instead of the matrix loaded in bulk. Without `fairest` the stages end at the total
    deviation (and links): for a caller that chooses among those optima by a rule of its own.
    `targets`: the targets to hold the plan to, when not the fair targets of `states`.
    `destinations`: pledged relocations per state (the Solidarity Pool's), whose shares replace the
    key's in the fair targets (`targets.pledged_targets`). `deadline`: when the time limit ends
    (a `time.perf_counter` value; default: the limit from now), for a caller that started the
    clock earlier (the command, before reading its inputs).
    """
    t0 = time.perf_counter()
    total_burden = float((types.count * types.burden).sum())
    total_persons = float((types.count * types.persons).sum())
    per_person = total_burden / total_persons if total_persons > 0 else 1.0
    if targets is None and destinations is not None:
        targets = pledged_targets(states, shares, destinations, total_burden, per_person=per_person, count_hosted=settings.count_hosted, hosted_column=settings.hosted_column)
    if targets is None:
        targets = state_targets(states, shares, total_burden, per_person=per_person, count_hosted=settings.count_hosted, hosted_column=settings.hosted_column)
    problem = make_problem(states, targets.fair, types, cell_targets(types, targets.fair, list(states.index)))
    t1 = time.perf_counter()
    end = _stages_end(deadline if deadline is not None else None if settings.time_limit is None else t0 + settings.time_limit, types)
    bounds = Relaxation.make(problem, settings, reference)
    improve_until = None if end is None else t1 + improvement_share(problem, bounds, end) * max(end - t1, 0.0)
    if problem.cells is not None:
        start_x, start_y = cell_warm_start(types, problem.capacity, problem.need_capacity, problem.cells.target, problem.target)
    else:
        start_x, start_y = warm_start(types, problem.capacity, problem.need_capacity, problem.target, improve_until)
    t2 = time.perf_counter()

    def time_left() -> float | None:
        return None if end is None else end - time.perf_counter()

    backend = make_backend(settings, reference)
    model = PlacementModel(problem, backend)
    solved = solve_stages(model, settings, start_x, start_y, time_left, lambda: explain_infeasible(states, types), fairest, bounds)
    counts, ties = solved.counts, ()
    if fairest:  # without the last stage the caller decides the ties its own way
        counts, ties = settle_ties(problem, solved.counts, solved.honoured, list(states.index), settings.objective == Objective.MINIMAX)
    solve_seconds = sum(st.seconds for st in solved.stages)
    build_seconds = (t1 - t0) + (time.perf_counter() - t2) - solve_seconds
    times = {"warm_start": t2 - t1, "build": build_seconds, "solve": solve_seconds}
    return Solution(counts, solved.honoured, solved.stages, targets, times, backend.name, ties, problem.cells)


def _stages_end(end: float | None, types: CaseTypes) -> float | None:
    """When the stages must stop for what follows them (the ties, the hand-out of the cases) to
    end by `end` too."""
    if end is None or types.unit_of_case is None:
        return end
    return end - AFTER_STAGES_PER_CASE * len(types.unit_of_case)


def improvement_share(problem: Problem, bounds: Relaxation | None, end: float) -> float:
    """The part of the time left that the warm start's improvement rounds may take (the stages
    need the rest): none when the relaxation shows that not everyone fits, for the persons stage
    then starts from the greedy start and what the rounds do for its deviation is lost (two hard
    links per case, 50,000 cases: 2.4 s of a 10 s limit)."""
    if bounds is not None and problem.cells is None and not bounds.everyone_fits(end - time.perf_counter()):
        return 0.0
    return WARM_START_SHARE


def _in_order(origins: pd.DataFrame | None, codes: list[str]) -> pd.DataFrame | None:
    """The origin x destination table with the destinations in the order of `codes` (the input's),
    within each origin."""
    if origins is None:
        return None
    position = {code: i for i, code in enumerate(codes)}
    order = origins.assign(_at=origins["destination"].map(position)).sort_values(["origin", "_at"], kind="stable").index
    return origins.loc[order].reset_index(drop=True)


def plan(
    states: pd.DataFrame,
    shares: pd.Series,
    settings: Settings,
    *,
    cases: pd.DataFrame | None = None,
    total: int | None = None,
    reference: bool = False,
    destinations: pd.Series | None = None,
    deadline: float | None = None,
) -> Plan:
    """Create, solve, assign and tally: the whole step from targets to a plan. `reference`,
    `destinations` (pledged relocations as the destinations' targets), `deadline`: see `solve`.
    With an `origin` column in the cases, the plan also holds each origin x destination cell to
    its biproportional target (`origins`) and `Plan.origins` is its table.

    The model sees the states in code order, whatever their order in the input (so the choice among
    equally good plans cannot depend on the order of the rows); the table comes back in input order."""
    if (cases is None) == (total is None):
        raise InputError("give either a case list or a total, not both or neither")
    in_code_order = sorted(states.index, key=str)
    if list(states.index) != in_code_order:
        result = plan(states.loc[in_code_order], shares.loc[in_code_order], settings, cases=cases, total=total, reference=reference, destinations=destinations, deadline=deadline)
        return replace(result, states=result.states.loc[list(states.index)], origins=_in_order(result.origins, list(states.index)))
    t0 = time.perf_counter()
    n_states = len(states)
    types = build_types(cases, list(states.index), settings) if cases is not None else quota_types(int(total), n_states)
    aggregate_seconds = time.perf_counter() - t0
    solution = solve(states, shares, types, settings, reference=reference, destinations=destinations, deadline=deadline)
    t1 = time.perf_counter()

    counts = solution.counts
    origins = None
    total_persons = int((types.count * types.persons).sum())
    if cases is not None:
        placed = assign_cases(cases, case_weights(cases, settings.need_weights), types, counts, solution.honoured, states)
        table = state_table(states, shares, solution.targets, placed.persons, placed.burden, placed.cases, placed.links_honoured)
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
        if "origin" in cases.columns:
            # plan_cases.csv keeps where each case comes from (the plan's rows are the input's, in order)
            case_table.insert(1, "origin", cases["origin"].to_numpy())
            if solution.cells is not None:
                origins = origin_table(case_table, solution.cells, list(states.index))
    else:
        persons = counts[0].astype(np.int64)
        table = state_table(states, shares, solution.targets, persons, persons.astype(float), persons, np.zeros(n_states))
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
        ties=solution.ties,
        backend=solution.backend,
        origins=origins,
    )
