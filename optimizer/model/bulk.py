"""The warm start's first fill in bulk, for case lists of many types (part of the model step).

`Packing.place` fills one type at a time and `Packing.place_links` one link class at a time: a few
dozen numpy calls each, some 60 microseconds. At a million cases that each exclude three states
(93,000 types, 49,000 link classes) that was 8 s before the solver starts, more than a 10 s limit
leaves. Here many types are filled together, in rounds:

- the types of one *tier* (the greedy's order: same restrictions, needs, persons and burden) are
  laid end to end in the greedy's order, and so are the states' deficits, largest first, each
  lowered to a common level so that the tier spreads over the states as the one-by-one greedy does
  (it always fills the largest deficit first); a type gets the states its stretch of the line
  meets; what is refused then goes to the state with room where it adds the least deviation;
- link classes propose their units to their first linked state, then their second, ...; the
  classes of a pooled type take turns (a pinned unit takes room in every pooled row of its type);
- every state accepts proposals in order while its deficit, persons, needs and each type's room
  allow (`accepted`); what is refused proposes again in the next round;
- first shares (`Packing.place_share`) are placed at once, and `honour.honour_given` uses the same
  rounds for which linked units a plan honours.

What a few rounds leave over goes through the one-by-one greedy. Instances with fewer types or
link classes than `BULK_FROM` keep the one-by-one greedy alone, so their plans do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .packing import _EPS

if TYPE_CHECKING:
    from .packing import Packing
    from .types import CaseTypes

# Types or link classes from which the first fill is done in bulk.
BULK_FROM = 10_000
# Rounds of proposals before the rest goes through the one-by-one greedy.
ROUNDS = 8
# Types in a tier from which it is filled in bulk (fewer cost little one by one).
MIN_TIER = 32
# Link classes of one pooled type that take turns in the rounds; the type's further ones go one by one.
MAX_TURNS = 8

Resource = tuple[np.ndarray, np.ndarray, np.ndarray]  # per proposal: key, use per unit, its key's allowance


def in_bulk(types: CaseTypes) -> bool:
    """Whether the case list has the types or link classes to be filled in bulk (`BULK_FROM`)."""
    return max(types.n_types, len(types.link_count)) >= BULK_FROM


def accepted(units: np.ndarray, resources: list[Resource]) -> np.ndarray:
    """How many of each proposal's units are accepted (proposals in priority order): for each
    resource, the proposals before one with the same key count in full against the key's allowance
    (so what is accepted never exceeds it, even where an earlier proposal was cut)."""
    take = units.astype(float)
    for key, use, allowance in resources:
        order = np.argsort(key, kind="stable")
        k = key[order]
        used = (units * use)[order].astype(float)
        before = np.cumsum(used) - used
        first = np.r_[True, k[1:] != k[:-1]]
        before -= np.maximum.accumulate(np.where(first, before, 0.0))
        left = allowance[order] - before
        u = use[order]
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(u > 0, np.floor(left / np.where(u > 0, u, 1.0) + _EPS), np.inf)
        take[order] = np.minimum(take[order], np.maximum(fit, 0.0))
    return take.astype(np.int64)


def _commit(packing: Packing, ts: np.ndarray, states: np.ndarray, k: np.ndarray) -> None:
    """Add k[i] units of type ts[i] in state states[i], every proposal at once."""
    keep = k > 0
    ts, states, k = ts[keep], states[keep], k[keep]
    np.add.at(packing.counts, (ts, states), k)
    types = packing.types
    np.add.at(packing.burden, (packing.row[ts], states), k * types.burden[ts])
    np.add.at(packing.persons, states, k * types.persons[ts])
    for n, q in packing.need_of.items():
        np.add.at(packing.need_used[n], states, k * q[ts])


def _pin(packing: Packing, classes: np.ndarray, states: np.ndarray, k: np.ndarray) -> None:
    """`Packing.pin` for many (class, state, units) at once."""
    types = packing.types
    ts, excluded = types.link_base[classes], types.link_excluded[classes]
    np.add.at(packing.honoured, (classes, states), k)
    np.add.at(packing.pinned, (ts, states), k)
    np.add.at(packing.pinned_total, ts, k)
    some = excluded >= 0
    np.add.at(packing.pinned_excluded, (ts[some], excluded[some]), k[some])


def _resources(packing: Packing, ts: np.ndarray, states: np.ndarray) -> list[Resource]:
    """What a state's proposals share: its row's deficit (burden; first), persons, needs, and each
    type's room there."""
    types = packing.types
    n_states = packing.target.shape[1]
    rows = packing.row[ts]
    resources: list[Resource] = [
        (rows * n_states + states, types.burden[ts].astype(float), np.maximum(packing.target[rows, states] - packing.burden[rows, states], 0.0)),
        (states, types.persons[ts].astype(float), (packing.cap - packing.persons)[states]),
        (ts * n_states + states, np.ones(len(ts)), packing.room_at(ts, states).astype(float)),
    ]
    for n, q in packing.need_of.items():
        resources.append((states, q[ts].astype(float), (packing.need_cap[n] - packing.need_used[n])[states]))
    return resources


