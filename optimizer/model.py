"""The placement model: an integer program that places family cases in participating states.

Cases are never split: a case (and a `group` of cases, an extended family) goes whole to one state
or stays unplaced. Interchangeable units, those with the same size, needs, links, exclusions and
weight, are aggregated into one integer variable per (type, state) counting how many of them go
there; case ids are handed out afterwards, deterministically. This keeps the model a few thousand
variables for a million people, where one binary per case and state would not solve at all
(DOMAIN.md section 6). Quota mode (a total, no case list) is the same model with a single type of
one-person case.

Objectives are lexicographic and solved in sequence, each stage fixing the optimum of the one
before: (1) place as many persons as capacity allows; (2) minimise the total absolute deviation
from the targets, or the largest relative deviation (`minimax`, then total deviation among those);
(3) honour as many soft family links as possible. A plan is `optimal` only when every stage was
proven optimal by the solver; otherwise it is `feasible` with the largest gap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pulp

from .errors import InfeasibleError, InputError
from .schema import CAPACITY_PREFIX, case_weights

LinksMode = Literal["hard", "soft", "off"]
Objective = Literal["deviation", "minimax"]
SolverName = Literal["highs", "cbc"]

REASON_NO_STATE = "no allowed state"
REASON_TOO_LARGE = "larger than the capacity of every allowed state"
REASON_NEED = "need capacity ({need}) exhausted in allowed states"
REASON_CAPACITY = "capacity of allowed states exhausted"


@dataclass(frozen=True)
class Settings:
    """How to solve. Defaults are what a planner expects; every one is a CLI option."""

    links: LinksMode = "soft"
    objective: Objective = "deviation"
    solver: SolverName = "highs"
    time_limit: float | None = None
    # Relative MIP gap at which a stage counts as solved. Set explicitly: HiGHS's default is 1e-4.
    gap: float = 1e-6
    require_all: bool = False
    count_hosted: bool = False
    need_weights: dict[str, float] | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    objective: float
    status: str  # "optimal" or "feasible"
    gap: float | None
    seconds: float


@dataclass(frozen=True)
class Plan:
    """A solved placement.

    `states`: one row per participant (index `code`, input order) with name, share, target (burden
    units), allocated (persons), burden, cases, capacity, minimum, deviation (burden - target),
    links_honoured, at_capacity. `cases`: one row per case with `state` ('' when unplaced),
    link_honoured and reason; None in quota mode.
    """

    states: pd.DataFrame
    cases: pd.DataFrame | None
    status: str
    gap: float | None
    stages: tuple[Stage, ...]
    solver: str
    settings: Settings
    times: dict[str, float]
    counts: dict[str, int]
    need_dimensions: tuple[str, ...] = field(default_factory=tuple)
    # Alternative optima or equal priorities that a deterministic rule decided, in words.
    ties: tuple[str, ...] = field(default_factory=tuple)

    @property
    def objective(self) -> dict[str, float]:
        return {stage.name: stage.objective for stage in self.stages}


# ---------------------------------------------------------------------------------------------
# Case types


@dataclass(frozen=True)
class CaseTypes:
    """Interchangeable units aggregated.

    A unit is a case, or all cases of one `group`. Arrays are per type; `members` lists, per type,
    the case row positions of each unit (in input order) for the deterministic hand-out later.
    """

    count: np.ndarray  # units of this type
    persons: np.ndarray  # persons per unit
    burden: np.ndarray  # burden units per unit
    cases_per_unit: np.ndarray
    need_persons: dict[str, np.ndarray]  # need -> persons needing it per unit
    allowed: list[np.ndarray]  # per type: participant positions the unit may go to
    honour: list[np.ndarray]  # per type: cases honoured per allowed state (aligned with allowed)
    has_links: np.ndarray  # per type: number of cases in the unit that have links
    no_state_reason: list[str]  # per type: '' or why no state is allowed
    units: list[list[np.ndarray]]  # per type: list of units, each an array of case positions


def _split(cell: str) -> list[str]:
    return cell.split(";") if cell else []


def build_types(cases: pd.DataFrame, codes: list[str], settings: Settings) -> CaseTypes:
    """Aggregate the case list into interchangeable types."""
    weights = case_weights(cases, settings.need_weights)
    size = cases["size"].to_numpy(dtype=np.int64)
    needs = cases["needs"].to_numpy(dtype=object)
    links = cases["links"].to_numpy(dtype=object)
    excluded = cases["excluded"].to_numpy(dtype=object)
    group = cases["group"].to_numpy(dtype=object)
    if settings.links == "off":
        links_for_model = np.full(len(cases), "", dtype=object)
    else:
        links_for_model = links

    # A case's signature: everything that makes two cases interchangeable for the model.
    frame = pd.DataFrame(
        {"size": size, "needs": needs, "links": links_for_model, "excluded": excluded, "weight": weights}
    )
    case_sig_id = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()

    grouped = group != ""
    unit_sig = case_sig_id.astype(object)
    unit_key = np.arange(len(cases)).astype(object)
    if grouped.any():
        positions = np.flatnonzero(grouped)
        by_group: dict[str, list[int]] = {}
        for pos in positions:
            by_group.setdefault(group[pos], []).append(int(pos))
        for gid, members in by_group.items():
            signature = "g" + "+".join(str(s) for s in sorted(case_sig_id[members]))
            for pos in members:
                unit_sig[pos] = signature
                unit_key[pos] = "g:" + gid
    # One row per unit (first case of each unit), in input order.
    unit_codes, unit_first = pd.factorize(pd.Series(unit_key), sort=False)
    n_units = len(unit_first)
    first_pos = np.full(n_units, -1)
    seen = np.zeros(n_units, dtype=bool)
    order = np.arange(len(cases))
    # first position of each unit
    _, first_index = np.unique(unit_codes, return_index=True)
    first_pos = order[first_index]
    unit_type, _ = pd.factorize(pd.Series(unit_sig[first_pos]), sort=False)
    del seen

    # Members per unit (in input order).
    if grouped.any():
        sort = np.argsort(unit_codes, kind="stable")
        boundaries = np.flatnonzero(np.diff(unit_codes[sort])) + 1
        unit_members = np.split(sort, boundaries)
    else:
        unit_members = [np.array([i]) for i in range(len(cases))]

    n_types = int(unit_type.max()) + 1 if n_units else 0
    type_units: list[list[np.ndarray]] = [[] for _ in range(n_types)]
    for u in range(n_units):
        type_units[unit_type[u]].append(unit_members[u])

    code_pos = {code: i for i, code in enumerate(codes)}
    all_states = np.arange(len(codes))
    need_names = sorted({n for cell in set(needs) for n in _split(cell)})
    count = np.zeros(n_types, dtype=np.int64)
    persons = np.zeros(n_types, dtype=np.int64)
    burden = np.zeros(n_types)
    cases_per_unit = np.zeros(n_types, dtype=np.int64)
    need_persons = {n: np.zeros(n_types, dtype=np.int64) for n in need_names}
    has_links = np.zeros(n_types, dtype=np.int64)
    allowed, honour, reasons = [], [], []
    for t in range(n_types):
        members = type_units[t][0]
        count[t] = len(type_units[t])
        persons[t] = size[members].sum()
        burden[t] = weights[members].sum()
        cases_per_unit[t] = len(members)
        for m in members:
            for n in _split(needs[m]):
                need_persons[n][t] += size[m]
        mask = np.ones(len(codes), dtype=bool)
        reason = ""
        for m in members:
            for code in _split(excluded[m]):
                if code in code_pos:
                    mask[code_pos[code]] = False
        if not mask.any():
            reason = "excluded from every participating state"
        honour_count = np.zeros(len(codes), dtype=np.int64)
        for m in members:
            linked = [code_pos[c] for c in _split(links_for_model[m]) if c in code_pos]
            if _split(links_for_model[m]):
                has_links[t] += 1
                if settings.links == "hard":
                    hard = np.zeros(len(codes), dtype=bool)
                    hard[linked] = True
                    mask &= hard
                    if not mask.any() and not reason:
                        reason = (
                            "hard family links to states that do not take part or conflict"
                            if len(members) == 1
                            else "group members' hard links have no common participating state"
                        )
            honour_count[linked] += 1
        if not mask.any() and not reason:
            reason = "no participating state allowed"
        allowed.append(all_states[mask])
        honour.append(honour_count[mask])
        reasons.append(reason)
    return CaseTypes(
        count=count,
        persons=persons,
        burden=burden,
        cases_per_unit=cases_per_unit,
        need_persons=need_persons,
        allowed=allowed,
        honour=honour,
        has_links=has_links,
        no_state_reason=reasons,
        units=type_units,
    )


def quota_types(total: int, n_states: int) -> CaseTypes:
    """Quota mode: `total` interchangeable one-person cases that may go anywhere."""
    return CaseTypes(
        count=np.array([total], dtype=np.int64),
        persons=np.array([1], dtype=np.int64),
        burden=np.array([1.0]),
        cases_per_unit=np.array([1], dtype=np.int64),
        need_persons={},
        allowed=[np.arange(n_states)],
        honour=[np.zeros(n_states, dtype=np.int64)],
        has_links=np.array([0], dtype=np.int64),
        no_state_reason=[""],
        units=[[]],
    )


# ---------------------------------------------------------------------------------------------
# Targets


def targets(shares: pd.Series, total_burden: float, hosted: pd.Series | None = None) -> pd.Series:
    """Fair shares of the burden. With `hosted`, shares apply to the total plus what is already
    hosted, and each state's target is that minus what it hosts, never below zero (stock vs flow)."""
    if hosted is None:
        return shares * total_burden
    hosted = hosted.fillna(0.0)
    return (shares * (total_burden + hosted.sum()) - hosted).clip(lower=0.0)


