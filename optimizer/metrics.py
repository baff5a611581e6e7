"""Fairness metrics of a plan: how far the allocation is from the fair shares, and for whom.

Notation (DOMAIN.md section 4): for each participating state i, the allocation a_i (in burden units:
the `burden` column of a plan, which equals persons unless need weights or case weights apply), the
fair-share target t_i (same units), A = sum a_i, T = sum t_i, the population P_i and GDP G_i.

Per state:
- deviation d_i = a_i - t_i, and 100 d_i / t_i in percent;
- ratio to fair share r_i = a_i / t_i (1 is exactly the fair share);
- persons allocated per 1,000 inhabitants 1000 x persons_i / P_i, per EUR bn of GDP persons_i / (G_i / 1000)
  (the UNHCR host-burden indicators; persons, not burden units);
- capacity use persons_i / capacity_i.

Overall:
- total absolute deviation sum |a_i - t_i|;
- Loosemore-Hanby LH = 1/2 sum |a_i/A - t_i/T| (the share of the total that would have to move to
  reach the fair shares; also the Hoover or Robin Hood index), in [0, 1];
- Gallagher (least squares) G = sqrt(1/2 sum (100 (a_i/A - t_i/T))^2), in percentage points;
- max r, min r and max r / min r;
- Gini of r weighted by t: sum_i sum_j w_i w_j |r_i - r_j| / (2 mu) with w_i = t_i/T and
  mu = sum w_i r_i; 0 when every state gets its fair share in proportion;
- Theil of r weighted by t: sum_i w_i (r_i/mu) ln(r_i/mu) (equal to sum_i s_i ln(s_i / w_i) with
  s_i = a_i / A: the Kullback-Leibler divergence of the allocation shares from the target shares);
- per-capita dispersion: the coefficient of variation (population standard deviation over mean,
  unweighted across states) of persons per 1,000 inhabitants;
- states at capacity, persons and cases unplaced, family groups kept together and split, family
  links honoured; the rounding floor sum_i min(frac t_i, 1 - frac t_i), a lower bound on the total
  absolute deviation of any whole-unit allocation when burden units are whole (DOMAIN.md section 6).

Zero targets and zero allocations, handled without dividing by zero:
- a state with t_i = 0 has no ratio (NaN) and no deviation in percent; it has weight 0 in the
  Gini and Theil indices and is left out of the ratio extremes; what it receives still counts in the
  deviation, Loosemore-Hanby and Gallagher. `zero_target_allocated` counts such states with a_i > 0;
- a state with a_i = 0 has r_i = 0 (min ratio 0, so max/min is undefined: NaN), and 0 ln 0 = 0 in
  Theil;
- when nothing is allocated (A = 0) or nothing is due (T = 0), the share-based indices (LH,
  Gallagher, Gini, Theil) are undefined and NaN;
- per-capita and per-GDP values are NaN where the states table lacks the column or the value is 0;
  the dispersion uses the states that have a value. Capacity use is NaN without a positive capacity.
NaN becomes `null` in JSON and an empty cell in CSV and Excel.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from .results import Counts, Plan

# ---------------------------------------------------------------------------------------------
# The indices, on plain arrays


def _arrays(allocated, target) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(allocated, dtype=float)
    t = np.asarray(target, dtype=float)
    if a.shape != t.shape:
        raise ValueError("allocation and target differ in length")
    if (a < 0).any() or (t < 0).any():
        raise ValueError("allocations and targets must be non-negative")
    return a, t


def total_absolute_deviation(allocated, target) -> float:
    """sum_i |a_i - t_i|."""
    a, t = _arrays(allocated, target)
    return float(np.abs(a - t).sum())


def _share_gaps(allocated, target) -> np.ndarray | None:
    a, t = _arrays(allocated, target)
    if a.sum() <= 0 or t.sum() <= 0:
        return None
    return a / a.sum() - t / t.sum()


def loosemore_hanby(allocated, target) -> float:
    """1/2 sum_i |a_i/A - t_i/T|: the share of the total that would have to move; NaN if A or T is 0."""
    gaps = _share_gaps(allocated, target)
    return math.nan if gaps is None else float(0.5 * np.abs(gaps).sum())


def gallagher(allocated, target) -> float:
    """sqrt(1/2 sum_i (100 (a_i/A - t_i/T))^2), in percentage points; NaN if A or T is 0."""
    gaps = _share_gaps(allocated, target)
    return math.nan if gaps is None else float(np.sqrt(0.5 * np.sum((100 * gaps) ** 2)))


def ratios(allocated, target) -> np.ndarray:
    """r_i = a_i / t_i; NaN where t_i = 0."""
    a, t = _arrays(allocated, target)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t > 0, a / np.where(t > 0, t, 1.0), np.nan)


def _weighted(values, weights) -> tuple[np.ndarray, np.ndarray] | None:
    """Values and normalised weights over the entries with positive weight and a value."""
    r = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = (w > 0) & ~np.isnan(r)
    r, w = r[keep], w[keep]
    if w.sum() <= 0:
        return None
    w = w / w.sum()
    if np.sum(w * r) <= 0:
        return None
    return r, w


def gini(values, weights) -> float:
    """Weighted Gini sum_i sum_j w_i w_j |x_i - x_j| / (2 mu), w normalised, mu = sum w_i x_i.

    Entries with zero weight or NaN value are left out; NaN when the weighted mean is 0."""
    data = _weighted(values, weights)
    if data is None:
        return math.nan
    r, w = data
    mu = float(np.sum(w * r))
    return float(np.sum(np.outer(w, w) * np.abs(r[:, None] - r[None, :])) / (2 * mu))


def theil(values, weights) -> float:
    """Weighted Theil T index sum_i w_i (x_i/mu) ln(x_i/mu), with 0 ln 0 = 0; NaN when mu is 0."""
    data = _weighted(values, weights)
    if data is None:
        return math.nan
    r, w = data
    rel = r / float(np.sum(w * r))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(rel > 0, rel * np.log(np.where(rel > 0, rel, 1.0)), 0.0)
    return float(max(0.0, np.sum(w * terms)))


def lorenz(allocated, target) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of the ratio to fair share: states sorted by r ascending, x = cumulative target
    share, y = cumulative allocation share (both start at 0 and end at 1). States with t_i = 0 are
    left out. The Gini index above is 1 - sum_k (x_k - x_{k-1}) (y_k + y_{k-1})."""
    a, t = _arrays(allocated, target)
    keep = t > 0
    a, t = a[keep], t[keep]
    if t.sum() <= 0 or a.sum() <= 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    order = np.lexsort((np.arange(len(t)), a / t))
    x = np.concatenate([[0.0], np.cumsum(t[order]) / t.sum()])
    y = np.concatenate([[0.0], np.cumsum(a[order]) / a.sum()])
    return x, y


