"""A stage's own LP relaxation, as a bound and as a guide to plans near it (part of the model step).

The relaxation of a stage (every count continuous) is a lower bound on its optimum; where few of
its counts are fractional, the stage restricted to plans near it (the whole counts fixed, the
fractional types and the small units free) is a small problem whose optimum is a plan at or near
the bound: a start for the solver, or the proof itself when it meets the bound. Used by the
stages (`stages`): the cell stage's start, minimised stages that no other bound proves, the links
stage when the solver has not proven it in its first part of the time, and the squares stage,
whose relaxation is first cut to the convex hull of the squares at whole burdens.
"""

from __future__ import annotations

import numpy as np

from ..errors import InfeasibleError
from .backends.base import Infeasible
from .matrix import PlacementModel

# Seconds the restricted cell stage may take (`near_relaxation`): a start, not the answer.
NEAR_SECONDS = 5.0
# The part of a stage's time left that its plan near the relaxation may take (`near_whole`): the
# solve of the whole stage keeps the rest.
NEAR_SHARE = 0.5
# Relaxation solves the squares stage's LP bound may take (`relaxed_squares`).
LP_CUT_ROUNDS = 20


def near_relaxation(model: PlacementModel, x: np.ndarray, time_left) -> np.ndarray | None:
    """The cell stage restricted to plans near its relaxation `x`: each count of a family of three
    or more persons within one of the whole numbers around its relaxed value, the small units free
    to close the gaps (few counts are fractional, and the small units make the sums exact); a
    short solve, as a start. None when the backend cannot restrict columns or finds no plan."""
    types = model.problem.types
    upper = types.limit[model.xt, model.xs].astype(float)
    small = types.persons[model.xt] <= 2
    lower = np.where(small, 0.0, np.maximum(np.floor(x + 1e-9) - 1, 0.0))
    higher = np.where(small, upper, np.minimum(np.ceil(x - 1e-9) + 1, upper))
    return restricted(model, lower, higher, time_left, "cell_deviation")


def restricted(model: PlacementModel, lower: np.ndarray, higher: np.ndarray, time_left, name: str, share: float = 1.0) -> np.ndarray | None:
    """The stage in `model` solved with each unit column within [lower, higher] (a short solve of
    at most NEAR_SECONDS and `share` of the time left, for a start): the counts (types x states),
    or None when the backend cannot restrict columns or finds no plan."""
    upper = model.problem.types.limit[model.xt, model.xs].astype(float)
    values = _restricted_values(model, np.arange(len(model.xt)), lower, higher, upper, time_left, name, share)
    return None if values is None else _counts(model, values)


def _restricted_values(model: PlacementModel, cols: np.ndarray, lower: np.ndarray, higher: np.ndarray, upper: np.ndarray, time_left, name: str, share: float) -> np.ndarray | None:
    """Every column's value in the stage solved with `cols` within [lower, higher] (their bounds
    [0, upper] again afterwards), or None (see `restricted`)."""
    if not model.backend.set_column_bounds(cols, lower, higher):
        return None
    left = time_left()
    try:
        outcome = model.backend.solve(NEAR_SECONDS if left is None else min(NEAR_SECONDS, share * left), name)
    except (Infeasible, InfeasibleError):
        return None
    finally:
        model.backend.set_column_bounds(cols, np.zeros(len(cols)), upper)
    return outcome.values


def _counts(model: PlacementModel, values: np.ndarray) -> np.ndarray:
    counts = np.zeros(model.problem.types.limit.shape, dtype=np.int64)
    counts[model.xt, model.xs] = np.round(values[: len(model.xt)]).astype(np.int64)
    return counts


