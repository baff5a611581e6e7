"""The lexicographic stages, written once for every backend.

Each stage optimises one objective and fixes its optimum before the next: (1) place as many
persons as capacity allows (first tried as a constraint: everyone placed, the common case);
(1b) when cases have origins, minimise the total cell deviation sum |B_od - T_od| from the
biproportional origin x destination targets (`origins`); (2) minimise the total absolute deviation
from the states' targets, or first the largest relative deviation (`minimax`) and then the total
deviation among those plans; (3) honour as many soft family links as possible; (4) the fairest
plan among those (least sum of squared relative deviations). A stage whose optimum the plan in
hand already meets (a bound it reaches: the one-type relaxation's, or the stage's own LP
relaxation's, with a plan near that relaxation as the plan in hand) is recorded as proven
without a solve.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InfeasibleError
from ..results import Stage, Status
from ..settings import Links, Objective, Settings
from .backends.base import Infeasible
from .bounds import Relaxation
from .matrix import PlacementModel, tolerance
from .problem import Problem, square_cut_points, squares_noise
from .origins import cell_warm_start
from .reach import reach_burdens
from .relaxed import near_relaxation, near_whole, relaxed_links, relaxed_squares, relaxed_start
from .honour import honour_given
from .warmstart import links_exchanged


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
    bounds: Relaxation | None = None,
) -> StagesSolved:
    """`bounds`: the one-type relaxation, whose optimum of each stage is tried first as its proof
    (`model.bounds`). The stages share `time_left`: each leaves a part of it to those after it
    (`_clock`), and a stage that runs out of time keeps the plan in hand."""
    problem = model.problem
    ones = np.ones(problem.n_states)
    stages: list[Stage] = []
    gap = settings.gap
    cells = model.c_cols is not None
    links = settings.links == Links.SOFT and len(problem.types.link_count) > 0
    minimax = settings.objective == Objective.MINIMAX
    # the stages after the first, for sharing the time
    after = [minimax and "max_relative_deviation", (cells or minimax) and "total_deviation", links and "links_honoured", fairest and "squared"]
    later = sum(1 for name in after if name)

    def clock() -> Callable[[], float | None]:
        nonlocal later
        share = _clock(time_left, later)
        later -= 1
        return share

    if bounds is not None and not cells:
        start_x, start_y = _toward_goal(problem, bounds, start_x, start_y, minimax, time_left)
    # With origins the first objective after persons placed is the total cell deviation; without,
    # the total deviation of the states.
    first_stage, bounds = _first_stage(model, settings, start_x, clock(), why_infeasible, stages, bounds)
    deviation_stage = None if cells else first_stage
    if cells:
        stages.append(first_stage)
        # Fixed at the plan's own cell deviation, with the least slack: the cell targets nearly
        # decide the states' burdens, and a slack of 1e-6 would let the relaxation shift a little
        # of each cell, enough to keep the next stage's bound from meeting its optimum.
        achieved = float(model.cell_deviations(model.x()).sum())
        model.fix(model.c_cols, np.ones(len(model.c_cols)), max(achieved, first_stage.objective), maximized=False, slack=CELL_SLACK * max(1.0, achieved))

    if minimax:
        model.add_worst()
        worst = np.array([model.worst])
        model.objective(worst, np.ones(1))
        stage = _run(model, "max_relative_deviation", model.x(), None, clock(), bounds, gap)
        stages.append(stage)
        model.fix(worst, np.ones(1), stage.objective, maximized=False)
        if bounds is not None:
            bounds.fix("max_relative_deviation", stage.objective)
        deviation_stage = None
    if deviation_stage is None:
        model.objective(model.d_cols, ones)
        deviation_stage = _run(model, "total_deviation", model.x(), None, clock(), bounds, gap)
    stages.append(deviation_stage)

    counts = model.counts()
    # the start's honoured links when the plan is still the start's (`honour_given` is idempotent:
    # given its own answer it adds nothing; 1,000,000 cases of 3 exclusions each: 0.7 s)
    honoured = start_y if np.array_equal(counts, start_x) else honour_given(problem.types, counts, start_y)
    # at least the plan's own deviation: the solver's may sit below it, within its tolerances
    deviation = max(deviation_stage.objective, float(problem.deviations(model.burden()).sum()))
    model.fix(model.d_cols, ones, deviation, maximized=False)
    if bounds is not None:
        bounds.fix("total_deviation", deviation)
    if links:
        stage, counts, honoured = _links(model, counts, honoured, clock(), gap)
        stages.append(stage)
    if fairest:
        stage, counts, honoured = _fairest(model, honoured, clock(), deviation, bounds, gap)
        stages.append(stage)
    return StagesSolved(counts, honoured, tuple(stages))


# The time moving the start toward the relaxation's optimum may take under a time limit: at most
# this many seconds, and at most this part of the time left.
REACH_SECONDS = 10.0
REACH_SHARE = 0.4


def _links(model: PlacementModel, counts: np.ndarray, honoured: np.ndarray, time_left, gap: float) -> tuple[Stage, np.ndarray, np.ndarray]:
    """Honour as many soft family links as possible; the stage, fixed, and the plan after it. The
    link columns stay in the model after this stage, so that the next one keeps the links."""
    problem = model.problem
    model.add_links()
    if model.c_cols is not None:
        # With the cells fixed a link is honoured by trading places with a unit of the same
        # origin and weight: the start does those trades first (the solver finds them slowly).
        counts, honoured = links_exchanged(problem.types, counts, honoured, problem.capacity, problem.need_capacity)
    achieved = problem.honour_value(honoured)
    most = problem.most_honour()
    if achieved >= most - 1e-9:
        # Every link that any participating state could honour is honoured: optimal as it is.
        stage = Stage("links_honoured", achieved, Status.OPTIMAL, 0.0, 0.0, "count")
    else:
        model.objective(model.y_cols, model.honour, maximize=True)
        started = time.perf_counter()
        stage = _run(model, "links_honoured", counts[model.xt, model.xs], honoured, _keeping(time_left, 1 - FIRST_LINKS_SHARE), None, gap)
        if stage.status != Status.OPTIMAL:
            stage = _links_near_relaxation(model, time_left, gap)
        stage = replace(stage, seconds=time.perf_counter() - started)
        counts, honoured = model.counts(), model.honoured()
    model.fix(model.y_cols, model.honour, stage.objective, maximized=True, slack=_whole_slack(stage.objective, model.honour))
    return stage, counts, honoured


# The part of its time the links stage gives the solver before it looks near its relaxation: what
# the solver proves at once (the demo, most small instances) is solved as it always was.
FIRST_LINKS_SHARE = 1 / 3


def _keeping(time_left: Callable[[], float | None], kept: float) -> Callable[[], float | None]:
    """The time left now less the part `kept` of it, as a clock of its own (no limit stays no
    limit)."""
    left = time_left()
    if left is None:
        return time_left
    keep = max(left, 0.0) * kept
    return lambda: time_left() - keep


def _links_near_relaxation(model: PlacementModel, time_left, gap: float) -> Stage:
    """The links stage when the solver did not prove it in its first part of the time: the plan
    near the relaxation (`relaxed_links`) where it honours more, proven when it meets the
    relaxation's bound (rounded down where links are whole), else the solver again from the better
    plan with the time left; its gap, where the solver gives none, to that bound."""
    problem = model.problem
    counts, honoured = model.counts(), model.honoured()
    bound, counts, honoured, achieved = _near_links(model, counts, honoured, problem.honour_value(honoured), time_left)
    whole = _whole_bound(bound, model.honour)
    if _meets(-achieved, -whole, gap):
        model.values = model.complete(counts[model.xt, model.xs], honoured)
        return Stage("links_honoured", achieved, Status.OPTIMAL, _gap(-achieved, -whole), 0.0, "bound")
    again = _run(model, "links_honoured", counts[model.xt, model.xs], honoured, time_left, None, gap)
    if again.status != Status.OPTIMAL and again.gap is None:
        again = replace(again, gap=max(whole - again.objective, 0.0) / max(whole, 1.0))
    return again


def _near_links(model: PlacementModel, counts: np.ndarray, honoured: np.ndarray, achieved: float, time_left) -> tuple[float, np.ndarray, np.ndarray, float]:
    """The links stage's bound (its LP relaxation's optimum, else every link honoured in its best
    state) and the better of the plan in hand and the plan near the relaxation (`relaxed_links`),
    with the links it honours."""
    problem = model.problem
    relaxed = relaxed_links(model, time_left)
    if relaxed is None:
        return problem.most_honour(), counts, honoured, achieved
    bound, near_counts, near_honoured = relaxed
    if near_counts is not None:
        value = problem.honour_value(near_honoured)
        if value > achieved and model.satisfied(model.complete(near_counts[model.xt, model.xs], near_honoured)):
            return bound, near_counts, near_honoured, value
    return bound, counts, honoured, achieved


def _whole_bound(bound: float, coefficients: np.ndarray) -> float:
    """A maximised objective's bound rounded down to a whole number where every plan's objective
    is one (whole coefficients on whole columns)."""
    return float(np.floor(bound + 1e-9)) if np.array_equal(coefficients, np.round(coefficients)) else bound


# Of the time left when a stage starts, the part it leaves to each stage after it (at most half in
# all): no stage is left with nothing, and one that ends early leaves its time to the next.
LEAVE_PER_STAGE = 0.2


def _clock(time_left: Callable[[], float | None], later: int) -> Callable[[], float | None]:
    """The time left for one stage when `later` stages follow it."""
    return _keeping(time_left, min(0.5, LEAVE_PER_STAGE * max(later, 0)))


def _toward_goal(problem: Problem, bounds: Relaxation, start_x: np.ndarray, start_y: np.ndarray, minimax: bool, time_left) -> tuple[np.ndarray, np.ndarray]:
    """The start moved toward the burdens of the relaxation's own optimum (`Relaxation.goal`),
    when that makes it better in the stages' order (largest relative deviation with `minimax`,
    total deviation, squares): a start that reaches them meets every stage's bound."""
    left = time_left()
    if left is not None and left <= 0:
        return start_x, start_y  # no time to move: the moves would stop before the first
    goal = bounds.goal(minimax, time_left)
    if goal is None:
        return start_x, start_y
    left = time_left()
    # Without a time limit no clock: the same inputs give the same plan on any machine (the moves'
    # own budget bounds them).
    deadline = None if left is None else time.perf_counter() + min(REACH_SECONDS, REACH_SHARE * max(left, 0.0))
    counts, honoured, _ = reach_burdens(problem.types, start_x, start_y, problem.capacity, problem.need_capacity, goal, deadline)

    def rank(counts: np.ndarray) -> tuple[float, ...]:
        burden = problem.burden(counts)
        worst = float((np.abs(burden - problem.target) / problem.scales()).max()) if minimax and problem.n_states else 0.0
        return worst, float(problem.deviations(burden).sum()), float(problem.squares(burden).sum())

    return (counts, honoured) if rank(counts) < rank(start_x) else (start_x, start_y)


