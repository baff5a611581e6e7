"""Lower bounds from the one-type relaxation: every case melted into units of the burden unit.

Every state's burden in a plan is a whole multiple of the burden unit u (`problem.burden_unit`).
The relaxation keeps the targets, the deviation rows with their integer envelope, the total burden,
and each state's burden within what its capacity, its minimum and the units allowed there can give
(`burden_range`); it forgets which family is which, their needs and their links. Every plan of the
placement is a plan of the relaxation with the same deviations, so the relaxation's optimum of a
stage (with the placement's earlier optima fixed in it as well) is a lower bound on the
placement's. It is a one-type model, small and solved in milliseconds (`PlacementModel`'s LP
first), and on instances with many families it is usually tight: a plan in hand that meets it is
proven optimal without branch and bound, and otherwise the bound is added to the placement as a
valid row (objective >= bound), so that the solver stops as soon as it finds a plan meeting it.

Not built when the burdens have no common unit (`make`). When not everyone can be placed, the
relaxation's total burden becomes the range the persons placed can weigh (`placed`).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..errors import InfeasibleError
from ..settings import Settings
from .backends import make_backend
from .backends.base import Infeasible
from .matrix import PlacementModel, tolerance
from .problem import Problem, square_cut_points, squares_noise
from .types import quota_types

# Points per state at which the relaxation's squares are cut up front (`square_cut_points`); more are
# added where a solution needs them, for at most RELAXED_ROUNDS solves.
RELAXED_CUTS = 200
# Seconds a relaxed solve may take when the time limit is already used up.
RELAXED_SECONDS = 1.0
RELAXED_ROUNDS = 20


def burden_range(problem: Problem, everyone: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per state, the least and the most burden any plan can give it: at most the units allowed
    there, and within its capacity the heaviest per person first (a fractional knapsack, an upper
    bound); at least, within its minimum, the lightest per person first, and, when `everyone` is
    placed, the units that may go nowhere else."""
    types = problem.types
    limit = types.limit.astype(float)
    burden, persons = types.burden.astype(float), types.persons.astype(float)
    ratio = burden / np.maximum(persons, 1e-12)
    high = (limit * burden[:, None]).sum(axis=0)
    low = np.zeros(problem.n_states)
    if everyone:
        elsewhere = limit.sum(axis=1)[:, None] - limit
        forced = np.maximum(types.count[:, None] - elsewhere, 0.0) * (limit > 0)
        low = (forced * burden[:, None]).sum(axis=0)
    for s in range(problem.n_states):
        allowed = np.flatnonzero(limit[:, s] > 0)
        capacity = problem.capacity[s]
        if not np.isnan(capacity):
            high[s] = min(high[s], _knapsack(capacity, persons[allowed] * limit[allowed, s], ratio[allowed], heaviest=True))
        minimum = problem.minimum[s]
        if not np.isnan(minimum) and minimum > 0:
            low[s] = max(low[s], _knapsack(minimum, persons[allowed] * limit[allowed, s], ratio[allowed], heaviest=False))
    return low, high


def _knapsack(persons: float, available: np.ndarray, ratio: np.ndarray, heaviest: bool) -> float:
    """The burden of `persons` persons taken from the `available` persons of each type (burden per
    person `ratio`), heaviest or lightest first, fractions allowed."""
    order = np.argsort(-ratio if heaviest else ratio, kind="stable")
    take = np.minimum(available[order], np.maximum(persons - np.concatenate([[0.0], np.cumsum(available[order])[:-1]]), 0.0))
    return float(take @ ratio[order])


