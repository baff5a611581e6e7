"""The lexicographic stages, written once for every backend.

Each stage optimises one objective and fixes its optimum before the next: (1) place as many
persons as capacity allows (first tried as a constraint: everyone placed, the common case);
(2) minimise the total absolute deviation from the targets, or first the largest relative deviation
(`minimax`) and then the total deviation among those plans; (3) honour as many soft family links as
possible. A stage whose optimum the plan in hand already meets (a bound it reaches) is recorded as
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
from .matrix import PlacementModel
from .warmstart import honour_given


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

    model.objective(model.d_cols, ones)
    model.start(start_x[model.xt, model.xs])
    try:
        deviation_stage = model.run(time_left(), "total_deviation")
        stages.append(Stage("persons_placed", float(problem.total_persons), Status.OPTIMAL, 0.0, 0.0))
    except Infeasible:
        stages.append(_most_persons(model, settings, start_x, time_left, why_infeasible))
        model.objective(model.d_cols, ones)
        model.start(model.x())
        deviation_stage = model.run(time_left(), "total_deviation")

    if settings.objective == Objective.MINIMAX:
        model.add_worst()
        worst = np.array([model.worst])
        model.objective(worst, np.ones(1))
        model.start(model.x())
        stage = model.run(time_left(), "max_relative_deviation")
        stages.append(stage)
        model.fix(worst, np.ones(1), stage.objective, maximized=False)
        model.objective(model.d_cols, ones)
        model.start(model.x())
        deviation_stage = model.run(time_left(), "total_deviation")
    stages.append(deviation_stage)

    counts = model.counts()
    honoured = honour_given(problem.types, counts, start_y)
    model.fix(model.d_cols, ones, deviation_stage.objective, maximized=False)
    if settings.links == Links.SOFT and len(problem.types.link_count):
        # The link columns stay in the model after this stage, so that the next one keeps the links.
        model.add_links()
        achieved = problem.honour_value(honoured)
        if achieved >= problem.most_honour() - 1e-9:
            # Every link that any participating state could honour is honoured: optimal as it is.
            stages.append(Stage("links_honoured", achieved, Status.OPTIMAL, 0.0, 0.0))
        else:
            model.objective(model.y_cols, model.honour, maximize=True)
            model.start(model.x(), honoured)
            stages.append(model.run(time_left(), "links_honoured"))
            counts, honoured = model.counts(), model.honoured()
        model.fix(model.y_cols, model.honour, stages[-1].objective, maximized=True)
    if fairest:
        stage, counts, honoured = _fairest(model, honoured, time_left, deviation_stage.objective)
        stages.append(stage)
    return StagesSolved(counts, honoured, tuple(stages))


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
