"""Targets: from a key's shares to each state's fair share of the burden, before any rounding.

The step between the key (shares that sum to one) and the model (whole persons in families): the
fair share in continuous terms, what is already hosted taken into account when asked, and the fair
shares within capacities and minimums (a common water level) that quotas and plans are held to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .results import column_or_nan


@dataclass(frozen=True)
class Targets:
    """Each state's fair share of the burden, in burden units, before any rounding.

    `key`: the key's raw target, share x the burden to place. `fair`: the water-filled target the
    plan is held to: fair_i = clip(s_i L - h_i, min_i, cap_i) at the one level L where they add
    up to the burden (as near as the bounds allow), h_i what state i already hosts (zero unless
    counted). Where the two differ, `why` says why in words (empty where they agree).
    """

    key: np.ndarray
    fair: np.ndarray
    level: float
    hosted: np.ndarray
    why: tuple[str, ...]


def hosted_persons(states: pd.DataFrame, count_hosted: bool, column: str = "hosted") -> pd.Series | None:
    """Persons each state already hosts when `count_hosted` asks for them, else None; an error when
    it asks and the states file has no such column."""
    if not count_hosted:
        return None
    if column not in states.columns:
        raise InputError(
            f"--count-hosted needs a '{column}' column in the states file",
            file=states.attrs.get("source"),
            column=column,
        )
    values = pd.to_numeric(states[column], errors="coerce")
    bad = values.isna() & states[column].notna() | (values < 0)
    if bad.any():
        code = bad.index[bad.to_numpy()][0]
        raise InputError(
            f"what {code} already hosts must be a number of persons, at least 0",
            file=states.attrs.get("source"),
            row=states.attrs.get("rows", {}).get(code),
            column=column,
        )
    return values


def water_filled(shares, total: float, hosted=None, capacity=None, minimum=None) -> Targets:
    """The water-filled fair shares of `total` (see `Targets`). `hosted`, `capacity`, `minimum`:
    per state in the units of `total`, NaN or None for none.

    Stock versus flow: with what each state already hosts, the new arrivals fill the lowest first,
    so that after the plan every receiving state carries the same load per unit of key share and a
    state already above that level gets nothing (the logic of the Dublin IV corrective allocation).
    Capacities and minimums hold a state at its bound, and the others share what it cannot take
    or must get at the same level, in proportion to their shares."""
    shares = np.asarray(shares, dtype=float)
    n = len(shares)
    h = _per_state(hosted, n, 0.0)
    low = np.maximum(_per_state(minimum, n, 0.0), 0.0) + h
    high = _per_state(capacity, n, np.inf) + h
    level = water_level(shares, low, high)(float(total) + float(h.sum())) if shares.sum() > 0 else 0.0
    fair = np.clip(shares * level, low, high) - h
    key = shares * float(total)
    return Targets(key, fair, level, h, _why(shares, level, fair, key, h, low - h, high - h))


def _per_state(values, n: int, missing: float) -> np.ndarray:
    if values is None:
        return np.full(n, missing)
    out = np.asarray(values, dtype=float).copy()
    out[np.isnan(out)] = missing
    return out


def _why(shares, level, fair, key, hosted, minimum, capacity) -> tuple[str, ...]:
    """Per state, one sentence saying why its fair target differs from its key target ('' if not)."""
    reasons = []
    for s, f, k, h, lo, hi in zip(shares, fair, key, hosted, minimum, capacity):
        wanted = s * level - h  # where the common level alone would put it
        tol = 1e-9 * max(1.0, abs(k))
        if np.isfinite(hi) and f >= hi - tol and wanted > hi + tol:
            reasons.append(f"held at its capacity of {hi:,.1f}; the other states share what it cannot take")
        elif lo > 0 and f <= lo + tol and wanted < lo - tol:
            reasons.append(f"raised to its minimum of {lo:,.1f}")
        elif h > 0 and f <= tol:
            reasons.append(f"already hosts {h:,.0f}, at or above the common level: takes no one more")
        elif h > 0:
            reasons.append(f"already hosts {h:,.0f}: its share of everyone, new and hosted, less what it hosts")
        elif f > k + tol:
            reasons.append("takes its share of what states held at their capacity cannot take")
        elif f < k - tol:
            reasons.append("gives up part of its share to states raised to their minimums")
        else:
            reasons.append("")
    return tuple(reasons)


def state_targets(states: pd.DataFrame, shares: pd.Series, total: float, *, per_person: float = 1.0, count_hosted: bool = False, hosted_column: str = "hosted") -> Targets:
    """The targets of the participants `states`: capacities, minimums and what is hosted come in
    persons and count `per_person` burden units each (the case list's average)."""
    hosted = hosted_persons(states, count_hosted, hosted_column)
    return water_filled(
        shares.to_numpy(dtype=float),
        total,
        hosted=None if hosted is None else pd.to_numeric(hosted, errors="coerce").to_numpy(dtype=float) * per_person,
        capacity=column_or_nan(states, "capacity") * per_person,
        minimum=column_or_nan(states, "minimum") * per_person,
    )


def pledged_targets(
    states: pd.DataFrame, shares: pd.Series, pledged: pd.Series, total: float, *, per_person: float = 1.0, count_hosted: bool = False, hosted_column: str = "hosted"
) -> Targets:
    """The targets when the destinations' pledges are given (the Pact's Solidarity Pool): each
    participant's pledged relocations (`pledged`, by code; none: 0), scaled to the burden to
    place and water-filled under capacities, minimums and what is hosted like the key's shares.
    `key` stays the key's raw target; `why` says, per state, that its target is its pledge."""
    weights = pd.to_numeric(pledged, errors="coerce").reindex(states.index).fillna(0.0).clip(lower=0.0)
    if weights.sum() <= 0:
        raise InputError("no participant pledged any relocation: the pledges give the destinations no targets")
    fair = state_targets(states, weights / weights.sum(), total, per_person=per_person, count_hosted=count_hosted, hosted_column=hosted_column)
    key = shares.to_numpy(dtype=float) * float(total)
    why = tuple(
        f"its pledge of {p:,.0f} relocations, scaled to the burden to place" + (f"; {w}" if w else "")
        for p, w in zip(weights.to_numpy(), fair.why)
    )
    return Targets(key, fair.fair, fair.level, fair.hosted, why)


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
