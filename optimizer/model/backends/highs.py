"""HiGHS through highspy: the matrix loaded in bulk from numpy arrays, one model across stages."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import replace
from functools import cache

import numpy as np

from ...errors import SolverError
from ...results import Status
from .base import Backend, Infeasible, Outcome, no_solution, time_limit
from .bounded import Overrun, call_bounded

# HiGHS options on top of the defaults. Presolve stays on; see BENCHMARKS.md for what it costs.
HIGHS_OPTIONS: dict[str, object] = {}
# Seconds per nonzero it takes to hand the model held back to HiGHS (2.25 s for 15.3 million at a
# million cases with three exclusions each): a solve that could not even start in the time left
# is not begun.
HAND_OVER_PER_NONZERO = 1.5e-7
@cache
def silence_highs_banner() -> None:
    """HiGHS >= 1.16 prints a copyright banner on stdout when a process makes its first `Highs`
    object, before any option can turn output off; stdout carries our tables and CSV, so that
    first object is made with file descriptor 1 pointed at /dev/null. Later objects print nothing
    (hence `cache`: once per process)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def run_checked(h, name: str) -> None:
    """Run HiGHS and check that an optimum it reports is the value of the solution it returns.
    HiGHS 1.16.0, given a start solution, could report an optimum below the true one and return
    the start unchanged: when the two disagree, solve again without presolve; when they still
    disagree, refuse the answer rather than call a plan optimal."""
    import highspy

    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and not _self_consistent(h):
        h.setOptionValue("presolve", "off")
        try:
            h.run()
        finally:
            h.setOptionValue("presolve", "choose")
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and not _self_consistent(h):
            raise SolverError(f"the solver contradicted itself in stage '{name}' (its optimum is not the value of its solution); try --solver cbc")


def _self_consistent(h) -> bool:
    reported = float(h.getInfo().objective_function_value)
    lp = h.getLp()  # a copy of the model: take it once
    achieved = float(np.asarray(lp.col_cost_) @ np.asarray(h.getSolution().col_value)) + float(lp.offset_)
    return abs(achieved - reported) <= 1e-6 * max(1.0, abs(reported))


def reported_gap(info, gap: float | None) -> float | None:
    """The MIP gap HiGHS reports, where it reports a finite one; else `gap`."""
    reported = getattr(info, "mip_gap", None)
    if reported is not None and math.isfinite(reported):
        return max(float(reported), 0.0)
    return gap


