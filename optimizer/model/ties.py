"""Ties: plans exactly as good as the solved one in every stage, found, decided and reported.

After the last stage (the strictly convex squares) a tie is left only where two states mirror each
other: moving a unit from one to the other, or exchanging one unit for another, changes no stage's
objective. Such a tie is decided by a rule a reader can state, whatever the solver returned and
whatever the order of the input rows: the state first in code order gets the larger load. Each
decided tie becomes a `tie:` line."""

from __future__ import annotations

import numpy as np

from .problem import Problem
from .types import CaseTypes, hall_rows

_TOL = 1e-9


def room(types: CaseTypes, honoured: np.ndarray) -> np.ndarray:
    """Units each type may have in each state: its limit, less (on the pooled rows, see
    hall_rows) the honoured units of the type pinned elsewhere that may also go there."""
    out = types.limit.astype(float).copy()
    rows = hall_rows(types)
    classes = np.flatnonzero(rows[types.link_base].any(axis=1))  # of types with such rows
    if not len(classes):
        return out
    held = honoured[classes].astype(float)
    elsewhere = held.sum(axis=1, keepdims=True) - held  # per class and state b: honoured outside b
    excluded = types.link_excluded[classes]
    has = excluded >= 0
    elsewhere[np.flatnonzero(has), excluded[has]] = 0.0  # a class's own excluded state: not counted
    pinned = np.zeros(out.shape)
    np.add.at(pinned, types.link_base[classes], elsewhere)
    out[rows] -= pinned[rows]
    return out