def coefficient_of_variation(values) -> float:
    """Population standard deviation / mean over the finite values; NaN for fewer than one or mean 0."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0 or x.mean() == 0:
        return math.nan
    return float(x.std(ddof=0) / x.mean())


def rounding_floor(target) -> float:
    """sum_i min(frac t_i, 1 - frac t_i): no whole-unit allocation deviates less in total."""
    t = np.asarray(target, dtype=float)
    frac = t - np.floor(t)
    return float(np.minimum(frac, 1 - frac).sum())


# ---------------------------------------------------------------------------------------------
# A plan's metrics


@dataclass(frozen=True)
class FairnessMetrics:
    """The overall metrics of one plan. NaN where a metric is undefined (see the module docstring)."""

    participants: int
    target_total: float
    allocated_total: float  # burden units placed (A)
    persons: int
    persons_placed: int
    persons_unplaced: int
    cases: int
    cases_placed: int
    cases_unplaced: int
    total_absolute_deviation: float
    rounding_floor: float
    loosemore_hanby: float
    gallagher: float
    ratio_max: float
    ratio_max_state: str
    ratio_min: float
    ratio_min_state: str
    ratio_max_min: float
    gini: float
    theil: float
    per_1000_mean: float
    per_1000_cv: float
    per_bn_gdp_cv: float
    states_at_capacity: int
    zero_target_allocated: int
    groups: int
    groups_kept_together: int
    cases_split: int
    cases_with_links: int
    links_honoured: int

    def to_dict(self) -> dict:
        return asdict(self)


# Labels and one-line formulas, for reports (same order as the fields).
METRIC_INFO: dict[str, tuple[str, str]] = {
    "participants": ("Participating states", "n"),
    "target_total": ("Total of fair-share targets", "T = sum t_i"),
    "allocated_total": ("Total allocated (burden units)", "A = sum a_i"),
    "persons": ("Persons to place", ""),
    "persons_placed": ("Persons placed", ""),
    "persons_unplaced": ("Persons unplaced", ""),
    "cases": ("Cases to place", ""),
    "cases_placed": ("Cases placed", ""),
    "cases_unplaced": ("Cases unplaced", ""),
    "total_absolute_deviation": ("Total absolute deviation", "sum |a_i - t_i|"),
    "rounding_floor": ("Rounding floor (lower bound on the deviation)", "sum min(frac t_i, 1 - frac t_i)"),
    "loosemore_hanby": ("Loosemore-Hanby index", "1/2 sum |a_i/A - t_i/T|"),
    "gallagher": ("Gallagher index (percentage points)", "sqrt(1/2 sum (100 (a_i/A - t_i/T))^2)"),
    "ratio_max": ("Highest ratio to fair share", "max r_i, r_i = a_i/t_i"),
    "ratio_max_state": ("State with the highest ratio", ""),
    "ratio_min": ("Lowest ratio to fair share", "min r_i"),
    "ratio_min_state": ("State with the lowest ratio", ""),
    "ratio_max_min": ("Highest / lowest ratio", "max r_i / min r_i"),
    "gini": ("Gini of the ratio, weighted by target", "sum_ij w_i w_j |r_i - r_j| / (2 mu), w_i = t_i/T"),
    "theil": ("Theil of the ratio, weighted by target", "sum w_i (r_i/mu) ln(r_i/mu)"),
    "per_1000_mean": ("Persons per 1,000 inhabitants (mean over states)", "mean 1000 p_i/P_i"),
    "per_1000_cv": ("Per-capita dispersion (coefficient of variation)", "sd / mean of 1000 p_i/P_i"),
    "per_bn_gdp_cv": ("Per-GDP dispersion (coefficient of variation)", "sd / mean of p_i/(G_i/1000)"),
    "states_at_capacity": ("States at capacity", "persons_i >= capacity_i"),
    "zero_target_allocated": ("States with allocation but zero target", "t_i = 0 < a_i"),
    "groups": ("Family groups", ""),
    "groups_kept_together": ("Family groups kept together", ""),
    "cases_split": ("Family groups split (must be 0)", ""),
    "cases_with_links": ("Cases with family links", ""),
    "links_honoured": ("Family links honoured", "cases placed in a linked state"),
}
assert list(METRIC_INFO) == [f.name for f in fields(FairnessMetrics)]


@dataclass(frozen=True)
class PlanMetrics:
    """Per-state table (index `code`) and overall metrics of one plan."""

    states: pd.DataFrame
    overall: FairnessMetrics
    lorenz: tuple[np.ndarray, np.ndarray]


STATE_COLUMNS = {
    "name": "Name",
    "share": "Key share",
    "target": "Fair-share target",
    "allocated": "Persons allocated",
    "burden": "Burden units allocated",
    "deviation": "Deviation (burden - target)",
    "deviation_pct": "Deviation % of target",
    "ratio": "Ratio to fair share",
    "per_1000": "Persons per 1,000 inhabitants",
    "per_bn_gdp": "Persons per EUR bn GDP",
    "capacity": "Capacity (persons)",
    "capacity_use": "Capacity use",
    "at_capacity": "At capacity",
    "cases": "Cases",
    "links_honoured": "Links honoured",
}


def _column(frame: pd.DataFrame | None, column: str, index: pd.Index) -> np.ndarray:
    if frame is None or column not in frame.columns:
        return np.full(len(index), np.nan)
    values = pd.to_numeric(frame[column].reindex(index), errors="coerce")
    return values.to_numpy(dtype=float)


def _per(numerator: np.ndarray, denominator: np.ndarray, scale: float = 1.0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = np.isfinite(denominator) & (denominator > 0)
        return np.where(ok, scale * numerator / np.where(ok, denominator, 1.0), np.nan)


def state_metrics(plan: Plan, states: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per participant (index `code`, plan order), columns as in `STATE_COLUMNS`.

    `states` is the participants' states table (for `population` and `gdp_meur`); without it, or
    without those columns, the per-capita and per-GDP columns are NaN."""
    table = plan.states
    index = table.index
    burden = table["burden"].to_numpy(dtype=float)
    target = table["target"].to_numpy(dtype=float)
    persons = table["allocated"].to_numpy(dtype=float)
    capacity = table["capacity"].to_numpy(dtype=float) if "capacity" in table.columns else np.full(len(index), np.nan)
    # One frame from whole columns: inserting them one by one costs more than the arithmetic.
    columns = {
        "name": table["name"].to_numpy(),
        "share": table["share"].to_numpy(dtype=float),
        "target": target,
        "allocated": table["allocated"].to_numpy(),
        "burden": burden,
        "deviation": burden - target,
        "deviation_pct": _per(burden - target, target, 100.0),
        "ratio": ratios(burden, target),
        "per_1000": _per(persons, _column(states, "population", index), 1000.0),
        "per_bn_gdp": _per(persons, _column(states, "gdp_meur", index) / 1000.0),
        "capacity": capacity,
        "capacity_use": _per(persons, capacity),
        "at_capacity": table["at_capacity"].to_numpy(dtype=bool) if "at_capacity" in table.columns else np.zeros(len(index), dtype=bool),
        "cases": table["cases"].to_numpy() if "cases" in table.columns else persons.astype(np.int64),
        "links_honoured": table["links_honoured"].to_numpy() if "links_honoured" in table.columns else np.zeros(len(index), dtype=np.int64),
    }
    return pd.DataFrame(columns, index=index)


