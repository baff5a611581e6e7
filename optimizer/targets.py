"""Targets: from a key's shares to each state's fair share of the burden, before any rounding.

The step between the key (shares that sum to one) and the model (whole persons in families): the
fair share in continuous terms, what is already hosted taken into account when asked, and the fair
shares within capacities and minimums (a common water level) that quotas and plans are held to.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .errors import InputError


def hosted_persons(states: pd.DataFrame, count_hosted: bool) -> pd.Series | None:
    """Persons each state already hosts when `count_hosted` asks for them, else None; an error when
    it asks and the states file has no `hosted` column."""
    if not count_hosted:
        return None
    if "hosted" not in states.columns:
        raise InputError(
            "--count-hosted needs a 'hosted' column in the states file",
            file=states.attrs.get("source"),
            column="hosted",
        )
    return states["hosted"]


def fair_targets(shares: pd.Series, total_burden: float, hosted: pd.Series | None = None) -> pd.Series:
    """Fair shares of the burden. With `hosted`, shares apply to the total plus what is already
    hosted, and each state's target is that minus what it hosts, never below zero (stock vs flow)."""
    if hosted is None:
        return shares * total_burden
    hosted = hosted.fillna(0.0)
    return (shares * (total_burden + hosted.sum()) - hosted).clip(lower=0.0)


def bounded_quotas(shares: np.ndarray, lower: np.ndarray, upper: np.ndarray, house: float) -> np.ndarray:
    """Fair quotas of `house` within bounds: clamp(s_i * L, lower_i, upper_i) at the level L where
    they sum to `house` (as near as the bounds allow). The states a bound holds are frozen and the
    rest share out what they cannot take, in proportion to their shares."""
    shares, lower, upper = (np.asarray(a, dtype=float) for a in (shares, lower, upper))
    return np.clip(shares * water_level(shares, lower, upper)(house), lower, upper)


def water_level(shares: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Callable[[float], float]:
    """The level L(h) such that the quotas clamp(s_i * L, lower_i, upper_i) sum to the house size h.

    Clamping at that level is the fixed point of "freeze the states over capacity (or under their
    minimum), spread the rest again by renormalised shares, repeat", computed in one pass from the
    breakpoints of the piecewise-linear sum, so the answer does not depend on the freezing order.
    """
    weighted = shares > 0
    knots = np.concatenate(
        ([0.0], lower[weighted] / shares[weighted], upper[weighted] / shares[weighted])
    )
    knots = np.unique(knots[np.isfinite(knots)])
    filled = np.clip(shares[:, None] * knots[None, :], lower[:, None], upper[:, None]).sum(axis=0)
    open_share = float(shares[weighted & np.isinf(upper)].sum())

    def level(house: float) -> float:
        if house >= filled[-1]:
            extra = (house - filled[-1]) / open_share if open_share > 0 else 0.0
            return float(knots[-1] + extra)
        j = int(np.searchsorted(filled, house, side="right")) - 1
        rise = filled[j + 1] - filled[j]
        fraction = (house - filled[j]) / rise if rise > 0 else 0.0
        return float(knots[j] + fraction * (knots[j + 1] - knots[j]))

    return level


def bounded_targets(target: np.ndarray, capacity: np.ndarray, minimum: np.ndarray, per_person: float, placed_burden: float) -> np.ndarray:
    """The fair shares within capacities: a state whose capacity (or minimum) holds it is frozen
    there, and the rest share out `placed_burden` in proportion to their targets (the reference the
    `lp` quota method breaks its ties by, too). Capacities and minimums count persons (NaN: none);
    they become burden units at `per_person` burden units per person."""
    total = float(target.sum())
    if total <= 0:
        return target.copy()
    upper = np.where(np.isnan(capacity), np.inf, capacity * per_person)
    lower = np.where(np.isnan(minimum), 0.0, minimum * per_person)
    return bounded_quotas(target / total, lower, upper, placed_burden)
