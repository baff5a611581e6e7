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

    def add_columns(self, upper: np.ndarray, integer: bool) -> None:
        n = len(upper)
        if not n:
            return
        self.h.addVars(n, np.zeros(n), upper)
        if integer:
            self.h.changeColsIntegrality(
                n, np.arange(self.n_cols, self.n_cols + n, dtype=np.int32), np.full(n, self.hs.HighsVarType.kInteger, dtype=np.uint8)
            )
        self.n_cols += n

    def add_rows(self, lower, upper, starts, cols, values) -> None:
        self.h.addRows(len(lower), lower, upper, len(cols), starts.astype(np.int32), cols.astype(np.int32), values)

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        self.h.changeRowBounds(row, lower, upper)

    def set_column_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
        self.h.changeColsBounds(len(cols), np.asarray(cols, dtype=np.int32), np.asarray(lower, dtype=float), np.asarray(upper, dtype=float))
        return True

    def set_objective(self, costs: np.ndarray, maximize: bool) -> None:
        self.h.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), costs)
        self.h.changeObjectiveSense(self.hs.ObjSense.kMaximize if maximize else self.hs.ObjSense.kMinimize)

    def set_start(self, values: np.ndarray) -> None:
        solution = self.hs.HighsSolution()
        solution.col_value = values.tolist()
        solution.value_valid = True
        self.h.setSolution(solution)

    def _limit(self, time_left: float | None) -> None:
        limit = time_limit(time_left)
        self.h.setOptionValue("time_limit", limit if limit is not None else np.inf)

    def solve(self, time_left: float | None, name: str) -> Outcome:
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

    def solve_relaxation(self, time_left: float | None, name: str) -> tuple[float, np.ndarray] | None:
        h, hs = self.h, self.hs
        self._limit(time_left)
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
