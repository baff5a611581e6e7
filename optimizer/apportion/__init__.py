"""Integer apportionment: turning fractional fair shares into whole persons.

A distribution key says that state i should take the share s_i of a total T, i.e. t_i = s_i * T
persons, but people are indivisible. This module rounds those targets with the classical methods
(Hamilton, the five divisor methods, the Balinski-Young quota method) and with an integer program
that minimises the total absolute deviation sum |a_i - t_i| ("lp").

Every method respects optional per-state minimums and capacities, is deterministic, and reports ties
instead of breaking them silently: when a unit could have gone to more than one state with exactly
the same claim, it goes to the state listed first and the result carries a `Tie` that says so.

No I/O, no global state. The "lp" method is the placement model (`optimizer.model`) in quota mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..settings import Solver, choice
from ..targets import bounded_quotas, water_level  # noqa: F401 (re-exported: the API's names)
from .lp import _lp_method
from .problem import ALIASES, METHODS, REL_TOL, SOLVERS, Tie, _build_problem, _check_feasible, _read_only, _validate_time_limit  # noqa: F401
from .rules import _divisor_method, _hamilton_method, _quota_method


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