class HighsBackend(Backend):
    name = "highs"

    def __init__(self, gap: float):
        import highspy

        silence_highs_banner()
        self.hs = highspy
        h = self.h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("mip_rel_gap", float(gap))
        for option, value in HIGHS_OPTIONS.items():
            h.setOptionValue(option, value)
        self.n_cols = 0
        # Changes held back until a solve needs them (`_hand_over`): a model whose stages are all
        # proven by bounds never reaches HiGHS, and rows go over in one call per solve (500,000
        # cases of 3 exclusions each: 112 addRows calls took 2.05 s; held back, none is made).
        self._columns: list[tuple[np.ndarray, bool]] = []
        self._rows: list[tuple[np.ndarray, ...]] = []
        self._bound_changes: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
        self._objective: tuple[np.ndarray, bool] | None = None
        self._start: np.ndarray | None = None

    def add_columns(self, upper: np.ndarray, integer: bool) -> None:
        if len(upper):
            self._columns.append((np.asarray(upper, dtype=float), integer))
            self.n_cols += len(upper)

    def add_rows(self, lower, upper, starts, cols, values) -> None:
        self._rows.append((np.asarray(lower, dtype=float), np.asarray(upper, dtype=float), np.asarray(starts, dtype=np.int64), np.asarray(cols, dtype=np.int32), np.asarray(values, dtype=float)))

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        self._bound_changes.append(("row", np.array([row], dtype=np.int32), np.array([lower], dtype=float), np.array([upper], dtype=float)))

    def set_column_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
        self._bound_changes.append(("column", np.asarray(cols, dtype=np.int32), np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)))
        return True

    def set_objective(self, costs: np.ndarray, maximize: bool) -> None:
        self._objective = (np.asarray(costs, dtype=float), maximize)

    def set_start(self, values: np.ndarray) -> None:
        self._start = np.asarray(values, dtype=float)

    def _hand_over(self) -> None:
        """Everything held back, to HiGHS, in the order it was asked for (columns, then rows, then
        bound changes, which only refer to columns and rows added before them)."""
        h = self.h
        if self._columns:
            upper = np.concatenate([u for u, _ in self._columns])
            integer = np.concatenate([np.full(len(u), flag) for u, flag in self._columns])
            first = h.getNumCol()
            h.addVars(len(upper), np.zeros(len(upper)), upper)
            if integer.any():
                cols = (first + np.flatnonzero(integer)).astype(np.int32)
                h.changeColsIntegrality(len(cols), cols, np.full(len(cols), self.hs.HighsVarType.kInteger, dtype=np.uint8))
            self._columns = []
        if self._rows:
            rows, self._rows = self._rows, []
            offsets = np.cumsum([0] + [len(r[3]) for r in rows])
            starts = np.concatenate([r[2] + offset for r, offset in zip(rows, offsets)]).astype(np.int32)
            lower, upper, cols, values = (np.concatenate([r[i] for r in rows]) for i in (0, 1, 3, 4))
            h.addRows(len(lower), lower, upper, len(cols), starts, cols, values)
        for kind, index, lower, upper in self._bound_changes:
            if kind == "row":
                h.changeRowsBounds(len(index), index, lower, upper)
            else:
                h.changeColsBounds(len(index), index, lower, upper)
        self._bound_changes = []
        if self._objective is not None:
            (costs, maximize), self._objective = self._objective, None
            h.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), costs)
            h.changeObjectiveSense(self.hs.ObjSense.kMaximize if maximize else self.hs.ObjSense.kMinimize)
        if self._start is not None:
            solution = self.hs.HighsSolution()
            solution.col_value, self._start = self._start.tolist(), None
            solution.value_valid = True
            h.setSolution(solution)

    def _limit(self, time_left: float | None) -> None:
        limit = time_limit(time_left)
        self.h.setOptionValue("time_limit", limit if limit is not None else np.inf)

    def _too_late(self, time_left: float | None) -> bool:
        """Whether handing over what is held back would take longer than the time left."""
        if time_left is None:
            return False
        pending = sum(len(r[3]) for r in self._rows) + sum(len(u) for u, _ in self._columns)
        return time_left <= pending * HAND_OVER_PER_NONZERO

    def solve(self, time_left: float | None, name: str) -> Outcome:
        if self._too_late(time_left):
            raise no_solution(name)  # the caller keeps the plan in hand
        self._hand_over()
        self._limit(time_left)
        start = time.perf_counter()
        try:
            # in a copy of this process that is killed when the limit has passed (`bounded`)
            outcome = call_bounded(lambda: self._solve_here(name), time_limit(time_left))
        except Overrun:
            raise no_solution(name) from None  # the caller keeps the plan in hand
        except RuntimeError as error:
            raise SolverError(f"stage '{name}': {error}") from None
        return replace(outcome, seconds=time.perf_counter() - start)

    def _solve_here(self, name: str) -> Outcome:
        h, hs = self.h, self.hs
        run_checked(h, name)
        model_status = h.getModelStatus()
        info = h.getInfo()
        if model_status == hs.HighsModelStatus.kOptimal:
            status, gap = Status.OPTIMAL, 0.0
        elif model_status in (hs.HighsModelStatus.kInfeasible, hs.HighsModelStatus.kUnboundedOrInfeasible):
            raise Infeasible(name)
        elif info.primal_solution_status == 2:  # kSolutionStatusFeasible: a plan, optimality not proven
            status, gap = Status.FEASIBLE, None
        else:
            raise no_solution(name)
        values = np.asarray(h.getSolution().col_value)
        return Outcome(status, float(info.objective_function_value), reported_gap(info, gap), values, 0.0)

    def solve_relaxation(self, time_left: float | None, name: str, bounded: bool = False) -> tuple[float, np.ndarray] | None:
        if self._too_late(time_left):
            return None
        self._hand_over()
        self._limit(time_left)
        if not bounded:
            return self._relax_here(name)
        try:
            # HiGHS may overrun its limit here too (presolve), by a second at a million cases
            return call_bounded(lambda: self._relax_here(name), time_limit(time_left))
        except Overrun:
            return None

    def _relax_here(self, name: str) -> tuple[float, np.ndarray] | None:
        h, hs = self.h, self.hs
        h.setOptionValue("solve_relaxation", True)
        try:
            h.run()
        finally:
            h.setOptionValue("solve_relaxation", False)
        status = h.getModelStatus()
        if status == hs.HighsModelStatus.kInfeasible:
            raise Infeasible(name)  # no plan at all, whole or not
        if status != hs.HighsModelStatus.kOptimal:
            return None
        return float(h.getInfo().objective_function_value), np.asarray(h.getSolution().col_value)
