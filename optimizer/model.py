"""The placement model: an integer program that places family cases in participating states.

Cases are never split: a case (and a `group` of cases, an extended family) goes whole to one state
or stays unplaced. Interchangeable units, those with the same size, needs, exclusions and weight,
are aggregated into one integer variable per (type, state) counting how many of them go there;
units with family links are counted a second time, per linked state, to know how many links are
honoured (see `CaseTypes`). Case ids are handed out afterwards, deterministically. This keeps the
model a few thousand variables for a million people, where one binary per case and state does not
solve at all (DOMAIN.md section 6). Quota mode (a total, no case list) is the same model with a
single type of one-person case.

Two things make the solver fast and its answers proven: cuts that give the LP relaxation the exact
integer rounding loss of each state (`_integer_envelope`), so the root bound is tight, and a greedy
warm start (`warmstart.py`) that usually meets that bound, so the search ends at the root.

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
from .warmstart import warm_start

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
    """Interchangeable units, aggregated.

    A unit is a case, or all cases of one `group`. Units with the same persons, burden, needs and
    allowed states form a *base type*: the model counts how many of each go to each state. A
    family link does not change where a unit may go, only whether it is honoured there, so a unit
    with soft links belongs to its base type too and, in addition, to a *link class* (base type +
    links); the model counts separately how many of a link class sit in its linked states. A linked
    unit placed elsewhere is exactly a plain unit of its base type: nothing is lost by pooling.

    Unit bookkeeping (for handing out case ids afterwards) is kept as arrays: `unit_base` and
    `unit_link` per unit, and the member cases of unit u at `unit_members[unit_offsets[u]:unit_offsets[u+1]]`.
    """

    count: np.ndarray  # units per base type
    persons: np.ndarray  # persons per unit
    burden: np.ndarray  # burden units per unit
    cases_per_unit: np.ndarray
    need_persons: dict[str, np.ndarray]  # need -> persons needing it, per unit
    allowed: list[np.ndarray]  # per base type: participant positions it may go to
    no_state_reason: list[str]  # per base type: '' or why no state is allowed
    link_base: np.ndarray  # per link class: its base type
    link_count: np.ndarray  # per link class: units
    link_states: list[np.ndarray]  # per link class: linked participant positions (allowed ones)
    link_honour: list[np.ndarray]  # per link class: cases honoured per unit at each linked state
    unit_base: np.ndarray | None = None
    unit_link: np.ndarray | None = None
    unit_of_case: np.ndarray | None = None
    unit_members: np.ndarray | None = None
    unit_offsets: np.ndarray | None = None

    @property
    def n_types(self) -> int:
        return len(self.count)


def _split(cell: str) -> list[str]:
    return cell.split(";") if cell else []


def _units(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cases -> units: (unit of each case, first case of each unit, members in unit order, offsets)."""
    n = len(group)
    anchor = np.arange(n)
    grouped = np.flatnonzero(group != "")
    if len(grouped):
        codes, _ = pd.factorize(pd.Series(group[grouped], dtype=object), sort=False)
        first = np.full(codes.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, codes, grouped)
        anchor[grouped] = first[codes]
    unit_of_case, firsts = pd.factorize(anchor, sort=False)
    firsts = np.asarray(firsts, dtype=np.int64)
    members = np.argsort(unit_of_case, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(unit_of_case, minlength=len(firsts)))])
    return unit_of_case, firsts, members, offsets