class Relaxation:
    """The one-type relaxation of a placement, kept beside it stage by stage: `least` solves one of
    its stages (a lower bound on the placement's optimum of that stage), `fix` holds it to an
    optimum the placement reached."""

    def __init__(self, problem: Problem, settings: Settings, reference: bool = False, placed: float | None = None):
        unit = float(problem.unit)
        types = problem.types
        low, high = burden_range(problem, everyone=placed is None)
        total = float((types.count * types.burden).sum())
        units = int(round(total / unit))
        most = np.minimum(np.floor(high / unit + 1e-9), units).astype(np.int64)
        relaxed = replace(quota_types(units, problem.n_states), burden=np.array([unit]), limit=most[None, :])
        self.problem = Problem(
            types=relaxed,
            target=problem.target,
            capacity=np.full(problem.n_states, np.nan),
            minimum=np.ceil(low / unit - 1e-9),
            need_capacity={},
            envelope=problem.envelope,
            total_persons=units,
            unit=unit,
        )
        self.model = PlacementModel(self.problem, make_backend(settings, reference))
        self.unit = unit
        self.source, self.settings, self.reference = problem, settings, reference
        self._everyone_fits: bool | None = None  # once decided (`everyone_fits`)

    @staticmethod
    def make(problem: Problem, settings: Settings, reference: bool = False) -> "Relaxation | None":
        """The relaxation, or None where the burdens have no common unit, or where the placement is
        itself one type (quota mode: the model is its own relaxation, solved LP first)."""
        if problem.unit is None or problem.types.n_types == 1 and not len(problem.types.link_count):
            return None
        return Relaxation(problem, settings, reference)

    def placed(self, persons: float) -> "Relaxation":
        """The relaxation when not everyone fits and the placement places `persons` persons: its
        total burden is then anywhere between theirs when the lightest per person are placed and
        when the heaviest are, and no unit is bound to a state it alone may go to."""
        relaxation = Relaxation(self.source, self.settings, self.reference, placed=persons)
        types = self.source.types
        available = (types.count * types.persons).astype(float)
        ratio = types.burden / np.maximum(types.persons, 1e-12)
        low = _knapsack(persons, available, ratio, heaviest=False)
        high = _knapsack(persons, available, ratio, heaviest=True)
        relaxation.model.set_row(relaxation.model.everyone, np.ceil(low / self.unit - 1e-9), np.floor(high / self.unit + 1e-9))
        return relaxation

    def goal(self, minimax: bool, time_left) -> np.ndarray | None:
        """The burdens per state of the relaxation's own lexicographic optimum (least largest
        relative deviation with `minimax`, then least total deviation, then least squares), or None
        when it was not solved. A plan with these burdens meets every stage's bound at once. Solved
        in a copy, so that this relaxation keeps only the placement's optima."""
        relaxation = Relaxation(self.source, self.settings, self.reference)
        if minimax:
            worst = relaxation.least("max_relative_deviation", time_left())
            if worst is None:
                return None
            relaxation.fix("max_relative_deviation", worst + tolerance(worst))
        deviation = relaxation.least("total_deviation", time_left())
        if deviation is None:
            return None
        relaxation.fix("total_deviation", deviation + tolerance(deviation))
        if relaxation.least("squared_relative_deviation", time_left(), deviation) is None:
            return None
        return relaxation.model.burden()

    def least(self, stage: str, time_left: float | None, deviation: float | None = None) -> float | None:
        """The relaxation's optimum of `stage` (a valid lower bound: the solver's own bound, below
        its optimum by at most its gap), or None when it was not solved. `deviation`: the total
        deviation fixed before the squares stage (where its cuts are needed)."""
        model = self.model
        # the relaxation is small (one type): it may take a moment even when the time is up
        time_left = None if time_left is None else max(time_left, RELAXED_SECONDS)
        if stage == "total_deviation":
            model.objective(model.d_cols, np.ones(self.problem.n_states))
        elif stage == "max_relative_deviation":
            if model.worst is None:
                model.add_worst()
            model.objective(np.array([model.worst]), np.ones(1))
        elif stage == "squared_relative_deviation":
            return self._least_squares(time_left, deviation)
        else:
            raise ValueError(stage)
        try:
            solved = model.run(time_left, stage)
        except (Infeasible, InfeasibleError):  # no plan at all, or none found in the time left
            return None
        if solved.status != "optimal" or solved.gap is None:
            return None
        return solved.objective - solved.gap * abs(solved.objective)

    def everyone_fits(self, time_left: float | None) -> bool:
        """False when the relaxation has no plan that places everyone (then neither has the
        placement: every plan of it is a plan of the relaxation); True otherwise, or when that
        was not decided in the time. Decided once: the warm start asks, then the first stage."""
        if self._everyone_fits is not None:
            return self._everyone_fits
        model = self.model
        model.objective(model.d_cols, np.ones(self.problem.n_states))
        try:
            model.run(None if time_left is None else max(time_left, RELAXED_SECONDS), "total_deviation")
        except Infeasible:
            self._everyone_fits = False
            return False
        except InfeasibleError:
            return True  # not decided in the time: asked again with what is left
        self._everyone_fits = True
        return True

    def fix(self, stage: str, value: float) -> None:
        """Hold the relaxation to the placement's optimum `value` of `stage` (at most that)."""
        model = self.model
        if stage == "total_deviation":
            model.fix(model.d_cols, np.ones(self.problem.n_states), value, maximized=False)
        elif stage == "max_relative_deviation":
            if model.worst is None:
                model.add_worst()
            model.fix(np.array([model.worst]), np.ones(1), value, maximized=False)
        else:
            raise ValueError(stage)

    def _least_squares(self, time_left: float | None, deviation: float) -> float | None:
        """The least sum of squared relative deviations, by secants at whole multiples of the unit
        (exact there), added where a solution needs them; the bound of the last solve."""
        started = time.perf_counter()
        model, problem = self.model, self.problem
        every = np.arange(problem.n_states)
        if model.q0 is None:
            model.add_squares()
            for at in square_cut_points(problem.target, deviation, self.unit, RELAXED_CUTS):
                model.cut_squares(every, at, self.unit)
        model.objective(model.q_cols, np.ones(problem.n_states))
        bound = None
        for _ in range(RELAXED_ROUNDS):
            try:
                left = None if time_left is None else time_left - (time.perf_counter() - started)
                if left is not None and left <= 0:
                    return bound  # the rounds share the relaxation's time: no round after it is up
                solved = model.run(left, "squared_relative_deviation")
            except (Infeasible, InfeasibleError):
                return bound
            if solved.status != "optimal" or solved.gap is None:
                return bound
            bound = solved.objective - solved.gap * abs(solved.objective)
            burden = model.burden()
            true = problem.squares(burden)
            if float(true.sum()) - solved.objective <= max(1e-6 * max(1.0, float(true.sum())), squares_noise(problem.n_states)):
                return bound  # the cuts meet the squares (up to the solver's tolerance): no more to gain
            under = true - model.values[model.q_cols] > 1e-9 * np.maximum(1.0, true)
            if not under.any():
                return bound
            model.cut_squares(np.flatnonzero(under), burden[under], self.unit)
            model.start(model.x())
        return bound
