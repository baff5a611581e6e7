"""The warm start's plan in the making: counts per type and state with running totals, the greedy
that fills it and the moves that improve it (part of the model step; `warmstart` runs them)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .types import CaseTypes

_EPS = 1e-9


class Packing:
    """Counts per (base type, state) with running totals per state.

    Targets come in rows: one row (the states' targets), or with origins one row per origin (its
    cell targets) and a last one for the cases without an origin; a type is held to its row
    (`row`), capacities are the states' own, shared by every row."""

    def __init__(self, types: CaseTypes, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], target: np.ndarray):
        self.types = types
        self.target = np.atleast_2d(target)
        n_states = self.target.shape[1]
        origin = types.origin if types.origin is not None and len(self.target) > 1 else None
        self.row = np.zeros(types.n_types, dtype=np.int64) if origin is None else np.where(origin >= 0, origin, len(self.target) - 1)
        self.cap = np.where(np.isnan(capacity), np.inf, capacity)
        self.need_cap = {n: np.where(np.isnan(a), np.inf, a) for n, a in need_capacity.items()}
        self.need_of = {n: q for n, q in types.need_persons.items() if n in self.need_cap}
        self.counts = np.zeros((types.n_types, n_states), dtype=np.int64)
        self.burden = np.zeros(self.target.shape)  # per row and state
        self.persons = np.zeros(n_states)
        self.need_used = {n: np.zeros(n_states) for n in self.need_of}
        self.limit = types.limit
        self.allowed_mask = types.limit > 0
        self.allowed = types.allowed
        # Units of each base type that have a family link in each state: where to put them first.
        self.linked_demand = np.zeros((types.n_types, n_states), dtype=np.int64)
        if len(types.link_count):
            lens = [len(states) for states in types.link_states]
            np.add.at(self.linked_demand, (np.repeat(types.link_base, lens), np.concatenate(types.link_states)), np.repeat(types.link_count, lens))
        # Linked units placed in a linked state are pinned there: improvements move other units.
        self.honoured = np.zeros((len(types.link_count), n_states), dtype=np.int64)
        self.pinned = np.zeros((types.n_types, n_states), dtype=np.int64)
        # Pooled exclusions (CaseTypes): pinned units of type t in total and of those, excluded from s.
        self.hall = types.excluded > 0
        self.pinned_total = np.zeros(types.n_types, dtype=np.int64)
        self.pinned_excluded = np.zeros((types.n_types, n_states), dtype=np.int64)
        # Per type, as Python values (read once per placement: numpy scalars cost more): whether it
        # has pooled rows, its burden and persons, and the needs its units have.
        self._pooled = self.hall.any(axis=1).tolist()
        self._burden, self._persons = types.burden.tolist(), types.persons.tolist()
        self._row = self.row.tolist()
        needs = {n: q.tolist() for n, q in self.need_of.items()}
        self._needs = [[(n, q[t]) for n, q in needs.items() if q[t]] for t in range(types.n_types)]

    def free(self, t: int) -> np.ndarray:
        return self.counts[t] - self.pinned[t]

    def free_at(self, s: int) -> np.ndarray:
        """Per type, whether it has a unit in state s that is not pinned there."""
        return self.counts[:, s] - self.pinned[:, s] > 0

    def room(self, t: int | np.ndarray) -> np.ndarray:
        """More units of type t each state may take by the type's own bounds: its limit there and,
        once linked units are pinned, the model's row for pooled exclusions (the units left free
        must still fit): counts + pinned units elsewhere that may go there <= limit. For an array
        of types, one row each."""
        if isinstance(t, (int, np.integer)) and not self._pooled[t]:
            return self.limit[t] - self.counts[t]
        elsewhere = self.pinned_total[t, None] - self.pinned[t] - self.pinned_excluded[t]
        return self.limit[t] - self.counts[t] - np.where(self.hall[t], elsewhere, 0)

    def room_at(self, ts: np.ndarray, s: int | np.ndarray) -> np.ndarray:
        """`room(ts)[:, s]`: the room of each type in `ts` in state s alone (or each in its own
        state, s an array as long as ts)."""
        elsewhere = self.pinned_total[ts] - self.pinned[ts, s] - self.pinned_excluded[ts, s]
        return self.limit[ts, s] - self.counts[ts, s] - np.where(self.hall[ts, s], elsewhere, 0)

    def pin_room(self, t: int, excluded: int, *skip: int) -> float:
        """How many more units of type t (of a class excluded from `excluded`) can be pinned: one
        more pinned unit takes a place in every pooled-exclusion row but its own state's (`skip`)
        and its excluded state's."""
        rows = self.hall[t].copy()
        rows[[s for s in (excluded, *skip) if s >= 0]] = False
        return float(self.room(t)[rows].min()) if rows.any() else np.inf

    def pin(self, l: int, s: int, k: int) -> None:
        t, e = int(self.types.link_base[l]), int(self.types.link_excluded[l])
        self.honoured[l, s] += k
        self.pinned[t, s] += k
        self.pinned_total[t] += k
        if e >= 0:
            self.pinned_excluded[t, e] += k

    def unpin(self, l: int, s: int, k: int) -> None:
        """The reverse of `pin`: k honoured units of link class l in state s become free."""
        self.pin(l, s, -k)

    # -- capacity and bookkeeping -------------------------------------------------------------

    def units_that_fit(self, t: int, states: np.ndarray) -> np.ndarray:
        """How many more units of type t each state can take (persons and need capacities)."""
        fit = np.floor((self.cap[states] - self.persons[states]) / self._persons[t] + _EPS)
        if self._pooled[t]:
            fit = np.minimum(fit, self.room(t)[states])
        else:  # `room` of the states asked only
            fit = np.minimum(fit, self.limit[t][states] - self.counts[t][states])
        for n, q in self._needs[t]:
            fit = np.minimum(fit, np.floor((self.need_cap[n][states] - self.need_used[n][states]) / q + _EPS))
        return np.maximum(fit, 0)

    def add(self, t: int, states: np.ndarray, k: np.ndarray) -> None:
        if not k.any():
            return
        counts = self.counts[t]  # one row as a view: 1-D indexing is the cheaper kind
        counts[states] += k.astype(np.int64)
        burden = self.burden[self._row[t]]
        burden[states] += k * self._burden[t]
        self.persons[states] += k * self._persons[t]
        for n, q in self._needs[t]:
            self.need_used[n][states] += k * q

    def deviation_change(self, t: int, states: np.ndarray, delta) -> np.ndarray:
        """How the deviation of type t's row changes in each state when it gains `delta`."""
        b, target = self.burden[self.row[t], states], self.target[self.row[t], states]
        return np.abs(b + delta - target) - np.abs(b - target)

    def total_deviation(self) -> float:
        return float(np.abs(self.burden - self.target).sum())

    # -- construction --------------------------------------------------------------------------

    def place_links(self) -> None:
        """Linked units first, class by class (smallest families first: links count cases), into
        their linked states (most honour first) up to each state's target and capacity."""
        types = self.types
        for l in np.lexsort((types.burden[types.link_base], types.persons[types.link_base])):
            t = int(types.link_base[l])
            e = int(types.link_excluded[l])
            w = types.burden[t]
            left = int(types.link_count[l] - self.honoured[l].sum())  # after `bulk.place_links_in_bulk`
            if left == 0:
                continue
            for k in np.argsort(-types.link_honour[l], kind="stable"):
                s = types.link_states[l][k : k + 1]
                under_target = max(np.floor((self.target[self.row[t], s[0]] - self.burden[self.row[t], s[0]]) / w + _EPS), 0)
                take = int(min(self.units_that_fit(t, s)[0], under_target, left, self.pin_room(t, e, int(s[0]))))
                if take > 0:
                    self.add(t, s, np.array([take]))
                    self.pin(l, int(s[0]), take)
                    left -= take
                if left == 0:
                    break

    def place_share(self, t: int) -> None:
        """A first share of type t's units in every state it may go to, in proportion to their
        targets (within room and capacity). Where burden per person differs between types
        (weights), filling the states type by type would give whole states the burden per person
        of the first types, and capacities in persons would stop them short of their targets;
        shares give every state the case list's mix."""
        allowed = self.allowed[t]
        target = np.maximum(self.target[self.row[t], allowed], 0.0)
        if not len(allowed) or target.sum() <= 0:
            return
        remaining = int(self.types.count[t] - self.counts[t].sum())
        share = np.floor(remaining * target / target.sum() + _EPS)
        self.add(t, allowed, np.minimum(share, self.units_that_fit(t, allowed)))

    def place(self, t: int) -> None:
        """The rest of type t's units: up to each state's target, largest deficit first, then one
        unit per round to the states where it adds the least deviation."""
        types = self.types
        allowed = self.allowed[t]
        if not len(allowed):
            return
        remaining = int(types.count[t] - self.counts[t].sum())
        w = types.burden[t]
        room = self.units_that_fit(t, allowed)
        gap = self.target[self.row[t], allowed] - self.burden[self.row[t], allowed]
        under_target = np.maximum(np.floor(gap / w + _EPS), 0)
        fit = np.minimum(room, under_target)
        # largest deficit first, each state as much as fits of what is left (in one pass)
        order = np.argsort(-gap, kind="stable")
        before = np.cumsum(fit[order]) - fit[order]
        take = np.zeros(len(allowed))
        take[order] = np.clip(remaining - before, 0, fit[order])
        remaining -= int(take.sum())
        self.add(t, allowed, take)
        if remaining <= 0:
            return
        # Every state with room is now within one unit of its target: one more unit each where it
        # adds the least deviation (largest remainders first) ...
        room = self.units_that_fit(t, allowed)
        states = allowed[room > 0]
        if not len(states):
            return
        gains = self.deviation_change(t, states, w)
        order = np.lexsort((-self.linked_demand[t, states], gains))[:remaining]
        self.add(t, states[order], np.ones(len(order)))
        remaining -= len(order)
        if remaining <= 0:
            return
        # ... and beyond that each unit adds its burden to the deviation wherever it goes: spread
        # the rest evenly over the room left (water-filling), linked states first for the leftover.
        room = self.units_that_fit(t, allowed).astype(np.int64)
        level = _water_level(room, remaining)
        give = np.minimum(room, level)
        leftover = remaining - int(give.sum())
        if leftover > 0:
            more = np.flatnonzero(room > level)
            more = more[np.argsort(-self.linked_demand[t, allowed[more]], kind="stable")][:leftover]
            give[more] += 1
        self.add(t, allowed, give)

    # -- improvement ---------------------------------------------------------------------------

    def single_moves(self, deadline: float | None = None) -> bool:
        """Move single free units between states while that lowers the deviation: per type, the
        best (source, destination) pair at a time, all pairs weighed at once (until `deadline`)."""
        improved = False
        for t in range(self.types.n_types):
            if deadline is not None and t % 256 == 0 and time.perf_counter() > deadline:
                return False
            allowed = self.allowed[t]
            if len(allowed) < 2:
                continue
            w = self.types.burden[t]
            for _ in range(4 * len(allowed)):
                free = self.free(t)[allowed] > 0
                room = self.units_that_fit(t, allowed) > 0
                if not free.any() or not room.any():
                    break
                gain = self.deviation_change(t, allowed, -w)[:, None] + self.deviation_change(t, allowed, w)[None, :]
                gain[~free, :] = np.inf
                gain[:, ~room] = np.inf
                np.fill_diagonal(gain, np.inf)
                source, destination = divmod(int(np.argmin(gain)), len(allowed))
                if not gain[source, destination] < -_EPS:
                    break
                self.add(t, allowed[[source, destination]], np.array([-1, 1]))
                improved = True
        return improved

    def swaps(self, budget: int = 2000, deadline: float | None = None) -> bool:
        """Exchange a unit of type a in s with one of type b in s2 (different burden): what single
        moves cannot do when capacities are full and burden differs from persons."""
        types = self.types
        classes: dict[tuple[int, int, float], list[int]] = {}
        for t in range(types.n_types):  # swaps within a row of targets (one row without origins)
            classes.setdefault((int(self.row[t]), int(types.persons[t]), float(types.burden[t])), []).append(t)
        keys = sorted(classes)
        n_states = self.target.shape[1]
        every = np.arange(n_states)
        improved = False
        for i, key_a in enumerate(keys):
            for key_b in keys[i + 1 :]:
                delta = key_b[2] - key_a[2]
                if delta == 0 or key_b[0] != key_a[0]:
                    continue
                t = classes[key_a][0]
                while budget > 0:
                    budget -= 1
                    if deadline is not None and time.perf_counter() > deadline:
                        return False
                    a_at = (self.counts[classes[key_a]] - self.pinned[classes[key_a]]).sum(axis=0) > 0
                    b_at = (self.counts[classes[key_b]] - self.pinned[classes[key_b]]).sum(axis=0) > 0
                    if not a_at.any() or not b_at.any():
                        break
                    gain = self.deviation_change(t, every, delta)[:, None] + self.deviation_change(t, every, -delta)[None, :]
                    gain[~a_at, :] = np.inf
                    gain[:, ~b_at] = np.inf
                    np.fill_diagonal(gain, np.inf)
                    swapped = False
                    for flat in np.argsort(gain, axis=None, kind="stable")[:50]:
                        s, s2 = divmod(int(flat), n_states)
                        if gain[s, s2] >= -_EPS:
                            break
                        pair = self._swap_pair(classes[key_a], classes[key_b], s, s2)
                        if pair is not None:
                            a, b = pair
                            self.add(a, np.array([s, s2]), np.array([-1, 1]))
                            self.add(b, np.array([s2, s]), np.array([-1, 1]))
                            improved = swapped = True
                            break
                    if not swapped:
                        break
        return improved

    def _swap_pair(self, class_a: list[int], class_b: list[int], s: int, s2: int) -> tuple[int, int] | None:
        types = self.types
        for a in class_a:
            if self.free(a)[s] == 0 or self.room(a)[s2] < 1:
                continue
            for b in class_b:
                if self.free(b)[s2] == 0 or self.room(b)[s] < 1:
                    continue
                persons_ok = (
                    self.persons[s] - types.persons[a] + types.persons[b] <= self.cap[s]
                    and self.persons[s2] - types.persons[b] + types.persons[a] <= self.cap[s2]
                )
                needs_ok = all(
                    self.need_used[n][s] - q[a] + q[b] <= self.need_cap[n][s]
                    and self.need_used[n][s2] - q[b] + q[a] <= self.need_cap[n][s2]
                    for n, q in self.need_of.items()
                )
                if persons_ok and needs_ok:
                    return a, b
        return None

    # -- links ---------------------------------------------------------------------------------

    def _profiles(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Units alike in what they weigh in the objectives and rows: persons, burden and need
        persons; with origins, burden and origin only (the cells count burden per origin; persons
        and needs of a trade are then checked against the capacities, `_trade_fits`). (Per type
        the number of its profile, per profile its types in order.)"""
        types = self.types
        if types.origin is not None:
            columns = [types.burden.astype(float), types.origin.astype(float)]
        else:
            columns = [types.persons.astype(float), types.burden.astype(float), *(q.astype(float) for q in self.need_of.values())]
        group = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)[1].ravel()
        return group, np.split(np.argsort(group, kind="stable"), np.cumsum(np.bincount(group))[:-1])

    def _trade_fits(self, t: int, u: int, s0: int, s1: int) -> bool:
        """Whether t (in s0) and u (in s1) can trade places within the persons and need capacities."""
        types = self.types
        change = float(types.persons[t] - types.persons[u])
        if self.persons[s1] + change > self.cap[s1] + _EPS or self.persons[s0] - change > self.cap[s0] + _EPS:
            return False
        for n, q in self.need_of.items():
            change = float(q[t] - q[u])
            if self.need_used[n][s1] + change > self.need_cap[n][s1] + _EPS or self.need_used[n][s0] - change > self.need_cap[n][s0] + _EPS:
                return False
        return True

    def exchange_for_links(self) -> None:
        """Bring more linked units into their linked states by trading places with a free unit of
        the same persons, burden and needs (of any base type): the deviation does not change. With
        origins: of the same burden and origin, where the capacities allow (no cell changes)."""
        types = self.types
        # only classes not fully honoured gain (the trades pin units of the class at hand alone)
        short = self.honoured.sum(axis=1) < types.link_count
        if not short.any():
            return
        group, alike = self._profiles()
        for l in np.lexsort((types.burden[types.link_base], types.persons[types.link_base])):
            if not short[l]:
                continue
            t = int(types.link_base[l])
            e = int(types.link_excluded[l])
            partners = alike[group[t]].tolist()
            for s1 in types.link_states[l][np.argsort(-types.link_honour[l], kind="stable")]:
                s1 = int(s1)
                while self.honoured[l].sum() < types.link_count[l]:
                    # a free unit of t in a state s0, and a free partner in s1 that may go to s0
                    moved = False
                    for s0 in np.flatnonzero(self.free(t) > 0):
                        s0 = int(s0)
                        if s0 == s1:
                            continue
                        for u in partners:
                            if u == t:
                                # a plain unit of t already in s1 just becomes the honoured one
                                ok = self.free(t)[s1] > 0 and self.pin_room(t, e, s1) >= 1
                            else:
                                ok = (
                                    self.free(u)[s1] > 0
                                    and self.room(u)[s0] >= 1
                                    and self.pin_room(t, e, s0) >= 1
                                    and (types.origin is None or self._trade_fits(t, u, s0, s1))
                                )
                            if ok:
                                if u != t:
                                    self.add(t, np.array([s0, s1]), np.array([-1, 1]))
                                    self.add(u, np.array([s1, s0]), np.array([-1, 1]))
                                self.pin(l, s1, 1)
                                moved = True
                                break
                        if moved:
                            break
                    if not moved and not self._trade_many(l, s1) and not (types.origin is not None and self._trade_for_one(l, s1)):
                        break

    def _trade_many(self, l: int, s1: int, budget: int = 4000) -> bool:
        """Bring one unit of link class l into its linked state s1 in exchange for several free
        units there with the same persons, burden and need persons in total (a family of six for
        two of three, say), which take its place in its current state s0: capacities and the
        deviation stay as they are (and the cells: the units come from the same origin). What a full
        small state needs to honour a link."""
        types = self.types
        t, e = int(types.link_base[l]), int(types.link_excluded[l])
        persons, burden = int(types.persons[t]), float(types.burden[t])
        needs = np.array([int(q[t]) for q in self.need_of.values()], dtype=np.int64)
        need_rows = [q for q in self.need_of.values()]
        for s0 in np.flatnonzero(self.free(t) > 0):
            s0 = int(s0)
            if s0 == s1 or self.pin_room(t, e, s0) < 1:
                continue
            at_s1 = self.counts[:, s1] - self.pinned[:, s1]
            candidates = [
                u
                for u in np.flatnonzero(at_s1 > 0)
                if u != t and types.persons[u] < persons and self.room(int(u))[s0] >= 1
                and (types.origin is None or types.origin[u] == types.origin[t])
            ]
            candidates.sort(key=lambda u: (-int(types.persons[u]), int(u)))
            chosen: list[int] = []
            left = [budget]

            def search(i: int, p: int, w: float, q: np.ndarray) -> bool:
                if p == 0:
                    return abs(w) < 1e-9 and not q.any()
                left[0] -= 1
                if left[0] <= 0 or i == len(candidates):
                    return False
                u = int(candidates[i])
                pu, wu = int(types.persons[u]), float(types.burden[u])
                qu = np.array([int(row[u]) for row in need_rows], dtype=np.int64)
                most = min(int(at_s1[u]), int(self.room(u)[s0]), p // pu)
                for k in range(most, -1, -1):
                    if (q - k * qu < 0).any():
                        continue
                    chosen.extend([u] * k)
                    if search(i + 1, p - k * pu, w - k * wu, q - k * qu):
                        return True
                    del chosen[len(chosen) - k :]
                return False

            if search(0, persons, burden, needs.copy()):
                self.add(t, np.array([s0, s1]), np.array([-1, 1]))
                for u, k in zip(*np.unique(chosen, return_counts=True)):
                    self.add(int(u), np.array([s1, s0]), np.array([-k, k]))
                self.pin(l, s1, 1)
                return True
        return False

    def _trade_for_one(self, l: int, s1: int) -> bool:
        """With origins: bring k units of link class l from one state s0 into their linked state
        s1 for one free unit of the same origin there weighing as much as the k (a family of four
        for four linked single adults, say): no cell changes. Capacities checked."""
        types = self.types
        t, e = int(types.link_base[l]), int(types.link_excluded[l])
        w, origin = float(types.burden[t]), int(types.origin[t])
        left = int(types.link_count[l] - self.honoured[l].sum())
        at_s1 = np.flatnonzero(self.free_at(s1) & (types.origin == origin))
        for u in at_s1[np.argsort(types.burden[at_s1], kind="stable")]:
            u = int(u)
            k = types.burden[u] / w
            if u == t or abs(k - round(k)) > 1e-9 or not 2 <= round(k) <= left:
                continue
            k = int(round(k))
            for s0 in np.flatnonzero(self.free(t) >= k):
                s0 = int(s0)
                if s0 == s1 or self.room(u)[s0] < 1 or self.pin_room(t, e, s0) < k:
                    continue
                change = k * float(types.persons[t]) - float(types.persons[u])
                if self.persons[s1] + change > self.cap[s1] + _EPS or self.persons[s0] - change > self.cap[s0] + _EPS:
                    continue
                needs = [(n, k * float(q[t]) - float(q[u])) for n, q in self.need_of.items()]
                if any(self.need_used[n][s1] + c > self.need_cap[n][s1] + _EPS or self.need_used[n][s0] - c > self.need_cap[n][s0] + _EPS for n, c in needs):
                    continue
                self.add(t, np.array([s0, s1]), np.array([-k, k]))
                self.add(u, np.array([s1, s0]), np.array([-1, 1]))
                self.pin(l, s1, k)
                return True
        return False

    # -- repair --------------------------------------------------------------------------------

    def place_leftovers(self, budget: int = 200) -> None:
        """Units the greedy left unplaced for want of room: make room for one by moving a free unit
        at least as large as the shortfall to another state that can take it (largest units first).
        Only while some unit is unplaced; the improvement moves mend the deviation afterwards."""
        types = self.types
        for t in np.lexsort((-types.burden, -types.persons)):
            t = int(t)
            while budget > 0 and self.counts[t].sum() < types.count[t]:
                budget -= 1
                if not self._make_room(t):
                    break

    def _make_room(self, t: int) -> bool:
        """Place one more unit of type t, moving free units out of a state to other states until
        it fits there (persons and need capacities); undone if it does not come to fit."""
        types = self.types
        allowed = self.allowed[t]
        every = np.arange(self.target.shape[1])
        for s in allowed[np.argsort(self.deviation_change(t, allowed, types.burden[t]), kind="stable")]:
            s = int(s)
            moves: list[tuple[int, int]] = []
            for _ in range(8):
                if self.units_that_fit(t, np.array([s]))[0] >= 1:
                    break
                short_persons = types.persons[t] - (self.cap[s] - self.persons[s])
                short_needs = {n: q[t] - (self.need_cap[n][s] - self.need_used[n][s]) for n, q in self.need_of.items()}
                free = np.flatnonzero(self.free_at(s))
                free = free[free != t]
                needed = [n for n, short in short_needs.items() if short > 0]
                if needed:
                    n = needed[0]
                    q = self.need_of[n]
                    free = free[q[free] > 0]
                    # one unit covering the shortfall if there is one (the smallest), else the largest
                    covers = q[free] >= short_needs[n]
                    order = np.lexsort((types.persons[free], ~covers, np.where(covers, 0, -q[free])))
                else:
                    covers = types.persons[free] >= short_persons
                    order = np.lexsort((np.where(covers, types.persons[free], -types.persons[free]), ~covers))
                moved = False
                for v in free[order]:
                    v = int(v)
                    others = every[(every != s) & (self.units_that_fit(v, every) > 0)]
                    if len(others):
                        s2 = int(others[np.argmin(self.deviation_change(v, others, types.burden[v]))])
                        self.add(v, np.array([s, s2]), np.array([-1, 1]))
                        moves.append((v, s2))
                        moved = True
                        break
                if not moved:
                    break
            if self.units_that_fit(t, np.array([s]))[0] >= 1:
                self.add(t, np.array([s]), np.array([1]))
                return True
            for v, s2 in reversed(moves):
                self.add(v, np.array([s2, s]), np.array([-1, 1]))
        return False


def _water_level(room: np.ndarray, units: int) -> int:
    """The largest level L with sum(min(room, L)) <= units (room per state, whole units)."""
    low, high = 0, int(room.max()) if len(room) else 0
    while low < high:
        mid = (low + high + 1) // 2
        if int(np.minimum(room, mid).sum()) <= units:
            low = mid
        else:
            high = mid - 1
    return low