def build_types(cases: pd.DataFrame, codes: list[str], settings: Settings) -> CaseTypes:
    """Aggregate the case list into base types and link classes."""
    weights = case_weights(cases, settings.need_weights)
    size = cases["size"].to_numpy(dtype=np.int64)
    needs = cases["needs"].to_numpy(dtype=object)
    links = cases["links"].to_numpy(dtype=object)
    excluded = cases["excluded"].to_numpy(dtype=object)
    group = cases["group"].to_numpy(dtype=object)
    hard = settings.links == "hard"
    soft = settings.links == "soft"

    # What makes two cases interchangeable for capacities and allowed states (links only when hard).
    signature = {"size": size, "needs": needs, "excluded": excluded, "weight": weights}
    if hard:
        signature["links"] = links
    case_base = pd.DataFrame(signature).groupby(list(signature), sort=False, dropna=False).ngroup().to_numpy()

    unit_of_case, firsts, members, offsets = _units(group)
    sizes = np.diff(offsets)
    base_key = case_base[firsts].astype(object)
    link_key = (links[firsts] if soft else np.full(len(firsts), "", dtype=object)).astype(object)
    for u in np.flatnonzero(sizes > 1):
        m = members[offsets[u] : offsets[u + 1]]
        base_key[u] = "g" + ",".join(str(b) for b in sorted(case_base[m]))
        if soft:
            pairs = sorted((int(case_base[i]), links[i]) for i in m)
            link_key[u] = "|".join(f"{b}:{l}" for b, l in pairs) if any(l for _, l in pairs) else ""
    unit_base, base_first = pd.factorize(pd.Series(base_key, dtype=object), sort=False)
    unit_base = unit_base.astype(np.int64)
    n_types = len(base_first)
    first_unit = np.unique(unit_base, return_index=True)[1]

    code_pos = {code: i for i, code in enumerate(codes)}
    n_states = len(codes)
    need_names = sorted({n for cell in set(needs) for n in _split(cell)})
    count = np.bincount(unit_base, minlength=n_types).astype(np.int64)
    persons = np.zeros(n_types, dtype=np.int64)
    burden = np.zeros(n_types)
    cases_per_unit = np.zeros(n_types, dtype=np.int64)
    need_persons = {n: np.zeros(n_types, dtype=np.int64) for n in need_names}
    allowed, reasons = [], []
    for t in range(n_types):
        u = first_unit[t]
        m = members[offsets[u] : offsets[u + 1]]
        persons[t] = size[m].sum()
        burden[t] = weights[m].sum()
        cases_per_unit[t] = len(m)
        mask = np.ones(n_states, dtype=bool)
        reason = ""
        for i in m:
            for n in _split(needs[i]):
                need_persons[n][t] += size[i]
            for code in _split(excluded[i]):
                if code in code_pos:
                    mask[code_pos[code]] = False
        if not mask.any():
            reason = "excluded from every participating state"
        if hard:
            for i in m:
                if links[i]:
                    linked = np.zeros(n_states, dtype=bool)
                    linked[[code_pos[c] for c in _split(links[i]) if c in code_pos]] = True
                    mask &= linked
            if not mask.any() and not reason:
                reason = (
                    "hard family links only to states that do not take part"
                    if len(m) == 1
                    else "group members' hard links have no common participating state"
                )
        if not mask.any() and not reason:
            reason = "no participating state allowed"
        allowed.append(np.flatnonzero(mask))
        reasons.append(reason)

    # Link classes: units of one base type with the same links, honourable in some allowed state.
    unit_link = np.full(len(firsts), -1, dtype=np.int64)
    link_base, link_states, link_honour = [], [], []
    has_link = np.flatnonzero(link_key != "")
    if len(has_link):
        keys = pd.Series(unit_base[has_link].astype(str), dtype=object) + "#" + pd.Series(link_key[has_link], dtype=object)
        classes, class_first = pd.factorize(keys, sort=False)
        class_unit = has_link[np.unique(classes, return_index=True)[1]]
        kept = np.full(len(class_first), -1, dtype=np.int64)
        for c in range(len(class_first)):
            u = class_unit[c]
            t = unit_base[u]
            honour = np.zeros(n_states, dtype=np.int64)
            for i in members[offsets[u] : offsets[u + 1]]:
                for code in _split(links[i]):
                    if code in code_pos:
                        honour[code_pos[code]] += 1
            honour_allowed = np.zeros(n_states, dtype=np.int64)
            honour_allowed[allowed[t]] = honour[allowed[t]]
            states = np.flatnonzero(honour_allowed)
            if len(states):
                kept[c] = len(link_base)
                link_base.append(t)
                link_states.append(states)
                link_honour.append(honour_allowed[states])
        unit_link[has_link] = kept[classes]
    link_base_arr = np.array(link_base, dtype=np.int64)
    link_count = np.bincount(unit_link[unit_link >= 0], minlength=len(link_base)).astype(np.int64)
    return CaseTypes(
        count=count,
        persons=persons,
        burden=burden,
        cases_per_unit=cases_per_unit,
        need_persons=need_persons,
        allowed=allowed,
        no_state_reason=reasons,
        link_base=link_base_arr,
        link_count=link_count,
        link_states=link_states,
        link_honour=link_honour,
        unit_base=unit_base,
        unit_link=unit_link,
        unit_of_case=unit_of_case,
        unit_members=members,
        unit_offsets=offsets,
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
        no_state_reason=[""],
        link_base=np.zeros(0, dtype=np.int64),
        link_count=np.zeros(0, dtype=np.int64),
        link_states=[],
        link_honour=[],
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
) -> tuple[np.ndarray, np.ndarray, tuple[Stage, ...], pd.Series, dict[str, float]]:
    """Solve the placement of `types` among the participants `states`.

    Returns the units of each base type placed in each participant (types x states), the units of
    each link class placed in each participant and honoured there (links x states), the stages,
    the targets and timings.
    """
    t0 = time.perf_counter()
    n_states = len(states)
    total_burden = float((types.count * types.burden).sum())
    hosted = states["hosted"] if settings.count_hosted and "hosted" in states.columns else None
    if settings.count_hosted and hosted is None:
        raise InputError(
            "--count-hosted needs a 'hosted' column in the states file",
            file=states.attrs.get("source"),
            column="hosted",
        )
    target = targets(shares, total_burden, hosted)
    target_values = target.to_numpy(dtype=float)
    capacity = _column(states, "capacity")
    minimum = _column(states, "minimum")
    need_capacity = {n: _column(states, CAPACITY_PREFIX + n) for n in types.need_persons}

    prob = pulp.LpProblem("relocation", pulp.LpMinimize)
    per_state_persons: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_burden: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_need = {n: [[] for _ in range(n_states)] for n in types.need_persons}
    placed_terms = []
    x: list[dict[int, pulp.LpVariable]] = []
    for t in range(types.n_types):
        row = {}
        cat = pulp.LpBinary if types.count[t] == 1 else pulp.LpInteger
        for s in types.allowed[t]:
            var = prob.add_variable(f"x_{t}_{s}", 0, int(types.count[t]), cat)
            row[int(s)] = var
            per_state_persons[s].append((var, float(types.persons[t])))
            per_state_burden[s].append((var, float(types.burden[t])))
            for n, q in types.need_persons.items():
                if q[t]:
                    per_state_need[n][s].append((var, float(q[t])))
            placed_terms.append((var, float(types.persons[t])))
        x.append(row)
        if row:
            prob += pulp.lpSum(row.values()) <= int(types.count[t]), f"units_{t}"

    # Link classes: y[l][s] units of class l honoured in linked state s, within the base type's count there.
    y: list[dict[int, pulp.LpVariable]] = []
    honour_terms = []
    linked_in_state: dict[tuple[int, int], list[pulp.LpVariable]] = {}
    for l in range(len(types.link_count)):
        row = {}
        cat = pulp.LpBinary if types.link_count[l] == 1 else pulp.LpInteger
        for s, honour in zip(types.link_states[l], types.link_honour[l]):
            var = prob.add_variable(f"y_{l}_{s}", 0, int(types.link_count[l]), cat)
            row[int(s)] = var
            honour_terms.append((var, float(honour)))
            linked_in_state.setdefault((int(types.link_base[l]), int(s)), []).append(var)
        y.append(row)
        prob += pulp.lpSum(row.values()) <= int(types.link_count[l]), f"link_units_{l}"
    for (t, s), variables in linked_in_state.items():
        prob += pulp.lpSum(variables) - x[t][s] <= 0, f"linked_{t}_{s}"

    for s in range(n_states):
        persons_s = pulp.LpAffineExpression(per_state_persons[s])
        if not math.isnan(capacity[s]):
            prob += persons_s <= capacity[s], f"capacity_{s}"
        if not math.isnan(minimum[s]) and minimum[s] > 0:
            prob += persons_s >= minimum[s], f"minimum_{s}"
        for n in types.need_persons:
            if not math.isnan(need_capacity[n][s]):
                prob += pulp.LpAffineExpression(per_state_need[n][s]) <= float(need_capacity[n][s]), f"need_{n}_{s}"

    unit = burden_unit(types.burden)
    deviation = [prob.add_variable(f"d_{s}", 0) for s in range(n_states)]
    burden_s = [pulp.LpAffineExpression(per_state_burden[s]) for s in range(n_states)]
    for s in range(n_states):
        prob += deviation[s] >= burden_s[s] - float(target_values[s]), f"over_{s}"
        prob += deviation[s] >= float(target_values[s]) - burden_s[s], f"under_{s}"
        envelope = _integer_envelope(float(target_values[s]), unit)
        if envelope is not None:
            intercept, slope = envelope
            prob += deviation[s] >= intercept + slope * burden_s[s], f"envelope_{s}"
    total_deviation = pulp.lpSum(deviation)
    placed = pulp.LpAffineExpression(placed_terms)
    total_persons = int((types.count * types.persons).sum())

    start_x, start_y = warm_start(types, capacity, need_capacity, target_values)
    _set_start(x, start_x, y, start_y, deviation, (start_x * types.burden[:, None]).sum(axis=0), target_values)
    build_seconds = time.perf_counter() - t0

    stages: list[Stage] = []

    def remaining() -> float | None:
        if settings.time_limit is None:
            return None
        return settings.time_limit - (time.perf_counter() - t0)

    # Stage 1: place as many persons as capacity allows. Tried first as a constraint (everyone
    # placed), the common case, which saves a solve; only if that fails is it optimised.
    prob += placed >= total_persons, "everyone_placed"
    prob.setObjective(total_deviation)
    try:
        deviation_stage = _run(prob, settings, remaining(), "total_deviation")
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
        deviation_stage = _run(prob, settings, remaining(), "total_deviation")

    if settings.objective == "minimax":
        # Largest relative deviation |burden_s - target_s| / target_s (per unit where target is 0).
        worst = prob.add_variable("worst_relative_deviation", 0)
        for s in range(n_states):
            scale = float(target_values[s]) if target_values[s] > 0 else 1.0
            prob += worst * scale >= burden_s[s] - float(target_values[s]), f"rel_over_{s}"
            prob += worst * scale >= float(target_values[s]) - burden_s[s], f"rel_under_{s}"
        worst.setInitialValue(0.0)
        prob.setObjective(worst)
        stage = _run(prob, settings, remaining(), "max_relative_deviation")
        stages.append(stage)
        _fix(prob, pulp.LpAffineExpression([(worst, 1.0)]), stage.objective, "min", "worst_fixed")
        prob.setObjective(total_deviation)
        deviation_stage = _run(prob, settings, remaining(), "total_deviation")
    stages.append(deviation_stage)

    if settings.links == "soft" and honour_terms:
        honour = pulp.LpAffineExpression(honour_terms)
        most = sum(int(types.link_count[l]) * int(h.max()) for l, h in enumerate(types.link_honour))
        achieved = pulp.value(honour) or 0.0
        if achieved >= most - 1e-9:
            # Every link that any participating state could honour is honoured: optimal as it is.
            stages.append(Stage("links_honoured", float(achieved), "optimal", 0.0, 0.0))
        else:
            _fix(prob, total_deviation, deviation_stage.objective, "min", "deviation_fixed")
            prob.sense = pulp.LpMaximize
            prob.setObjective(honour)
            stages.append(_run(prob, settings, remaining(), "links_honoured"))

    counts = _values(x, types.n_types, n_states)
    honoured = _values(y, len(types.link_count), n_states)
    times = {"build": build_seconds, "solve": sum(st.seconds for st in stages)}
    return counts, honoured, tuple(stages), target, times


