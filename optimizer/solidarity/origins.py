"""Relocation from several benefitting states: the fair origin x destination targets.

Each origin's people are split over the destinations in proportion to what each destination
takes: the matrix whose row sums are each origin's people and whose column sums are each
destination's target, as close as possible to "the same split for every origin". Without
forbidden cells that is the product row x column / total; with forbidden cells (an origin never
relocates to itself; cases excluding a destination, or bound to their linked states) it is the
limit of iterative proportional fitting (IPF, Deming-Stephan), which scales the rows and the
columns in turn. The limit keeps the form a_i x b_j on every allowed cell, so among the matrices
with these margins and zeros it is the one nearest the proportional split (least
Kullback-Leibler divergence from it).

Such a matrix exists only when every group of origins can reach destinations with enough room
(Hall's condition); `biproportional` checks that first with a max-flow, so an impossible pattern is
refused in words instead of never converging.

The destinations' targets are scaled to the people to relocate: a pool of 21,000 relocations
shared over a case list of 6,000 persons keeps each destination's share of the pool.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from ..errors import InfeasibleError, InputError

TOLERANCE = 1e-9  # largest margin error, relative to the total, that counts as converged
MAX_ITERATIONS = 100_000


def biproportional(
    rows: pd.Series,
    columns: pd.Series,
    allowed: pd.DataFrame | None = None,
    *,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> pd.DataFrame:
    """The origin x destination matrix with row sums `rows` and column sums `columns` (scaled to
    the same total), zero where `allowed` is False (default: every cell but an origin to itself).

    Raises InfeasibleError (naming the origins that cannot be placed) when no such matrix exists,
    InputError for negative or non-finite totals."""
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
    _check_hall(r, c, mask, rows.index, columns.index)
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


def people_by_origin(cases: pd.DataFrame) -> pd.Series:
    """Persons per origin in a case list with an `origin` column (cases without one left out)."""
    if "origin" not in cases.columns:
        raise InputError("the cases have no 'origin' column", file=cases.attrs.get("source"), row=1, column="origin")
    given = cases[cases["origin"] != ""]
    return given.groupby("origin", sort=False)["size"].sum().astype(float)


def allowed_cells(cases: pd.DataFrame, destinations: list[str], hard_links: bool = False) -> pd.DataFrame:
    """origin x destination: True where at least one case of that origin may go (not the origin
    itself, not excluded by the case, and with hard links only its linked states)."""
    origins = list(dict.fromkeys(cases.loc[cases["origin"] != "", "origin"]))
    allowed = pd.DataFrame(False, index=pd.Index(origins, name="origin"), columns=pd.Index(destinations, name="destination"))
    kinds = cases.loc[cases["origin"] != "", ["origin", "excluded", "links"]].drop_duplicates()
    for origin, excluded, links in kinds.itertuples(index=False):
        banned = set(excluded.split(";")) if excluded else set()
        open_to = [d for d in destinations if d != origin and d not in banned]
        if hard_links and links:
            linked = set(links.split(";"))
            open_to = [d for d in open_to if d in linked]
        allowed.loc[origin, open_to] = True
    return allowed


__all__ = ["allowed_cells", "biproportional", "people_by_origin"]