# ---------------------------------------------------------------------------------------------
# Solving


class _HiGHSWarm(pulp.HiGHS):
    """PuLP's HiGHS bridge, handing the variables' current values to HiGHS as a starting solution.

    PuLP 3.3 passes a start only to the HiGHS command-line bridge; the in-process one ignores it.
    A good start matters here: the envelope cuts make the root bound tight, so an incumbent that
    meets it ends the search at the root instead of after seconds of primal heuristics.
    """

    def callSolver(self, lp):  # noqa: N802 (PuLP's name)
        import highspy

        values = [var.varValue if var.varValue is not None else 0.0 for var in lp.variables()]
        if any(values):
            solution = highspy.HighsSolution()
            solution.col_value = values
            solution.value_valid = True
            lp.solverModel.setSolution(solution)
        lp.solverModel.run()


def _solver(settings: Settings, time_left: float | None) -> pulp.LpSolver:
    limit = None if time_left is None else max(time_left, 0.01)
    if settings.solver == "highs":
        return _HiGHSWarm(msg=False, gapRel=settings.gap, timeLimit=limit, threads=1)
    if settings.solver == "cbc":
        return pulp.PULP_CBC_CMD(msg=False, gapRel=settings.gap, timeLimit=limit, warmStart=True)
    raise InputError(f"unknown solver '{settings.solver}'; choose highs or cbc")


