"""The lexicographic stages, written once for every backend.

Each stage optimises one objective and fixes its optimum before the next: (1) place as many
persons as capacity allows (first tried as a constraint: everyone placed, the common case);
(1b) when cases have origins, minimise the total cell deviation sum |B_od - T_od| from the
biproportional origin x destination targets (`origins`); (2) minimise the total absolute deviation
from the states' targets, or first the largest relative deviation (`minimax`) and then the total
deviation among those plans; (3) honour as many soft family links as possible; (4) the fairest
plan among those (least sum of squared relative deviations). A stage whose optimum the plan in hand already meets (a bound it reaches) is recorded as
proven without a solve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError
from ..results import Stage, Status
from ..settings import Links, Objective, Settings
from .backends.base import Infeasible
from .matrix import PlacementModel, tolerance
from .origins import cell_warm_start
from .warmstart import honour_given, links_exchanged


@dataclass(frozen=True)
class StagesSolved:
    counts: np.ndarray  # units of each base type per state (types x states)
    honoured: np.ndarray  # honoured units of each link class per state (link classes x states)
    stages: tuple[Stage, ...]


def solve_stages(
    model: PlacementModel,
    settings: Settings,
    start_x: np.ndarray,
    start_y: np.ndarray,
    time_left: Callable[[], float | None],
    why_infeasible: Callable[[], str],
    fairest: bool = True,
) -> StagesSolved:
    problem = model.problem
    ones = np.ones(problem.n_states)
    stages: list[Stage] = []

    # With origins the first objective after persons placed is the total cell deviation; without,
    # the total deviation of the states.
    cells = model.c_cols is not None
    first_stage = _first_stage(model, settings, start_x, time_left, why_infeasible, stages)
    deviation_stage = None if cells else first_stage
    if cells:
        stages.append(first_stage)
        # Fixed at the plan's own cell deviation, with the least slack: the cell targets nearly
        # decide the states' burdens, and a slack of 1e-6 would let the relaxation shift a little
        # of each cell, enough to keep the next stage's bound from meeting its optimum.
        achieved = float(model.cell_deviations(model.x()).sum())
        model.fix(model.c_cols, np.ones(len(model.c_cols)), max(achieved, first_stage.objective), maximized=False, slack=CELL_SLACK * max(1.0, achieved))

    if settings.objective == Objective.MINIMAX:
        model.add_worst()
        worst = np.array([model.worst])
        model.objective(worst, np.ones(1))
        model.start(model.x())
        stage = model.run(time_left(), "max_relative_deviation")
        stages.append(stage)
        model.fix(worst, np.ones(1), stage.objective, maximized=False)
        deviation_stage = None
    if deviation_stage is None:
        model.objective(model.d_cols, ones)
        model.start(model.x())
        deviation_stage = model.run(time_left(), "total_deviation")
    stages.append(deviation_stage)

    counts = model.counts()
    honoured = honour_given(problem.types, counts, start_y)
    deviation = deviation_stage.objective
    if cells:  # at least the plan's own (whole) deviation: the solver's may sit below it, within its tolerances
        deviation = max(deviation, float(problem.deviations(model.burden()).sum()))
    model.fix(model.d_cols, ones, deviation, maximized=False)
    if settings.links == Links.SOFT and len(problem.types.link_count):
        # The link columns stay in the model after this stage, so that the next one keeps the links.
        model.add_links()
        if cells:
            # With the cells fixed a link is honoured by trading places with a unit of the same
            # origin and weight: the start does those trades first (the solver finds them slowly).
            counts, honoured = links_exchanged(problem.types, counts, honoured, problem.capacity, problem.need_capacity)
        achieved = problem.honour_value(honoured)
        if achieved >= problem.most_honour() - 1e-9:
            # Every link that any participating state could honour is honoured: optimal as it is.
            stages.append(Stage("links_honoured", achieved, Status.OPTIMAL, 0.0, 0.0))
        else:
            model.objective(model.y_cols, model.honour, maximize=True)
            model.start(counts[model.xt, model.xs], honoured)
            stages.append(model.run(time_left(), "links_honoured"))
            counts, honoured = model.counts(), model.honoured()
        model.fix(model.y_cols, model.honour, stages[-1].objective, maximized=True)
    if fairest:
        stage, counts, honoured = _fairest(model, honoured, time_left, deviation_stage.objective)
        stages.append(stage)
    return StagesSolved(counts, honoured, tuple(stages))


def _first_stage(model: PlacementModel, settings: Settings, start_x: np.ndarray, time_left, why_infeasible, stages: list[Stage]) -> Stage:
    """The first objective (the cells' total deviation with origins, else the states'), solved
    with everyone placed; when not everyone fits, first the stage that places the most persons.
    Appends the persons stage to `stages` and returns the first objective's."""
    cells = model.c_cols is not None
    cols = model.c_cols if cells else model.d_cols
    name = "cell_deviation" if cells else "total_deviation"
    model.objective(cols, np.ones(len(cols)))
    if cells:
        start_x = _cell_start(model, start_x, time_left)
    model.start(start_x[model.xt, model.xs])
    try:
        stage = model.run(time_left(), name)
        stages.append(Stage("persons_placed", float(model.problem.total_persons), Status.OPTIMAL, 0.0, 0.0))
        return stage
    except Infeasible:
        stages.append(_most_persons(model, settings, start_x, time_left, why_infeasible))
        model.objective(cols, np.ones(len(cols)))
        model.start(model.x())
        return model.run(time_left(), name)


