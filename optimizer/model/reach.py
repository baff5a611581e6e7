"""Moving a plan toward given burdens per state (part of the model step's start).

Given a plan and a goal per state (the one-type relaxation's optimum, `model.bounds`), move free
units, one at a time or exchanged in pairs, from states above their goal to states below; a plan
that reaches the goal meets every stage's bound at once. Built on the warm start's `Packing`.
"""

from __future__ import annotations

import time

import numpy as np

from .types import CaseTypes
from .warmstart import _EPS, Packing, honour_given

# States on each side (above and below their goal) that `Reaching.reach` tries moves between per round.
REACH_STATES = 8


class Reaching(Packing):
    """A `Packing` loaded with a given plan, moved toward the targets it holds (the goal)."""

    def load(self, counts: np.ndarray, honoured: np.ndarray) -> None:
        """Start from a given plan (counts, honoured link-class units) instead of building one."""
        self.counts = counts.astype(np.int64).copy()
        for t in np.flatnonzero(self.counts.any(axis=1)):
            self.counts[t] = 0
            states = np.flatnonzero(counts[t])
            self.add(int(t), states, counts[t, states].astype(float))
        for l, s in zip(*np.nonzero(honoured)):
            self.pin(int(l), int(s), int(honoured[l, s]))

    def _fits(self, ts: np.ndarray, s: int, gone: np.ndarray | None = None) -> np.ndarray:
        """Whether one more unit of each type in `ts` fits state s (its type's room there, the
        persons and need capacities), with one unit of each type in `gone` (same length) leaving s."""
        types = self.types
        persons = types.persons[ts] - (0 if gone is None else types.persons[gone])
        ok = (self.room(ts)[:, s] >= 1) & (self.persons[s] + persons <= self.cap[s] + _EPS)
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
            if not (self._reach_move(over, under, excess, weight, tol) or self._reach_exchange(over, under, excess, weight, tol)):
                return False
        return False

    def _reach_move(self, over, under, excess, weight, tol) -> bool:
        """One free unit from an over-target state to an under-target one: the heaviest that fits
        both gaps."""
        for s in over:
            free = np.flatnonzero((self.counts[:, s] - self.pinned[:, s] > 0) & (weight <= excess[s] + tol))
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
        what a single move cannot do when s2 is full or no unit is light enough. Searched by kind of
        unit (burden and persons), the few, not by type, the many."""
        types = self.types
        free, kinds = {}, {}
        for s in np.concatenate([over, under]):
            free[s] = np.flatnonzero(self.counts[:, s] - self.pinned[:, s] > 0)
            kinds[s] = np.unique(np.stack([weight[free[s]], types.persons[free[s]]], axis=1), axis=0)
        for s in over:
            from_s, kinds_t = free[s], kinds[s]
            for s2 in under:
                from_s2, kinds_u = free[s2], kinds[s2]
                if not len(from_s) or not len(from_s2):
                    continue
                most = min(excess[s], -excess[s2]) + tol
                shift = kinds_t[:, 0][:, None] - kinds_u[:, 0][None, :]
                pairs = np.argwhere((shift > tol) & (shift <= most))
                # the largest shift first: fewest steps
                for i, j in pairs[np.argsort(-shift[pairs[:, 0], pairs[:, 1]], kind="stable")]:
                    ts = from_s[(weight[from_s] == kinds_t[i, 0]) & (types.persons[from_s] == kinds_t[i, 1])]
                    us = from_s2[(weight[from_s2] == kinds_u[j, 0]) & (types.persons[from_s2] == kinds_u[j, 1])]
                    for u in us[:50]:
                        u = int(u)
                        go = ts[self._fits(ts, int(s2), np.full(len(ts), u))]
                        for t in go[:50]:
                            t = int(t)
                            if t == u or not self._fits(np.array([u]), int(s), np.array([t]))[0]:
                                continue
                            self.add(t, np.array([s, s2]), np.array([-1, 1]))
                            self.add(u, np.array([s2, s]), np.array([-1, 1]))
                            return True
        return False


def reach_burdens(types: CaseTypes, counts: np.ndarray, honoured: np.ndarray, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], goal: np.ndarray, deadline: float | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """The plan `counts` (with its honoured links kept) moved toward the burdens `goal` per state
    (`Reaching.reach`, until `deadline`, a `time.perf_counter` value): (counts, honoured, whether
    every state meets its goal)."""
    packing = Reaching(types, capacity, need_capacity, goal)
    packing.load(counts, honoured)
    reached = packing.reach(deadline=deadline)
    return packing.counts, honour_given(types, packing.counts, packing.honoured), reached
