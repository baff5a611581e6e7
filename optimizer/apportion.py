"""Integer apportionment: turning fractional fair shares into whole persons.

A distribution key says that state i should take the share s_i of a total T, i.e. t_i = s_i * T
persons, but people are indivisible. This module rounds those targets with the classical methods
(Hamilton, the five divisor methods, the Balinski-Young quota method) and with an integer program
that minimises the total absolute deviation sum |a_i - t_i| ("lp").

Every method respects optional per-state minimums and capacities, is deterministic, and reports ties
instead of breaking them silently: when a unit could have gone to more than one state with exactly
the same claim, it goes to the state listed first and the result carries a `Tie` that says so.

Pure numpy, no I/O, no global state; PuLP is imported only when the "lp" method runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import InfeasibleError, InputError
from .settings import Solver, choice

METHODS: tuple[str, ...] = (
    "lp",
    "hamilton",
    "jefferson",
    "webster",
    "huntington-hill",
    "adams",
    "dean",
    "quota",
)
ALIASES: dict[str, str] = {
    "dhondt": "jefferson",
    "d-hondt": "jefferson",
    "sainte-lague": "webster",
    "largest-remainder": "hamilton",
    "hare": "hamilton",
}
SOLVERS: tuple[str, ...] = ("highs", "cbc")

# Claims (priorities, remainders, marginal deviations) closer than this, relative to their scale,
# are treated as equal. Floats carry rounding noise of ~1e-16; anything below 1e-12 is noise, not a
# real difference between states, so it must end in a reported tie rather than a silent decision.
REL_TOL = 1e-12

# Relative MIP gap asked of the solvers: the default (1e-4) would accept visibly worse allocations.
_MIP_GAP = 1e-9


def canonical_method(name: str) -> str:
    """The canonical method name for `name` (case-insensitive, aliases resolved).

    Underscores and spaces count as hyphens, so "huntington_hill" and "Sainte Lague" are accepted.
    """
    key = str(name).strip().lower().replace("_", "-").replace(" ", "-")
    key = ALIASES.get(key, key)
    if key not in METHODS:
        raise InputError(
            f"unknown method '{name}'; choose one of {', '.join(METHODS)} "
            f"(aliases: {', '.join(f'{alias}={target}' for alias, target in ALIASES.items())})"
        )
    return key


@dataclass(frozen=True)
class Tie:
    """Unit(s) that could have gone to more than one state with exactly the same claim."""

    labels: tuple[str, ...]  # the states competing for the contested unit(s), in input order
    contested: int  # how many units were contested among them
    winners: tuple[str, ...]  # who got them (deterministic rule: input order)
    description: str  # one human sentence


@dataclass(frozen=True, eq=False)
class Apportionment:
    """Whole-person allocation of `total` among states, with the fair quotas it was rounded from.

    The arrays are read-only so that the frozen result cannot be changed behind a reader's back.
    """

    method: str  # canonical name
    total: int
    labels: tuple[str, ...]
    shares: np.ndarray  # float, sums to 1 (weights normalised)
    targets: np.ndarray  # shares * total: the unbounded fair quotas
    allocated: np.ndarray  # int64, sums to total
    ties: tuple[Tie, ...]
    status: str = "optimal"  # "exact" for closed-form methods; lp: "optimal" or "feasible"
    gap: float = 0.0  # lp: relative MIP gap the solver reported (nan if unknown)

    @property
    def deviation(self) -> np.ndarray:
        """Persons above (+) or below (-) the fair quota, per state."""
        return self.allocated - self.targets


def apportion(
    weights,
    total: int,
    method: str = "lp",
    *,
    capacity=None,
    minimum=None,
    labels=None,
    solver: str = "highs",
    time_limit: float | None = None,
) -> Apportionment:
    """Share `total` whole persons among states in proportion to `weights`.

    `capacity` and `minimum` are optional per-state bounds in persons (NaN = no bound). A state with
    zero weight receives its minimum and nothing more, whatever the method. Raises `InputError` for
    unusable arguments and `InfeasibleError` when the bounds cannot hold `total`.
    """
    method = canonical_method(method)
    solver = choice(Solver, solver, "solver")
    time_limit = _validate_time_limit(time_limit)
    problem = _build_problem(weights, total, capacity, minimum, labels)
    _check_feasible(problem)

    status, gap = "exact", 0.0
    if method == "lp":
        allocated, ties, status, gap = _lp_method(problem, solver, time_limit)
    elif method == "hamilton":
        allocated, ties = _hamilton_method(problem)
    elif method == "quota":
        allocated, ties = _quota_method(problem)
    else:
        allocated, ties = _divisor_method(problem, method)

    targets = problem.shares * problem.total
    return Apportionment(
        method=method,
        total=problem.total,
        labels=problem.labels,
        shares=_read_only(problem.shares.copy()),
        targets=_read_only(targets),
        allocated=_read_only(np.asarray(allocated, dtype=np.int64)),
        ties=tuple(ties),
        status=status,
        gap=float(gap),
    )


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Problem:
    """Validated inputs. `upper` is float (inf = no capacity); zero-weight states are pinned to
    their minimum there, so no method needs a special case for them."""

    labels: tuple[str, ...]
    weights: np.ndarray
    shares: np.ndarray
    total: int
    lower: np.ndarray  # int64
    upper: np.ndarray  # float, whole numbers or inf

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def tol(self) -> float:
        """Absolute tolerance for amounts in persons (quotas, remainders, deviations)."""
        return REL_TOL * max(1.0, float(self.total))

    @property
    def unbounded(self) -> bool:
        """True when no minimum or capacity restricts any state that has weight."""
        has_weight = self.weights > 0
        return bool(np.all(self.lower == 0) and np.all(np.isinf(self.upper[has_weight])))


def _build_problem(weights, total, capacity, minimum, labels) -> _Problem:
    w = _as_vector(weights, "weights")
    if w.size == 0:
        raise InputError("weights are empty; at least one state is needed")
    names = _validate_labels(labels, w.size)
    _validate_weights(w, names)
    lower, upper = _validate_bounds(capacity, minimum, names)
    for i in range(w.size):
        if lower[i] > upper[i]:
            raise InfeasibleError(
                f"minimum {lower[i]} of {names[i]} is above its capacity {int(upper[i])}"
            )
    upper = np.where(w > 0, upper, lower.astype(float))
    return _Problem(
        labels=names,
        weights=w,
        shares=w / w.sum(),
        total=_validate_total(total),
        lower=lower,
        upper=upper,
    )


def _as_vector(values, name: str, size: int | None = None) -> np.ndarray:
    try:
        array = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers") from None
    if array.ndim != 1:
        raise InputError(f"{name} must be a flat list of numbers, one per state")
    if size is not None and array.size != size:
        raise InputError(f"{name} has {array.size} values but there are {size} states")
    return array


def _validate_labels(labels, size: int) -> tuple[str, ...]:
    if labels is None:
        return tuple(str(i + 1) for i in range(size))
    names = tuple(str(label) for label in labels)
    if len(names) != size:
        raise InputError(f"labels has {len(names)} entries but there are {size} states")
    if len(set(names)) != size:
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise InputError(f"labels must be unique; repeated: {', '.join(duplicates)}")
    return names


def _validate_weights(weights: np.ndarray, labels: tuple[str, ...]) -> None:
    for label, value in zip(labels, weights):
        if not math.isfinite(value):
            raise InputError(f"weight of {label} is {value}; weights must be finite numbers")
        if value < 0:
            raise InputError(f"weight of {label} is negative ({value:g})")
    if weights.sum() <= 0:
        raise InputError("weights sum to zero")


def _validate_total(total) -> int:
    if isinstance(total, (bool, np.bool_)) or not isinstance(
        total, (int, float, np.integer, np.floating)
    ):
        raise InputError(f"total must be a whole number of persons, got {total!r}")
    if not math.isfinite(total) or total != int(total):
        raise InputError(f"total must be a whole number of persons, got {total!r}")
    if total < 0:
        raise InputError(f"total must not be negative, got {int(total)}")
    return int(total)


def _validate_bounds(capacity, minimum, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    size = len(labels)
    lower = np.zeros(size, dtype=np.int64)
    upper = np.full(size, np.inf)
    if minimum is not None:
        values = _as_vector(minimum, "minimum", size)
        values = np.where(np.isnan(values), 0.0, values)
        _check_whole_persons(values, "minimum", labels, allow_inf=False)
        lower = values.astype(np.int64)
    if capacity is not None:
        values = _as_vector(capacity, "capacity", size)
        values = np.where(np.isnan(values), np.inf, values)
        _check_whole_persons(values, "capacity", labels, allow_inf=True)
        upper = values
    return lower, upper


def _check_whole_persons(values: np.ndarray, name: str, labels, *, allow_inf: bool) -> None:
    for label, value in zip(labels, values):
        if value == math.inf and allow_inf:
            continue
        if not math.isfinite(value) or value < 0 or value != math.floor(value):
            raise InputError(f"{name} of {label} is {value:g}; it must be a whole number >= 0")


def _validate_time_limit(time_limit) -> float | None:
    if time_limit is None:
        return None
    try:
        seconds = float(time_limit)
    except (TypeError, ValueError):
        raise InputError(f"time limit must be a number of seconds, got {time_limit!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit!r}")
    return seconds


def _check_feasible(problem: _Problem) -> None:
    minimum_total = int(problem.lower.sum())
    if problem.total < minimum_total:
        raise InfeasibleError(f"total {problem.total} is below the sum of minimums {minimum_total}")
    capacity_total = float(problem.upper.sum())
    if problem.total > capacity_total:
        raise InfeasibleError(
            f"total {problem.total} is above total capacity {int(capacity_total)} "
            f"({_capacity_breakdown(problem)})"
        )


def _capacity_breakdown(problem: _Problem) -> str:
    """'AT 100, BE 120, CY 0 (zero weight)': what each state can take, for the error message."""
    parts = []
    for label, weight, cap in zip(problem.labels, problem.weights, problem.upper):
        parts.append(f"{label} {int(cap)}" + ("" if weight > 0 else " (zero weight)"))
    return ", ".join(parts)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------------------------
# Fair quotas within bounds (Hamilton, quota method, lp tie-break)
# --------------------------------------------------------------------------------------------


def _bounded_quota_function(problem: _Problem) -> Callable[[int], np.ndarray]:
    """Fair quotas for any house size h, respecting each state's bounds: clamp(s_i * level(h),
    min_i, cap_i), with the common water level of `water_level`."""
    level_at = _water_level(problem)
    lower, upper = problem.lower.astype(float), problem.upper
    if problem.unbounded:
        return lambda house: problem.shares * house
    return lambda house: np.clip(problem.shares * level_at(house), lower, upper)


def _water_level(problem: _Problem) -> Callable[[int], float]:
    if problem.unbounded:
        return float
    return water_level(problem.shares, problem.lower.astype(float), problem.upper)


def bounded_quotas(shares: np.ndarray, lower: np.ndarray, upper: np.ndarray, house: float) -> np.ndarray:
    """Fair quotas of `house` within bounds: clamp(s_i * L, lower_i, upper_i) at the level L where
    they sum to `house` (as near as the bounds allow). The states a bound holds are frozen and the
    rest share out what they cannot take, in proportion to their shares."""
    shares, lower, upper = (np.asarray(a, dtype=float) for a in (shares, lower, upper))
    return np.clip(shares * water_level(shares, lower, upper)(house), lower, upper)


def water_level(shares: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Callable[[float], float]:
    """The level L(h) such that the quotas clamp(s_i * L, lower_i, upper_i) sum to the house size h.

    Clamping at that level is the fixed point of "freeze the states over capacity (or under their
    minimum), spread the rest again by renormalised shares, repeat", computed in one pass from the
    breakpoints of the piecewise-linear sum, so the answer does not depend on the freezing order.
    """
    weighted = shares > 0
    knots = np.concatenate(
        ([0.0], lower[weighted] / shares[weighted], upper[weighted] / shares[weighted])
    )
    knots = np.unique(knots[np.isfinite(knots)])
    filled = np.clip(shares[:, None] * knots[None, :], lower[:, None], upper[:, None]).sum(axis=0)
    open_share = float(shares[weighted & np.isinf(upper)].sum())

    def level(house: float) -> float:
        if house >= filled[-1]:
            extra = (house - filled[-1]) / open_share if open_share > 0 else 0.0
            return float(knots[-1] + extra)
        j = int(np.searchsorted(filled, house, side="right")) - 1
        rise = filled[j + 1] - filled[j]
        fraction = (house - filled[j]) / rise if rise > 0 else 0.0
        return float(knots[j] + fraction * (knots[j + 1] - knots[j]))

    return level


# --------------------------------------------------------------------------------------------
# Hamilton (largest remainder)
# --------------------------------------------------------------------------------------------


def _hamilton_method(problem: _Problem) -> tuple[np.ndarray, list[Tie]]:
    """Floors of the bounded quotas, then one more unit to each of the largest remainders."""
    tol = problem.tol
    quotas = _bounded_quota_function(problem)(problem.total)
    floors = np.clip(np.floor(quotas + tol), problem.lower, problem.upper).astype(np.int64)
    remainders = np.where(floors < problem.upper, np.maximum(quotas - floors, 0.0), -np.inf)
    left = problem.total - int(floors.sum())
    allocated = floors.copy()
    if left == 0:
        return allocated, []

    cut = np.sort(remainders)[::-1][left - 1]
    if not cut > tol:
        raise RuntimeError("internal error: more units left over than positive remainders")
    sure = np.flatnonzero(remainders > cut + tol)
    at_cut = np.flatnonzero(np.abs(remainders - cut) <= tol)
    winners_at_cut = at_cut[: left - len(sure)]
    allocated[sure] += 1
    allocated[winners_at_cut] += 1

    ties = []
    if len(at_cut) > len(winners_at_cut):
        ties.append(_make_tie(problem, at_cut, winners_at_cut, f"equal remainder {_number(cut)}"))
    return allocated, ties


# --------------------------------------------------------------------------------------------
# Divisor methods and the quota method: seat by seat
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Divisor:
    """d(k), the divisor for a state holding k seats, and its continuous inverse (y -> k)."""

    divisor: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


_DIVISORS: dict[str, _Divisor] = {
    "jefferson": _Divisor(lambda k: k + 1.0, lambda y: y - 1.0),
    "webster": _Divisor(lambda k: k + 0.5, lambda y: y - 0.5),
    "huntington-hill": _Divisor(
        lambda k: np.sqrt(k * (k + 1.0)),
        lambda y: (np.sqrt(1.0 + 4.0 * y * y) - 1.0) / 2.0,
    ),
    "adams": _Divisor(lambda k: k.astype(float), lambda y: y),
    "dean": _Divisor(
        lambda k: 2.0 * k * (k + 1.0) / (2.0 * k + 1.0),
        lambda y: ((2.0 * y - 2.0) + np.sqrt((2.0 - 2.0 * y) ** 2 + 8.0 * y)) / 4.0,
    ),
}


def _divisor_method(
    problem: _Problem, method: str, *, head_start: bool = True
) -> tuple[np.ndarray, list[Tie]]:
    """Bounded divisor method: from the minimums, each next seat goes to the highest w_i / d(a_i)
    among states below capacity.

    This sequential form is the same as a_i = clamp(round_d(w_i / D), min_i, cap_i) with a suitable
    divisor D, but it never has to search for D and it sees every tie. `head_start` skips the seats
    that are certain anyway (see `_divisor_head_start`); it changes the speed, not the result.
    """
    divisor = _DIVISORS[method].divisor
    start = _divisor_head_start(problem, method) if head_start else problem.lower.copy()

    def priority(seats: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: zero weight, never eligible
            return np.where(divisor(seats) > 0, problem.weights / divisor(seats), np.inf)

    def eligible(seats: np.ndarray, house: int) -> np.ndarray:
        return seats < problem.upper

    return _assign_seat_by_seat(problem, start, priority, eligible)


def _divisor_head_start(problem: _Problem, method: str) -> np.ndarray:
    """Seats every state is sure to hold in the final allocation, so that only about 2n + 1 seats
    remain to be assigned one by one however large the total is.

    At a threshold x, state i holds N_i(x) = #{k >= 0 : w_i / d(k) > x} seats (clamped to its
    bounds). If those counts sum to less than the total, x lies above the final cut, so each count
    is a lower bound of the final allocation. The counts come from the continuous inverse of d in
    floating point and may be one off either way, so every state gives one seat back and the
    threshold keeps 2n + 1 seats to spare.
    """
    size = problem.size
    goal = problem.total - 2 * size - 1
    if goal <= int(problem.lower.sum()):
        return problem.lower.copy()
    inverse = _DIVISORS[method].inverse

    def sure_seats(scale: float) -> np.ndarray:
        counts = np.ceil(np.maximum(inverse(problem.weights * scale), 0.0))
        counts = np.where(problem.weights > 0, counts - 1.0, 0.0)
        return np.clip(counts, problem.lower, problem.upper)

    low, high = 0.0, 1.0 / problem.weights.sum()
    for _ in range(2000):
        if sure_seats(high).sum() > goal:
            break
        low, high = high, 2.0 * high
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle <= low or middle >= high:
            break
        if sure_seats(middle).sum() > goal:
            high = middle
        else:
            low = middle
    return sure_seats(low).astype(np.int64)


def _quota_method(problem: _Problem) -> tuple[np.ndarray, list[Tie]]:
    """Balinski-Young quota method: Jefferson seat by seat, but a state may take the seat of house
    size h + 1 only while it holds fewer than its upper quota ceil(q_i(h + 1)).

    With bounds, q_i is the bounded quota (see `_bounded_quota_function`), which guarantees that
    some state below capacity is always eligible.
    """
    level_at = _water_level(problem)
    tol = problem.tol

    def priority(seats: np.ndarray) -> np.ndarray:
        return problem.weights / (seats + 1.0)

    def eligible(seats: np.ndarray, house: int) -> np.ndarray:
        # seats < ceil(clamp(s * L, min, cap)) reduces to s * L > seats for a state below capacity
        return (seats < problem.upper) & (problem.shares * level_at(house) > seats + tol)

    return _assign_seat_by_seat(problem, problem.lower.copy(), priority, eligible)


def _assign_seat_by_seat(
    problem: _Problem,
    start: np.ndarray,
    priority: Callable[[np.ndarray], np.ndarray],
    eligible: Callable[[np.ndarray, int], np.ndarray],
) -> tuple[np.ndarray, list[Tie]]:
    """Give the seats from sum(start) + 1 to total one at a time to the eligible state with the
    highest priority; equal priorities go to the state listed first and are logged as ties.

    This loop runs once per seat for the quota method, so it sticks to a few whole-array numpy
    operations per seat.
    """
    seats = start.astype(np.int64).copy()
    log = _TieLog()
    for house in range(int(seats.sum()) + 1, problem.total + 1):
        claims = np.where(eligible(seats, house), priority(seats), -np.inf)
        best = float(claims.max())
        if best == -math.inf:
            raise RuntimeError(f"internal error: no state can take seat {house}")
        contenders = claims >= _lowest_equal_priority(best)
        winner = int(contenders.argmax())
        if np.count_nonzero(contenders) > 1:
            log.record(best, np.flatnonzero(contenders), seats)
        else:
            log.record(best, (winner,), seats)
        seats[winner] += 1
    return seats, log.ties(problem, seats)


def _lowest_equal_priority(level: float) -> float:
    """The smallest claim that still counts as equal to `level` (infinite claims only equal each
    other)."""
    return level if math.isinf(level) else level - REL_TOL * abs(level)


class _TieLog:
    """Collects the seats given while other states had the same priority.

    Consecutive seats at one priority level form a group. A group is a tie only if some competitor
    ended up without the seat it competed for: in the divisor methods a tie for an early seat is
    harmless, because the loser gets the next seat at the same priority anyway.
    """

    def __init__(self) -> None:
        self._groups: list[tuple[float, dict[int, int], list[int]]] = []

    def record(self, level: float, contenders: Sequence[int], seats: np.ndarray) -> None:
        """Note that the seat went to contenders[0] though all of them claimed it at `level`."""
        if not self._groups or not self._same_level(level, self._groups[-1][0]):
            self._groups.append((level, {}, []))
        _, competitors, winners = self._groups[-1]
        for i in contenders:
            competitors.setdefault(int(i), int(seats[i]))
        winners.append(int(contenders[0]))

    @staticmethod
    def _same_level(a: float, b: float) -> bool:
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= REL_TOL * max(abs(a), abs(b))

    def ties(self, problem: _Problem, final: np.ndarray) -> list[Tie]:
        found = []
        for level, competitors, winners in self._groups:
            left_out = [
                i for i, held in competitors.items() if i not in winners and final[i] == held
            ]
            if left_out:
                reason = (
                    "each is still owed a first seat"
                    if math.isinf(level)
                    else f"equal priority {_number(level)}"
                )
                found.append(_make_tie(problem, winners + left_out, winners, reason))
        return found


# --------------------------------------------------------------------------------------------
# lp: minimum total absolute deviation
# --------------------------------------------------------------------------------------------


def _lp_method(
    problem: _Problem, solver: str, time_limit: float | None
) -> tuple[np.ndarray, list[Tie], str, float]:
    """Minimise sum |a_i - t_i| by integer program, then pick a canonical optimum.

    With binding capacities the optimum is very degenerate: every unit beyond a state's ceiling
    costs the same +1, so the solver may pile a capped state's surplus onto any one state. Among the
    solver's equally good allocations we therefore take the one closest (total absolute deviation)
    to the bounded quotas, which spreads the surplus in proportion to the shares, and among those
    the one that favours earlier labels. Neither step changes the objective, so the solver's status
    and gap stay true.
    """
    targets = problem.shares * problem.total
    allocated, status, gap = _solve_lp(
        targets, problem.total, problem.lower, problem.upper, solver, time_limit
    )
    quotas = _bounded_quota_function(problem)(problem.total)
    allocated = _canonical_optimum(allocated, targets, quotas, problem)
    return allocated, _lp_ties(problem, allocated, targets, quotas), status, gap


def _solve_lp(
    targets: np.ndarray,
    total: int,
    lower: np.ndarray,
    upper: np.ndarray,
    solver: str,
    time_limit: float | None,
) -> tuple[np.ndarray, str, float]:
    """min sum |a_i - t_i| s.t. sum a_i = total, lower <= a <= upper, in whole persons.

    This is the placement model (`optimizer.model`) in quota mode: `total` one-person cases, one
    model for quotas and family plans alike. Returns the allocation, the honest status ("optimal"
    only if proven) and the relative MIP gap (nan if the solver does not tell).
    """
    import pandas as pd

    from .model import Settings, quota_types, solve

    size = len(targets)
    labels = [f"s{i}" for i in range(size)]
    states = pd.DataFrame(
        {
            "name": labels,
            "capacity": np.where(np.isinf(upper), np.nan, upper).astype(float),
            "minimum": lower.astype(float),
        },
        index=pd.Index(labels, name="code"),
    )
    weights = np.asarray(targets, dtype=float)
    shares = pd.Series(weights / weights.sum() if weights.sum() > 0 else np.full(size, 1 / size), index=states.index)
    settings = Settings(solver=solver, time_limit=time_limit, gap=_MIP_GAP)
    # share=False: _canonical_optimum breaks the ties (towards the bounded quotas, then by label).
    counts, _, stages, _, _ = solve(states, shares, quota_types(int(total), size), settings, share=False)
    allocation = counts[0].astype(np.int64)
    status = "optimal" if all(stage.status == "optimal" for stage in stages) else "feasible"
    gaps = [stage.gap for stage in stages]
    gap = math.nan if any(g is None for g in gaps) else max(gaps + [0.0])
    if int(allocation.sum()) != total or np.any(allocation < lower) or np.any(allocation > upper):
        raise RuntimeError(f"solver '{solver}' returned an allocation that breaks the constraints")
    return allocation, status, gap


def _unit_cost(units: np.ndarray, target: np.ndarray) -> np.ndarray:
    """How much |a - target| grows when a rises from units - 1 to units (-1, 1 - 2 frac, or +1)."""
    return np.abs(units - target) - np.abs(units - 1 - target)


@dataclass(frozen=True)
class _Margins:
    """Per-state cost of one more unit (take) and saving of one unit less (give), for the primary
    (deviation from targets) and the tie-breaking (deviation from bounded quotas) objectives."""

    take: np.ndarray
    take_quota: np.ndarray
    give: np.ndarray
    give_quota: np.ndarray

    @classmethod
    def of(cls, seats, targets, quotas, problem: _Problem) -> _Margins:
        can_take = seats < problem.upper
        can_give = seats > problem.lower
        return cls(
            take=np.where(can_take, _unit_cost(seats + 1, targets), np.inf),
            take_quota=np.where(can_take, _unit_cost(seats + 1, quotas), np.inf),
            give=np.where(can_give, _unit_cost(seats, targets), -np.inf),
            give_quota=np.where(can_give, _unit_cost(seats, quotas), -np.inf),
        )

    def exchange(self) -> tuple[np.ndarray, np.ndarray]:
        """Change of both objectives when one unit moves from state row to state column."""
        primary = self.take[None, :] - self.give[:, None]
        secondary = self.take_quota[None, :] - self.give_quota[:, None]
        np.fill_diagonal(primary, np.inf)
        np.fill_diagonal(secondary, np.inf)
        return primary, secondary


def _canonical_optimum(
    seats: np.ndarray, targets: np.ndarray, quotas: np.ndarray, problem: _Problem
) -> np.ndarray:
    """Move units between states while the total deviation stays the same and either the deviation
    from the bounded quotas falls or the unit moves to an earlier label.

    The objectives are separable and convex, so when no such single move is left the allocation is
    the optimum (a standard exchange property), whatever optimum the solver happened to return.
    Units move in batches of equal cost, so this takes a few dozen steps, not one per unit.
    """
    seats = seats.astype(np.int64).copy()
    tol = problem.tol
    earlier_taker = np.tril(np.ones((problem.size, problem.size), dtype=bool), k=-1)
    for _ in range(100_000):
        primary, secondary = _Margins.of(seats, targets, quotas, problem).exchange()
        neutral = np.abs(primary) <= tol
        better = neutral & (secondary < -tol)
        if better.any():
            giver, taker = np.unravel_index(
                np.argmin(np.where(better, secondary, np.inf)), secondary.shape
            )
        else:
            reorder = neutral & (np.abs(secondary) <= tol) & earlier_taker
            if not reorder.any():
                return seats
            givers, takers = np.nonzero(reorder)
            first = np.lexsort((-givers, takers))[0]  # earliest taker, from the latest giver
            giver, taker = givers[first], takers[first]
        units = _batch_size(seats, int(giver), int(taker), targets, quotas, problem)
        seats[giver] -= units
        seats[taker] += units
    raise RuntimeError("internal error: canonical lp optimum did not settle")


def _batch_size(seats, giver: int, taker: int, targets, quotas, problem: _Problem) -> int:
    """How many units can move from giver to taker at the same unit costs as the first one."""
    limits = [
        seats[giver] - problem.lower[giver],
        problem.upper[taker] - seats[taker],
        _same_cost_below(int(seats[giver]), targets[giver]),
        _same_cost_below(int(seats[giver]), quotas[giver]),
        _same_cost_above(int(seats[taker]) + 1, targets[taker]),
        _same_cost_above(int(seats[taker]) + 1, quotas[taker]),
    ]
    return max(1, int(min(limits)))


def _same_cost_below(top: int, target: float) -> float:
    """Units top, top - 1, ... that cost the same as unit `top` (costs change only near target)."""
    if top <= target:
        return top
    if top >= target + 1:
        return top - math.ceil(target)
    return 1


def _same_cost_above(bottom: int, target: float) -> float:
    """Units bottom, bottom + 1, ... that cost the same as unit `bottom`."""
    if bottom <= target:
        return math.floor(target) - bottom + 1
    if bottom >= target + 1:
        return math.inf
    return 1


def _lp_ties(problem: _Problem, seats, targets, quotas) -> list[Tie]:
    """States that could give a unit to a later state without changing either objective."""
    primary, secondary = _Margins.of(seats, targets, quotas, problem).exchange()
    swappable = (np.abs(primary) <= problem.tol) & (np.abs(secondary) <= problem.tol)
    if not swappable.any():
        return []
    givers = np.flatnonzero(swappable.any(axis=1))
    takers = np.flatnonzero(swappable.any(axis=0))
    competitors = np.union1d(givers, takers)
    deviation = float(np.abs(seats - targets).sum())
    reason = f"giving it to any of them leaves the total deviation at {_number(deviation)}"
    return [_make_tie(problem, competitors, givers, reason)]


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _make_tie(
    problem: _Problem, competitors: Sequence[int], winners: Sequence[int], reason: str
) -> Tie:
    group = sorted({int(i) for i in competitors})
    chosen = sorted({int(i) for i in winners})
    names = tuple(problem.labels[i] for i in group)
    winner_names = tuple(problem.labels[i] for i in chosen)
    count = len(chosen)
    noun = "seat" if count == 1 else "seats"
    description = (
        f"{_join(names)} tie for the last {count} {noun} ({reason}); "
        f"given in input order to {_join(winner_names)}"
    )
    return Tie(labels=names, contested=count, winners=winner_names, description=description)


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _number(value: float) -> str:
    return f"{value:.6g}"