def _level(deficit: np.ndarray, units: float) -> float:
    """The level L >= 0 with sum(max(deficit - L, 0)) = units (0 when the deficits hold fewer)."""
    deficit = np.sort(deficit[deficit > 0])[::-1]
    if not len(deficit) or deficit.sum() <= units:
        return 0.0
    # with the i largest deficits above L: sum of them - i * L = units
    above = (np.cumsum(deficit) - units) / np.arange(1, len(deficit) + 1)
    i = int(np.argmax(above >= np.r_[deficit[1:], 0.0]))
    return float(max(above[i], 0.0))


def _line(packing: Packing, ts: np.ndarray, remaining: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One round for a tier's types of one row: (type, state, units) proposals from the types laid
    end to end against the states' deficits above the level, largest deficit first."""
    t0 = int(ts[0])
    w, p = float(packing.types.burden[t0]), float(packing.types.persons[t0])
    deficit = packing.target[row] - packing.burden[row]
    level = _level(deficit, float(remaining.sum()) * w)
    # rounded up above the level (else each round would leave up to a unit per state), never
    # above the target
    room = np.minimum(np.ceil(np.maximum(deficit - level, 0.0) / w - _EPS), np.floor(np.maximum(deficit, 0.0) / w + _EPS))
    room = np.minimum(room, np.floor(np.maximum(packing.cap - packing.persons, 0.0) / p + _EPS))
    for n, q in packing.need_of.items():
        # the tier's units need this much on average (their needs differ)
        need = float((q[ts] * remaining).sum() / remaining.sum())
        if need > 0:
            room = np.minimum(room, np.floor(np.maximum(packing.need_cap[n] - packing.need_used[n], 0.0) / need + _EPS))
    order = np.argsort(-deficit, kind="stable")
    order = order[room[order] > 0]
    if not len(order):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    state_end = np.cumsum(room[order]).astype(np.int64)
    type_end = np.cumsum(remaining)
    # the line's pieces: between consecutive ends of either kind, up to the shorter line's end
    ends = np.unique(np.r_[type_end, state_end])
    ends = ends[ends <= min(type_end[-1], state_end[-1])]
    starts = np.r_[0, ends[:-1]]
    which_type = np.searchsorted(type_end, starts, side="right")
    which_state = np.searchsorted(state_end, starts, side="right")
    return ts[which_type], order[which_state], ends - starts


def fill_tier(packing: Packing, ts: np.ndarray) -> np.ndarray:
    """Fill the types `ts` (one tier, in the greedy's order) in rounds: first laid along the
    states' deficits (`_line`), then what was refused, each type to the state with room where it
    adds the least deviation; returns the types with units left, for the one-by-one greedy."""
    types = packing.types
    for round in range(ROUNDS):
        ts = ts[types.count[ts] > packing.counts[ts].sum(axis=1)]
        if not len(ts):
            break
        remaining = types.count[ts] - packing.counts[ts].sum(axis=1)
        k = np.zeros(0)
        if round == 0:
            pieces = [_line(packing, ts[packing.row[ts] == r], remaining[packing.row[ts] == r], int(r)) for r in np.unique(packing.row[ts])]
            t, s, k = (np.concatenate([piece[i] for piece in pieces]) for i in range(3))
        if not len(k):  # later rounds, or no state has room below its target
            t, s, k = _best_states(packing, ts, remaining)
        take = accepted(k, _resources(packing, t, s))
        if not take.any():
            break
        _commit(packing, t, s, take)
    ts = ts[types.count[ts] > packing.counts[ts].sum(axis=1)]
    # types with no room left anywhere would get none one by one either
    return ts[_fits(packing, ts).max(axis=1, initial=0) > 0]


def _best_states(packing: Packing, ts: np.ndarray, remaining: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(type, state, units) proposals: each type's units to the state with room for them where a
    unit adds the least deviation (the largest deficit), up to its target or else one unit."""
    types = packing.types
    fit = _fits(packing, ts)
    deficit = packing.target[packing.row[ts]] - packing.burden[packing.row[ts]]
    has = fit.max(axis=1) > 0
    ts, remaining, fit, deficit = ts[has], remaining[has], fit[has], deficit[has]
    best = np.argmax(np.where(fit > 0, deficit, -np.inf), axis=1)
    rows = np.arange(len(ts))
    under = np.floor(np.maximum(deficit[rows, best], 0.0) / types.burden[ts] + _EPS)
    k = np.minimum(np.minimum(remaining, fit[rows, best]), np.maximum(under, 1)).astype(np.int64)
    return ts, best.astype(np.int64), k


def _fits(packing: Packing, ts: np.ndarray) -> np.ndarray:
    """`Packing.units_that_fit` for many types, every state."""
    types = packing.types
    fit = np.floor((packing.cap - packing.persons)[None, :] / types.persons[ts, None] + _EPS)
    fit = np.minimum(fit, packing.room(ts))
    for n, q in packing.need_of.items():
        need = q[ts]
        if need.any():
            room = np.floor((packing.need_cap[n] - packing.need_used[n])[None, :] / np.where(need > 0, need, 1)[:, None] + _EPS)
            fit = np.where(need[:, None] > 0, np.minimum(fit, room), fit)
    return np.maximum(fit, 0)


def turns(keys: np.ndarray) -> np.ndarray:
    """Per entry, how many entries before it have the same key (0, 1, ...)."""
    order = np.argsort(keys, kind="stable")
    first = np.r_[True, keys[order][1:] != keys[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = np.arange(len(keys)) - start
    return out


def taking_turns_too_long(types: CaseTypes, classes: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """Per class of `classes`, whether it is a pooled type's class beyond its `MAX_TURNS`-th (in
    the order of `classes`): a type with thousands of classes (200 regions) would take as many
    rounds; those go one by one."""
    return pooled[classes] & (turns(types.link_base[classes]) >= MAX_TURNS)


def ranked_links(types: CaseTypes, classes: np.ndarray, apart: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, state, round) for every linked state of the link classes `classes`, by round and
    then in the order of `classes`: round k holds every class's k-th linked state (most honour
    first; ties in state order). With `apart` (per class), the classes of one base type that it
    marks take turns instead: the type's first class its states in rounds 0, 1, ..., its second
    class after them (their units' room depends on one another)."""
    n = len(types.link_count)
    lens = np.fromiter((len(x) for x in types.link_states), dtype=np.int64, count=n)
    owner = np.repeat(np.arange(n), lens)
    states = np.concatenate(types.link_states) if n else np.zeros(0, dtype=np.int64)
    honour = np.concatenate(types.link_honour) if n else np.zeros(0)
    by_honour = np.lexsort((np.arange(len(owner)), -honour, owner))
    owner, states = owner[by_honour], states[by_honour]
    rank = np.arange(len(owner)) - (np.cumsum(lens) - lens)[owner]
    position = np.full(n, -1, dtype=np.int64)
    position[classes] = np.arange(len(classes))
    keep = position[owner] >= 0
    owner, states, rank = owner[keep], states[keep], rank[keep]
    if apart is not None and apart.any():
        turn = np.zeros(n, dtype=np.int64)
        turn[classes] = turns(types.link_base[classes])  # the how-manieth class of its base type
        rank = np.where(apart[owner], turn[owner] * (lens.max() + 1) + rank, rank)
    order = np.lexsort((position[owner], rank))
    return owner[order], states[order].astype(np.int64), rank[order]


def place_links_in_bulk(packing: Packing, classes: np.ndarray) -> None:
    """`Packing.place_links` in rounds: every class proposes its units to its k-th linked state
    (most honour first) up to that state's target; the states accept in the classes' order. The
    classes of a pooled base type take turns (`ranked_links`): a pinned unit takes room from every
    pooled row of its type but its own state's and its excluded state's (`Packing.pin_room`)."""
    types = packing.types
    pooled = np.array(packing._pooled, dtype=bool)[types.link_base]
    classes = classes[~taking_turns_too_long(types, classes, pooled)]  # left to `Packing.place_links`
    owner, states, rounds = ranked_links(types, classes, pooled)
    left = types.link_count.astype(np.int64).copy()
    bounds = np.r_[0, np.flatnonzero(np.diff(rounds)) + 1, len(rounds)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        ls, s = owner[a:b], states[a:b]
        has = left[ls] > 0
        ls, s = ls[has], s[has]
        ts = types.link_base[ls]
        resources = _resources(packing, ts, s)
        if pooled[ls].any():
            resources.append((ts, np.ones(len(ls)), _pin_room(packing, ls, s)))
        take = accepted(left[ls], resources)
        _commit(packing, ts, s, take)
        _pin(packing, ls, s, take)
        left[ls] -= take


def _pin_room(packing: Packing, classes: np.ndarray, states: np.ndarray) -> np.ndarray:
    """`Packing.pin_room` of each class's base type in its state (one class per base type)."""
    types = packing.types
    ts, excluded = types.link_base[classes], types.link_excluded[classes]
    rows = packing.hall[ts].copy()
    at = np.arange(len(ts))
    rows[at, states] = False
    rows[at[excluded >= 0], excluded[excluded >= 0]] = False
    return np.where(rows, packing.room(ts), np.inf).min(axis=1, initial=np.inf)


def place_all(packing: Packing, order: np.ndarray, tier_keys: list[np.ndarray], bulk: bool) -> None:
    """Every type in the greedy's `order`: with `bulk`, each tier of at least `MIN_TIER` types
    (equal in every one of `tier_keys`) by `fill_tier` and what it leaves one by one; else one by
    one."""
    if not bulk or not len(order):
        for t in order.tolist():
            packing.place(t)
        return
    keys = np.stack([k[order] for k in tier_keys], axis=1)
    breaks = np.r_[0, np.flatnonzero((keys[1:] != keys[:-1]).any(axis=1)) + 1, len(order)]
    for a, b in zip(breaks[:-1], breaks[1:]):
        tier = order[a:b]
        if len(tier) >= MIN_TIER:
            left = np.zeros(packing.types.n_types, dtype=bool)
            left[fill_tier(packing, tier)] = True
            tier = tier[left[tier]]
        for t in tier.tolist():
            packing.place(t)


def place_shares(packing: Packing, order: np.ndarray, bulk: bool) -> None:
    """`Packing.place_share` for every type in `order`; with `bulk` all at once: each type's share
    of every state it may go to, the states accepting in the types' order within their persons,
    needs and the types' room (`accepted`)."""
    if not bulk:
        for t in order.tolist():
            packing.place_share(t)
        return
    types = packing.types
    target = np.where(types.limit[order] > 0, np.maximum(packing.target[packing.row[order]], 0.0), 0.0)
    total = target.sum(axis=1)
    remaining = types.count[order] - packing.counts[order].sum(axis=1)
    share = np.floor(remaining[:, None] * target / np.where(total > 0, total, 1.0)[:, None] + _EPS)
    i, s = np.nonzero(share > 0)  # in the types' order, then the states'
    ts = order[i]
    take = accepted(share[i, s].astype(np.int64), _resources(packing, ts, s)[1:])
    _commit(packing, ts, s, take)


def place_links_all(packing: Packing, bulk: bool) -> None:
    """`Packing.place_links`, with `bulk` in rounds first (`place_links_in_bulk`)."""
    types = packing.types
    if bulk and len(types.link_count):
        place_links_in_bulk(packing, np.lexsort((types.burden[types.link_base], types.persons[types.link_base])))
    packing.place_links()


__all__ = ["BULK_FROM", "accepted", "in_bulk", "fill_tier", "place_all", "place_links_all", "place_links_in_bulk", "place_shares", "ranked_links", "taking_turns_too_long", "turns"]
