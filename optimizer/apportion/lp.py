"""The lp method: minimum total absolute deviation by the placement model, then a canonical optimum."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model import quota_types, solve
from ..results import overall_status
from ..settings import Settings
from ..targets import Targets
from .problem import _MIP_GAP, Tie, _Problem, _bounded_quota_function, _make_tie, _number


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
    # fairest=False: _canonical_optimum chooses among the least-deviation plans (towards the
    # bounded quotas, then by label) and reports the ties, as the other methods do
    # targets: the classical problem's (share x total), not the model's water-filled ones
    solution = solve(states, shares, quota_types(int(total), size), settings, fairest=False, targets=Targets(weights, weights, 0.0, np.zeros(size), ("",) * size))
    allocation = solution.counts[0].astype(np.int64)
    status, gap = overall_status(solution.stages)
    status, gap = status.value, math.nan if gap is None else gap
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