def _run(prob: pulp.LpProblem, settings: Settings, time_left: float | None, name: str) -> Stage:
    start = time.perf_counter()
    prob.solve(_solver(settings, time_left))
    seconds = time.perf_counter() - start
    if prob.sol_status == pulp.LpSolutionOptimal:
        status, gap = "optimal", 0.0
    elif prob.sol_status == pulp.LpSolutionIntegerFeasible:
        status, gap = "feasible", None
    elif prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        raise _Infeasible(name)
    else:
        raise InfeasibleError(
            f"the solver found no solution for stage '{name}' within the time limit; raise --time-limit"
        )
    if settings.solver == "highs":
        reported = getattr(prob.solverModel.getInfo(), "mip_gap", None)
        if reported is not None and math.isfinite(reported):
            gap = max(float(reported), 0.0)
    value = pulp.value(prob.objective)
    return Stage(name, float(value) if value is not None else 0.0, status, gap, seconds)


class _Infeasible(Exception):
    pass


def _fix(prob: pulp.LpProblem, expression: pulp.LpAffineExpression, value: float, sense: str, name: str) -> None:
    """Keep later stages within the optimum just found (with a tolerance for the float value)."""
    tolerance = 1e-7 * max(1.0, abs(value)) + 1e-9
    if sense == "max":
        prob += expression >= value - tolerance, name
    else:
        prob += expression <= value + tolerance, name


