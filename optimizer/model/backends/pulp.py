"""PuLP: the same matrix as a PuLP problem, solved by CBC or by HiGHS through PuLP's bridge.

Slower to build than the bulk HiGHS backend, and kept for two reasons: CBC is a second,
independent solver a user can choose (`--solver cbc`), and the tests hold the fast path to it.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pulp

from ...results import Status
from ...settings import Solver
from .base import Backend, Infeasible, Outcome, no_solution, time_limit
from .highs import HIGHS_OPTIONS, reported_gap, run_checked, silence_highs_banner


class _HiGHSWarm(pulp.HiGHS):
    """PuLP's HiGHS bridge, handing the variables' current values to HiGHS as a starting solution.

    PuLP 3.3 passes a start only to the HiGHS command-line bridge; the in-process one ignores it.
    """

    def callSolver(self, lp):  # noqa: N802 (PuLP's name)
        import highspy

        values = [var.varValue if var.varValue is not None else 0.0 for var in lp.variables()]
        if any(values):
            solution = highspy.HighsSolution()
            solution.col_value = values
            solution.value_valid = True
            lp.solverModel.setSolution(solution)
        for option, value in HIGHS_OPTIONS.items():
            lp.solverModel.setOptionValue(option, value)
        run_checked(lp.solverModel, lp.name)


class PulpBackend(Backend):
    def __init__(self, solver: Solver, gap: float):
        self.solver = Solver(solver)
        self.name = f"pulp:{self.solver.value}"
        self.gap = gap
        self.prob = pulp.LpProblem("relocation", pulp.LpMinimize)
        self.columns: list[pulp.LpVariable] = []
        self.row_terms: list[list[tuple[pulp.LpVariable, float]]] = []
        self.row_names: list[list[str]] = []  # per row: its PuLP constraints (one per finite bound)

    def add_columns(self, upper: np.ndarray, integer: bool) -> None:
        for bound in np.asarray(upper, dtype=float):
            high = None if math.isinf(bound) else float(bound)
            category = (pulp.LpBinary if high == 1 else pulp.LpInteger) if integer else pulp.LpContinuous
            self.columns.append(self.prob.add_variable(f"c{len(self.columns)}", 0, high, category))

    def add_rows(self, lower, upper, starts, cols, values) -> None:
        ends = np.append(starts[1:], len(cols))
        for r in range(len(lower)):
            terms = [(self.columns[c], float(v)) for c, v in zip(cols[starts[r] : ends[r]], values[starts[r] : ends[r]])]
            self.row_terms.append(terms)
            self.row_names.append([])
            self._bound(len(self.row_names) - 1, float(lower[r]), float(upper[r]))

    def _bound(self, row: int, lower: float, upper: float) -> None:
        names = self.row_names[row]
        expression = pulp.LpAffineExpression(self.row_terms[row])
        if math.isfinite(lower):
            names.append(f"r{row}_low")
            self.prob += expression >= lower, names[-1]
        if math.isfinite(upper):
            names.append(f"r{row}_high")
            self.prob += expression <= upper, names[-1]

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        # PuLP 3.3 has no other way to drop a constraint than its (deprecated) mapping; <4 is pinned.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for name in self.row_names[row]:
                del self.prob.constraints[name]
        self.row_names[row] = []
        self._bound(row, lower, upper)

    def set_objective(self, costs: np.ndarray, maximize: bool) -> None:
        self.prob.sense = pulp.LpMaximize if maximize else pulp.LpMinimize
        self.prob.setObjective(pulp.LpAffineExpression([(self.columns[j], float(costs[j])) for j in np.flatnonzero(costs)]))

    def set_start(self, values: np.ndarray) -> None:
        for column, value in zip(self.columns, values):
            column.setInitialValue(float(value))

    def _solver(self, time_left: float | None) -> pulp.LpSolver:
        limit = time_limit(time_left)
        if self.solver == Solver.HIGHS:
            silence_highs_banner()
            return _HiGHSWarm(msg=False, gapRel=self.gap, timeLimit=limit, threads=1)
        return pulp.PULP_CBC_CMD(msg=False, gapRel=self.gap, timeLimit=limit, warmStart=True)

    def solve(self, time_left: float | None, name: str) -> Outcome:
        prob = self.prob
        start = time.perf_counter()
        try:
            prob.solve(self._solver(time_left))
        except pulp.PulpSolverError:
            raise no_solution(name) from None  # CBC gives up this way on a limit of next to nothing
        seconds = time.perf_counter() - start
        # sol_status, never status: PuLP says "Optimal" in `status` when HiGHS hit its time limit.
        if prob.sol_status == pulp.LpSolutionOptimal:
            status, gap = Status.OPTIMAL, 0.0
        elif prob.sol_status == pulp.LpSolutionIntegerFeasible:
            status, gap = Status.FEASIBLE, None
        elif prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
            raise Infeasible(name)
        else:
            raise no_solution(name)
        if self.solver == Solver.HIGHS:
            gap = reported_gap(prob.solverModel.getInfo(), gap)
        value = pulp.value(prob.objective)
        values = np.array([column.varValue if column.varValue is not None else 0.0 for column in self.columns])
        return Outcome(status, float(value) if value is not None else 0.0, gap, values, seconds)