def _first_stage(model: PlacementModel, settings: Settings, start_x: np.ndarray, time_left, why_infeasible, stages: list[Stage], bounds: Relaxation | None) -> tuple[Stage, Relaxation | None]:
    """The first objective (the cells' total deviation with origins, else the states'), solved
    with everyone placed; when not everyone fits, first the stage that places the most persons.
    Appends the persons stage to `stages` and returns the first objective's, and the relaxation
    that bounds the stages after it."""
    cells = model.c_cols is not None
    cols = model.c_cols if cells else model.d_cols
    name = "cell_deviation" if cells else "total_deviation"
    model.objective(cols, np.ones(len(cols)))
    if cells:
        start_x = _cell_start(model, start_x, time_left)
    floors: list[int] = []
    if settings.objective == Objective.MINIMAX and not cells:
        # Only whether everyone fits matters here (the minimax stage comes first): a start that
        # places everyone within every row says so without a solve.
        values = model.complete(start_x[model.xt, model.xs])
        if model.satisfied(values):
            model.values = values
            stages.append(Stage("persons_placed", float(model.problem.total_persons), Status.OPTIMAL, 0.0, 0.0, "count"))
            return Stage(name, float(model.costs @ values), Status.FEASIBLE, None, 0.0, "none"), bounds
    try:
        if bounds is not None and not cells and not bounds.everyone_fits(time_left()):
            raise Infeasible(name)  # proven by the relaxation in milliseconds: no solve of the placement
        stage = _run(model, name, start_x[model.xt, model.xs], None, time_left, None if cells else bounds, settings.gap, floors)
        stages.append(Stage("persons_placed", float(model.problem.total_persons), Status.OPTIMAL, 0.0, 0.0, "count"))
        return stage, bounds
    except (Infeasible, InfeasibleError) as error:
        # Not everyone fits, or the solver found no plan in time that places everyone and the
        # start does not: then the stage that places the most persons, from the start.
        if isinstance(error, InfeasibleError) and settings.require_all:
            raise
        for row in floors:  # a bound with everyone placed: not one once some are not
            model.free_row(row)
        persons = _most_persons(model, settings, start_x, time_left, why_infeasible)
        stages.append(persons)
        model.objective(cols, np.ones(len(cols)))
        if bounds is not None:
            bounds = bounds.placed(persons.objective)
        return _run(model, name, model.x(), None, time_left, None if cells else bounds, settings.gap), bounds


