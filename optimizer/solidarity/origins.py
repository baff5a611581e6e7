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

import pandas as pd

from ..biproportional import _check_hall, biproportional  # noqa: F401 (the IPF itself lives below the model and this package)
from ..errors import InputError


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