def _values(rows: list[dict[int, pulp.LpVariable]], n_rows: int, n_states: int) -> np.ndarray:
    out = np.zeros((n_rows, n_states), dtype=np.int64)
    for r, row in enumerate(rows):
        for s, var in row.items():
            value = var.value()
            out[r, s] = int(round(value)) if value is not None else 0
    return out


def _set_start(x, start_x: np.ndarray, y, start_y: np.ndarray, deviation, burden: np.ndarray, target: np.ndarray) -> None:
    for t, row in enumerate(x):
        for s, var in row.items():
            var.setInitialValue(int(start_x[t, s]))
    for l, row in enumerate(y):
        for s, var in row.items():
            var.setInitialValue(int(start_y[l, s]))
    for s, var in enumerate(deviation):
        var.setInitialValue(abs(burden[s] - target[s]))


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


def assign_units(types: CaseTypes, counts: np.ndarray, honoured: np.ndarray) -> np.ndarray:
    """State position per unit (-1: unplaced). Within a base type, honoured linked units go first to
    their linked states; the rest, in input order, fill the remaining places in state order."""
    n_states = counts.shape[1]
    state = np.full(len(types.unit_base), -1, dtype=np.int64)
    order = np.argsort(types.unit_base, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(types.unit_base, minlength=types.n_types))])
    classes_of: dict[int, list[int]] = {}
    for l, t in enumerate(types.link_base):
        classes_of.setdefault(int(t), []).append(l)
    for t in range(types.n_types):
        units = order[bounds[t] : bounds[t + 1]]
        slots = counts[t].copy()
        for l in classes_of.get(t, []):
            members = units[types.unit_link[units] == l]
            cursor = 0
            for s in np.flatnonzero(honoured[l]):
                k = int(honoured[l, s])
                state[members[cursor : cursor + k]] = s
                cursor += k
                slots[s] -= k
        rest = units[state[units] < 0]
        places = np.repeat(np.arange(n_states), np.maximum(slots, 0))
        state[rest[: len(places)]] = places[: len(rest)]
    return state


