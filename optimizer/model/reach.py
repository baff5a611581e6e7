"""Moving a plan toward given burdens per state (part of the model step's start).

Given a plan and a goal per state (the one-type relaxation's optimum, `model.bounds`), move free
units, one at a time or exchanged in pairs, from states above their goal to states below; a plan
that reaches the goal meets every stage's bound at once. Built on the warm start's `Packing`.
"""

from __future__ import annotations

import time

import numpy as np

from .problem import burden_unit
from .types import CaseTypes
from .honour import honour_given
from .packing import _EPS, Packing

# States on each side (above and below their goal) that `Reaching.reach` tries moves between per round.
REACH_STATES = 8
# Shifts (whole multiples of the burden unit, the largest first) tried along chains of states.
CHAIN_SHIFTS = 100
# Partners (the lightest in range) an exchange weighs for each unit.
EXCHANGE_PARTNERS = 64
# Chains tried per shift when links of them turn out not to fit.
CHAIN_TRIES = 16


class Reaching(Packing):
    """A `Packing` loaded with a given plan, moved toward the targets it holds (the goal)."""

    def load(self, counts: np.ndarray, honoured: np.ndarray) -> None:
        """Start from a given plan (counts, honoured link-class units) instead of building one."""
        self.counts = counts.astype(np.int64).copy()
        # the running totals `add` would keep, type after type: a sequential sum (cumsum), not
        # numpy's pairwise one, so that they are the same to the last bit (with weights the
        # moves compare them with the goal)
        units, types = self.counts.astype(float), self.types
        if len(units):
            for r in range(len(self.burden)):
                mine = self.row == r
                if mine.any():
                    self.burden[r] = np.cumsum(units[mine] * types.burden[mine, None], axis=0)[-1]
            self.persons = np.cumsum(units * types.persons[:, None], axis=0)[-1]
            for n, q in self.need_of.items():
                self.need_used[n] = np.cumsum(units * q[:, None], axis=0)[-1]
        for l, s in zip(*np.nonzero(honoured)):
            self.pin(int(l), int(s), int(honoured[l, s]))

    def _fits(self, ts: np.ndarray, s: int, gone: np.ndarray | None = None) -> np.ndarray:
        """Whether one more unit of each type in `ts` fits state s (its type's room there, the
        persons and need capacities), with one unit of each type in `gone` (same length) leaving s."""
        types = self.types
        persons = types.persons[ts] - (0 if gone is None else types.persons[gone])
        ok = (self.room_at(ts, s) >= 1) & (self.persons[s] + persons <= self.cap[s] + _EPS)
        for n, q in self.need_of.items():
            ok &= self.need_used[n][s] + q[ts] - (0 if gone is None else q[gone]) <= self.need_cap[n][s] + _EPS
        return ok

    def reach(self, budget: int = 20_000, deadline: float | None = None) -> bool:
        """Move free units, one at a time or exchanged in pairs, from states above their target to
        states below it, each move closing part of both gaps and overshooting neither, until every
        state is at its target (True) or no such move is left (False). For a plan that is to meet
        given burdens exactly (the one-type relaxation's optimum, `model.bounds`)."""
        types = self.types
        weight = types.burden.astype(float)
        self.unit = burden_unit(weight)
        # units alike in burden, persons and needs fit alike: exchanges look at one type of each
        columns = [weight, types.persons.astype(float), *(q.astype(float) for q in self.need_of.values())]
        self.profile = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)[1].ravel()
        # kinds of unit (burden, then persons): the order in which exchanges are preferred
        self.kind = np.unique(np.stack(columns[:2], axis=1), axis=0, return_inverse=True)[1].ravel()
        tol = 1e-9 * max(1.0, float(np.abs(self.target[0]).max()) if self.target.size else 1.0)
        for _ in range(budget):
            excess = self.burden[0] - self.target[0]
            over = np.flatnonzero(excess > tol)
            under = np.flatnonzero(excess < -tol)
            if not len(over) or not len(under):
                return not len(over) and not len(under)
            if deadline is not None and time.perf_counter() > deadline:
                return False
            # the states furthest from their goals first, a few at a time (moves between them
            # close the most; the others follow in later rounds)
            over = over[np.argsort(-excess[over], kind="stable")][:REACH_STATES]
            under = under[np.argsort(excess[under], kind="stable")][:REACH_STATES]
            if not (self._reach_move(over, under, excess, weight, tol) or self._reach_exchange(over, under, excess, weight, tol) or self._reach_chain(over, under, excess, weight, tol) or self._release(np.concatenate([over, under]))):
                return False
        return False

    def _release(self, states: np.ndarray) -> bool:
        """Free the linked units pinned in `states` (their links may go unhonoured): the goal
        comes before the links, and a state may hold nothing else that can move (a small state
        whose free units are all of the lightest burden). Whether any was pinned there."""
        released = False
        for s in states:
            for l in np.flatnonzero(self.honoured[:, s]):
                self.unpin(int(l), int(s), int(self.honoured[l, s]))
                released = True
        return released

    def _reach_move(self, over, under, excess, weight, tol) -> bool:
        """One free unit from an over-target state to an under-target one: the heaviest that fits
        both gaps."""
        for s in over:
            free = np.flatnonzero(self.free_at(s) & (weight <= excess[s] + tol))
            if not len(free):
                continue
            for s2 in under:
                fit = free[weight[free] <= -excess[s2] + tol]
                fit = fit[self._fits(fit, int(s2))] if len(fit) else fit
                if len(fit):
                    t = int(fit[np.argmax(weight[fit])])
                    self.add(t, np.array([s, s2]), np.array([-1, 1]))
                    return True
        return False

    def _reach_exchange(self, over, under, excess, weight, tol) -> bool:
        """A unit t from an over-target state s for a lighter unit u from an under-target state s2:
        what a single move cannot do when s2 is full or no unit is light enough."""
        for s in over:
            for s2 in under:
                if self._exchange(int(s), int(s2), tol, min(excess[s], -excess[s2]) + tol, weight):
                    return True
        return False

    def _exchange(self, s: int, s2: int, least: float, most: float, weight: np.ndarray) -> list[tuple[int, int, int]]:
        """Exchange a free unit t of s for a free unit u of s2 whose burdens differ by more than
        `least` and at most `most` (the largest such shift; on a tie the first kinds of unit by
        burden and persons, then the first types), when both fit where they go: the units moved,
        as (type, from, to), none when no such exchange fits."""
        types = self.types
        ts = np.flatnonzero(self.free_at(s))
        us = np.flatnonzero(self.free_at(s2))
        ts = ts[(self.room_at(ts, s2) >= 1) & (weight[ts] > weight[us].min() + least)] if len(us) else ts[:0]
        us = us[(self.room_at(us, s) >= 1) & (weight[us] < weight[ts].max() - least)] if len(ts) else us[:0]
        ts = ts[np.sort(np.unique(self.profile[ts], return_index=True)[1])]
        us = us[np.sort(np.unique(self.profile[us], return_index=True)[1])]
        if not len(ts) or not len(us):
            return []
        # the pairs in range, by the burdens sorted (the lightest partners first: the largest
        # shifts), at most EXCHANGE_PARTNERS partners per unit
        us = us[np.argsort(weight[us], kind="stable")]
        lo = np.searchsorted(weight[us], weight[ts] - most, side="left")
        hi = np.minimum(np.searchsorted(weight[us], weight[ts] - least, side="left"), lo + EXCHANGE_PARTNERS)
        count = np.maximum(hi - lo, 0)
        if not count.sum():
            return []
        i = np.repeat(np.arange(len(ts)), count)
        j = lo[i] + np.arange(len(i)) - np.repeat(np.cumsum(count) - count, count)
        t_, u_ = ts[i], us[j]
        shift = weight[t_] - weight[u_]
        ok = (shift > least) & (shift <= most) & (t_ != u_)
        moved = types.persons[t_] - types.persons[u_]
        ok &= (self.persons[s2] + moved <= self.cap[s2] + _EPS) & (self.persons[s] - moved <= self.cap[s] + _EPS)
        for n, q in self.need_of.items():
            moved = q[t_] - q[u_]
            ok &= (self.need_used[n][s2] + moved <= self.need_cap[n][s2] + _EPS) & (self.need_used[n][s] - moved <= self.need_cap[n][s] + _EPS)
        if not ok.any():
            return []
        # the largest shift; among equal ones the lightest kinds, then the first types
        t_, u_, shift = t_[ok], u_[ok], shift[ok]
        pick = np.lexsort((t_, u_, self.kind[u_], self.kind[t_], -shift))[0]
        t, u = int(t_[pick]), int(u_[pick])
        self.add(t, np.array([s, s2]), np.array([-1, 1]))
        self.add(u, np.array([s2, s]), np.array([-1, 1]))
        return [(t, s, s2), (u, s2, s)]

    def _reach_chain(self, over, under, excess, weight, tol) -> bool:
        """A burden shift passed along a chain of states, from an over-target state to an
        under-target one: each link of the chain a single move or an exchange shifting the same
        burden, so that the states between end where they were. What pairs cannot do when the
        over-target state holds few units (a small state) or none that fit the other. The largest
        shift that closes part of both gaps first, then smaller ones (whole multiples of the
        burden unit, when the burdens have one)."""
        kinds, kind = np.unique(weight, return_inverse=True)
        held = np.zeros((self.counts.shape[1], len(kinds)), dtype=bool)
        types, states = np.nonzero(self.counts - self.pinned > 0)
        held[states, kind[types]] = True
        unit = self.unit
        for s in over:
            shifts = {round(float(min(excess[s], -excess[s2])), 12) for s2 in under}
            if unit:
                most = max(shifts)
                shifts |= {round(k * unit, 12) for k in range(1, int(most / unit + 1e-9) + 1)[-CHAIN_SHIFTS:]}
            for shift in sorted(shifts, reverse=True):
                ends = {int(s2) for s2 in under if -excess[s2] >= shift - tol}
                blocked = np.zeros((len(excess), len(excess)), dtype=bool)
                for _ in range(CHAIN_TRIES):
                    path = self._chain(int(s), ends, shift, kinds, held, blocked, tol)
                    if path is None:
                        break
                    if self._walk(path, shift, weight, tol, blocked):
                        return True
        return False

    def _walk(self, path: list[int], shift: float, weight: np.ndarray, tol: float, blocked: np.ndarray) -> bool:
        """Pass `shift` along the chain `path`, link by link; when a link cannot be made (its units
        do not fit), the links made are undone, the link is marked in `blocked`, and False."""
        done: list[tuple[int, int, int]] = []  # (type, from, to) of every unit moved
        for a, b in zip(path, path[1:]):
            moved = self._move(a, b, shift, weight, tol) or self._exchange(a, b, shift - tol, shift + tol, weight)
            if not moved:
                for t, frm, to in reversed(done):
                    self.add(t, np.array([to, frm]), np.array([-1, 1]))
                blocked[a, b] = True
                return False
            done.extend(moved)
        return True

    @staticmethod
    def _chain(start: int, ends: set[int], shift: float, kinds: np.ndarray, held: np.ndarray, blocked: np.ndarray, tol: float) -> list[int] | None:
        """The shortest chain of states from `start` to one of `ends` along which `shift` can be
        passed, judged by the burdens of the free units each state holds (`held`: state x burden
        in `kinds`; whether the units fit is checked when the chain is walked), or None."""
        # kind k in a for kind k' in b, with kinds[k] - kinds[k'] == shift
        lighter = np.searchsorted(kinds, kinds - shift - tol)
        found = (lighter < len(kinds)) & (np.abs(kinds[np.minimum(lighter, len(kinds) - 1)] - (kinds - shift)) <= tol)
        edge = held[:, found].astype(np.int64) @ held[:, lighter[found]].T.astype(np.int64) > 0
        alone = np.flatnonzero(np.abs(kinds - shift) <= tol)
        if len(alone):
            edge |= held[:, alone].any(axis=1)[:, None]
        np.fill_diagonal(edge, False)
        edge &= ~blocked
        previous = {start: start}
        frontier = [start]
        while frontier:
            reached = []
            for a in frontier:
                for b in np.flatnonzero(edge[a]):
                    b = int(b)
                    if b in previous:
                        continue
                    previous[b] = a
                    if b in ends:
                        path = [b]
                        while path[-1] != start:
                            path.append(previous[path[-1]])
                        return path[::-1]
                    reached.append(b)
            frontier = reached
        return None

    def _move(self, s: int, s2: int, shift: float, weight: np.ndarray, tol: float) -> list[tuple[int, int, int]]:
        """One free unit of burden `shift` from s to s2, if one fits there: the unit moved, as
        (type, from, to), or none."""
        fit = np.flatnonzero(self.free_at(s) & (np.abs(weight - shift) <= tol))
        fit = fit[self._fits(fit, s2)] if len(fit) else fit
        if not len(fit):
            return []
        self.add(int(fit[0]), np.array([s, s2]), np.array([-1, 1]))
        return [(int(fit[0]), s, s2)]


def reach_burdens(types: CaseTypes, counts: np.ndarray, honoured: np.ndarray, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], goal: np.ndarray, deadline: float | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """The plan `counts` (with its honoured links kept) moved toward the burdens `goal` per state
    (`Reaching.reach`, until `deadline`, a `time.perf_counter` value): (counts, honoured, whether
    every state meets its goal)."""
    packing = Reaching(types, capacity, need_capacity, goal)
    packing.load(counts, honoured)
    reached = packing.reach(deadline=deadline)
    return packing.counts, honour_given(types, packing.counts, packing.honoured), reached
