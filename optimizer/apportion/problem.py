"""The apportionment problem, validated once: shares, total, bounds and labels; and ties in words."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError, InputError
from ..targets import water_level

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


@dataclass(frozen=True)
class Tie:
    """Unit(s) that could have gone to more than one state with exactly the same claim."""

    labels: tuple[str, ...]  # the states competing for the contested unit(s), in input order
    contested: int  # how many units were contested among them
    winners: tuple[str, ...]  # who got them (deterministic rule: input order)
    description: str  # one human sentence


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
