"""The interface every solver backend implements, and what a solve returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ...errors import InfeasibleError
from ...results import Status


class Infeasible(Exception):
    """The stage has no solution at all (raised by `Backend.solve`)."""


def no_solution(name: str) -> InfeasibleError:
    return InfeasibleError(f"the solver found no solution for stage '{name}' within the time limit; raise --time-limit")


@dataclass(frozen=True)
class Outcome:
    """What one solve gave: the proof, the objective the solver reports, every column's value."""

    status: Status
    objective: float
    gap: float | None
    values: np.ndarray
    seconds: float


class Backend(ABC):
    """A solver holding one model that grows: columns and rows are only ever added (the stages add
    fixing rows and columns), a row's bounds may be changed, the objective is replaced per stage."""

    name: str

    @abstractmethod
    def add_columns(self, upper: np.ndarray, integer: bool) -> None:
        """Columns with bounds 0 <= x <= upper, appended after the existing ones."""

    @abstractmethod
    def add_rows(self, lower: np.ndarray, upper: np.ndarray, starts: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Rows lower <= sum(values x columns) <= upper, in compressed row form (row r's entries
        are cols[starts[r]:starts[r+1]]), appended after the existing ones."""

    @abstractmethod
    def set_row_bounds(self, row: int, lower: float, upper: float) -> None: ...

    @abstractmethod
    def set_objective(self, costs: np.ndarray, maximize: bool) -> None:
        """Replace the objective: one cost per column."""

    @abstractmethod
    def set_start(self, values: np.ndarray) -> None:
        """A complete solution for the next solve to start from."""

    @abstractmethod
    def solve(self, time_left: float | None, name: str) -> Outcome:
        """Solve the integer program; `Infeasible` when it has no solution, `no_solution` when
        none was found in time."""

    def set_column_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
        """Change the bounds of some columns (a restricted solve); False where the backend does not
        offer it."""
        return False

    def solve_relaxation(self, time_left: float | None, name: str, bounded: bool = False) -> tuple[float, np.ndarray] | None:
        """The LP relaxation's optimum (bound, values), or None where the backend does not offer it
        or it did not solve; `Infeasible` when the relaxation has no solution. `bounded`: stopped
        when `time_left` has passed (as `solve` is), at the price of solving in a copy of the
        process whose state the next solve does not start from."""
        return None


def time_limit(time_left: float | None) -> float | None:
    """The limit handed to a solver: what is left, never zero (a solver reads 0 as 'no limit')."""
    return None if time_left is None else float(max(time_left, 0.01))
