"""Relocation from several origins: the fair origin x destination targets the model holds each
cell to, and the plan's origin x destination table.

When cases say where they are (`origin`, a benefitting state), each origin's burden is split over
the destinations in proportion to what each destination takes: the biproportional matrix whose
row sums are the origins' burdens and whose column sums are the destinations' fair targets
(`optimizer.biproportional`, iterative proportional fitting), zero on forbidden cells. A cell is
forbidden when no case of the origin may go to the destination: the origin itself (a case is not
relocated to the state it is in), a destination every case of the origin excludes, or, with hard
links, one none of them is linked to. The model then places the families close to these cell
targets (`matrix`: the cell deviations; `stages`: their total, the first stage after persons
placed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..biproportional import biproportional
from .problem import burden_unit, integer_envelope
from .types import CaseTypes
from .warmstart import warm_start


@dataclass(frozen=True)
class Cells:
    """The origin x destination targets (burden units) and, per cell, the integer envelope cut
    (`problem.integer_envelope`, at the burden unit of the origin's cases; None: none)."""

    origins: tuple[str, ...]
    target: np.ndarray  # origins x states
    allowed: np.ndarray  # origins x states: some case of the origin may go there
    envelope: list[list[tuple[float, float] | None]]

    def burden(self, types: CaseTypes, counts: np.ndarray) -> np.ndarray:
        """Burden units per (origin, state) of a plan (types x states counts)."""
        return cell_burden(types, counts, len(self.origins))

    def deviations(self, burden: np.ndarray) -> np.ndarray:
        """The smallest cell deviation variables a plan with these cell burdens satisfies."""
        d = np.abs(burden - self.target)
        for o, row in enumerate(self.envelope):
            for s, envelope in enumerate(row):
                if envelope is not None:
                    d[o, s] = max(d[o, s], envelope[0] + envelope[1] * burden[o, s])
        return d


def cell_burden(types: CaseTypes, counts: np.ndarray, n_origins: int) -> np.ndarray:
    out = np.zeros((n_origins, counts.shape[1]))
    if types.origin is None:
        return out
    given = types.origin >= 0
    np.add.at(out, types.origin[given], counts[given] * types.burden[given, None])
    return out


def cell_targets(types: CaseTypes, fair: np.ndarray, codes: list[str]) -> Cells | None:
    """The cells of a plan whose cases have origins (None when none has one).

    Rows: each origin's burden (its units that may go somewhere), scaled down in proportion when
    the fair targets add up to less than the burden (capacities cannot take everyone). Columns:
    the destinations' fair targets, scaled to the rows' total (cases without an origin take their
    share of every target)."""
    if not types.origins or types.origin is None:
        return None
    n_origins, n_states = len(types.origins), len(codes)
    placeable = np.array([reason == "" for reason in types.no_state_reason], dtype=bool)
    with_origin = (types.origin >= 0) & placeable
    rows = np.bincount(types.origin[with_origin], weights=(types.count * types.burden)[with_origin], minlength=n_origins)
    total = float((types.count * types.burden).sum())
    if total > 0 and fair.sum() < total:
        rows = rows * (float(fair.sum()) / total)
    allowed = np.zeros((n_origins, n_states), dtype=bool)
    for o in range(n_origins):
        allowed[o] = (types.limit[with_origin & (types.origin == o)] > 0).any(axis=0)
    index = pd.Index(types.origins, name="origin")
    # Not strict: where the forbidden cells make the targets unreachable (an origin that is also a
    # destination with a large target, say), each origin's burden is still spread over the cells
    # open to it, as proportionally as they allow; the states' targets then cannot all be met.
    target = biproportional(pd.Series(rows, index=index), pd.Series(fair, index=codes), pd.DataFrame(allowed, index=index, columns=codes), strict=False)
    target = target.to_numpy(dtype=float)
    envelope = []
    for o in range(n_origins):
        unit = burden_unit(types.burden[types.origin == o])
        envelope.append([integer_envelope(float(value), unit) if allowed[o, s] else None for s, value in enumerate(target[o])])
    return Cells(types.origins, target, allowed, envelope)


def cell_warm_start(types: CaseTypes, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], goal: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A first plan close to `goal` (origins x states burdens: the cell targets, or what the cell
    stage's relaxation puts in each cell), for the cell stage to start from: the greedy warm start
    (`warmstart`) with one row of targets per origin, every type held to its origin's row, the
    capacities shared, largest families first whatever their origin; the cases without an origin
    to what is left of the states' targets. (The start for the states alone can be far from every
    cell target, and finding a plan near them is what would cost the solver its time.)"""
    rest = np.maximum(target - goal.sum(axis=0), 0.0)
    return warm_start(types, capacity, need_capacity, np.vstack([goal, rest]))


def origin_table(cases: pd.DataFrame, cells: Cells, codes: list[str]) -> pd.DataFrame:
    """The plan per (origin, destination), from the placed case list (`case_id, origin, state,
    size, weight`): target (burden units), persons, burden, deviation (burden - target), cases,
    and whether any case of the origin may go there (`allowed`). Every origin x participant but
    the origin itself (never a destination of its own cases)."""
    placed = cases[(cases["origin"] != "") & (cases["state"] != "")]
    tally = placed.groupby(["origin", "state"]).agg(cases=("case_id", "size"), persons=("size", "sum"), burden=("weight", "sum"))
    rows = []
    for o, origin in enumerate(cells.origins):
        for s, code in enumerate(codes):
            if code == origin:
                continue
            got = tally.loc[(origin, code)] if (origin, code) in tally.index else None
            burden = float(got["burden"]) if got is not None else 0.0
            rows.append(
                {
                    "origin": origin,
                    "destination": code,
                    "target": float(cells.target[o, s]),
                    "persons": int(got["persons"]) if got is not None else 0,
                    "burden": burden,
                    "deviation": burden - float(cells.target[o, s]),
                    "cases": int(got["cases"]) if got is not None else 0,
                    "allowed": bool(cells.allowed[o, s]),
                }
            )
    return pd.DataFrame(rows, columns=ORIGIN_COLUMNS)


# The columns of the origin x destination table (plan_origins.csv).
ORIGIN_COLUMNS = ["origin", "destination", "target", "persons", "burden", "deviation", "cases", "allowed"]


__all__ = ["Cells", "ORIGIN_COLUMNS", "cell_burden", "cell_targets", "cell_warm_start", "origin_table"]