class _Plan:
    """A plan's counts with running totals per state, for checking and applying moves."""

    def __init__(self, problem: Problem, counts: np.ndarray, honoured: np.ndarray, keep_worst: bool):
        types = problem.types
        self.problem, self.types = problem, types
        self.counts = counts.copy()
        self.pinned = np.zeros(counts.shape)
        np.add.at(self.pinned, types.link_base, honoured)
        self.room = room(types, honoured)
        self.burden = problem.burden(self.counts)
        self.persons = (self.counts * types.persons[:, None]).sum(axis=0).astype(float)
        self.needs = {n: (self.counts * q[:, None]).sum(axis=0).astype(float) for n, q in types.need_persons.items()}
        self.capacity = np.where(np.isnan(problem.capacity), np.inf, problem.capacity)
        self.minimum = np.nan_to_num(problem.minimum, nan=0.0)
        self.need_capacity = {n: np.where(np.isnan(c), np.inf, c) for n, c in problem.need_capacity.items()}
        relative = np.abs(self.burden - problem.target) / problem.scales()
        self.worst = float(relative.max()) if keep_worst and len(relative) else np.inf
        # each type's kind: its (burden, persons), numbered
        pairs, self.kind = np.unique(np.stack([types.burden.astype(float), types.persons.astype(float)], axis=1), axis=0, return_inverse=True)
        self.kind = self.kind.reshape(-1)
        self.kind_burden, self.kind_persons = pairs[:, 0], pairs[:, 1]
        # per kind and state: how many types have a unit there that may move (not honoured)
        self.movable = np.zeros((len(pairs), counts.shape[1]), dtype=np.int64)
        np.add.at(self.movable, self.kind, (self.counts - self.pinned >= 1).astype(np.int64))
        self.cells = problem.cells  # origins: a move must not change the total cell deviation either
        self.cell_burden = self.cells.burden(types, self.counts) if self.cells is not None else None

    def cells_same(self, moves: list[tuple[int, int, int]]) -> bool:
        """Whether moving one unit of type t from a to b, for each (t, a, b), keeps the total
        deviation from the origin x destination targets."""
        if self.cells is None:
            return True
        origin, burden = self.types.origin, self.cell_burden
        after = burden.copy()
        for t, a, b in moves:
            if origin[t] >= 0:
                after[origin[t], a] -= self.types.burden[t]
                after[origin[t], b] += self.types.burden[t]
        return self._same_cell_total(after)

    def _same_cell_total(self, after: np.ndarray) -> bool:
        target = self.cells.target
        change = np.abs(after - target).sum() - np.abs(self.cell_burden - target).sum()
        return abs(change) <= _TOL * max(1.0, float(np.abs(self.cell_burden).sum()))

    def same_objectives(self, a: int, b: int, shift: float) -> bool:
        """Whether moving `shift` burden units from a to b changes no stage's objective."""
        problem = self.problem
        before = self.burden[[a, b]]
        after = before + np.array([-shift, shift])
        target, scale = problem.target[[a, b]], problem.scales()[[a, b]]
        deviation = np.abs(after - target).sum() - np.abs(before - target).sum()
        squares = ((after - target) ** 2 / scale).sum() - ((before - target) ** 2 / scale).sum()
        size = max(1.0, float(np.abs(before).sum()))
        if abs(deviation) > _TOL * size or abs(squares) > _TOL * size * size:
            return False
        return bool((np.abs(after - target) / scale <= self.worst + _TOL).all())

    def can_move(self, t: int, a: int, b: int) -> bool:
        """Whether one unit of type t can leave a for b within every bound (honoured units stay)."""
        types = self.types
        p = float(types.persons[t])
        if self.counts[t, a] - self.pinned[t, a] < 1 or self.counts[t, b] + 1 > self.room[t, b] + _TOL:
            return False
        if self.persons[b] + p > self.capacity[b] + _TOL or self.persons[a] - p < self.minimum[a] - _TOL:
            return False
        return all(self.needs[n][b] + q[t] <= self.need_capacity[n][b] + _TOL for n, q in types.need_persons.items() if q[t])

    def move(self, t: int, a: int, b: int) -> None:
        types = self.types
        before = self.counts[t, [a, b]] - self.pinned[t, [a, b]] >= 1
        self.counts[t, a] -= 1
        self.counts[t, b] += 1
        self.movable[self.kind[t], [a, b]] += (self.counts[t, [a, b]] - self.pinned[t, [a, b]] >= 1).astype(np.int64) - before
        if self.cell_burden is not None and types.origin[t] >= 0:
            self.cell_burden[types.origin[t], a] -= types.burden[t]
            self.cell_burden[types.origin[t], b] += types.burden[t]
        for tally, per_unit in [(self.burden, types.burden[t]), (self.persons, types.persons[t])] + [(self.needs[n], q[t]) for n, q in types.need_persons.items()]:
            tally[a] -= per_unit
            tally[b] += per_unit

    def tied_shift(self, a: int, b: int) -> float:
        """The one non-zero shift of burden from a to b that leaves the sum of squares as it is
        (the squares are strictly convex: d^2 (1/s_a + 1/s_b) = 2 d (e_a/s_a - e_b/s_b), with
        e the deviations and s the scales)."""
        problem = self.problem
        scale = problem.scales()
        e = self.burden - problem.target
        return float(2 * (e[a] / scale[a] - e[b] / scale[b]) / (1 / scale[a] + 1 / scale[b]))

    def may_shift(self) -> np.ndarray:
        """(states x states): False where `tied_exchange` finds nothing either way for certain,
        because the tied shift is no whole multiple of the burden unit (its first test, for
        every pair at once; 200 regions are 19,900 pairs), with room to spare for float noise."""
        problem = self.problem
        n = len(self.burden)
        unit = problem.unit
        if unit is None:
            return np.ones((n, n), dtype=bool)
        scale = problem.scales()
        r = (self.burden - problem.target) / scale
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = 2 * (r[:, None] - r[None, :]) / (1 / scale[:, None] + 1 / scale[None, :])
            off = np.abs(shift / unit - np.round(shift / unit)) * unit
        return ~(off > 4 * _TOL * np.maximum(1.0, np.abs(shift)))

    def tied_exchange(self, a: int, b: int) -> tuple[int, int | None] | str | None:
        """A unit of some type t from a to b (and, for an exchange, one of type u back), or "swap"
        for a swap of everything a and b hold, that changes no objective and gives b more (more
        burden, or as much burden and more persons); None when there is none."""
        types = self.types
        shift = self.tied_shift(a, b)
        close = _TOL * max(1.0, abs(shift))
        unit = self.problem.unit
        if unit is not None and abs(shift / unit - round(shift / unit)) * unit > close:
            return None  # every move shifts a whole multiple of the burden unit: none shifts this
        # Which kinds of unit (burden, persons) a and b hold that may move: the tests that depend on
        # the kinds only are decided for the few kinds, not the many types.
        kinds_a = np.flatnonzero(self.movable[:, a])
        if not len(kinds_a):
            return "swap" if self._can_swap(a, b, shift, close) else None  # a has no unit to give
        present_a = None
        if (np.abs(self.kind_burden[kinds_a] - shift) <= close).any():
            present_a = np.flatnonzero(self.counts[:, a] - self.pinned[:, a] >= 1)
            for t in present_a[np.abs(types.burden[present_a] - shift) <= close]:
                if self.same_objectives(a, b, float(types.burden[t])) and self.can_move(t, a, b) and self.cells_same([(t, a, b)]):
                    return int(t), None
        if shift < -close:
            return None  # b would lose burden
        # Pairs (t in a, u in b) whose exchange moves exactly the tied shift.
        kinds_b = np.flatnonzero(self.movable[:, b])
        gained = self.kind_burden[kinds_a][:, None] - self.kind_burden[kinds_b][None, :]
        fits = np.abs(gained - shift) <= close
        # b would gain nothing a reader sees
        fits &= ~((np.abs(gained) <= close) & (self.kind_persons[kinds_a][:, None] <= self.kind_persons[kinds_b][None, :]))
        if not fits.any():
            return "swap" if self._can_swap(a, b, shift, close) else None
        if present_a is None:
            present_a = np.flatnonzero(self.counts[:, a] - self.pinned[:, a] >= 1)
        present_b = np.flatnonzero(self.counts[:, b] - self.pinned[:, b] >= 1)
        of_a, of_b = np.searchsorted(kinds_a, self.kind[present_a]), np.searchsorted(kinds_b, self.kind[present_b])
        for i, j in np.argwhere(fits):
            fits[i, j] = self.same_objectives(a, b, float(gained[i, j]))
        for i in np.flatnonzero(fits[of_a].any(axis=1)):
            t = present_a[i]
            if not self.can_move(t, a, b):
                continue
            for u in present_b[fits[of_a[i]][of_b]]:
                if not self.cells_same([(t, a, b), (u, b, a)]):
                    continue
                self.move(t, a, b)
                back = self.can_move(u, b, a)
                self.move(t, b, a)
                if back:
                    return int(t), int(u)
        return "swap" if self._can_swap(a, b, shift, close) else None

    def _can_swap(self, a: int, b: int, shift: float, close: float) -> bool:
        """Whether a and b can swap everything they hold (no honoured unit in either), changing
        no objective and giving b more."""
        gained = self.burden[a] - self.burden[b]
        if abs(gained - shift) > close or (gained <= close and self.persons[a] <= self.persons[b]):
            return False
        if self.pinned[:, a].any() or self.pinned[:, b].any() or not self.same_objectives(a, b, gained):
            return False
        if self.cell_burden is not None and not self._same_cell_total(_swapped(self.cell_burden, a, b)):
            return False
        if (self.counts[:, a] > self.room[:, b] + _TOL).any() or (self.counts[:, b] > self.room[:, a] + _TOL).any():
            return False
        persons = self.persons[[b, a]]  # after the swap, a holds b's and b holds a's
        if (persons > self.capacity[[a, b]] + _TOL).any() or (persons < self.minimum[[a, b]] - _TOL).any():
            return False
        return all((self.needs[n][[b, a]] <= self.need_capacity[n][[a, b]] + _TOL).all() for n in self.needs)

    def swap(self, a: int, b: int) -> None:
        self.counts[:, [a, b]] = self.counts[:, [b, a]]
        self.movable[:, [a, b]] = self.movable[:, [b, a]]  # nothing is honoured in either (`_can_swap`)
        if self.cell_burden is not None:
            self.cell_burden[:, [a, b]] = self.cell_burden[:, [b, a]]
        for tally in [self.burden, self.persons, *self.needs.values()]:
            tally[[a, b]] = tally[[b, a]]