def _gap(value: float, bound: float) -> float:
    """The gap between a plan's objective and a lower bound, relative to the objective where it is
    at least 1 (absolute below: squares of relative deviations are often far below 1)."""
    apart = value - bound
    if apart <= 1e-12 * max(abs(value), 1.0):
        return 0.0  # the same number, up to rounding in its last digits
    return apart / max(abs(value), 1.0)


def _meets(value: float, bound: float, gap: float, noise: float = 0.0) -> bool:
    """Whether a plan of objective `value` (minimised) is proven optimal by a lower `bound`, within
    the gap at which a stage counts as solved (`_gap`; HiGHS stops at a relative gap of 1e-6 or an
    absolute one of 1e-6 likewise), or within `noise` (`problem.squares_noise`)."""
    return _gap(value, bound) <= gap or value - bound <= noise


def _run(model: PlacementModel, name: str, x: np.ndarray, y: np.ndarray | None, time_left, bounds: Relaxation | None, gap: float, floors: list[int] | None = None) -> Stage:
    """Solve the stage whose objective `model` holds, from the plan x (per x column) and y. With
    `bounds` (minimised stages), first the one-type relaxation's optimum of the stage: when the
    plan in hand meets it, the stage is proven without a solve; otherwise it becomes a row of the
    model (the objective is at least it, so the solver stops as soon as a plan meets it; the row's
    index is appended to `floors`). A minimised stage that bound does not prove gets its own LP
    relaxation as a second floor and, as the start, the plan near the relaxation when that is
    better (`relaxed_start`): where it meets the relaxation's optimum the stage is proven without
    the solver. When the solver finds no plan in its time, the plan in hand is kept, unproven."""
    started = time.perf_counter()
    bound = bounds.least(name, time_left()) if bounds is not None else None
    values = model.complete(x, y)
    value = float(model.costs @ values)
    if bound is not None:
        if _meets(value, bound, gap) and model.satisfied(values):
            model.values = values
            return Stage(name, value, Status.OPTIMAL, _gap(value, bound), time.perf_counter() - started, "bound")
        row = model.floor(bound - tolerance(bound))
        if floors is not None:
            floors.append(row)
    relaxed = None
    # (the cell stage's start has its own relaxation and restricted solve: `_cell_start`)
    if not model.maximize and not model.relaxation_first and name != "cell_deviation":
        try:
            relaxed = relaxed_start(model, name, time_left)
        except Infeasible:
            if not model.satisfied(values):
                raise
            # the plan in hand is a solution: a relaxation without one is the solver's noise
    if relaxed is not None:
        lower, near = relaxed
        row = model.floor(lower - tolerance(lower))
        if floors is not None:
            floors.append(row)
        bound = lower if bound is None else max(bound, lower)
        if near is not None:
            near_values = model.complete(near[model.xt, model.xs].astype(float), y)
            near_value = float(model.costs @ near_values)
            if near_value < value and model.satisfied(near_values):
                x, values, value = near[model.xt, model.xs].astype(float), near_values, near_value
        if _meets(value, bound, gap) and model.satisfied(values):
            model.values = values
            return Stage(name, value, Status.OPTIMAL, _gap(value, bound), time.perf_counter() - started, "bound")
    left = time_left()
    if left is not None and left <= 0 and model.satisfied(values):
        model.values = values  # no time left for the solver: the plan in hand stands, unproven
        return Stage(name, value, Status.FEASIBLE, None if bound is None else _gap(value, bound), time.perf_counter() - started, "none")
    model.start(x, y)
    try:
        stage = model.run(time_left(), name)
    except InfeasibleError:
        if not model.satisfied(values):
            raise
        model.values = values  # out of time: the plan in hand stands
        return Stage(name, value, Status.FEASIBLE, None if bound is None else _gap(value, bound), time.perf_counter() - started, "none")
    seconds = time.perf_counter() - started
    if bound is not None and _meets(stage.objective, bound, gap):
        return replace(stage, status=Status.OPTIMAL, gap=_gap(stage.objective, bound), seconds=seconds, proof="bound")
    worse = stage.objective < value if model.maximize else stage.objective > value
    if stage.status != Status.OPTIMAL and worse and model.satisfied(values):
        # Out of time with a plan worse than the one it started from (HiGHS does not always keep
        # a start): the plan in hand stands.
        model.values = values
        return Stage(name, value, Status.FEASIBLE, None if bound is None else _gap(value, bound), seconds, "none")
    return replace(stage, seconds=seconds)