def relaxed_links(model: PlacementModel, time_left) -> tuple[float, np.ndarray | None, np.ndarray | None] | None:
    """For the links stage: its LP relaxation's optimum (an upper bound on the links honoured, up
    to the solver's tolerances) and a plan near the relaxation, (counts, honoured link-class units
    per state): each link class honoured in a state at most as often as the relaxation rounded up
    says, the counts free. The greedy start leaves the relaxation far behind at scale (two soft
    links per case, 50,000 cases: 37,322 links against a bound of 39,733), HiGHS finds no better
    plan in the stage's time, and the plan near the relaxation honours 39,727 (a solve of 1.6 s on
    the stage's model written out). None when the backend has no relaxation or it did not solve."""
    left = time_left()
    if left is not None and left <= 0:
        return None
    try:
        relaxed = model.backend.solve_relaxation(left, "links_honoured", bounded=True)
    except Infeasible:
        return None
    if relaxed is None:
        return None
    bound, values = relaxed
    upper = model.problem.types.link_count[model.yl].astype(float)
    higher = np.minimum(np.ceil(values[model.y_cols] - 1e-9), upper)
    near = _restricted_values(model, model.y_cols, np.zeros(len(upper)), higher, upper, time_left, "links_honoured", NEAR_SHARE)
    if near is None:
        return bound, None, None
    honoured = np.zeros((len(model.problem.types.link_count), model.problem.n_states), dtype=np.int64)
    honoured[model.yl, model.ys] = np.round(near[model.y_cols]).astype(np.int64)
    return bound, _counts(model, near), honoured


def relaxed_squares(model: PlacementModel, time_left) -> tuple[float, np.ndarray] | None:
    """A lower bound on the squares stage and the unit columns where it is reached: the stage's LP
    relaxation, cut until the cuts are exact at its own burdens (at most LP_CUT_ROUNDS solves).
    The cuts up front are spread over a range as wide as the total deviation; where that is wide
    (not everyone fits: two hard links per case, 200,000 cases, 258,000 burden units) they lie
    far apart and the solver's own bound stays weak (a gap of 20% after 7 s). With a burden unit
    the cuts go to the multiples around each relaxed burden (the secant between two neighbouring
    multiples is the convex hull of the squares there: below every plan's), else the tangent.
    None when the backend has no relaxation or it did not solve."""
    problem = model.problem
    unit = problem.unit
    found = None
    for _ in range(LP_CUT_ROUNDS):
        left = time_left()
        if left is not None and left <= 0:
            break
        try:
            # in this process, not bounded: each round starts from the basis of the one before
            relaxed = model.backend.solve_relaxation(left, "squared_relative_deviation")
        except Infeasible:
            return None
        if relaxed is None:
            break
        bound, values = relaxed
        found = (bound, values[: len(model.xt)])
        burden = values[model.b_cols]
        at = burden if unit is None else np.floor(burden / unit + 1e-9) * unit
        hull = problem.squares(at)
        if unit is not None:
            hull = hull + (problem.squares(at + unit) - hull) * (burden - at) / unit
        under = hull - values[model.q_cols] > 1e-9 * np.maximum(1.0, hull)
        if not under.any():
            break
        model.cut_squares(np.flatnonzero(under), at[under], unit)
    return found


def near_whole(model: PlacementModel, x: np.ndarray, time_left, name: str) -> np.ndarray | None:
    """The stage restricted to plans near its relaxation `x`: the counts of every type that is
    whole in it fixed there, the types with a fractional count and the small units (one or two
    persons) free to make the sums whole. Few counts are fractional (33 of 10,000 at two hard
    links per case, 200,000 cases, in the squares stage): a solve of 0.4 s whose plan is within
    5e-6 of the bound, where the whole stage's first solve found none in 5 s."""
    types = model.problem.types
    upper = types.limit[model.xt, model.xs].astype(float)
    fractional = np.zeros(types.n_types, dtype=bool)
    fractional[model.xt[np.abs(x - np.round(x)) > 1e-9]] = True
    free = fractional[model.xt] | (types.persons[model.xt] <= 2)
    fixed = np.clip(np.round(x), 0.0, upper)
    return restricted(model, np.where(free, 0.0, fixed), np.where(free, upper, fixed), time_left, name, NEAR_SHARE)


def relaxed_start(model: PlacementModel, name: str, time_left) -> tuple[float, np.ndarray | None] | None:
    """For a minimised stage whose plan in hand no bound proves: its LP relaxation's optimum (a
    lower bound up to the solver's tolerances) and a plan near the relaxation (`near_whole`), or
    None when the backend has no relaxation or it did not solve. `Infeasible` when the relaxation
    has no solution (then neither has the stage)."""
    left = time_left()
    if left is not None and left <= 0:
        return None
    relaxed = model.backend.solve_relaxation(left, name, bounded=True)
    if relaxed is None:
        return None
    bound, values = relaxed
    x = values[: len(model.xt)]
    return bound, near_whole(model, x, time_left, name)