def solve(
    states: pd.DataFrame,
    shares: pd.Series,
    types: CaseTypes,
    settings: Settings,
) -> tuple[np.ndarray, tuple[Stage, ...], pd.Series, dict[str, float]]:
    """Solve the placement of `types` among the participants `states`.

    Returns per type the number of units placed in each participant (an int matrix types x states),
    the stages, the targets and timings.
    """
    t0 = time.perf_counter()
    codes = list(states.index)
    n_states = len(codes)
    total_burden = float((types.count * types.burden).sum())
    hosted = states["hosted"] if settings.count_hosted and "hosted" in states.columns else None
    if settings.count_hosted and hosted is None:
        raise InputError(
            "--count-hosted needs a 'hosted' column in the states file",
            file=states.attrs.get("source"),
            column="hosted",
        )
    target = targets(shares, total_burden, hosted)
    capacity = _column(states, "capacity")
    minimum = _column(states, "minimum")

    prob = pulp.LpProblem("relocation", pulp.LpMinimize)
    # x[t][k]: units of type t placed in state allowed[t][k]
    x: list[list[pulp.LpVariable]] = []
    per_state_persons: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_burden: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_need: dict[str, list[list[tuple[pulp.LpVariable, float]]]] = {
        n: [[] for _ in range(n_states)] for n in types.need_persons
    }
    placed_terms, honour_terms = [], []
    for t in range(len(types.count)):
        row = []
        cat = pulp.LpBinary if types.count[t] == 1 else pulp.LpInteger
        for k, s in enumerate(types.allowed[t]):
            var = prob.add_variable(f"x_{t}_{s}", 0, int(types.count[t]), cat)
            row.append(var)
            per_state_persons[s].append((var, float(types.persons[t])))
            per_state_burden[s].append((var, float(types.burden[t])))
            for n, q in types.need_persons.items():
                if q[t]:
                    per_state_need[n][s].append((var, float(q[t])))
            placed_terms.append((var, float(types.persons[t])))
            if types.honour[t][k]:
                honour_terms.append((var, float(types.honour[t][k])))
        x.append(row)
        if row:
            prob += pulp.lpSum(row) <= int(types.count[t]), f"units_{t}"

    for s in range(n_states):
        persons_s = pulp.LpAffineExpression(per_state_persons[s])
        if not math.isnan(capacity[s]):
            prob += persons_s <= capacity[s], f"capacity_{s}"
        if not math.isnan(minimum[s]) and minimum[s] > 0:
            prob += persons_s >= minimum[s], f"minimum_{s}"
        for n in types.need_persons:
            column = CAPACITY_PREFIX + n
            if column in states.columns and not math.isnan(states[column].iloc[s]):
                prob += pulp.LpAffineExpression(per_state_need[n][s]) <= float(states[column].iloc[s]), f"need_{n}_{s}"

    placed = pulp.LpAffineExpression(placed_terms)
    total_persons = int((types.count * types.persons).sum())
    time_left = settings.time_limit
    build_seconds = time.perf_counter() - t0
    stages: list[Stage] = []

    def remaining() -> float | None:
        if settings.time_limit is None:
            return None
        return settings.time_limit - sum(st.seconds for st in stages)

    unit = burden_unit(types.burden)
    # Stage 1: place as many persons as capacity allows. Tried first as a constraint (everyone
    # placed), which is the common case and saves a solve; only if that fails is it optimised.
    deviation = [prob.add_variable(f"d_{s}", 0) for s in range(n_states)]
    burden_s = [pulp.LpAffineExpression(per_state_burden[s]) for s in range(n_states)]
    for s in range(n_states):
        prob += deviation[s] >= burden_s[s] - float(target.iloc[s]), f"over_{s}"
        prob += deviation[s] >= float(target.iloc[s]) - burden_s[s], f"under_{s}"
        envelope = _integer_envelope(float(target.iloc[s]), unit)
        if envelope is not None:
            intercept, slope = envelope
            prob += deviation[s] >= intercept + slope * burden_s[s], f"envelope_{s}"
    total_deviation = pulp.lpSum(deviation)

    start = greedy_start(types, capacity, {n: _column(states, CAPACITY_PREFIX + n) for n in types.need_persons}, target.to_numpy())
    _set_start(x, types, start, deviation, burden_s_values=(start * types.burden[:, None]).sum(axis=0), target=target.to_numpy())

    everyone = placed >= total_persons
    prob += everyone, "everyone_placed"
    prob.setObjective(total_deviation)
    try:
        first = _run(prob, settings, remaining(), "total_deviation")
        stages.append(Stage("persons_placed", float(total_persons), "optimal", 0.0, 0.0))
    except _Infeasible:
        prob.get_constraint_by_name("everyone_placed").changeRHS(0)
        if settings.require_all:
            raise InfeasibleError(explain_infeasible(states, types)) from None
        prob.sense = pulp.LpMaximize
        prob.setObjective(placed)
        try:
            stage = _run(prob, settings, remaining(), "persons_placed")
        except _Infeasible:
            raise InfeasibleError(explain_infeasible(states, types)) from None
        stages.append(stage)
        if stage.objective <= 0 and total_persons > 0:
            raise InfeasibleError("no case can be placed: " + explain_infeasible(states, types))
        _fix(prob, placed, stage.objective, "max", "persons_placed_fixed")
        prob.sense = pulp.LpMinimize
        prob.setObjective(total_deviation)
        first = _run(prob, settings, remaining(), "total_deviation")

    if settings.objective == "minimax":
        # Largest relative deviation |burden_s - target_s| / target_s (per person where target is 0).
        worst = prob.add_variable("worst_relative_deviation", 0)
        for s in range(n_states):
            scale = float(target.iloc[s]) if target.iloc[s] > 0 else 1.0
            prob += worst * scale >= burden_s[s] - float(target.iloc[s]), f"rel_over_{s}"
            prob += worst * scale >= float(target.iloc[s]) - burden_s[s], f"rel_under_{s}"
        prob.setObjective(worst)
        stage = _run(prob, settings, remaining(), "max_relative_deviation")
        stages.append(stage)
        _fix(prob, pulp.LpAffineExpression([(worst, 1.0)]), stage.objective, "min", "worst_fixed")
        prob.setObjective(total_deviation)
        first = _run(prob, settings, remaining(), "total_deviation")
    stages.append(first)

    if settings.links == "soft" and honour_terms:
        honour = pulp.LpAffineExpression(honour_terms)
        most = sum(int(types.count[t]) * int(h.max()) for t, h in enumerate(types.honour) if len(h))
        achieved = pulp.value(honour) or 0.0
        if achieved >= most - 1e-9:
            # Every link that any participating state could honour is honoured: optimal as it is.
            stages.append(Stage("links_honoured", float(achieved), "optimal", 0.0, 0.0))
        else:
            _fix(prob, total_deviation, first.objective, "min", "deviation_fixed")
            prob.sense = pulp.LpMaximize
            prob.setObjective(honour)
            stages.append(_run(prob, settings, remaining(), "links_honoured"))

    counts = np.zeros((len(types.count), n_states), dtype=np.int64)
    for t, row in enumerate(x):
        for k, var in enumerate(row):
            value = var.value()
            counts[t, types.allowed[t][k]] = int(round(value)) if value is not None else 0
    times = {"build": build_seconds, "solve": sum(st.seconds for st in stages)}
    return counts, tuple(stages), target, times


