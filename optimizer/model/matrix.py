"""The placement model as one matrix, built once from numpy arrays and mirrored into a backend.

Columns: x (units of type t in state s, for every allowed pair), d (deviation per state), e
(deviation per origin x destination cell, when cases have origins); then, when a stage needs them,
`worst` (minimax) and y (honoured link-class units per linked state). Rows: units per type,
capacity, minimum and need capacity per state, the deviation rows with the integer envelope cuts
(per state and per cell), everyone placed; then the stages' fixing rows. Every row is kept here too,
so a plan can be checked against the model without asking the solver.
"""

from __future__ import annotations

import time

import numpy as np

from ..results import Stage, Status
from .backends.base import Backend
from .problem import Problem
from .types import hall_rows


def tolerance(value: float) -> float:
    """Slack on a fixing row: later stages stay within the optimum found, up to the solvers'
    feasibility tolerances (CBC's values can sit 1e-7 off an optimum it reports)."""
    return 1e-6 * max(1.0, abs(value))


class PlacementModel:
    def __init__(self, problem: Problem, backend: Backend):
        self.problem = problem
        self.backend = backend
        types = problem.types
        n_states = problem.n_states
        self.xt, self.xs = np.nonzero(types.limit > 0)
        n_x = len(self.xt)
        self.xcol = np.full(types.limit.shape, -1, dtype=np.int64)
        self.xcol[self.xt, self.xs] = np.arange(n_x)
        self.d0 = n_x
        self.n_cols = 0
        self._upper = np.zeros(0)  # column upper bounds (lower bounds are all 0)
        self._add_columns(types.limit[self.xt, self.xs].astype(float), integer=True)
        self._add_columns(np.full(n_states, np.inf), integer=False)
        self.d_cols = self.d0 + np.arange(n_states)
        self.worst: int | None = None
        self.y0: int | None = None
        self.q0: int | None = None
        self.n_rows = 0
        # Every row as added: (first row, rows, columns, values, lower, upper).
        self._rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.costs = np.zeros(self.n_cols)
        self.maximize = False
        # One type (quota mode): the relaxation's optimum is whole, so solve that first (see run).
        self.relaxation_first = types.n_types == 1 and not len(types.link_count)
        self._add_placement_rows()
        self.c_cols: np.ndarray | None = None
        if problem.cells is not None:
            self._add_cell_rows()

    def _add_placement_rows(self) -> None:
        problem, types = self.problem, self.problem.types
        n_states = problem.n_states
        xt, xs, cols = self.xt, self.xs, np.arange(len(self.xt))
        persons = types.persons[xt].astype(float)
        weight = types.burden[xt].astype(float)
        # units of each type, where the per-state limits alone do not already say it
        free = types.limit.sum(axis=1) > types.count
        self._per_group(free, xt, cols, np.ones(len(xt)), upper=types.count.astype(float))
        capacity, minimum = problem.capacity, problem.minimum
        self._per_group(~np.isnan(capacity), xs, cols, persons, upper=capacity)
        self._per_group(~np.isnan(minimum) & (np.nan_to_num(minimum) > 0), xs, cols, persons, lower=minimum)
        for need, q in types.need_persons.items():
            has = q[xt] > 0
            self._per_group(~np.isnan(problem.need_capacity[need]), xs[has], cols[has], q[xt[has]].astype(float), upper=problem.need_capacity[need])
        # deviation: d_s >= B_s - T_s, d_s >= T_s - B_s, d_s >= intercept_s + slope_s B_s
        every = np.arange(n_states)
        for sign in (-1.0, 1.0):
            self._add_rows(
                sign * problem.target,
                np.full(n_states, np.inf),
                np.concatenate([every, xs]),
                np.concatenate([self.d_cols, cols]),
                np.concatenate([np.ones(n_states), sign * weight]),
            )
        self._add_envelope_rows(cols, weight)
        self.placed_cols, self.placed_values = cols, persons
        self.everyone = self._add_rows(
            np.array([float(problem.total_persons)]), np.array([np.inf]), np.zeros(len(xt), dtype=np.int64), cols, persons
        )

    def _add_envelope_rows(self, cols: np.ndarray, weight: np.ndarray) -> None:
        """The integer envelope cuts (`problem.integer_envelope`): d_s >= intercept_s + slope_s B_s."""
        envelope = self.problem.envelope
        intercept = np.array([e[0] if e is not None else np.nan for e in envelope])
        slope = np.array([e[1] if e is not None else 0.0 for e in envelope])
        with_envelope = ~np.isnan(intercept)
        if not with_envelope.any():
            return
        rank = np.cumsum(with_envelope) - 1
        pick = with_envelope[self.xs]
        n = int(with_envelope.sum())
        self._add_rows(
            intercept[with_envelope],
            np.full(n, np.inf),
            np.concatenate([rank[with_envelope], rank[self.xs[pick]]]),
            np.concatenate([self.d_cols[with_envelope], cols[pick]]),
            np.concatenate([np.ones(n), -slope[self.xs[pick]] * weight[pick]]),
        )

    def _add_cell_rows(self) -> None:
        """Relocation from several origins: one column e_c per (origin, destination) cell, with
        e_c >= |B_c - T_c| (B_c the burden from origin o placed in s, T_c its biproportional
        target) and the cell's integer envelope cut e_c >= intercept_c + slope_c B_c."""
        types, cells = self.problem.types, self.problem.cells
        self.cell_o, self.cell_s = np.nonzero(cells.allowed | (cells.target > 0))
        n = len(self.cell_o)
        position = np.full(cells.target.shape, -1, dtype=np.int64)
        position[self.cell_o, self.cell_s] = np.arange(n)
        self.c_cols = self._add_columns(np.full(n, np.inf), integer=False) + np.arange(n)
        origin = types.origin[self.xt]
        self.cell_x = np.flatnonzero(origin >= 0)  # the x columns of units with an origin ...
        self.cell_of_x = position[origin[self.cell_x], self.xs[self.cell_x]]  # ... and their cells
        self.cell_weight = types.burden[self.xt[self.cell_x]].astype(float)
        self.cell_target = cells.target[self.cell_o, self.cell_s]
        every = np.arange(n)
        for sign in (-1.0, 1.0):
            self._add_rows(
                sign * self.cell_target,
                np.full(n, np.inf),
                np.concatenate([every, self.cell_of_x]),
                np.concatenate([self.c_cols, self.cell_x]),
                np.concatenate([np.ones(n), sign * self.cell_weight]),
            )
        envelope = [cells.envelope[o][s] for o, s in zip(self.cell_o, self.cell_s)]
        self.cell_intercept = np.array([e[0] if e is not None else np.nan for e in envelope])
        self.cell_slope = np.array([e[1] if e is not None else 0.0 for e in envelope])
        has = ~np.isnan(self.cell_intercept)
        if has.any():
            rank = np.cumsum(has) - 1
            pick = has[self.cell_of_x]
            self._add_rows(
                self.cell_intercept[has],
                np.full(int(has.sum()), np.inf),
                np.concatenate([rank[has], rank[self.cell_of_x[pick]]]),
                np.concatenate([self.c_cols[has], self.cell_x[pick]]),
                np.concatenate([np.ones(int(has.sum())), -self.cell_slope[self.cell_of_x[pick]] * self.cell_weight[pick]]),
            )

    def cell_deviations(self, x: np.ndarray) -> np.ndarray:
        """Each cell's deviation column as small as the plan x (per x column) allows."""
        burden = np.bincount(self.cell_of_x, weights=x[self.cell_x] * self.cell_weight, minlength=len(self.cell_o))
        d = np.abs(burden - self.cell_target)
        return np.fmax(d, self.cell_intercept + self.cell_slope * burden)

    # -- building ------------------------------------------------------------------------------

    def _add_columns(self, upper: np.ndarray, integer: bool) -> int:
        first = self.n_cols
        upper = np.asarray(upper, dtype=float)
        self._upper = np.concatenate([self._upper, upper])
        self.backend.add_columns(upper, integer)
        self.n_cols += len(upper)
        return first

    def _add_rows(self, lower, upper, rows, cols, values) -> int:
        """Rows lower <= sum(value x column) <= upper, their entries as (row, column, value) triplets
        (rows numbered from 0 within the call). Returns the index of the first row."""
        lower = np.asarray(lower, dtype=float)
        n = len(lower)
        first = self.n_rows
        if n == 0:
            return first
        rows = np.asarray(rows, dtype=np.int64)
        order = _stable_order(rows, n)
        starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))[:-1]]).astype(np.int32)
        upper = np.asarray(upper, dtype=float)
        cols = np.asarray(cols, dtype=np.int32)[order]
        values = np.asarray(values, dtype=float)[order]
        self.backend.add_rows(lower, upper, starts, cols, values)
        self._rows.append((first, rows[order], cols, values, lower.copy(), upper.copy()))
        self.n_rows += n
        return first

    def free_row(self, row: int) -> None:
        """Drop a row's bounds (it no longer constrains anything)."""
        self.set_row(row, -np.inf, np.inf)

    def set_row(self, row: int, low: float, high: float) -> None:
        """New bounds for a row."""
        self.backend.set_row_bounds(row, low, high)
        for first, _, _, _, lower, upper in self._rows:
            if first <= row < first + len(lower):
                lower[row - first], upper[row - first] = low, high

    def satisfied(self, values: np.ndarray, tol: float = 1e-9) -> bool:
        """Whether a complete solution keeps every bound and row (up to float noise)."""
        if (values < -tol).any() or (values > self._upper * (1 + tol) + tol).any():
            return False
        for first, rows, cols, coefficients, lower, upper in self._rows:
            activity = np.bincount(rows, weights=coefficients * values[cols], minlength=len(lower))
            slack = tol * np.maximum(1.0, np.abs(activity))
            if (activity < lower - slack).any() or (activity > upper + slack).any():
                return False
        return True

    def _per_group(self, rows_wanted, group, cols, values, lower=None, upper=None) -> None:
        """One row per wanted group (type or state): sum of values x cols of the group within bounds."""
        if not rows_wanted.any():
            return
        rank = np.cumsum(rows_wanted) - 1
        pick = rows_wanted[group]
        n = int(rows_wanted.sum())
        low = np.full(n, -np.inf) if lower is None else np.asarray(lower, dtype=float)[rows_wanted]
        high = np.full(n, np.inf) if upper is None else np.asarray(upper, dtype=float)[rows_wanted]
        self._add_rows(low, high, rank[group[pick]], cols[pick], values[pick])

    def fix(self, cols: np.ndarray, values: np.ndarray, value: float, maximized: bool, slack: float | None = None) -> None:
        """Keep later stages within the optimum just found (`slack`: other than `tolerance`)."""
        slack = tolerance(value) if slack is None else slack
        if maximized:
            low, high = value - slack, np.inf
        else:
            low, high = -np.inf, value + slack
        self._add_rows(np.array([low]), np.array([high]), np.zeros(len(cols), dtype=np.int64), cols, values)

    def floor(self, value: float) -> int:
        """A row: the current objective is at least `value` (a valid lower bound on it: no plan is
        cut off, and the solver's own bound starts there). Returns the row."""
        cols = np.flatnonzero(self.costs)
        return self._add_rows(np.array([value]), np.array([np.inf]), np.zeros(len(cols), dtype=np.int64), cols, self.costs[cols])

    def add_worst(self) -> None:
        """Minimax: worst >= |B_s - T_s| / scale_s."""
        problem = self.problem
        n_states = problem.n_states
        self.worst = self._add_columns(np.array([np.inf]), integer=False)
        every = np.arange(n_states)
        weight = problem.types.burden[self.xt].astype(float)
        cols = np.arange(len(self.xt))
        for sign in (-1.0, 1.0):
            self._add_rows(
                sign * problem.target,
                np.full(n_states, np.inf),
                np.concatenate([every, self.xs]),
                np.concatenate([np.full(n_states, self.worst), cols]),
                np.concatenate([problem.scales(), sign * weight]),
            )

    def add_links(self) -> None:
        """y columns and their rows: class totals, y within x, and the pooled exclusions' bounds."""
        types = self.problem.types
        n_states = self.problem.n_states
        yl = np.concatenate([np.full(len(s), l) for l, s in enumerate(types.link_states)]).astype(np.int64)
        ys = np.concatenate(types.link_states).astype(np.int64)
        self.yl, self.ys, self.honour = yl, ys, np.concatenate(types.link_honour).astype(float)
        self.y0 = self._add_columns(types.link_count[yl].astype(float), integer=True)
        self.y_cols = self.y0 + np.arange(len(yl))
        # a class spread over several states: at most its units in all
        several = np.bincount(yl, minlength=len(types.link_count)) > 1
        self._per_group(several, yl, self.y_cols, np.ones(len(yl)), upper=types.link_count.astype(float))
        # honoured units of a type in a state are units of that type there
        yt = types.link_base[yl]
        pairs, pair_of = np.unique(yt * n_states + ys, return_inverse=True)
        pt, ps = pairs // n_states, pairs % n_states
        self._add_rows(
            np.full(len(pairs), -np.inf),
            np.zeros(len(pairs)),
            np.concatenate([pair_of, np.arange(len(pairs))]),
            np.concatenate([self.y_cols, self.xcol[pt, ps]]),
            np.concatenate([np.ones(len(yl)), -np.ones(len(pairs))]),
        )
        # pooled exclusions: x[t,s'] + (honoured units of t pinned outside s' that may go to s') <= count - excluded
        hall_t, hall_s = np.nonzero(hall_rows(types))
        if len(hall_t):
            # each y column joined to the rows of its type (hall_t is sorted), then filtered
            first, last = np.searchsorted(hall_t, yt, "left"), np.searchsorted(hall_t, yt, "right")
            per_y = last - first
            y_of = np.repeat(np.arange(len(yl)), per_y)
            r = np.repeat(first, per_y) + np.arange(len(y_of)) - np.repeat(np.cumsum(per_y) - per_y, per_y)
            keep = (hall_s[r] != ys[y_of]) & (hall_s[r] != types.link_excluded[yl][y_of])
            rows = np.concatenate([np.arange(len(hall_t)), r[keep]])
            cols = np.concatenate([self.xcol[hall_t, hall_s], self.y_cols[y_of[keep]]])
            self._add_rows(np.full(len(hall_t), -np.inf), types.limit[hall_t, hall_s].astype(float), rows, cols, np.ones(len(rows)))

    def add_squares(self) -> None:
        """q columns, one per state, for the squared relative deviation (B_s - T_s)^2 / scale_s;
        bounded from below by the cuts `cut_squares` adds where a solution needs them."""
        n_states = self.problem.n_states
        self.q0 = self._add_columns(np.full(n_states, np.inf), integer=False)
        self.q_cols = self.q0 + np.arange(n_states)
        # Each state's burden as a column of its own, b_s = sum_t w_t x_ts: the cuts then name two
        # columns each instead of every unit column of the state (4.7 million entries fewer for
        # 5,000 cases of distinct weights).
        self.b_cols = self._add_columns(np.full(n_states, np.inf), integer=False) + np.arange(n_states)
        weight = self.problem.types.burden[self.xt].astype(float)
        every = np.arange(n_states)
        self._add_rows(
            np.zeros(n_states),
            np.zeros(n_states),
            np.concatenate([every, self.xs]),
            np.concatenate([self.b_cols, np.arange(len(self.xt))]),
            np.concatenate([np.ones(n_states), -weight]),
        )

    def cut_squares(self, states: np.ndarray, at: np.ndarray, unit: float | None) -> None:
        """Cuts q_s >= f_s(at_s) + slope (B_s - at_s) for each state in `states`, where f_s is the
        squared relative deviation. With a burden unit every B_s is a multiple of it, so the two
        secants to the neighbouring multiples are exact there (f is convex, and the secants meet f
        at every multiple they join); without one, the tangent at `at_s`."""
        problem = self.problem
        target, scale = problem.target[states], problem.scales()[states]
        value = (at - target) ** 2 / scale
        if unit is None:
            slopes = [2 * (at - target) / scale]
        else:
            slopes = [((at + step - target) ** 2 / scale - value) / step for step in (unit, -unit)]
        for slope in slopes:
            # q_s - slope * b_s >= value - slope * at
            n = len(states)
            self._add_rows(
                value - slope * at,
                np.full(n, np.inf),
                np.concatenate([np.arange(n), np.arange(n)]),
                np.concatenate([self.q_cols[states], self.b_cols[states]]),
                np.concatenate([np.ones(n), -slope]),
            )

    def burden(self) -> np.ndarray:
        """Burden units per state of the current solution."""
        return np.bincount(self.xs, weights=self.x() * self.problem.types.burden[self.xt], minlength=self.problem.n_states)

    # -- solving -------------------------------------------------------------------------------

    def objective(self, cols: np.ndarray, values: np.ndarray, maximize: bool = False) -> None:
        costs = np.zeros(self.n_cols)
        costs[cols] = values
        self.costs, self.maximize = costs, maximize
        self.backend.set_objective(costs, maximize)

    def start(self, x: np.ndarray, y: np.ndarray | None = None) -> None:
        """A complete starting solution from x (per x column) and y (link classes x states)."""
        self.backend.set_start(self.complete(x, y))

    def complete(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """All columns from x and y: each deviation and `worst` as small as the plan allows."""
        problem = self.problem
        values = np.zeros(self.n_cols)
        values[: len(x)] = x
        burden = np.bincount(self.xs, weights=x * problem.types.burden[self.xt], minlength=problem.n_states)
        values[self.d0 : self.d0 + problem.n_states] = problem.deviations(burden)
        if self.c_cols is not None:
            values[self.c_cols] = self.cell_deviations(values[: len(self.xt)])
        if self.worst is not None:
            values[self.worst] = float((np.abs(burden - problem.target) / problem.scales()).max()) if problem.n_states else 0.0
        if self.y0 is not None and y is not None:
            values[self.y0 : self.y0 + len(self.yl)] = y[self.yl, self.ys]
        if self.q0 is not None:
            values[self.q_cols] = problem.squares(burden)
            values[self.b_cols] = burden
        return values

    def run(self, time_left: float | None, name: str) -> Stage:
        if self.relaxation_first:
            stage = self._relaxation(time_left, name)
            if stage is not None:
                return stage
        outcome = self.backend.solve(time_left, name)
        self.values = outcome.values
        return Stage(name, outcome.objective, outcome.status, outcome.gap, outcome.seconds, "solver" if outcome.status == Status.OPTIMAL else "none")

    def _relaxation(self, time_left: float | None, name: str) -> Stage | None:
        """Solve the LP relaxation. When its optimum is a whole plan, that plan is a proven optimum
        of the integer program as well (no integer plan beats the relaxation), found in a fraction
        of the time a MIP solve takes to start up. With one type of unit this is always the case:
        each state's deviation is convex with kinks at whole numbers (the envelope cuts) and one
        sum couples the states, so a basic optimum has every count whole. Checked, not assumed:
        the plan is rounded, completed, checked against every row, and its objective must meet the
        relaxation's bound; otherwise None, and the integer program is solved as usual."""
        start = time.perf_counter()
        relaxed = self.backend.solve_relaxation(time_left, name)
        if relaxed is None:
            return None
        bound, solution = relaxed
        x = solution[: len(self.xt)]
        whole = np.round(x)
        if len(x) and np.abs(x - whole).max() > 1e-9:
            return None
        values = self.complete(whole)
        value = float(self.costs @ values)
        beaten = value < bound - tolerance(bound) if self.maximize else value > bound + tolerance(bound)
        if beaten or not self.satisfied(values):
            return None
        self.values = values
        return Stage(name, value, Status.OPTIMAL, 0.0, time.perf_counter() - start, proof="relaxation")

    def x(self) -> np.ndarray:
        return np.round(self.values[: len(self.xt)])

    def counts(self) -> np.ndarray:
        out = np.zeros(self.problem.types.limit.shape, dtype=np.int64)
        out[self.xt, self.xs] = self.x().astype(np.int64)
        return out

    def honoured(self) -> np.ndarray:
        out = np.zeros((len(self.problem.types.link_count), self.problem.n_states), dtype=np.int64)
        out[self.yl, self.ys] = np.round(self.values[self.y0 : self.y0 + len(self.yl)]).astype(np.int64)
        return out


def _stable_order(rows: np.ndarray, n: int) -> np.ndarray:
    """`np.argsort(rows, kind="stable")` for row numbers below n, the same order, faster: none
    needed when already in order (rows per type), and numpy's radix sort for 16-bit keys (rows
    per state: 0.16 -> 0.03 s for 2.6 million entries)."""
    if len(rows) < 2 or (rows[1:] >= rows[:-1]).all():
        return np.arange(len(rows))
    if n <= 1 << 16:
        return np.argsort(rows.astype(np.uint16), kind="stable")
    return np.argsort(rows, kind="stable")
