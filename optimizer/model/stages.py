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
    if settings.links == Links.SOFT and len(problem.types.link_count):
        achieved = problem.honour_value(honoured)
        if achieved >= problem.most_honour() - 1e-9:
            # Every link that any participating state could honour is honoured: optimal as it is.
            stages.append(Stage("links_honoured", achieved, Status.OPTIMAL, 0.0, 0.0))
        else:
            model.fix(model.d_cols, ones, deviation_stage.objective, maximized=False)
            model.add_links()
            model.objective(model.y_cols, model.honour, maximize=True)
            model.start(model.x(), honoured)
            stages.append(model.run(time_left(), "links_honoured"))
            counts, honoured = model.counts(), model.honoured()
    return StagesSolved(counts, honoured, tuple(stages))


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