class _Packing:
    """A plan under construction for the warm start: counts per (type, state) and running totals."""

    def __init__(self, types: CaseTypes, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], target: np.ndarray):
        self.types = types
        self.target = target
        n_types, n_states = len(types.count), len(target)
        self.cap = np.where(np.isnan(capacity), np.inf, capacity)
        self.need_cap = {n: np.where(np.isnan(a), np.inf, a) for n, a in need_capacity.items()}
        self.need_of = {n: q for n, q in types.need_persons.items() if n in self.need_cap}
        self.counts = np.zeros((n_types, n_states), dtype=np.int64)
        self.burden = np.zeros(n_states)
        self.persons = np.zeros(n_states)
        self.need_used = {n: np.zeros(n_states) for n in self.need_of}
        self.allowed_mask = np.zeros((n_types, n_states), dtype=bool)
        self.honour = np.zeros((n_types, n_states), dtype=np.int64)
        for t in range(n_types):
            self.allowed_mask[t, types.allowed[t]] = True
            self.honour[t, types.allowed[t]] = types.honour[t]

    def deviation_change(self, states: np.ndarray, delta: np.ndarray | float) -> np.ndarray:
        b, t = self.burden[states], self.target[states]
        return np.abs(b + delta - t) - np.abs(b - t)

    def room(self, t: int, states: np.ndarray, leaving: int | None = None) -> np.ndarray:
        """Can one unit of type t enter `states` (while a unit of type `leaving` goes out)?"""
        p_out = self.types.persons[leaving] if leaving is not None else 0
        ok = self.persons[states] + self.types.persons[t] - p_out <= self.cap[states]
        for n, q in self.need_of.items():
            q_out = q[leaving] if leaving is not None else 0
            if q[t] > q_out:
                ok &= self.need_used[n][states] + q[t] - q_out <= self.need_cap[n][states]
        return ok

    def move(self, t: int, source: int | None, dest: int | None) -> None:
        for s, sign in ((source, -1), (dest, 1)):
            if s is None:
                continue
            self.counts[t, s] += sign
            self.burden[s] += sign * self.types.burden[t]
            self.persons[s] += sign * self.types.persons[t]
            for n, q in self.need_of.items():
                self.need_used[n][s] += sign * q[t]

    def fill(self, order: np.ndarray) -> None:
        """Each unit to the allowed state with room where it lowers the deviation most (ties: a
        family link, then the largest deficit)."""
        for t in order:
            allowed = self.types.allowed[t]
            for _ in range(int(self.types.count[t])):
                ok = self.room(t, allowed)
                if not ok.any():
                    break
                states = allowed[ok]
                gains = self.deviation_change(states, self.types.burden[t])
                # A linked family goes to a linked state while that state still has a deficit.
                linked = (self.honour[t, states] > 0) & (gains < 0)
                if linked.any():
                    states, gains = states[linked], gains[linked]
                deficit = self.target[states] - self.burden[states]
                best = np.lexsort((-deficit, -self.honour[t, states], gains))[0]
                self.move(t, None, int(states[best]))

    def single_moves(self, order: np.ndarray) -> bool:
        improved = False
        for t in order:
            allowed = self.types.allowed[t]
            w = self.types.burden[t]
            for source in allowed[self.counts[t, allowed] > 0]:
                ok = self.room(t, allowed) & (allowed != source)
                if not ok.any():
                    continue
                states = allowed[ok]
                gains = self.deviation_change(states, w) + self.deviation_change(np.array([source]), -w)[0]
                best = int(np.argmin(gains))
                if gains[best] < -1e-9:
                    self.move(t, int(source), int(states[best]))
                    improved = True
        return improved

    def swaps(self) -> bool:
        """Exchange a unit of type a in s with a unit of type b in s2, for every pair of burden
        classes: what single moves cannot do when capacities are full (persons != burden)."""
        types = self.types
        classes: dict[tuple[int, float], list[int]] = {}
        for t in range(len(types.count)):
            classes.setdefault((int(types.persons[t]), float(types.burden[t])), []).append(t)
        keys = sorted(classes)
        improved = False
        for i, key_a in enumerate(keys):
            for key_b in keys[i + 1 :]:
                w_a, w_b = key_a[1], key_b[1]
                if w_a == w_b:
                    continue
                for _ in range(1000):
                    a_at = self.counts[classes[key_a]].sum(axis=0) > 0
                    b_at = self.counts[classes[key_b]].sum(axis=0) > 0
                    if not a_at.any() or not b_at.any():
                        break
                    every = np.arange(len(self.target))
                    gain = self.deviation_change(every, w_b - w_a)[:, None] + self.deviation_change(every, w_a - w_b)[None, :]
                    gain[~a_at, :] = np.inf
                    gain[:, ~b_at] = np.inf
                    np.fill_diagonal(gain, np.inf)
                    done = False
                    for flat in np.argsort(gain, axis=None)[:50]:
                        s, s2 = divmod(int(flat), len(self.target))
                        if gain[s, s2] >= -1e-9:
                            break
                        pair = self._swap_pair(classes[key_a], classes[key_b], s, s2)
                        if pair is not None:
                            a, b = pair
                            self.move(a, s, s2)
                            self.move(b, s2, s)
                            improved = done = True
                            break
                    if not done:
                        break
        return improved

    def _swap_pair(self, class_a: list[int], class_b: list[int], s: int, s2: int) -> tuple[int, int] | None:
        for a in class_a:
            if self.counts[a, s] == 0 or not self.allowed_mask[a, s2]:
                continue
            for b in class_b:
                if self.counts[b, s2] == 0 or not self.allowed_mask[b, s]:
                    continue
                if self.room(a, np.array([s2]), leaving=b)[0] and self.room(b, np.array([s]), leaving=a)[0]:
                    return a, b
        return None

    def honour_links(self) -> None:
        """Trade places between interchangeable units (same persons, burden and needs) so that a
        unit with a family link sits in a linked state: the deviation does not change."""
        types = self.types
        linked = [t for t in range(len(types.count)) if self.honour[t].any()]
        for a in linked:
            for s in np.flatnonzero(self.counts[a] > 0):
                for s2 in np.flatnonzero(self.honour[a] > self.honour[a, s]):
                    while self.counts[a, s] > 0:
                        partner = self._link_partner(a, s, s2)
                        if partner is None:
                            break
                        self.move(a, s, s2)
                        self.move(partner, s2, s)

    def _link_partner(self, a: int, s: int, s2: int) -> int | None:
        types = self.types
        for b in np.flatnonzero(self.counts[:, s2] > 0):
            if b == a or types.persons[b] != types.persons[a] or types.burden[b] != types.burden[a]:
                continue
            if not self.allowed_mask[b, s]:
                continue
            if any(q[a] != q[b] for q in self.need_of.values()):
                continue
            if self.honour[a, s2] + self.honour[b, s] > self.honour[a, s] + self.honour[b, s2]:
                return int(b)
        return None