def overall_metrics(per_state: pd.DataFrame, counts: Counts | None = None) -> FairnessMetrics:
    """The overall metrics from a `state_metrics` table and a plan's `counts` (without them: what
    the table shows, everyone placed)."""
    if counts is None:
        placed, cases = int(per_state["allocated"].sum()), int(per_state["cases"].sum())
        counts = Counts(cases=cases, persons=placed, placed_persons=placed, placed_cases=cases, links_honoured=int(per_state["links_honoured"].sum()))
    a = per_state["burden"].to_numpy(dtype=float)
    t = per_state["target"].to_numpy(dtype=float)
    r = per_state["ratio"].to_numpy(dtype=float)
    has_ratio = ~np.isnan(r)
    if has_ratio.any():
        codes = per_state.index[has_ratio]
        rr = r[has_ratio]
        i_max, i_min = int(np.argmax(rr)), int(np.argmin(rr))
        r_max, r_min = float(rr[i_max]), float(rr[i_min])
        max_state, min_state = str(codes[i_max]), str(codes[i_min])
        max_min = r_max / r_min if r_min > 0 else math.nan
    else:
        r_max = r_min = max_min = math.nan
        max_state = min_state = ""
    per_1000 = per_state["per_1000"].to_numpy(dtype=float)
    return FairnessMetrics(
        participants=len(per_state),
        target_total=float(t.sum()),
        allocated_total=float(a.sum()),
        persons=counts.persons,
        persons_placed=counts.placed_persons,
        persons_unplaced=counts.unplaced_persons,
        cases=counts.cases,
        cases_placed=counts.placed_cases,
        cases_unplaced=counts.unplaced_cases,
        total_absolute_deviation=total_absolute_deviation(a, t),
        rounding_floor=rounding_floor(t),
        loosemore_hanby=loosemore_hanby(a, t),
        gallagher=gallagher(a, t),
        ratio_max=r_max,
        ratio_max_state=max_state,
        ratio_min=r_min,
        ratio_min_state=min_state,
        ratio_max_min=max_min,
        gini=gini(r, t),
        theil=theil(r, t),
        per_1000_mean=float(np.nanmean(per_1000)) if np.isfinite(per_1000).any() else math.nan,
        per_1000_cv=coefficient_of_variation(per_1000),
        per_bn_gdp_cv=coefficient_of_variation(per_state["per_bn_gdp"].to_numpy(dtype=float)),
        states_at_capacity=int(per_state["at_capacity"].astype(bool).sum()),
        zero_target_allocated=int(((t <= 0) & (a > 0)).sum()),
        groups=counts.groups,
        groups_kept_together=counts.groups_kept_together,
        cases_split=counts.cases_split,
        cases_with_links=counts.cases_with_links,
        links_honoured=counts.links_honoured,
    )