def _case_table(cases: pd.DataFrame, case_state: np.ndarray, codes: list[str], weights: np.ndarray, reasons: np.ndarray) -> pd.DataFrame:
    code_array = np.array(list(codes) + [""], dtype=object)
    state_codes = code_array[case_state]
    links = cases["links"].to_numpy(dtype=object)
    honoured = np.full(len(cases), "", dtype=object)
    for i in np.flatnonzero(links != ""):
        honoured[i] = "true" if state_codes[i] and state_codes[i] in links[i].split(";") else "false"
    return pd.DataFrame(
        {
            "case_id": cases["case_id"].to_numpy(),
            "state": state_codes,
            "size": cases["size"].to_numpy(),
            "weight": weights,
            "group": cases["group"].to_numpy(),
            "links": links,
            "link_honoured": honoured,
            "reason": reasons,
        }
    )


def _unplaced_reasons(types: CaseTypes, unit_state: np.ndarray, states: pd.DataFrame) -> np.ndarray:
    """Why each unplaced unit is unplaced, in words (per unit; '' when placed)."""
    reasons = np.full(len(unit_state), "", dtype=object)
    capacity = _column(states, "capacity")
    unplaced = np.flatnonzero(unit_state < 0)
    for t in np.unique(types.unit_base[unplaced]):
        if types.no_state_reason[t]:
            why = f"{REASON_NO_STATE}: {types.no_state_reason[t]}"
        else:
            caps = capacity[types.allowed[t]]
            why = REASON_CAPACITY
            if not np.isnan(caps).any() and types.persons[t] > caps.max():
                why = REASON_TOO_LARGE
            else:
                for need, q in types.need_persons.items():
                    need_caps = _column(states, CAPACITY_PREFIX + need)[types.allowed[t]]
                    if q[t] and not np.isnan(need_caps).any():
                        why = REASON_NEED.format(need=need)
                        break
        reasons[unplaced[types.unit_base[unplaced] == t]] = why
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
    n_states = len(codes)
    types = build_types(cases, codes, settings) if cases is not None else quota_types(int(total), n_states)
    aggregate_seconds = time.perf_counter() - t0
    counts, honoured, stages, target, times = solve(states, shares, types, settings)
    t1 = time.perf_counter()

    case_table = None
    groups = kept = split = cases_with_links = 0
    if cases is not None:
        weights = case_weights(cases, settings.need_weights)
        unit_state = assign_units(types, counts, honoured)
        case_state = unit_state[types.unit_of_case]
        reasons = _unplaced_reasons(types, unit_state, states)[types.unit_of_case]
        case_table = _case_table(cases, case_state, codes, weights, reasons)
        placed = case_state >= 0
        where = case_state[placed]
        size = cases["size"].to_numpy()
        persons_per_state = np.bincount(where, weights=size[placed], minlength=n_states).astype(np.int64)
        burden_per_state = np.bincount(where, weights=weights[placed], minlength=n_states)
        cases_per_state = np.bincount(where, minlength=n_states).astype(np.int64)
        honoured_case = (case_table["link_honoured"] == "true").to_numpy()
        honoured_per_state = np.bincount(case_state[honoured_case], minlength=n_states).astype(np.int64)
        cases_with_links = int((case_table["links"] != "").sum())
        in_group = case_table[case_table["group"] != ""]
        per_group = in_group.groupby("group", sort=False)["state"].nunique()
        groups, kept, split = len(per_group), int((per_group == 1).sum()), int((per_group > 1).sum())
    else:
        persons_per_state = counts[0].astype(np.int64)
        burden_per_state = counts[0].astype(float)
        cases_per_state = counts[0].astype(np.int64)
        honoured_per_state = np.zeros(n_states, dtype=np.int64)

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
    times = {"aggregate": aggregate_seconds, **times, "assign": time.perf_counter() - t1}

    status = "optimal" if all(st.status == "optimal" for st in stages) else "feasible"
    gap = None if any(st.gap is None for st in stages) else max([st.gap for st in stages] + [0.0])
    total_persons = int((types.count * types.persons).sum())
    n_cases = int((types.count * types.cases_per_unit).sum())
    placed_persons = int(persons_per_state.sum())
    counts_summary = {
        "cases": n_cases,
        "persons": total_persons,
        "placed_persons": placed_persons,
        "unplaced_persons": total_persons - placed_persons,
        "placed_cases": int(cases_per_state.sum()),
        "unplaced_cases": n_cases - int(cases_per_state.sum()),
        "case_types": int(types.n_types),
        "link_classes": int(len(types.link_count)),
        "cases_with_links": cases_with_links,
        "links_honoured": int(honoured_per_state.sum()),
        "groups": groups,
        "groups_kept_together": kept,
        "cases_split": split,
    }
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