def greedy_start(types: CaseTypes, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], target: np.ndarray) -> np.ndarray:
    """A good plan fast, to start the solver from (never reported as such).

    Largest units first, each where it most lowers the deviation; then single moves and pairwise
    exchanges while any lowers the total deviation; then exchanges that honour family links at no
    cost. The solver still proves (or improves) it: this only saves the search for a first plan.
    """
    packing = _Packing(types, capacity, need_capacity, target)
    # Linked families first (so they find room in their linked states), then the largest first.
    linked_type = np.array([h.any() for h in types.honour], dtype=bool) if len(types.count) else np.zeros(0, bool)
    order = np.lexsort((-types.burden, -types.persons, ~linked_type))
    packing.fill(order)
    for _ in range(20):
        moved = packing.single_moves(order)
        swapped = packing.swaps()
        if not (moved or swapped):
            break
    packing.honour_links()
    return packing.counts


def _set_start(x, types: CaseTypes, counts: np.ndarray, deviation, burden_s_values: np.ndarray, target: np.ndarray) -> None:
    for t, row in enumerate(x):
        for k, var in enumerate(row):
            var.setInitialValue(int(counts[t, types.allowed[t][k]]))
    for s, var in enumerate(deviation):
        var.setInitialValue(abs(burden_s_values[s] - target[s]))


def burden_unit(burden: np.ndarray) -> float | None:
    """The largest u such that every burden is a whole multiple of u (1 for whole persons, 0.5 for
    half units, ...), or None when the weights have no small common unit."""
    from fractions import Fraction

    unit = Fraction(0)
    for value in np.unique(burden):
        fraction = Fraction(float(value)).limit_denominator(1000)
        if abs(float(fraction) - float(value)) > 1e-12 * max(1.0, abs(float(value))):
            return None
        unit = Fraction(math.gcd(unit.numerator * fraction.denominator, fraction.numerator * unit.denominator), unit.denominator * fraction.denominator) if unit else fraction
    return float(unit) if unit > 0 else None