def plan_metrics(plan: Plan, states: pd.DataFrame | None = None) -> PlanMetrics:
    """Per-state and overall metrics of a plan; `states`: the participants (population, GDP)."""
    per_state = state_metrics(plan, states)
    return PlanMetrics(
        states=per_state,
        overall=overall_metrics(per_state, plan.counts),
        lorenz=lorenz(per_state["burden"], per_state["target"]),
    )


def total_burden(plan: Plan) -> float:
    """The burden a plan had to share: every case's weight (placed or not), or the quota total."""
    if plan.cases is not None and "weight" in plan.cases.columns:
        return float(plan.cases["weight"].sum())
    return float(plan.counts.persons)


def origin_metrics(plan: Plan) -> dict | None:
    """Relocation from several origins: how far the plan is from the origin x destination targets
    (`Plan.origins`), or None without origins. `total_cell_deviation` = sum |b_od - t_od| over the
    cells, `largest_cell_deviation` the largest |b_od - t_od| (and its cell), per origin its burden
    and the sum of its cells' deviations."""
    cells = plan.origins
    if cells is None:
        return None
    absolute = cells["deviation"].abs()
    worst = int(absolute.to_numpy().argmax()) if len(cells) else None
    per_origin = cells.assign(absolute=absolute).groupby("origin", sort=True).agg(burden=("burden", "sum"), target=("target", "sum"), deviation=("absolute", "sum"))
    return {
        "cells": int(len(cells)),
        "total_cell_deviation": float(absolute.sum()),
        "largest_cell_deviation": float(absolute.max()) if len(cells) else 0.0,
        "largest_cell": None if worst is None else f"{cells['origin'].iloc[worst]} -> {cells['destination'].iloc[worst]}",
        "per_origin": {
            str(code): {"burden": float(row.burden), "target": float(row.target), "cell_deviation": float(row.deviation)} for code, row in per_origin.iterrows()
        },
    }


def result_metrics(result) -> PlanMetrics:
    """`plan_metrics` of a `pipeline.RunResult`."""
    return plan_metrics(result.plan, result.participants)
