"""The placement model: an integer program that places family cases in participating states.

Cases are never split: a case (and a `group` of cases, an extended family) goes whole to one state
or stays unplaced. Interchangeable units, those the model cannot tell apart (same persons, burden
and persons per need; excluded from the same state or from at most one), are aggregated into one
integer variable per (type, state) counting how many of them go there; units with family links are
counted a second time, per linked state, to know how many links are honoured (see `CaseTypes`).
Case ids are handed out afterwards, deterministically. This keeps the model a few thousand
variables for a million people, where one binary per case and state does not solve at all
(DOMAIN.md section 6; `benchmarks/baseline.py`). Quota mode (a total, no case list) is the same
model with a single type of one-person case.

Two things make the solver fast and its answers proven: cuts that give the LP relaxation the exact
integer rounding loss of each state (`_integer_envelope`), so the root bound is tight, and a greedy
warm start (`warmstart.py`) that usually meets that bound, so the search ends at the root.

PuLP models, HiGHS solves: the formulation is written with PuLP (`_solve_pulp`, what CBC solves
and the reference the tests hold the fast path to); for speed the HiGHS path loads the same matrix
in bulk from numpy arrays (`_BulkModel`) and keeps one model across the stages.

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
from functools import cache, cached_property
from typing import Literal

import numpy as np
import pandas as pd
import pulp

from .apportion import bounded_quotas
from .errors import InfeasibleError, InputError, SolverError
from .schema import CAPACITY_PREFIX, case_weights
from .warmstart import honour_given, warm_start

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

    A unit is a case, or all cases of one `group`. The model only sees a unit's persons, burden,
    persons per need and the states it may go to, so units alike in these form one *base type*:
    the model counts how many of each go to each state (`limit[t, s]` at most).

    Exclusions are pooled too: a unit excluded from one participating state (or from none) joins
    the base type of its persons, burden and needs, and `excluded[t, s]` counts the units of type
    t that may not go to s, so at most `count[t] - excluded[t, s]` go there. That bound is exact:
    units that each miss at most one state can be handed out to any counts within these bounds
    (Hall's condition only binds for single states), and `assign_units` does so. Units that miss
    two or more states keep a type of their own with their exact set of allowed states.

    A family link does not change where a unit may go, only whether it is honoured there, so a
    unit with soft links belongs to its base type too and, in addition, to a *link class* (base
    type, excluded state and links); the model counts separately how many of a link class sit in
    its linked states. A linked unit placed elsewhere is exactly a plain unit of its base type.

    Unit bookkeeping (for handing out case ids afterwards) is kept as arrays: `unit_base`,
    `unit_excluded` (the one state a pooled unit may not go to, -1 for none) and `unit_link` per
    unit, and the member cases of unit u at `unit_members[unit_offsets[u]:unit_offsets[u+1]]`.
    """

    count: np.ndarray  # units per base type
    persons: np.ndarray  # persons per unit
    burden: np.ndarray  # burden units per unit
    group_units: np.ndarray  # units per base type that are groups of several cases
    need_persons: dict[str, np.ndarray]  # need -> persons needing it, per unit
    limit: np.ndarray  # (types x states): most units of the type a state can take (0: not allowed)
    excluded: np.ndarray  # (types x states): pooled units of the type excluded from the state
    no_state_reason: list[str]  # per base type: '' or why no state is allowed
    link_base: np.ndarray  # per link class: its base type
    link_excluded: np.ndarray  # per link class: the state its units may not go to (-1: none)
    link_count: np.ndarray  # per link class: units
    link_states: list[np.ndarray]  # per link class: linked participant positions (allowed ones)
    link_honour: list[np.ndarray]  # per link class: cases honoured per unit at each linked state
    unit_base: np.ndarray | None = None
    unit_excluded: np.ndarray | None = None
    unit_link: np.ndarray | None = None
    unit_of_case: np.ndarray | None = None
    unit_members: np.ndarray | None = None
    unit_offsets: np.ndarray | None = None

    @property
    def n_types(self) -> int:
        return len(self.count)

    @cached_property
    def allowed(self) -> list[np.ndarray]:
        """Per base type: the participant positions some of its units may go to."""
        return [np.flatnonzero(row) for row in self.limit > 0]

    def variants(self) -> list[tuple[int, int, int]]:
        """(base type, excluded state or -1, units) for every kind of unit, in type order."""
        if self.unit_base is None:
            return [(t, -1, int(c)) for t, c in enumerate(self.count)]
        n_states = self.limit.shape[1]
        key = self.unit_base * (n_states + 1) + (self.unit_excluded + 1)
        values, counts = np.unique(key, return_counts=True)
        return [(int(v // (n_states + 1)), int(v % (n_states + 1)) - 1, int(c)) for v, c in zip(values, counts)]


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


def _code_masks(cells: np.ndarray, code_pos: dict[str, int], n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct 'a;b' cells -> (index of each cell's distinct value, distinct x states 0/1 matrix)."""
    inverse, distinct = pd.factorize(pd.Series(cells, dtype=object), sort=False)
    masks = np.zeros((len(distinct), n_states), dtype=np.int64)
    for k, cell in enumerate(distinct):
        for code in _split(cell):
            if code in code_pos:
                masks[k, code_pos[code]] = 1
    return inverse, masks


_REASONS = (
    "",
    "excluded from every participating state",
    "hard family links only to states that do not take part",
    "group members' hard links have no common participating state",
    "no participating state allowed",
)


def build_types(cases: pd.DataFrame, codes: list[str], settings: Settings) -> CaseTypes:
    """Aggregate the case list into base types and link classes (in bulk: no loop over cases)."""
    weights = case_weights(cases, settings.need_weights)
    size = cases["size"].to_numpy(dtype=np.int64)
    needs = cases["needs"].to_numpy(dtype=object)
    links = cases["links"].to_numpy(dtype=object)
    excluded = cases["excluded"].to_numpy(dtype=object)
    group = cases["group"].to_numpy(dtype=object)
    n_states = len(codes)
    code_pos = {code: i for i, code in enumerate(codes)}

    unit_of_case, firsts, members, offsets = _units(group)
    n_units = len(firsts)
    cases_in_unit = np.diff(offsets)
    persons = np.bincount(unit_of_case, weights=size, minlength=n_units).astype(np.int64)
    burden = np.bincount(unit_of_case, weights=weights, minlength=n_units)
    need_cells, need_distinct = pd.factorize(pd.Series(needs, dtype=object), sort=False)
    need_names = sorted({n for cell in need_distinct for n in _split(cell)})
    unit_need = {}
    for n in need_names:
        has = np.array([n in _split(cell) for cell in need_distinct], dtype=bool)[need_cells]
        unit_need[n] = np.bincount(unit_of_case, weights=size * has, minlength=n_units).astype(np.int64)

    # Where each unit may go: not where a member is excluded; with hard links, only where every
    # member with links has one.
    allowed = np.ones((n_units, n_states), dtype=bool)
    rows = np.flatnonzero(excluded != "")
    if len(rows):
        inverse, masks = _code_masks(excluded[rows], code_pos, n_states)
        np.logical_and.at(allowed, unit_of_case[rows], masks[inverse] == 0)
    reason = np.where(allowed.any(axis=1), 0, 1)
    if settings.links == "hard":
        rows = np.flatnonzero(links != "")
        if len(rows):
            inverse, masks = _code_masks(links[rows], code_pos, n_states)
            np.logical_and.at(allowed, unit_of_case[rows], masks[inverse] > 0)
        no_link_state = (reason == 0) & ~allowed.any(axis=1)
        reason[no_link_state] = np.where(cases_in_unit[no_link_state] > 1, 3, 2)
    reason[(reason == 0) & ~allowed.any(axis=1)] = 4

    # Pooled units miss at most one state; the others keep their exact allowed set as part of the type.
    n_allowed = allowed.sum(axis=1)
    pooled = (reason == 0) & (n_allowed >= n_states - 1)
    unit_excluded = np.where(pooled & (n_allowed < n_states), np.argmin(allowed, axis=1), -1).astype(np.int64)
    pattern = np.full(n_units, -1, dtype=np.int64)
    apart = np.flatnonzero((reason == 0) & ~pooled)
    if len(apart):
        packed = np.packbits(allowed[apart], axis=1)
        pattern[apart] = pd.factorize(pd.Series([row.tobytes() for row in packed], dtype=object), sort=False)[0]
    key = {"persons": persons, "burden": burden, "pattern": pattern, "reason": reason}
    key.update({f"need:{n}": q for n, q in unit_need.items()})
    unit_base = pd.DataFrame(key).groupby(list(key), sort=False).ngroup().to_numpy().astype(np.int64)
    n_types = int(unit_base.max()) + 1 if n_units else 0
    first_unit = np.unique(unit_base, return_index=True)[1]

    count = np.bincount(unit_base, minlength=n_types).astype(np.int64)
    type_pooled = pooled[first_unit]
    excl = np.zeros((n_types, n_states), dtype=np.int64)
    marked = unit_excluded >= 0
    if marked.any():
        excl = np.bincount(
            unit_base[marked] * n_states + unit_excluded[marked], minlength=n_types * n_states
        ).reshape(n_types, n_states).astype(np.int64)
    limit = np.where(type_pooled[:, None], count[:, None] - excl, count[:, None] * allowed[first_unit]).astype(np.int64)

    # Link classes: units of one base type, excluded state and links, honourable in an allowed state.
    unit_link = np.full(n_units, -1, dtype=np.int64)
    link_base = link_excluded = link_count = np.zeros(0, dtype=np.int64)
    link_states: list[np.ndarray] = []
    link_honour: list[np.ndarray] = []
    rows = np.flatnonzero(links != "") if settings.links == "soft" else np.zeros(0, dtype=np.int64)
    if len(rows):
        inverse, masks = _code_masks(links[rows], code_pos, n_states)
        linked_units, where = np.unique(unit_of_case[rows], return_inverse=True)
        honour = np.zeros((len(linked_units), n_states), dtype=np.int64)
        np.add.at(honour, where, masks[inverse])
        honour *= allowed[linked_units]
        keep = honour.any(axis=1)
        linked_units, honour = linked_units[keep], honour[keep]
        if len(linked_units):
            frame = pd.DataFrame(honour, columns=[f"s{s}" for s in range(n_states)])
            frame.insert(0, "excluded", unit_excluded[linked_units])
            frame.insert(0, "base", unit_base[linked_units])
            classes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy().astype(np.int64)
            unit_link[linked_units] = classes
            first = np.unique(classes, return_index=True)[1]
            link_base = unit_base[linked_units[first]]
            link_excluded = unit_excluded[linked_units[first]]
            link_count = np.bincount(classes).astype(np.int64)
            link_states = [np.flatnonzero(row) for row in honour[first]]
            link_honour = [row[row > 0] for row in honour[first]]

    return CaseTypes(
        count=count,
        persons=persons[first_unit],
        burden=burden[first_unit],
        group_units=np.bincount(unit_base, weights=cases_in_unit > 1, minlength=n_types).astype(np.int64),
        need_persons={n: q[first_unit] for n, q in unit_need.items()},
        limit=limit,
        excluded=excl,
        no_state_reason=[_REASONS[r] for r in reason[first_unit]],
        link_base=link_base,
        link_excluded=link_excluded,
        link_count=link_count,
        link_states=link_states,
        link_honour=link_honour,
        unit_base=unit_base,
        unit_excluded=unit_excluded,
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
        group_units=np.zeros(1, dtype=np.int64),
        need_persons={},
        limit=np.full((1, n_states), total, dtype=np.int64),
        excluded=np.zeros((1, n_states), dtype=np.int64),
        no_state_reason=[""],
        link_base=np.zeros(0, dtype=np.int64),
        link_excluded=np.zeros(0, dtype=np.int64),
        link_count=np.zeros(0, dtype=np.int64),
        link_states=[],
        link_honour=[],
    )


# ---------------------------------------------------------------------------------------------
# Targets


def hosted_persons(states: pd.DataFrame, settings: Settings) -> pd.Series | None:
    """Persons each state already hosts when `count_hosted` asks for them, else None; an error when
    it asks and the states file has no `hosted` column."""
    if not settings.count_hosted:
        return None
    if "hosted" not in states.columns:
        raise InputError(
            "--count-hosted needs a 'hosted' column in the states file",
            file=states.attrs.get("source"),
            column="hosted",
        )
    return states["hosted"]


def targets(shares: pd.Series, total_burden: float, hosted: pd.Series | None = None) -> pd.Series:
    """Fair shares of the burden. With `hosted`, shares apply to the total plus what is already
    hosted, and each state's target is that minus what it hosts, never below zero (stock vs flow)."""
    if hosted is None:
        return shares * total_burden
    hosted = hosted.fillna(0.0)
    return (shares * (total_burden + hosted.sum()) - hosted).clip(lower=0.0)


# ---------------------------------------------------------------------------------------------
# Solving
#
# PuLP models, HiGHS solves. The reference formulation is written with PuLP (`_solve_pulp`): it is
# what CBC solves and what the tests hold the fast path to. For speed the HiGHS path
# (`_BulkModel`) loads the same matrix into HiGHS in bulk from numpy arrays, keeps that one model
# across the stages (changing the objective and adding the fixing rows instead of rebuilding), and
# hands each stage a starting solution. Both paths solve the same model to proven optimality.

# HiGHS options on top of the defaults. Presolve stays on; see BENCHMARKS.md for what it costs.
HIGHS_OPTIONS: dict[str, object] = {}


@cache
def silence_highs_banner() -> None:
    """HiGHS >= 1.16 prints a copyright banner on stdout when a process makes its first `Highs`
    object, before any option can turn output off; stdout carries our tables and CSV, so that
    first object is made with file descriptor 1 pointed at /dev/null. Later objects print nothing
    (hence `cache`: once per process)."""
    import os
    import sys

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


@dataclass(frozen=True)
class _Data:
    """Everything the stages need, as arrays over participants."""

    types: CaseTypes
    target: np.ndarray
    capacity: np.ndarray
    minimum: np.ndarray
    need_capacity: dict[str, np.ndarray]
    envelope: list[tuple[float, float] | None]
    total_persons: int

    @property
    def n_states(self) -> int:
        return len(self.target)

    def most_honour(self) -> float:
        """Every link honoured in its best state: the bound for the links stage."""
        return float(sum(int(self.types.link_count[l]) * int(h.max()) for l, h in enumerate(self.types.link_honour)))

    def honour_value(self, honoured: np.ndarray) -> float:
        return float(sum(float(honoured[l, self.types.link_states[l]] @ h) for l, h in enumerate(self.types.link_honour)))

    def deviations(self, burden: np.ndarray) -> np.ndarray:
        """The smallest deviation variables a plan with these burdens satisfies (over, under, envelope)."""
        d = np.abs(burden - self.target)
        for s, envelope in enumerate(self.envelope):
            if envelope is not None:
                d[s] = max(d[s], envelope[0] + envelope[1] * burden[s])
        return d

    def scales(self) -> np.ndarray:
        return np.where(self.target > 0, self.target, 1.0)

    def bounded_targets(self, placed_burden: float) -> np.ndarray:
        """The fair shares within capacities: a state whose capacity (or minimum) holds it is
        frozen there, and the rest share out `placed_burden` in proportion to their targets (the
        reference the `lp` quota method breaks its ties by, too). Capacities and minimums count
        persons; they become burden units at the case list's average burden per person."""
        types = self.types
        persons = float((types.count * types.persons).sum())
        per_person = float((types.count * types.burden).sum()) / persons if persons > 0 else 1.0
        total = float(self.target.sum())
        if total <= 0:
            return self.target.copy()
        upper = np.where(np.isnan(self.capacity), np.inf, self.capacity * per_person)
        lower = np.where(np.isnan(self.minimum), 0.0, self.minimum * per_person)
        return bounded_quotas(self.target / total, lower, upper, placed_burden)


class _Infeasible(Exception):
    pass


def _tolerance(value: float) -> float:
    """Slack on a fixing row: later stages stay within the optimum found, up to float noise."""
    return 1e-7 * max(1.0, abs(value)) + 1e-9


def _no_solution(name: str) -> InfeasibleError:
    return InfeasibleError(f"the solver found no solution for stage '{name}' within the time limit; raise --time-limit")


# -- HiGHS, in bulk ---------------------------------------------------------------------------


class _BulkModel:
    """The placement model in one `highspy.Highs` object, built from numpy arrays.

    Columns: x (units of type t in state s, for every allowed pair), d (deviation per state); then,
    when needed, `worst` (minimax) and y (honoured link-class units per linked state). Rows are the
    reference formulation's rows, in bulk.
    """

    def __init__(self, data: _Data, settings: Settings):
        import highspy

        silence_highs_banner()
        self.hs = highspy
        self.data = data
        types = data.types
        n_states = data.n_states
        h = self.h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("mip_rel_gap", float(settings.gap))
        for option, value in HIGHS_OPTIONS.items():
            h.setOptionValue(option, value)

        self.xt, self.xs = np.nonzero(types.limit > 0)
        n_x = len(self.xt)
        self.xcol = np.full(types.limit.shape, -1, dtype=np.int64)
        self.xcol[self.xt, self.xs] = np.arange(n_x)
        self.d0 = n_x
        self.n_cols = 0
        self._upper = np.zeros(0)  # column upper bounds (lower bounds are all 0)
        self._add_columns(types.limit[self.xt, self.xs].astype(float), integer=True)
        self._add_columns(np.full(n_states, np.inf), integer=False)
        self.worst: int | None = None
        self.y0: int | None = None
        self.n_rows = 0
        # Every row as added (first row, rows, columns, values, lower, upper), to check a plan
        # against the model without asking HiGHS; and the objective as last set.
        self._rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.costs = np.zeros(self.n_cols)
        self.maximize = False
        # One type (quota mode): the relaxation's optimum is whole, so solve that first (see run).
        self.relaxation_first = types.n_types == 1 and not len(types.link_count)

        xt, xs, cols = self.xt, self.xs, np.arange(n_x)
        persons = types.persons[xt].astype(float)
        weight = types.burden[xt].astype(float)
        # units of each type, where the per-state limits alone do not already say it
        free = types.limit.sum(axis=1) > types.count
        self._per_group(free, xt, cols, np.ones(n_x), upper=types.count.astype(float))
        # capacity, minimum and need capacities per state
        capacity, minimum = data.capacity, data.minimum
        self._per_group(~np.isnan(capacity), xs, cols, persons, upper=capacity)
        self._per_group(~np.isnan(minimum) & (np.nan_to_num(minimum) > 0), xs, cols, persons, lower=minimum)
        for need, q in types.need_persons.items():
            has = q[xt] > 0
            self._per_group(~np.isnan(data.need_capacity[need]), xs[has], cols[has], q[xt[has]].astype(float), upper=data.need_capacity[need])
        # deviation: d_s >= B_s - T_s, d_s >= T_s - B_s, d_s >= intercept_s + slope_s B_s
        d_cols = self.d0 + np.arange(n_states)
        every = np.arange(n_states)
        for sign in (-1.0, 1.0):
            self._add_rows(
                sign * data.target,
                np.full(n_states, np.inf),
                np.concatenate([every, xs]),
                np.concatenate([d_cols, cols]),
                np.concatenate([np.ones(n_states), sign * weight]),
            )
        intercept = np.array([e[0] if e is not None else np.nan for e in data.envelope])
        slope = np.array([e[1] if e is not None else 0.0 for e in data.envelope])
        with_envelope = ~np.isnan(intercept)
        if with_envelope.any():
            rank = np.cumsum(with_envelope) - 1
            pick = with_envelope[xs]
            self._add_rows(
                intercept[with_envelope],
                np.full(int(with_envelope.sum()), np.inf),
                np.concatenate([rank[with_envelope], rank[xs[pick]]]),
                np.concatenate([d_cols[with_envelope], cols[pick]]),
                np.concatenate([np.ones(int(with_envelope.sum())), -slope[xs[pick]] * weight[pick]]),
            )
        self.placed_cols, self.placed_values = cols, persons
        self.everyone = self._add_rows(
            np.array([float(data.total_persons)]), np.array([np.inf]), np.zeros(n_x, dtype=np.int64), cols, persons
        )

    # -- building ------------------------------------------------------------------------------

    def _add_columns(self, upper: np.ndarray, integer: bool) -> int:
        n = len(upper)
        first = self.n_cols
        self._upper = np.concatenate([self._upper, np.asarray(upper, dtype=float)])
        if n:
            self.h.addVars(n, np.zeros(n), upper)
            if integer:
                self.h.changeColsIntegrality(
                    n, np.arange(first, first + n, dtype=np.int32), np.full(n, self.hs.HighsVarType.kInteger, dtype=np.uint8)
                )
        self.n_cols += n
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
        order = np.argsort(rows, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))[:-1]]).astype(np.int32)
        upper = np.asarray(upper, dtype=float)
        cols = np.asarray(cols, dtype=np.int32)[order]
        values = np.asarray(values, dtype=float)[order]
        self.h.addRows(n, lower, upper, len(order), starts, cols, values)
        self._rows.append((first, rows[order], cols, values, lower.copy(), upper.copy()))
        self.n_rows += n
        return first

    def free_row(self, row: int) -> None:
        """Drop a row's bounds (it no longer constrains anything)."""
        self.h.changeRowBounds(row, -np.inf, np.inf)
        for first, _, _, _, lower, upper in self._rows:
            if first <= row < first + len(lower):
                lower[row - first], upper[row - first] = -np.inf, np.inf

    def satisfied(self, values: np.ndarray, tolerance: float = 1e-9) -> bool:
        """Whether a complete solution keeps every bound and row (up to float noise)."""
        if (values < -tolerance).any() or (values > self._upper * (1 + tolerance) + tolerance).any():
            return False
        for first, rows, cols, coefficients, lower, upper in self._rows:
            activity = np.bincount(rows, weights=coefficients * values[cols], minlength=len(lower))
            slack = tolerance * np.maximum(1.0, np.abs(activity))
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

    def fix(self, cols: np.ndarray, values: np.ndarray, value: float, sense: str) -> None:
        """Keep later stages within the optimum just found."""
        n = len(cols)
        if sense == "max":
            low, high = value - _tolerance(value), np.inf
        else:
            low, high = -np.inf, value + _tolerance(value)
        self._add_rows(np.array([low]), np.array([high]), np.zeros(n, dtype=np.int64), cols, values)

    def add_worst(self) -> None:
        """Minimax: worst >= |B_s - T_s| / scale_s."""
        data = self.data
        n_states = data.n_states
        self.worst = self._add_columns(np.array([np.inf]), integer=False)
        scale = data.scales()
        every = np.arange(n_states)
        weight = data.types.burden[self.xt].astype(float)
        cols = np.arange(len(self.xt))
        for sign in (-1.0, 1.0):
            self._add_rows(
                sign * data.target,
                np.full(n_states, np.inf),
                np.concatenate([every, self.xs]),
                np.concatenate([np.full(n_states, self.worst), cols]),
                np.concatenate([scale, sign * weight]),
            )

    def add_links(self) -> None:
        """y columns and their rows: class totals, y within x, and the pooled exclusions' bounds."""
        types = self.data.types
        n_states = self.data.n_states
        yl = np.concatenate([np.full(len(s), l) for l, s in enumerate(types.link_states)]).astype(np.int64)
        ys = np.concatenate(types.link_states).astype(np.int64)
        self.yl, self.ys, self.honour = yl, ys, np.concatenate(types.link_honour).astype(float)
        self.y0 = self._add_columns(types.link_count[yl].astype(float), integer=True)
        ycols = self.y0 + np.arange(len(yl))
        # a class spread over several states: at most its units in all
        several = np.bincount(yl, minlength=len(types.link_count)) > 1
        self._per_group(several, yl, ycols, np.ones(len(yl)), upper=types.link_count.astype(float))
        # honoured units of a type in a state are units of that type there
        yt = types.link_base[yl]
        pairs, pair_of = np.unique(yt * n_states + ys, return_inverse=True)
        pt, ps = pairs // n_states, pairs % n_states
        self._add_rows(
            np.full(len(pairs), -np.inf),
            np.zeros(len(pairs)),
            np.concatenate([pair_of, np.arange(len(pairs))]),
            np.concatenate([ycols, self.xcol[pt, ps]]),
            np.concatenate([np.ones(len(yl)), -np.ones(len(pairs))]),
        )
        # pooled exclusions: x[t,s'] + (honoured units of t pinned outside s' that may go to s') <= count - excluded
        hall_t, hall_s = np.nonzero(_hall_rows(types))
        if len(hall_t):
            rows, cols = [np.arange(len(hall_t))], [self.xcol[hall_t, hall_s]]
            for r, (t, s) in enumerate(zip(hall_t, hall_s)):
                of_t = np.flatnonzero((yt == t) & (ys != s) & (types.link_excluded[yl] != s))
                rows.append(np.full(len(of_t), r))
                cols.append(ycols[of_t])
            rows, cols = np.concatenate(rows), np.concatenate(cols)
            self._add_rows(np.full(len(hall_t), -np.inf), types.limit[hall_t, hall_s].astype(float), rows, cols, np.ones(len(rows)))

    # -- solving -------------------------------------------------------------------------------

    def objective(self, cols: np.ndarray, values: np.ndarray, maximize: bool = False) -> None:
        costs = np.zeros(self.n_cols)
        costs[cols] = values
        self.costs, self.maximize = costs, maximize
        self.h.changeColsCost(self.n_cols, np.arange(self.n_cols, dtype=np.int32), costs)
        sense = self.hs.ObjSense.kMaximize if maximize else self.hs.ObjSense.kMinimize
        self.h.changeObjectiveSense(sense)

    def start(self, x: np.ndarray, y: np.ndarray | None = None) -> None:
        """A complete starting solution from x (per x column) and y (link classes x states)."""
        solution = self.hs.HighsSolution()
        solution.col_value = self.complete(x, y).tolist()
        solution.value_valid = True
        self.h.setSolution(solution)

    def complete(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """All columns from x and y: each deviation and `worst` as small as the plan allows."""
        data = self.data
        values = np.zeros(self.n_cols)
        values[: len(x)] = x
        burden = np.bincount(self.xs, weights=x * data.types.burden[self.xt], minlength=data.n_states)
        values[self.d0 : self.d0 + data.n_states] = data.deviations(burden)
        if self.worst is not None:
            values[self.worst] = float((np.abs(burden - data.target) / data.scales()).max()) if data.n_states else 0.0
        if self.y0 is not None and y is not None:
            values[self.y0 : self.y0 + len(self.yl)] = y[self.yl, self.ys]
        return values

    def run(self, time_left: float | None, name: str) -> Stage:
        h, hs = self.h, self.hs
        h.setOptionValue("time_limit", float(max(time_left, 0.01)) if time_left is not None else np.inf)
        if self.relaxation_first:
            stage = self._relaxation(name)
            if stage is not None:
                return stage
        start = time.perf_counter()
        _run_checked(h, name)
        seconds = time.perf_counter() - start
        model_status = h.getModelStatus()
        info = h.getInfo()
        if model_status == hs.HighsModelStatus.kOptimal:
            status, gap = "optimal", 0.0
        elif model_status in (hs.HighsModelStatus.kInfeasible, hs.HighsModelStatus.kUnboundedOrInfeasible):
            raise _Infeasible(name)
        elif info.primal_solution_status == 2:  # kSolutionStatusFeasible: a plan, optimality not proven
            status, gap = "feasible", None
        else:
            raise _no_solution(name)
        reported = getattr(info, "mip_gap", None)
        if reported is not None and math.isfinite(reported):
            gap = max(float(reported), 0.0)
        self.values = np.asarray(h.getSolution().col_value)
        return Stage(name, float(info.objective_function_value), status, gap, seconds)

    def _relaxation(self, name: str) -> Stage | None:
        """Solve the LP relaxation. When its optimum is a whole plan, that plan is a proven optimum
        of the integer program as well (no integer plan beats the relaxation), found in a fraction
        of the time a MIP solve takes to start up. With one type of unit this is always the case:
        each state's deviation is convex with kinks at whole numbers (the envelope cuts) and one
        sum couples the states, so a basic optimum has every count whole. Checked, not assumed:
        the plan is rounded, completed, checked against every row, and its objective must meet the
        relaxation's bound; otherwise None, and the integer program is solved as usual."""
        h, hs = self.h, self.hs
        start = time.perf_counter()
        h.setOptionValue("solve_relaxation", True)
        try:
            h.run()
        finally:
            h.setOptionValue("solve_relaxation", False)
        status = h.getModelStatus()
        if status == hs.HighsModelStatus.kInfeasible:
            raise _Infeasible(name)  # no plan at all, whole or not
        if status != hs.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(h.getSolution().col_value)[: len(self.xt)]
        whole = np.round(x)
        if len(x) and np.abs(x - whole).max() > 1e-9:
            return None
        values = self.complete(whole)
        bound = float(h.getInfo().objective_function_value)
        value = float(self.costs @ values)
        beaten = value < bound - _tolerance(bound) if self.maximize else value > bound + _tolerance(bound)
        if beaten or not self.satisfied(values):
            return None
        self.values = values
        return Stage(name, value, "optimal", 0.0, time.perf_counter() - start)

    def x(self) -> np.ndarray:
        return np.round(self.values[: len(self.xt)])

    def counts(self) -> np.ndarray:
        out = np.zeros(self.data.types.limit.shape, dtype=np.int64)
        out[self.xt, self.xs] = self.x().astype(np.int64)
        return out

    def honoured(self) -> np.ndarray:
        out = np.zeros((len(self.data.types.link_count), self.data.n_states), dtype=np.int64)
        out[self.yl, self.ys] = np.round(self.values[self.y0 : self.y0 + len(self.yl)]).astype(np.int64)
        return out


def _hall_rows(types: CaseTypes) -> np.ndarray:
    """(types x states): where the pooled exclusions need a row once link classes are counted:
    types with link classes and a state some but not all of their units are excluded from."""
    with_links = np.zeros(types.n_types, dtype=bool)
    with_links[types.link_base] = True
    return with_links[:, None] & (types.excluded > 0) & (types.limit > 0)


def _solve_bulk(data: _Data, settings: Settings, start_x: np.ndarray, start_y: np.ndarray, remaining, states) -> tuple:
    types = data.types
    model = _BulkModel(data, settings)
    d_cols = model.d0 + np.arange(data.n_states)
    ones = np.ones(data.n_states)
    stages: list[Stage] = []

    # Stage 1: place as many persons as capacity allows, first tried as a constraint (the common case).
    model.objective(d_cols, ones)
    model.start(start_x[model.xt, model.xs])
    try:
        deviation_stage = model.run(remaining(), "total_deviation")
        stages.append(Stage("persons_placed", float(data.total_persons), "optimal", 0.0, 0.0))
    except _Infeasible:
        model.free_row(model.everyone)
        if settings.require_all:
            raise InfeasibleError(explain_infeasible(states, types)) from None
        model.objective(model.placed_cols, model.placed_values, maximize=True)
        model.start(start_x[model.xt, model.xs])
        try:
            stage = model.run(remaining(), "persons_placed")
        except _Infeasible:
            raise InfeasibleError(explain_infeasible(states, types)) from None
        stages.append(stage)
        if stage.objective <= 0.5 and data.total_persons > 0:
            raise InfeasibleError("no case can be placed: " + explain_infeasible(states, types))
        model.fix(model.placed_cols, model.placed_values, stage.objective, "max")
        model.objective(d_cols, ones)
        model.start(model.x())
        deviation_stage = model.run(remaining(), "total_deviation")

    if settings.objective == "minimax":
        model.add_worst()
        model.objective(np.array([model.worst]), np.ones(1))
        model.start(model.x())
        stage = model.run(remaining(), "max_relative_deviation")
        stages.append(stage)
        model.fix(np.array([model.worst]), np.ones(1), stage.objective, "min")
        model.objective(d_cols, ones)
        model.start(model.x())
        deviation_stage = model.run(remaining(), "total_deviation")
    stages.append(deviation_stage)

    counts = model.counts()
    honoured = honour_given(types, counts, start_y)
    if settings.links == "soft" and len(types.link_count):
        achieved = data.honour_value(honoured)
        if achieved >= data.most_honour() - 1e-9:
            # Every link that any participating state could honour is honoured: optimal as it is.
            stages.append(Stage("links_honoured", achieved, "optimal", 0.0, 0.0))
        else:
            model.fix(d_cols, ones, deviation_stage.objective, "min")
            model.add_links()
            model.objective(model.y0 + np.arange(len(model.yl)), model.honour, maximize=True)
            model.start(model.x(), honoured)
            stages.append(model.run(remaining(), "links_honoured"))
            counts, honoured = model.counts(), model.honoured()
    return counts, honoured, stages


# -- PuLP: the reference formulation ----------------------------------------------------------


def _run_checked(h, name: str) -> None:
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
        _run_checked(lp.solverModel, lp.name)


def _solver(settings: Settings, time_left: float | None) -> pulp.LpSolver:
    limit = None if time_left is None else max(time_left, 0.01)
    if settings.solver == "highs":
        silence_highs_banner()
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
        raise _no_solution(name)
    if settings.solver == "highs":
        reported = getattr(prob.solverModel.getInfo(), "mip_gap", None)
        if reported is not None and math.isfinite(reported):
            gap = max(float(reported), 0.0)
    value = pulp.value(prob.objective)
    return Stage(name, float(value) if value is not None else 0.0, status, gap, seconds)


def _fix(prob: pulp.LpProblem, expression: pulp.LpAffineExpression, value: float, sense: str, name: str) -> None:
    """Keep later stages within the optimum just found (with a tolerance for the float value)."""
    if sense == "max":
        prob += expression >= value - _tolerance(value), name
    else:
        prob += expression <= value + _tolerance(value), name


def _solve_pulp(data: _Data, settings: Settings, start_x: np.ndarray, start_y: np.ndarray, remaining, states) -> tuple:
    types = data.types
    n_states = data.n_states
    target_values = data.target
    prob = pulp.LpProblem("relocation", pulp.LpMinimize)
    per_state_persons: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_burden: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_need = {n: [[] for _ in range(n_states)] for n in types.need_persons}
    placed_terms = []
    x: list[dict[int, pulp.LpVariable]] = []
    for t in range(types.n_types):
        row = {}
        for s in np.flatnonzero(types.limit[t]):
            bound = int(types.limit[t, s])
            var = prob.add_variable(f"x_{t}_{s}", 0, bound, pulp.LpBinary if bound == 1 else pulp.LpInteger)
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
    # Pooled exclusions with link classes: the units left after the honoured ones are pinned must
    # still fit the counts (CaseTypes): x[t,s] - honoured in s + all honoured - honoured of units
    # excluded from s <= count - excluded[t,s]. A unit honoured in s2 counts unless s2 = s or it is
    # excluded from s.
    for t, s in zip(*np.nonzero(_hall_rows(types))):
        pinned = [
            var
            for l in np.flatnonzero(types.link_base == t)
            if types.link_excluded[l] != s
            for s2, var in y[l].items()
            if s2 != s
        ]
        prob += x[t][s] + pulp.lpSum(pinned) <= int(types.limit[t, s]), f"pooled_{t}_{s}"

    for s in range(n_states):
        persons_s = pulp.LpAffineExpression(per_state_persons[s])
        if not math.isnan(data.capacity[s]):
            prob += persons_s <= data.capacity[s], f"capacity_{s}"
        if not math.isnan(data.minimum[s]) and data.minimum[s] > 0:
            prob += persons_s >= data.minimum[s], f"minimum_{s}"
        for n in types.need_persons:
            if not math.isnan(data.need_capacity[n][s]):
                prob += pulp.LpAffineExpression(per_state_need[n][s]) <= float(data.need_capacity[n][s]), f"need_{n}_{s}"

    deviation = [prob.add_variable(f"d_{s}", 0) for s in range(n_states)]
    burden_s = [pulp.LpAffineExpression(per_state_burden[s]) for s in range(n_states)]
    for s in range(n_states):
        prob += deviation[s] >= burden_s[s] - float(target_values[s]), f"over_{s}"
        prob += deviation[s] >= float(target_values[s]) - burden_s[s], f"under_{s}"
        if data.envelope[s] is not None:
            intercept, slope = data.envelope[s]
            prob += deviation[s] >= intercept + slope * burden_s[s], f"envelope_{s}"
    total_deviation = pulp.lpSum(deviation)
    placed = pulp.LpAffineExpression(placed_terms)
    total_persons = data.total_persons
    _set_start(x, start_x, y, start_y, deviation, data.deviations(_burden(types, start_x)))

    stages: list[Stage] = []
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
        if stage.objective <= 0.5 and total_persons > 0:
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

    counts = _values(x, types.n_types, n_states)
    honoured = honour_given(types, counts, _values(y, len(types.link_count), n_states))
    if settings.links == "soft" and honour_terms:
        achieved = data.honour_value(honoured)
        if achieved >= data.most_honour() - 1e-9:
            stages.append(Stage("links_honoured", achieved, "optimal", 0.0, 0.0))
        else:
            for l, row in enumerate(y):
                for s, var in row.items():
                    var.setInitialValue(int(honoured[l, s]))
            _fix(prob, total_deviation, deviation_stage.objective, "min", "deviation_fixed")
            prob.sense = pulp.LpMaximize
            prob.setObjective(pulp.LpAffineExpression(honour_terms))
            stages.append(_run(prob, settings, remaining(), "links_honoured"))
            counts = _values(x, types.n_types, n_states)
            honoured = _values(y, len(types.link_count), n_states)
    return counts, honoured, stages


def _burden(types: CaseTypes, counts: np.ndarray) -> np.ndarray:
    """Burden units per state of a plan (types x states counts)."""
    return (counts * types.burden[:, None]).sum(axis=0).astype(float)


def _values(rows: list[dict[int, pulp.LpVariable]], n_rows: int, n_states: int) -> np.ndarray:
    out = np.zeros((n_rows, n_states), dtype=np.int64)
    for r, row in enumerate(rows):
        for s, var in row.items():
            value = var.value()
            out[r, s] = int(round(value)) if value is not None else 0
    return out


def _set_start(x, start_x: np.ndarray, y, start_y: np.ndarray, deviation, d: np.ndarray) -> None:
    for t, row in enumerate(x):
        for s, var in row.items():
            var.setInitialValue(int(start_x[t, s]))
    for l, row in enumerate(y):
        for s, var in row.items():
            var.setInitialValue(int(start_y[l, s]))
    for s, var in enumerate(deviation):
        var.setInitialValue(float(d[s]))


# -- both -------------------------------------------------------------------------------------


def solve(
    states: pd.DataFrame,
    shares: pd.Series,
    types: CaseTypes,
    settings: Settings,
    *,
    reference: bool = False,
    share: bool = True,
) -> tuple[np.ndarray, np.ndarray, tuple[Stage, ...], pd.Series, dict[str, float]]:
    """Solve the placement of `types` among the participants `states`.

    Returns the units of each base type placed in each participant (types x states), the units of
    each link class placed in each participant and honoured there (links x states), the stages,
    the targets and timings. With `reference`, HiGHS solves the PuLP formulation (slower; for
    tests and checks) instead of the same matrix loaded in bulk. With `share` (the default), the
    solver's plan is moved towards the fair shares within capacities (`share_overflow`); the `lp`
    quota method breaks its ties its own way and turns that off.
    """
    t0 = time.perf_counter()
    total_burden = float((types.count * types.burden).sum())
    hosted = hosted_persons(states, settings)
    target = targets(shares, total_burden, hosted)
    target_values = target.to_numpy(dtype=float)
    unit = burden_unit(types.burden)
    data = _Data(
        types=types,
        target=target_values,
        capacity=_column(states, "capacity"),
        minimum=_column(states, "minimum"),
        need_capacity={n: _column(states, CAPACITY_PREFIX + n) for n in types.need_persons},
        envelope=[_integer_envelope(float(value), unit) for value in target_values],
        total_persons=int((types.count * types.persons).sum()),
    )
    t1 = time.perf_counter()
    start_x, start_y = warm_start(types, data.capacity, data.need_capacity, target_values)
    t2 = time.perf_counter()

    def remaining() -> float | None:
        if settings.time_limit is None:
            return None
        return settings.time_limit - (time.perf_counter() - t0)

    if settings.solver == "highs" and not reference:
        counts, honoured, stages = _solve_bulk(data, settings, start_x, start_y, remaining, states)
    else:
        counts, honoured, stages = _solve_pulp(data, settings, start_x, start_y, remaining, states)
    if share:
        counts = share_overflow(data, counts, honoured, keep_worst=settings.objective == "minimax")
    solve_seconds = sum(st.seconds for st in stages)
    build_seconds = (t1 - t0) + (time.perf_counter() - t2) - solve_seconds
    times = {"warm_start": t2 - t1, "build": build_seconds, "solve": solve_seconds}
    return counts, honoured, tuple(stages), target, times


def share_overflow(data: _Data, counts: np.ndarray, honoured: np.ndarray, keep_worst: bool = False) -> np.ndarray:
    """Among plans exactly as good as `counts` in every objective, one closer to the fair shares
    within capacities (`_Data.bounded_targets`).

    When capacities bind, what full states cannot take must go to states already at or over their
    target, and the total deviation is the same wherever it goes: the solver returns any of these
    equally good plans, which can load a small state several times over its share. Moving units
    between two states that both stay at or over their targets changes no objective: persons
    placed and total deviation stay, honoured units (`honoured`, link classes x states) stay
    where they are, each type stays within its per-state limits and the pooled-exclusion rows
    (see CaseTypes and _hall_rows), and with `keep_worst` no state passes the largest relative
    deviation the minimax stage fixed. So the solver's proof of every stage still holds.
    The moves are greedy: from the state furthest over its bounded target to the one furthest
    under it, as many units at a time as keep improving."""
    types = data.types
    burden = _burden(types, counts)
    reference = data.bounded_targets(float(burden.sum()))
    target = data.target
    tol = 1e-9 * max(1.0, float(np.abs(target).sum()))
    candidates = np.flatnonzero(types.count > 0)
    if not len(candidates) or np.allclose(reference, target, rtol=0.0, atol=tol):
        return counts
    pinned = np.zeros(counts.shape)  # honoured units per type and state: they stay
    np.add.at(pinned, types.link_base, honoured)
    # Room per type and state: its limit, less (on the pooled rows, see _hall_rows) the honoured
    # units of the type pinned elsewhere that may also go there.
    room = types.limit.astype(float).copy()
    for t, b in zip(*np.nonzero(_hall_rows(types))):
        for l in np.flatnonzero((types.link_base == t) & (types.link_excluded != b)):
            room[t, b] -= honoured[l].sum() - honoured[l, b]
    counts = counts.copy()
    persons = (counts * types.persons[:, None]).sum(axis=0).astype(float)
    needs = {n: (counts * q[:, None]).sum(axis=0).astype(float) for n, q in types.need_persons.items()}
    capacity = np.where(np.isnan(data.capacity), np.inf, data.capacity)
    minimum = np.nan_to_num(data.minimum, nan=0.0)
    need_capacity = {n: np.where(np.isnan(c), np.inf, c) for n, c in data.need_capacity.items()}
    scale = data.scales()
    worst = float((np.abs(burden - target) / scale).max()) if keep_worst else np.inf
    for _ in range(100 * len(target) * len(candidates)):
        best = None
        over = burden >= target - tol  # only states at or over their target give or take
        for t in candidates:
            w, p = float(types.burden[t]), float(types.persons[t])
            give = (counts[t] > pinned[t]) & over & (burden - w >= target - tol) & (persons - p >= minimum - tol)
            take = over & (counts[t] + 1 <= room[t]) & (persons + p <= capacity + tol)
            take &= (burden + w - target) / scale <= worst + tol
            for n, q in types.need_persons.items():
                if q[t] > 0:
                    take &= needs[n] + q[t] <= need_capacity[n] + tol
            if not give.any() or not take.any():
                continue
            a = np.flatnonzero(give)[np.argmax((burden - reference)[give])]
            b = np.flatnonzero(take)[np.argmin((burden - reference)[take])]
            gain = (abs(burden[a] - w - reference[a]) - abs(burden[a] - reference[a])) + (abs(burden[b] + w - reference[b]) - abs(burden[b] - reference[b]))
            if a != b and gain < -tol and (best is None or gain < best[0]):
                best = (gain, t, a, b)
        if best is None:
            break
        _, t, a, b = best
        w, p = float(types.burden[t]), float(types.persons[t])
        # As many units as keep every bound and still close the gap between a and b.
        k = min(
            int(counts[t, a] - pinned[t, a]),
            int(room[t, b] - counts[t, b]),
            int(np.floor((burden[a] - target[a] + tol) / w)),
            int(np.floor((persons[a] - minimum[a] + tol) / p)) if p > 0 else int(counts[t, a]),
            int(np.floor((capacity[b] - persons[b] + tol) / p)) if p > 0 and np.isfinite(capacity[b]) else int(counts[t, a]),
            max(1, int(np.floor(((burden[a] - reference[a]) - (burden[b] - reference[b])) / (2 * w)))),
        )
        if keep_worst:
            k = min(k, int(np.floor(((worst + tol) * scale[b] - (burden[b] - target[b])) / w)))
        for n, q in types.need_persons.items():
            if q[t] > 0:
                k = min(k, int(np.floor((need_capacity[n][b] - needs[n][b] + tol) / q[t])))
        k = max(k, 1)
        counts[t, a] -= k
        counts[t, b] += k
        burden[a] -= k * w
        burden[b] += k * w
        persons[a] -= k * p
        persons[b] += k * p
        for n, q in types.need_persons.items():
            needs[n][a] -= k * q[t]
            needs[n][b] += k * q[t]
    return counts


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


def _who(types: CaseTypes, t: int) -> str:
    if types.group_units[t] == 0:
        return "family"
    return "group" if types.group_units[t] == types.count[t] else "family or group"


def _allowed_for(types: CaseTypes, allowed: list[np.ndarray], t: int, excluded: int) -> np.ndarray:
    return allowed[t] if excluded < 0 else allowed[t][allowed[t] != excluded]


def explain_infeasible(states: pd.DataFrame, types: CaseTypes) -> str:
    """Say in words why not every case can be placed; the first reasons found, most basic first."""
    codes = list(states.index)
    capacity = _column(states, "capacity")
    minimum = np.nan_to_num(_column(states, "minimum"))
    total_persons = int((types.count * types.persons).sum())
    allowed = types.allowed
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
    variants = types.variants()
    for t, excluded, units in variants:
        if types.no_state_reason[t]:
            reasons.append(f"{units} unit(s) of {types.persons[t]} person(s): {types.no_state_reason[t]}")
            continue
        caps = capacity[_allowed_for(types, allowed, t, excluded)]
        if len(caps) and not np.isnan(caps).any() and types.persons[t] > caps.max():
            reasons.append(
                f"a {_who(types, t)} of {types.persons[t]} persons is larger than any state it may go to "
                f"(largest capacity {int(caps.max())})"
            )
    for need, q in types.need_persons.items():
        column = CAPACITY_PREFIX + need
        if column in states.columns:
            cap = _column(states, column)
            for t, excluded, _ in variants:
                if not q[t]:
                    continue
                allowed_caps = cap[_allowed_for(types, allowed, t, excluded)]
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


def spread(excluded_units: np.ndarray, plain_units: int, places: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand out units that may each not go to one state over places per state.

    `excluded_units[e]` units may go anywhere but state e, `plain_units` anywhere, `places[s]` is
    how many go to state s (the rest stay unplaced). Possible exactly when no state needs more
    than the units that may go there: places[s] + excluded_units[s] <= all units (Hall's condition
    for sets of one state; larger sets hold by themselves). Returns (z, z_plain): z[e, s] units
    excluded from e placed in s, z_plain[s] plain units placed in s.

    Greedy and exact: each step pairs a kind of unit with a state (never its excluded one) and
    moves as many as keep every state's condition true, always serving the states whose condition
    is tight (at most two can be), most constrained first.
    """
    n = len(places)
    f = np.append(np.asarray(excluded_units, dtype=np.int64), int(plain_units))  # kinds: e..., plain
    r = np.append(np.asarray(places, dtype=np.int64), 0)  # bins: states..., unplaced
    total = int(f.sum())
    r[n] = total - int(r[:n].sum())
    if r[n] < 0 or (r[:n] + f[:n] > total).any():
        raise ValueError("units cannot be handed out: a state needs more units than may go there")
    z = np.zeros((n + 1, n + 1), dtype=np.int64)
    for _ in range(4 * (n + 2) ** 2):
        if total == 0:
            break
        key = r[:n] + f[:n]
        tight = [int(s) for s in np.flatnonzero(key >= total)]
        order = [int(s) for s in np.argsort(-key, kind="stable")]
        kinds = [s for s in order if f[s] > 0] + ([n] if f[n] > 0 else [])
        bins = [s for s in order if r[s] > 0] + ([n] if r[n] > 0 else [])
        pair = None
        for c in kinds:
            for b in bins:
                if c == b and c < n:
                    continue
                if all(s in (c, b) for s in tight):
                    pair = (c, b)
                    break
            if pair:
                break
        if pair is None:
            raise ValueError("units cannot be handed out")
        c, b = pair
        others = [key[s] for s in range(n) if s not in (c, b)]
        k = min(int(f[c]), int(r[b]), total - int(max(others)) if others else total)
        z[c, b] += k
        f[c] -= k
        r[b] -= k
        total -= k
    if total:
        raise ValueError("units cannot be handed out")
    return z[:n, :n], z[n, :n]


def assign_units(types: CaseTypes, counts: np.ndarray, honoured: np.ndarray) -> np.ndarray:
    """State position per unit (-1: unplaced). Within a base type, honoured linked units go first to
    their linked states; the rest, in input order, fill the remaining places in state order (units
    excluded from a state are handed out first, never to that state: `spread`)."""
    n_states = counts.shape[1]
    state = np.full(len(types.unit_base), -1, dtype=np.int64)
    order = np.argsort(types.unit_base, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(types.unit_base, minlength=types.n_types))])
    classes_of: dict[int, list[int]] = {}
    for l, t in enumerate(types.link_base):
        classes_of.setdefault(int(t), []).append(l)
    every = np.arange(n_states)
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
        slots = np.maximum(slots, 0)
        if types.excluded[t].any():
            kind = types.unit_excluded[rest]
            z, z_plain = spread(np.bincount(kind[kind >= 0], minlength=n_states), int((kind < 0).sum()), slots)
            for e in range(-1, n_states):
                mine = rest[kind == e]
                if len(mine):
                    places = np.repeat(every, z_plain if e < 0 else z[e])
                    state[mine[: len(places)]] = places
        else:
            places = np.repeat(every, slots)
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
    unplaced = np.flatnonzero(unit_state < 0)
    if not len(unplaced):
        return reasons
    capacity = _column(states, "capacity")
    allowed = types.allowed
    n_states = types.limit.shape[1]
    key = types.unit_base[unplaced] * (n_states + 1) + types.unit_excluded[unplaced] + 1
    for value in np.unique(key):
        t, excluded = int(value // (n_states + 1)), int(value % (n_states + 1)) - 1
        if types.no_state_reason[t]:
            why = f"{REASON_NO_STATE}: {types.no_state_reason[t]}"
        else:
            where = _allowed_for(types, allowed, t, excluded)
            caps = capacity[where]
            why = REASON_CAPACITY
            if not np.isnan(caps).any() and types.persons[t] > caps.max():
                why = REASON_TOO_LARGE
            else:
                for need, q in types.need_persons.items():
                    need_caps = _column(states, CAPACITY_PREFIX + need)[where]
                    if q[t] and not np.isnan(need_caps).any():
                        why = REASON_NEED.format(need=need)
                        break
        reasons[unplaced[key == value]] = why
    return reasons


def plan(
    states: pd.DataFrame,
    shares: pd.Series,
    settings: Settings,
    *,
    cases: pd.DataFrame | None = None,
    total: int | None = None,
    reference: bool = False,
) -> Plan:
    """Build, solve and assign: the whole step from targets to a plan. `reference`: see `solve`."""
    if (cases is None) == (total is None):
        raise InputError("give either a case list or a total, not both or neither")
    t0 = time.perf_counter()
    codes = list(states.index)
    n_states = len(codes)
    types = build_types(cases, codes, settings) if cases is not None else quota_types(int(total), n_states)
    aggregate_seconds = time.perf_counter() - t0
    counts, honoured, stages, target, times = solve(states, shares, types, settings, reference=reference)
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
    n_cases = len(cases) if cases is not None else int(total)
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