def _integer_envelope(target: float, unit: float | None) -> tuple[float, float] | None:
    """The tight lower bound of |B - target| between the two whole multiples of `unit` around it.

    B takes only values k x unit, so |B - T| lies on or above the chord joining its values at the
    multiples just below and above T. Adding that chord as a cut makes the LP relaxation see the
    integer rounding loss (DOMAIN.md section 6's lower bound), which is what lets the solver prove
    optimality quickly instead of branching over symmetric plans.
    """
    if unit is None:
        return None
    low = math.floor(target / unit + 1e-12) * unit
    high = low + unit
    below, above = target - low, high - target
    if below < 1e-12 or above < 1e-12:
        return None
    slope = (above - below) / unit  # from (low, below) to (high, above)
    return below - slope * low, slope


def _column(states: pd.DataFrame, column: str) -> np.ndarray:
    if column not in states.columns:
        return np.full(len(states), np.nan)
    return pd.to_numeric(states[column], errors="coerce").to_numpy(dtype=float)


# ---------------------------------------------------------------------------------------------
# Explaining infeasibility


def explain_infeasible(states: pd.DataFrame, types: CaseTypes) -> str:
    """Say in words why not every case can be placed; the first reasons found, most basic first."""
    codes = list(states.index)
    capacity = _column(states, "capacity")
    minimum = np.nan_to_num(_column(states, "minimum"))
    total_persons = int((types.count * types.persons).sum())
    reasons = []
    if not np.isnan(capacity).any():
        short = total_persons - int(capacity.sum())
        if short > 0:
            reasons.append(
                f"total capacity {int(capacity.sum()):,} is short by {short:,} persons "
                f"for {total_persons:,} persons to place"
            )
    if minimum.sum() > total_persons:
        reasons.append(f"the states' minimums add up to {int(minimum.sum()):,}, more than the {total_persons:,} persons to place")
    for t in range(len(types.count)):
        if types.no_state_reason[t]:
            reasons.append(f"{types.count[t]} unit(s) of {types.persons[t]} person(s): {types.no_state_reason[t]}")
            continue
        caps = capacity[types.allowed[t]]
        if not np.isnan(caps).any() and types.persons[t] > caps.max():
            who = "group" if types.cases_per_unit[t] > 1 else "family"
            reasons.append(
                f"a {who} of {types.persons[t]} persons is larger than any state it may go to "
                f"(largest capacity {int(caps.max())})"
            )
    for need, q in types.need_persons.items():
        column = CAPACITY_PREFIX + need
        if column in states.columns:
            cap = _column(states, column)
            for t in np.flatnonzero(q):
                allowed_caps = cap[types.allowed[t]]
                if len(allowed_caps) and not np.isnan(allowed_caps).any() and q[t] > allowed_caps.max():
                    reasons.append(
                        f"need '{need}': a family of {q[t]} persons needing it exceeds {column} of every "
                        f"state it may go to (largest {int(allowed_caps.max())})"
                    )
            if not np.isnan(cap).any():
                demand = int((q * types.count).sum())
                if demand > cap.sum():
                    reasons.append(
                        f"need '{need}': {demand:,} persons but total {column} is {int(cap.sum()):,} "
                        f"(short by {demand - int(cap.sum()):,})"
                    )
    if not reasons:
        reasons.append(
            "capacities, need capacities, minimums, exclusions and hard links conflict "
            f"for the {len(codes)} participating states"
        )
    return "; ".join(dict.fromkeys(reasons))


# ---------------------------------------------------------------------------------------------
# From counts to a plan


def assign_cases(cases: pd.DataFrame, types: CaseTypes, counts: np.ndarray, codes: list[str], states: pd.DataFrame) -> pd.DataFrame:
    """Hand out states to case ids: within a type, units in input order fill states in input order."""
    n = len(cases)
    state_pos = np.full(n, -1, dtype=np.int64)
    for t, units in enumerate(types.units):
        cursor = 0
        for s in np.flatnonzero(counts[t]):
            for unit in units[cursor : cursor + counts[t, s]]:
                state_pos[unit] = s
            cursor += counts[t, s]
    code_array = np.array(codes + [""], dtype=object)
    out = pd.DataFrame(
        {
            "case_id": cases["case_id"].to_numpy(),
            "state": code_array[state_pos],
            "size": cases["size"].to_numpy(),
            "group": cases["group"].to_numpy(),
            "links": cases["links"].to_numpy(),
        }
    )
    links = out["links"].to_numpy(dtype=object)
    placed_codes = out["state"].to_numpy(dtype=object)
    honoured = np.full(n, "", dtype=object)
    has_link = links != ""
    for i in np.flatnonzero(has_link):
        honoured[i] = "true" if placed_codes[i] and placed_codes[i] in links[i].split(";") else "false"
    out["link_honoured"] = honoured
    out["reason"] = _unplaced_reasons(cases, types, state_pos, states)
    return out


