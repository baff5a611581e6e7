"""Solver interfaces: one abstract `Backend`, one subclass per way of solving.

The placement model (`model.matrix`) is written once, as columns and rows in numpy arrays; a
backend only loads those into a solver, changes objectives and bounds, and solves. `highs` loads
the matrix into HiGHS in bulk (the fast default); `pulp` builds the same matrix as a PuLP problem
and solves it with CBC or with HiGHS through PuLP (a real second solver, and the tests' oracle).
"""

from __future__ import annotations

from ...settings import Settings, Solver
from .base import Backend


def make_backend(settings: Settings, reference: bool = False) -> Backend:
    """HiGHS in bulk by default; PuLP for CBC, or with `reference` (HiGHS through PuLP)."""
    if settings.solver == Solver.HIGHS and not reference:
        from .highs import HighsBackend

        return HighsBackend(settings.gap)
    from .pulp import PulpBackend

    return PulpBackend(settings.solver, settings.gap)