def _cell_start(model: PlacementModel, start_x: np.ndarray, time_left) -> np.ndarray:
    """A start for the cell stage. Its LP relaxation (with the cells' envelope cuts) is tight: its
    bound is the stage's optimum, and what costs the solver its time is finding a plan that meets
    it. Candidates: the greedy warm start with one row of targets per origin, packed to what the
    relaxation puts in each cell; when that does not meet the bound, the stage restricted to
    plans near the relaxation (`_near_relaxation`). The best of these and `start_x` by persons
    placed, then total cell deviation."""
    problem = model.problem
    cells, types = problem.cells, problem.types
    try:
        relaxed = model.backend.solve_relaxation(time_left(), "cell_deviation")
    except Infeasible:
        return start_x  # not everyone fits: the persons stage says how many do
    if relaxed is None:
        return start_x
    bound, values = relaxed
    x = values[: len(model.xt)]
    goal = np.zeros(cells.target.shape)
    np.add.at(goal, (types.origin[model.xt[model.cell_x]], model.xs[model.cell_x]), x[model.cell_x] * model.cell_weight)

    def rank(counts: np.ndarray) -> tuple[float, float]:
        return -float((counts * types.persons[:, None]).sum()), float(cells.deviations(cells.burden(types, counts)).sum())

    candidates = [start_x, cell_warm_start(types, problem.capacity, problem.need_capacity, goal, problem.target)[0]]
    best = min(candidates, key=rank)
    if rank(best) > (-float(problem.total_persons), bound + tolerance(bound)):
        near = _near_relaxation(model, x, time_left)
        if near is not None:
            best = min([best, near], key=rank)
    return best


def _near_relaxation(model: PlacementModel, x: np.ndarray, time_left) -> np.ndarray | None:
    """The cell stage restricted to plans near its relaxation `x`: each count of a family of three
    or more persons within one of the whole numbers around its relaxed value, the small units free
    to close the gaps (few counts are fractional, and the small units make the sums exact); a
    short solve, as a start. None when the backend cannot restrict columns or finds no plan."""
    types = model.problem.types
    cols = np.arange(len(x))
    upper = types.limit[model.xt, model.xs].astype(float)
    small = types.persons[model.xt] <= 2
    lower = np.where(small, 0.0, np.maximum(np.floor(x + 1e-9) - 1, 0.0))
    higher = np.where(small, upper, np.minimum(np.ceil(x - 1e-9) + 1, upper))
    if not model.backend.set_column_bounds(cols, lower, higher):
        return None
    left = time_left()
    try:
        outcome = model.backend.solve(NEAR_SECONDS if left is None else min(NEAR_SECONDS, left), "cell_deviation")
    except (Infeasible, InfeasibleError):
        return None
    finally:
        model.backend.set_column_bounds(cols, np.zeros(len(x)), upper)
    counts = np.zeros(types.limit.shape, dtype=np.int64)
    counts[model.xt, model.xs] = np.round(outcome.values[: len(x)]).astype(np.int64)
    return counts