def _unplaced_reasons(cases: pd.DataFrame, types: CaseTypes, state_pos: np.ndarray, states: pd.DataFrame) -> np.ndarray:
    reasons = np.full(len(cases), "", dtype=object)
    capacity = _column(states, "capacity")
    for t, units in enumerate(types.units):
        unplaced = [u for u in units if state_pos[u[0]] < 0]
        if not unplaced:
            continue
        if types.no_state_reason[t]:
            why = f"{REASON_NO_STATE}: {types.no_state_reason[t]}"
        else:
            caps = capacity[types.allowed[t]]
            why = REASON_CAPACITY
            if not np.isnan(caps).any() and types.persons[t] > caps.max():
                why = REASON_TOO_LARGE
            else:
                for need, q in types.need_persons.items():
                    column = CAPACITY_PREFIX + need
                    if q[t] and column in states.columns:
                        need_caps = _column(states, column)[types.allowed[t]]
                        if not np.isnan(need_caps).any():
                            why = REASON_NEED.format(need=need)
                            break
        for unit in unplaced:
            reasons[unit] = why
    return reasons


def plan(
    states: pd.DataFrame,
    shares: pd.Series,
    settings: Settings,
    *,
    cases: pd.DataFrame | None = None,
    total: int | None = None,
) -> Plan:
    """Build, solve and assign: the whole step from targets to a plan."""
    if (cases is None) == (total is None):
        raise InputError("give either a case list or a total, not both or neither")
    t0 = time.perf_counter()
    codes = list(states.index)
    if cases is not None:
        types = build_types(cases, codes, settings)
    else:
        types = quota_types(int(total), len(codes))
    aggregate_seconds = time.perf_counter() - t0
    counts, stages, target, times = solve(states, shares, types, settings)
    t1 = time.perf_counter()

    persons_per_state = (counts * types.persons[:, None]).sum(axis=0)
    burden_per_state = (counts * types.burden[:, None]).sum(axis=0)
    cases_per_state = (counts * types.cases_per_unit[:, None]).sum(axis=0)
    honoured_per_state = np.zeros(len(codes), dtype=np.int64)
    for t in range(len(types.count)):
        for k, s in enumerate(types.allowed[t]):
            honoured_per_state[s] += counts[t, s] * types.honour[t][k]
    capacity = _column(states, "capacity")
    table = pd.DataFrame(
        {
            "name": states["name"].to_numpy(),
            "share": shares.to_numpy(),
            "target": target.to_numpy(),
            "allocated": persons_per_state,
            "burden": burden_per_state,
            "cases": cases_per_state,
            "capacity": capacity,
            "minimum": _column(states, "minimum"),
            "deviation": burden_per_state - target.to_numpy(),
            "links_honoured": honoured_per_state,
            "at_capacity": ~np.isnan(capacity) & (persons_per_state >= np.nan_to_num(capacity, nan=np.inf)),
        },
        index=pd.Index(codes, name="code"),
    )
    for need, q in types.need_persons.items():
        table[f"persons_{need}"] = (counts * q[:, None]).sum(axis=0)

    case_table = None
    if cases is not None:
        case_table = assign_cases(cases, types, counts, codes, states)
        case_table["weight"] = case_weights(cases, settings.need_weights)
    times = {"aggregate": aggregate_seconds, **times, "assign": time.perf_counter() - t1}

    status = "optimal" if all(st.status == "optimal" for st in stages) else "feasible"
    gaps = [st.gap for st in stages if st.gap is not None]
    unknown_gap = any(st.gap is None for st in stages)
    gap = None if unknown_gap else (max(gaps) if gaps else 0.0)
    total_persons = int((types.count * types.persons).sum())
    placed_persons = int(persons_per_state.sum())
    n_cases = int((types.count * types.cases_per_unit).sum())
    counts_summary = {
        "cases": n_cases,
        "persons": total_persons,
        "placed_persons": placed_persons,
        "unplaced_persons": total_persons - placed_persons,
        "placed_cases": int(cases_per_state.sum()),
        "unplaced_cases": n_cases - int(cases_per_state.sum()),
        "case_types": int(len(types.count)),
        "cases_with_links": int((types.count * types.has_links).sum()),
        "links_honoured": int(honoured_per_state.sum()),
        "groups": int(cases["group"][cases["group"] != ""].nunique()) if cases is not None else 0,
        "groups_kept_together": int(cases["group"][cases["group"] != ""].nunique()) if cases is not None else 0,
        "cases_split": 0,
    }
    if case_table is not None:
        grouped = case_table[case_table["group"] != ""]
        split = grouped.groupby("group")["state"].nunique()
        counts_summary["groups_kept_together"] = int((split == 1).sum())
        counts_summary["cases_split"] = int((split > 1).sum())
    return Plan(
        states=table,
        cases=case_table,
        status=status,
        gap=gap,
        stages=stages,
        solver=settings.solver,
        settings=settings,
        times=times,
        counts=counts_summary,
        need_dimensions=tuple(types.need_persons),
    )
