"""Which linked units are honoured, for a plan's fixed counts (part of the model step).

A link class's units are honoured in a state when units of their base type are there; for pooled
exclusions (`CaseTypes.excluded`) the units left over must still fit the other states."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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

    if preferred is not None:
        for l, s in zip(*np.nonzero(preferred)):
            take(int(l), int(s), int(preferred[l, s]))
    for l in np.argsort(-np.array([h.max() for h in types.link_honour], dtype=float), kind="stable"):
        for k in np.argsort(-types.link_honour[l], kind="stable"):
            if left[l] == 0:
                break
            take(int(l), int(types.link_states[l][k]), int(left[l]))
    return honoured
