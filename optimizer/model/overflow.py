"""Sharing what full states cannot take: among equally good plans, one near the fair shares
within capacities.

A post-processing step after the stages: it moves units only in ways that change no stage's
objective, so every proof the solver gave still holds.
"""

from __future__ import annotations

import numpy as np

from .problem import Problem
from .types import hall_rows


def share_overflow(problem: Problem, counts: np.ndarray, honoured: np.ndarray, keep_worst: bool = False) -> np.ndarray:
    """Among plans exactly as good as `counts` in every objective, one closer to the fair shares
    within capacities (`Problem.bounded_targets`).

    When capacities bind, what full states cannot take must go to states already at or over their
    target, and the total deviation is the same wherever it goes: the solver returns any of these
    equally good plans, which can load a small state several times over its share. Moving units
    between two states that both stay at or over their targets changes no objective: persons
    placed and total deviation stay, honoured units (`honoured`, link classes x states) stay
    where they are, each type stays within its per-state limits and the pooled-exclusion rows
    (see CaseTypes and hall_rows), and with `keep_worst` no state passes the largest relative
    deviation the minimax stage fixed. So the solver's proof of every stage still holds.
    The moves are greedy: from the state furthest over its bounded target to the one furthest
    under it, as many units at a time as keep improving."""
    types = problem.types
    burden = problem.burden(counts)
    reference = problem.bounded_targets(float(burden.sum()))
    target = problem.target
    tol = 1e-9 * max(1.0, float(np.abs(target).sum()))
    candidates = np.flatnonzero(types.count > 0)
    if not len(candidates) or np.allclose(reference, target, rtol=0.0, atol=tol):
        return counts
    pinned = np.zeros(counts.shape)  # honoured units per type and state: they stay
    np.add.at(pinned, types.link_base, honoured)
    room = _room(types, honoured)
    counts = counts.copy()
    persons = (counts * types.persons[:, None]).sum(axis=0).astype(float)
    needs = {n: (counts * q[:, None]).sum(axis=0).astype(float) for n, q in types.need_persons.items()}
    capacity = np.where(np.isnan(problem.capacity), np.inf, problem.capacity)
    minimum = np.nan_to_num(problem.minimum, nan=0.0)
    need_capacity = {n: np.where(np.isnan(c), np.inf, c) for n, c in problem.need_capacity.items()}
    scale = problem.scales()
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
        for tally, per_unit in [(counts[t], 1), (burden, w), (persons, p)] + [(needs[n], q[t]) for n, q in types.need_persons.items()]:
            tally[a] -= k * per_unit
            tally[b] += k * per_unit
    return counts


def _room(types, honoured: np.ndarray) -> np.ndarray:
    """Room per type and state: its limit, less (on the pooled rows, see hall_rows) the honoured
    units of the type pinned elsewhere that may also go there."""
    room = types.limit.astype(float).copy()
    for t, b in zip(*np.nonzero(hall_rows(types))):
        for l in np.flatnonzero((types.link_base == t) & (types.link_excluded != b)):
            room[t, b] -= honoured[l].sum() - honoured[l, b]
    return room