def _cell_start(model: PlacementModel, start_x: np.ndarray, time_left) -> np.ndarray:
    """A start for the cell stage. Its LP relaxation (with the cells' envelope cuts) is tight: its
    bound is the stage's optimum, and what costs the solver its time is finding a plan that meets
    it. Candidates: the greedy warm start with one row of targets per origin, packed to what the
    relaxation puts in each cell; when that does not meet the bound, the stage restricted to
    plans near the relaxation (`near_relaxation`). The best of these and `start_x` by persons
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
        near = near_relaxation(model, x, time_left)
        if near is not None:
            best = min([best, near], key=rank)
    return best


# Relative slack on the fixed total cell deviation (`solve_stages`): below the solvers' feasibility
# tolerance (1e-7), so later stages move no cell by more than the solver's own noise.
CELL_SLACK = 1e-9
# Cut rounds before the squares stage settles for its best plan with a gap.
MAX_CUT_ROUNDS = 30
# Points per state cut up front (at most): enough to make the first solve's bound near exact.
UPFRONT_CUTS = 40


def _fairest(model: PlacementModel, honoured: np.ndarray, time_left, deviation: float, bounds: Relaxation | None = None, gap: float = 1e-6) -> tuple[Stage, np.ndarray, np.ndarray]:
    """Among the plans equally good in every stage before, the one with the smallest sum of
    squared relative deviations sum (B_s - T_s)^2 / T_s (the Sainte-Lague measure): a rule a
    reader can state, strictly convex, so it leaves ties only between states that mirror each
    other. Solved exactly by cuts: the model starts with the secants (or tangents) around the
    plan in hand and gains more where a solution shows the cuts still under-estimate a state's
    square, until none does; every solve is a lower bound, so a plan whose squares the cuts
    meet is proven optimal. With `bounds`, the one-type relaxation's optimum is a lower bound
    too: tried on the plan in hand first, then a row of the model (see `_run`)."""
    name = "squared_relative_deviation"
    started = time.perf_counter()
    problem = model.problem
    every = np.arange(problem.n_states)
    y = (lambda: honoured) if model.y0 is not None else (lambda: None)
    floor = bounds.least(name, time_left(), deviation) if bounds is not None else None
    model.add_squares()
    model.cut_squares(every, model.burden(), problem.unit)
    # With the total deviation fixed at D, each state's burden lies within D of its target: cut
    # there up front, at every other multiple of the unit where they are few (the secants then
    # meet the squares at every multiple: exact), at evenly spread points where they are many.
    for at in square_cut_points(problem.target, deviation, problem.unit, UPFRONT_CUTS):
        model.cut_squares(every, at, problem.unit)
    model.objective(model.q_cols, np.ones(problem.n_states))
    values = model.complete(model.x(), y())
    value = float(problem.squares(model.burden()).sum())
    noise = squares_noise(problem.n_states)
    if floor is not None and _meets(value, floor, gap, noise) and model.satisfied(values):
        model.values = values
        return Stage(name, value, Status.OPTIMAL, _gap(value, floor), time.perf_counter() - started, "bound"), model.counts(), honoured
    relaxed = relaxed_squares(model, time_left)
    if relaxed is not None:
        floor = relaxed[0] if floor is None else max(floor, relaxed[0])
        near = near_whole(model, relaxed[1], time_left, name)
        if near is not None:
            near_honoured = honour_given(problem.types, near) if model.y0 is not None else None
            near_values = model.complete(near[model.xt, model.xs].astype(float), near_honoured)
            near_value = float(problem.squares(problem.burden(near)).sum())
            if near_value < value and model.satisfied(near_values):
                values, value = near_values, near_value
                honoured = honoured if near_honoured is None else near_honoured
                model.values = values
    if floor is not None:
        if _meets(value, floor, gap, noise) and model.satisfied(values):
            model.values = values
            return Stage(name, value, Status.OPTIMAL, _gap(value, floor), time.perf_counter() - started, "bound"), model.counts(), honoured
        model.floor(floor - tolerance(floor))
    stage = None
    for _ in range(MAX_CUT_ROUNDS):
        left = time_left()
        if left is not None and left <= 0:
            break  # no time left: the plan in hand stands
        model.start(model.x(), y())
        try:
            stage = model.run(time_left(), name)
        except InfeasibleError:
            break  # out of time: the plan in hand stands
        burden = model.burden()
        true = problem.squares(burden)
        value = float(true.sum())
        if model.y0 is not None:
            honoured = model.honoured()
        if floor is not None and _meets(value, floor, gap, noise):
            return Stage(name, value, Status.OPTIMAL, _gap(value, floor), time.perf_counter() - started, "bound"), model.counts(), honoured
        # The solve's optimum is a lower bound (the cuts never over-estimate a square): a plan
        # whose true squares meet it is optimal, up to the solvers' own tolerance.
        if _meets(value, stage.objective, 1e-6, noise):
            return replace(stage, objective=value, seconds=time.perf_counter() - started), model.counts(), honoured
        under = true - model.values[model.q_cols] > 1e-9 * np.maximum(1.0, true)
        if not under.any():
            break  # nothing left to cut: the gap below is the solver's own
        model.cut_squares(np.flatnonzero(under), burden[under], problem.unit)
    # the best lower bound known: the relaxation's, or the last solve's own (its optimum less its gap)
    lower = [floor] if floor is not None else []
    if stage is not None and stage.gap is not None:
        lower.append(stage.objective - stage.gap * abs(stage.objective))
    return Stage(name, value, Status.FEASIBLE, _gap(value, max(lower)) if lower else None, time.perf_counter() - started, "none"), model.counts(), honoured


def _whole_slack(value: float, coefficients: np.ndarray) -> float:
    """The slack on a fixing row whose objective is a whole number in every plan (persons, cases
    honoured): below one, or a later stage could give up a person (1,025,931 persons placed: a
    relative slack of 1e-6 is one person)."""
    slack = tolerance(value)
    return min(slack, 0.5) if np.array_equal(coefficients, np.round(coefficients)) else slack


def _most_persons(model: PlacementModel, settings: Settings, start_x, time_left, why_infeasible) -> Stage:
    """Not everyone fits: the stage that places as many persons as possible, fixed for the rest."""
    model.free_row(model.everyone)
    if settings.require_all:
        raise InfeasibleError(why_infeasible()) from None
    model.objective(model.placed_cols, model.placed_values, maximize=True)
    try:
        stage = _run(model, "persons_placed", start_x[model.xt, model.xs], None, time_left, None, settings.gap)
    except Infeasible:
        raise InfeasibleError(why_infeasible()) from None
    if stage.objective <= 0.5 and model.problem.total_persons > 0:
        raise InfeasibleError("no case can be placed: " + why_infeasible())
    model.fix(model.placed_cols, model.placed_values, stage.objective, maximized=True, slack=_whole_slack(stage.objective, model.placed_values))
    return stage