# Seconds the restricted cell stage may take (`_near_relaxation`): a start, not the answer.
NEAR_SECONDS = 5.0
# Relative slack on the fixed total cell deviation (`solve_stages`): below the solvers' feasibility
# tolerance (1e-7), so later stages move no cell by more than the solver's own noise.
CELL_SLACK = 1e-9
# Cut rounds before the squares stage settles for its best plan with a gap.
MAX_CUT_ROUNDS = 30
# Points per state cut up front (at most): enough to make the first solve's bound near exact.
UPFRONT_CUTS = 40


def _cut_points(target: np.ndarray, deviation: float, unit: float | None) -> list[np.ndarray]:
    """Burdens per state, one array per round of cuts, spread over [target - D, target + D]."""
    reach = max(float(deviation), unit or 1.0)
    step = 2 * unit if unit else 2 * reach / UPFRONT_CUTS
    if unit and 2 * reach / step > UPFRONT_CUTS:
        step = unit * np.ceil(2 * reach / (UPFRONT_CUTS * unit))
    half = int(np.ceil(reach / step))
    offsets = np.arange(-half, half + 1) * step  # multiples of the unit, where there is one
    base = np.round(target / unit) * unit if unit else target
    return [np.maximum(base + offset, 0.0) for offset in offsets]


def _fairest(model: PlacementModel, honoured: np.ndarray, time_left, deviation: float) -> tuple[Stage, np.ndarray, np.ndarray]:
    """Among the plans equally good in every stage before, the one with the smallest sum of
    squared relative deviations sum (B_s - T_s)^2 / T_s (the Sainte-Lague measure): a rule a
    reader can state, strictly convex, so it leaves ties only between states that mirror each
    other. Solved exactly by cuts: the model starts with the secants (or tangents) around the
    plan in hand and gains more where a solution shows the cuts still under-estimate a state's
    square, until none does; every solve is a lower bound, so a plan whose squares the cuts
    meet is proven optimal."""
    problem = model.problem
    every = np.arange(problem.n_states)
    model.add_squares()
    model.cut_squares(every, model.burden(), problem.unit)
    # With the total deviation fixed at D, each state's burden lies within D of its target: cut
    # there up front, at every other multiple of the unit where they are few (the secants then
    # meet the squares at every multiple: exact), at evenly spread points where they are many.
    for at in _cut_points(problem.target, deviation, problem.unit):
        model.cut_squares(every, at, problem.unit)
    model.objective(model.q_cols, np.ones(problem.n_states))
    seconds = 0.0
    for _ in range(MAX_CUT_ROUNDS):
        model.start(model.x(), honoured if model.y0 is not None else None)
        stage = model.run(time_left(), "squared_relative_deviation")
        seconds += stage.seconds
        burden = model.burden()
        true = problem.squares(burden)
        if model.y0 is not None:
            honoured = model.honoured()
        # The solve's optimum is a lower bound (the cuts never over-estimate a square): a plan
        # whose true squares meet it is optimal, up to the solvers' own tolerance.
        if float(true.sum()) - stage.objective <= 1e-6 * max(1.0, float(true.sum())):
            return Stage(stage.name, float(true.sum()), stage.status, stage.gap, seconds), model.counts(), honoured
        under = true - model.values[model.q_cols] > 1e-9 * np.maximum(1.0, true)
        if not under.any():
            break  # nothing left to cut: the gap below is the solver's own
        model.cut_squares(np.flatnonzero(under), burden[under], problem.unit)
    bound = float(stage.objective)
    value = float(true.sum())
    gap = (value - bound) / max(abs(value), 1e-12)
    return Stage(stage.name, value, Status.FEASIBLE, gap, seconds), model.counts(), honoured


def _most_persons(model: PlacementModel, settings: Settings, start_x, time_left, why_infeasible) -> Stage:
    """Not everyone fits: the stage that places as many persons as possible, fixed for the rest."""
    model.free_row(model.everyone)
    if settings.require_all:
        raise InfeasibleError(why_infeasible()) from None
    model.objective(model.placed_cols, model.placed_values, maximize=True)
    model.start(start_x[model.xt, model.xs])
    try:
        stage = model.run(time_left(), "persons_placed")
    except Infeasible:
        raise InfeasibleError(why_infeasible()) from None
    if stage.objective <= 0.5 and model.problem.total_persons > 0:
        raise InfeasibleError("no case can be placed: " + why_infeasible())
    model.fix(model.placed_cols, model.placed_values, stage.objective, maximized=True)
    return stage