def _swapped(matrix: np.ndarray, a: int, b: int) -> np.ndarray:
    out = matrix.copy()
    out[:, [a, b]] = matrix[:, [b, a]]
    return out


def settle_ties(problem: Problem, counts: np.ndarray, honoured: np.ndarray, codes: list[str], keep_worst: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """Decide every tie between two states for the one first in code order, and say so.

    Returns the counts (changed only by moves that change no objective, so every stage's proof
    still holds) and one sentence per pair of states left tied."""
    plan = _Plan(problem, counts, honoured, keep_worst)
    order = sorted(range(len(codes)), key=lambda s: codes[s])
    tied: dict[tuple[int, int], None] = {}
    for _ in range(10 * int(problem.types.count.sum()) + 10):
        changed = False
        shifting = plan.may_shift()
        for i, first in enumerate(order):
            for later in order[i + 1 :]:
                if not shifting[later, first]:
                    continue
                found = plan.tied_exchange(later, first)
                if found is None:
                    if plan.tied_exchange(first, later) is not None:
                        tied[(first, later)] = None
                    continue
                if found == "swap":
                    plan.swap(later, first)
                else:
                    t, u = found
                    plan.move(t, later, first)
                    if u is not None:
                        plan.move(u, first, later)
                tied[(first, later)] = None
                changed = True
                shifting = plan.may_shift()
        if not changed:
            break
    persons = plan.persons
    lines = tuple(
        f"{codes[a]} and {codes[b]} could exchange units without changing any objective "
        f"({codes[a]} {persons[a]:,.0f} persons, {codes[b]} {persons[b]:,.0f}); decided by code order, {codes[a]} first"
        for a, b in tied
    )
    return plan.counts, lines
