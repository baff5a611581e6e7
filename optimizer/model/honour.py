"""Which linked units are honoured, for a plan's fixed counts (part of the model step).

A link class's units are honoured in a state when units of their base type are there; for pooled
exclusions (`CaseTypes.excluded`) the units left over must still fit the other states."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .bulk import accepted, in_bulk, ranked_links, taking_turns_too_long, turns

if TYPE_CHECKING:
    from .types import CaseTypes


def honour_given(types: CaseTypes, counts: np.ndarray, preferred: np.ndarray | None = None) -> np.ndarray:
    """Honoured link-class units per state for fixed counts (link classes x states), greedily: the
    `preferred` choice first as far as it still fits, then classes with the most honour first.

    Within the counts: honoured units of a type in a state are units of that type there, and for
    pooled types (`CaseTypes.excluded`) the units left over must still fit the other states: the
    row x[t,s'] + (honoured units of t elsewhere than s' that may go to s') <= limit[t,s'] of the
    model, tracked here as a slack per (type, state).
    """
    n_classes = len(types.link_count)
    n_states = counts.shape[1]
    honoured = np.zeros((n_classes, n_states), dtype=np.int64)
    if n_classes == 0:
        return honoured

    used = np.zeros_like(counts)
    left = types.link_count.astype(np.int64).copy()
    rows = (types.excluded > 0) & (types.limit > 0)
    slack = np.where(rows, types.limit - counts, np.iinfo(np.int64).max // 4)

    def take(l: int, s: int, want: int) -> None:
        t, e = int(types.link_base[l]), int(types.link_excluded[l])
        k = min(want, int(left[l]), int(counts[t, s] - used[t, s]))
        others = np.ones(n_states, dtype=bool)
        others[s] = False
        if e >= 0:
            others[e] = False
        if others.any():
            k = min(k, int(slack[t, others].min()))
        if k > 0:
            honoured[l, s] += k
            used[t, s] += k
            left[l] -= k
            slack[t, others] -= k

    most = np.array([h.max() for h in types.link_honour], dtype=float)
    by_honour = np.argsort(-most, kind="stable")
    one_by_one = np.ones(n_classes, dtype=bool)
    if in_bulk(types):
        one_by_one[by_honour] = _in_bulk(types, counts, preferred, by_honour, honoured, used, left, slack)
    if preferred is not None:
        for l, s in zip(*np.nonzero(preferred)):
            if one_by_one[l]:
                take(int(l), int(s), int(preferred[l, s]))
    for l in by_honour[one_by_one[by_honour]]:
        for k in np.argsort(-types.link_honour[l], kind="stable"):
            if left[l] == 0:
                break
            take(int(l), int(types.link_states[l][k]), int(left[l]))
    return honoured


def _in_bulk(types: CaseTypes, counts: np.ndarray, preferred: np.ndarray | None, by_honour: np.ndarray, honoured: np.ndarray, used: np.ndarray, left: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """`honour_given` in rounds (many link classes): the preferred entries, then every class's
    first linked state (classes in the order `by_honour`), then its second, ...; each round within
    the units of each type left in each state (`bulk.accepted`). The entries of a pooled type take
    turns, one per round: an honoured unit takes slack from every pooled row of its type but its
    own state's and its excluded state's. Returns, per class of `by_honour`, whether it was left
    to the one-by-one greedy (a pooled type's classes beyond the turns it may take)."""
    n_states = counts.shape[1]
    pooled = (slack < np.iinfo(np.int64).max // 4).any(axis=1)[types.link_base]
    apart = taking_turns_too_long(types, by_honour, pooled)
    mine = np.ones(len(types.link_count), dtype=bool)
    mine[by_honour[apart]] = False

    def honour(ls: np.ndarray, states: np.ndarray, want: np.ndarray) -> None:
        ts, excluded = types.link_base[ls], types.link_excluded[ls]
        others = np.ones((len(ls), n_states), dtype=bool)
        at = np.arange(len(ls))
        others[at, states] = False
        others[at[excluded >= 0], excluded[excluded >= 0]] = False
        resources = [
            (ts * n_states + states, np.ones(len(ls)), (counts[ts, states] - used[ts, states]).astype(float)),
            (ls, np.ones(len(ls)), left[ls].astype(float)),
            (ts, np.ones(len(ls)), np.where(others, slack[ts], np.inf).min(axis=1, initial=np.inf)),
        ]
        k = accepted(want, resources)
        np.add.at(honoured, (ls, states), k)
        np.add.at(used, (ts, states), k)
        np.subtract.at(left, ls, k)
        np.subtract.at(slack, ts, k[:, None] * others)

    if preferred is not None:
        l, s = np.nonzero(preferred)
        l, s = l[mine[l]], s[mine[l]]
        turn = np.where(pooled[l], turns(types.link_base[l]), 0)
        for r in range(int(turn.max(initial=-1)) + 1):
            now = turn == r
            honour(l[now], s[now], preferred[l[now], s[now]])
    owner, states, rounds = ranked_links(types, by_honour[~apart], pooled)
    bounds = np.r_[0, np.flatnonzero(np.diff(rounds)) + 1, len(rounds)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        has = left[owner[a:b]] > 0
        honour(owner[a:b][has], states[a:b][has], left[owner[a:b][has]])
    return apart
