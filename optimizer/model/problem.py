"""The numbers one placement is solved over: case types, targets, capacities, the envelope cuts.

Built once per plan from the participants' table and the targets; every stage, backend, the warm
start and the overflow sharing read it, none changes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from ..results import column_or_nan
from ..io.states import CAPACITY_PREFIX
from .types import CaseTypes


@dataclass(frozen=True)
class Problem:
    """Everything the stages need, as arrays over participants (NaN: no limit)."""

    types: CaseTypes
    target: np.ndarray
    capacity: np.ndarray
    minimum: np.ndarray
    need_capacity: dict[str, np.ndarray]
    envelope: list[tuple[float, float] | None]
    total_persons: int
    unit: float | None  # the burden unit every plan's state burdens are multiples of (None: none)
    # Relocation from several origins: the origin x destination targets (an `origins.Cells`), or None
    cells: "Cells | None" = None  # noqa: F821 (origins imports this module, not the other way round)

    @property
    def n_states(self) -> int:
        return len(self.target)

    def most_honour(self) -> float:
        """Every link honoured in its best state: the bound for the links stage."""
        return float(sum(int(self.types.link_count[l]) * int(h.max()) for l, h in enumerate(self.types.link_honour)))

    def honour_value(self, honoured: np.ndarray) -> float:
        return float(sum(float(honoured[l, self.types.link_states[l]] @ h) for l, h in enumerate(self.types.link_honour)))

    def burden(self, counts: np.ndarray) -> np.ndarray:
        """Burden units per state of a plan (types x states counts)."""
        return (counts * self.types.burden[:, None]).sum(axis=0).astype(float)

    def deviations(self, burden: np.ndarray) -> np.ndarray:
        """The smallest deviation variables a plan with these burdens satisfies (over, under, envelope)."""
        d = np.abs(burden - self.target)
        for s, envelope in enumerate(self.envelope):
            if envelope is not None:
                d[s] = max(d[s], envelope[0] + envelope[1] * burden[s])
        return d

    def scales(self) -> np.ndarray:
        """What a state's deviation is divided by for its relative deviation (1 where the target is 0)."""
        return np.where(self.target > 0, self.target, 1.0)

    def squares(self, burden: np.ndarray) -> np.ndarray:
        """Each state's squared relative deviation (B_s - T_s)^2 / scale_s (the Sainte-Lague measure)."""
        return (burden - self.target) ** 2 / self.scales()


def make_problem(states: pd.DataFrame, target: np.ndarray, types: CaseTypes, cells=None) -> Problem:
    unit = burden_unit(types.burden)
    return Problem(
        types=types,
        target=target,
        capacity=column_or_nan(states, "capacity"),
        minimum=column_or_nan(states, "minimum"),
        need_capacity={n: column_or_nan(states, CAPACITY_PREFIX + n) for n in types.need_persons},
        envelope=[integer_envelope(float(value), unit) for value in target],
        total_persons=int((types.count * types.persons).sum()),
        unit=unit,
        cells=cells,
    )


def burden_unit(burden: np.ndarray) -> float | None:
    """The largest u such that every burden is a whole multiple of u (1 for whole persons, 0.5 for
    half units, ...), or None when the weights have no small common unit."""
    unit = Fraction(0)
    for value in np.unique(burden):
        fraction = Fraction(float(value)).limit_denominator(1000)
        if abs(float(fraction) - float(value)) > 1e-12 * max(1.0, abs(float(value))):
            return None
        unit = Fraction(math.gcd(unit.numerator * fraction.denominator, fraction.numerator * unit.denominator), unit.denominator * fraction.denominator) if unit else fraction
    return float(unit) if unit > 0 else None


def integer_envelope(target: float, unit: float | None) -> tuple[float, float] | None:
    """The tight lower bound of |B - target| between the two whole multiples of `unit` around it.

    B takes only values k x unit, so |B - T| lies on or above the chord joining its values at the
    multiples just below and above T. Adding that chord as a cut makes the LP relaxation see the
    integer rounding loss (DOMAIN.md section 6's lower bound), which is what lets the solver prove
    optimality quickly instead of branching over symmetric plans.
    """
    if unit is None:
        return None
    low = math.floor(target / unit + 1e-12) * unit
    high = low + unit
    below, above = target - low, high - target
    if below < 1e-12 or above < 1e-12:
        return None
    slope = (above - below) / unit  # from (low, below) to (high, above)
    return below - slope * low, slope


def squares_noise(n_states: int) -> float:
    """How far a solver's sum of the squares' cut columns may sit below the squares of its own
    solution: each cut is a row the solver keeps only to its feasibility tolerance (1e-7, HiGHS's
    and CBC's default), one binding cut per state. Sums of squared relative deviations are often
    far below 1 (0.0036 for 50,000 cases in 32 states), so this, not the relative gap, limits how
    exactly the squares stage is proven: a plan within it of a bound counts as meeting it."""
    return 1e-7 * n_states


def square_cut_points(target: np.ndarray, deviation: float, unit: float | None, most: int) -> list[np.ndarray]:
    """Burdens per state, one array per round of cuts of the squares, spread over [target - D,
    target + D] (D: the total deviation, so no state's burden lies outside): at every other multiple
    of the unit where they are at most `most`, else at most `most` evenly spread multiples."""
    reach = max(float(deviation), unit or 1.0)
    step = 2 * unit if unit else 2 * reach / most
    if unit and 2 * reach / step > most:
        step = unit * np.ceil(2 * reach / (most * unit))
    half = int(np.ceil(reach / step))
    offsets = np.arange(-half, half + 1) * step  # multiples of the unit, where there is one
    base = np.round(target / unit) * unit if unit else target
    return [np.maximum(base + offset, 0.0) for offset in offsets]
