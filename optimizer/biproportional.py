"""Biproportional fitting: the matrix with given row and column sums, zero on forbidden cells.

Without forbidden cells it is the product row x column / total; with forbidden cells it is the
limit of iterative proportional fitting (IPF, Deming-Stephan), which scales the rows and the
columns in turn. The limit keeps the form a_i x b_j on every allowed cell, so among the matrices
with these margins and zeros it is the one nearest the proportional split (least Kullback-Leibler
divergence from it).

Such a matrix exists only when every group of rows can reach columns with enough room (Hall's
condition); `biproportional` checks that first with a max-flow, so an impossible pattern is refused
in words instead of never converging.

Used for the fair origin x destination targets of relocation from several benefitting states:
`optimizer.solidarity.origins` (the data side) and the placement model's cell targets
(`optimizer.model.origins`). It lives here, below both, so that neither imports the other.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from .errors import InfeasibleError, InputError

TOLERANCE = 1e-9  # largest margin error, relative to the total, that counts as converged
MAX_ITERATIONS = 100_000


def biproportional(
    rows: pd.Series,
    columns: pd.Series,
    allowed: pd.DataFrame | None = None,
    *,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
    strict: bool = True,
) -> pd.DataFrame:
    """The origin x destination matrix with row sums `rows` and column sums `columns` (scaled to
    the same total), zero where `allowed` is False (default: every cell but an origin to itself).

    Raises InfeasibleError (naming the origins that cannot be placed) when no such matrix exists,
    InputError for negative or non-finite totals. With `strict=False` an impossible pattern gives
    instead the matrix IPF tends to when its row steps come last (`_rows_fitted`): every row sum
    met, the columns as far as the forbidden cells let them (a destination that only some origins
    may reach gets what they can send, in proportion)."""
    r = _totals(rows, "origin people")
    c = _totals(columns, "destination targets")
    if allowed is None:
        allowed = pd.DataFrame(True, index=rows.index, columns=columns.index)
        for code in set(rows.index) & set(columns.index):
            allowed.loc[code, code] = False
    mask = allowed.reindex(index=rows.index, columns=columns.index, fill_value=False).to_numpy(dtype=bool)
    total = r.sum()
    if total == 0:
        return pd.DataFrame(0.0, index=rows.index, columns=columns.index)
    if c.sum() <= 0:
        raise InfeasibleError(f"{total:,.0f} people to relocate but every destination's target is zero")
    c = c * (total / c.sum())
    mask = mask & (r[:, None] > 0) & (c[None, :] > 0)
    try:
        _check_hall(r, c, mask, rows.index, columns.index)
    except InfeasibleError:
        if strict:
            raise
        return pd.DataFrame(_rows_fitted(r, c, mask, tolerance * total, max_iterations), index=rows.index, columns=columns.index)
    x = mask.astype(float)
    for _ in range(max_iterations):
        x *= _ratio(r, x.sum(axis=1))[:, None]
        x *= _ratio(c, x.sum(axis=0))[None, :]
        if np.abs(x.sum(axis=1) - r).max() <= tolerance * total:
            break
    else:
        raise InfeasibleError(
            f"the origin x destination split did not converge in {max_iterations:,} rounds "
            "(the forbidden cells leave almost no room; check the exclusions)"
        )
    return pd.DataFrame(x, index=rows.index, columns=columns.index)


def _rows_fitted(r: np.ndarray, c: np.ndarray, mask: np.ndarray, tolerance: float, max_iterations: int) -> np.ndarray:
    """IPF on margins no matrix can meet: column steps, then row steps, until a round changes no
    cell by more than `tolerance`; the row sums are met (rows with no allowed cell stay zero)."""
    x = mask.astype(float)
    for _ in range(max_iterations):
        before = x.copy()
        x *= _ratio(c, x.sum(axis=0))[None, :]
        x *= _ratio(r, x.sum(axis=1))[:, None]
        if np.abs(x - before).max() <= tolerance:
            break
    return x


def _totals(values: pd.Series, what: str) -> np.ndarray:
    array = values.to_numpy(dtype=float)
    if not np.isfinite(array).all() or (array < 0).any():
        raise InputError(f"{what} must be finite numbers >= 0")
    return array


def _ratio(want: np.ndarray, have: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(have > 0, want / np.where(have > 0, have, 1.0), 0.0)


def _check_hall(r: np.ndarray, c: np.ndarray, mask: np.ndarray, origins: pd.Index, destinations: pd.Index) -> None:
    """Refuse margins no matrix with these zeros can meet: a max-flow from the origins (capacity
    their people) through the allowed cells to the destinations (capacity their targets) must
    carry everyone; if not, the origins still reachable in the residual graph are a group whose
    people exceed the targets of every destination open to them."""
    n, m = mask.shape
    source, sink = n + m, n + m + 1
    capacity: dict[tuple[int, int], float] = {}
    neighbours: list[set[int]] = [set() for _ in range(n + m + 2)]

    def edge(a: int, b: int, cap: float) -> None:
        capacity[(a, b)] = capacity.get((a, b), 0.0) + cap
        capacity.setdefault((b, a), 0.0)
        neighbours[a].add(b)
        neighbours[b].add(a)

    for i in range(n):
        edge(source, i, r[i])
        for j in np.flatnonzero(mask[i]):
            edge(i, n + int(j), np.inf)
    for j in range(m):
        edge(n + j, sink, c[j])
    flow, total = 0.0, r.sum()
    while True:
        parent = _augmenting_path(capacity, neighbours, source, sink, 1e-12 * total)
        if parent is None:
            break
        path, node = [], sink
        while node != source:
            path.append((parent[node], node))
            node = parent[node]
        push = min(capacity[e] for e in path)
        for a, b in path:
            capacity[(a, b)] -= push
            capacity[(b, a)] += push
        flow += push
    if flow >= total * (1 - 1e-9):
        return
    reached = _augmenting_path(capacity, neighbours, source, None, 1e-12 * total) or {}
    group = [i for i in range(n) if i in reached]
    open_to = sorted({int(j) for i in group for j in np.flatnonzero(mask[i])})
    raise InfeasibleError(
        f"origins {', '.join(map(str, origins[group]))} have {r[group].sum():,.2f} people but the destinations open to them "
        f"({', '.join(map(str, destinations[open_to])) or 'none'}) have targets of only {c[open_to].sum():,.2f} "
        "(after scaling the targets to the people): no split meets every target"
    )


def _augmenting_path(capacity: dict, neighbours: list[set[int]], source: int, sink: int | None, epsilon: float) -> dict | None:
    """Breadth-first search in the residual graph: the parent of each node reached on a path to
    `sink`, or, with sink None, every node reachable (parents of the reachable set)."""
    parent = {source: source}
    queue = deque([source])
    while queue:
        a = queue.popleft()
        for b in sorted(neighbours[a]):
            if b not in parent and capacity[(a, b)] > epsilon:
                parent[b] = a
                if b == sink:
                    return parent
                queue.append(b)
    return parent if sink is None else None


__all__ = ["biproportional"]
