"""Numbers as the reports print them, the same in every format.

A column's `kind` says how: text, bool (yes/blank), int, pct (share as %, 3 decimals), pct1, fN
(N decimals, thousands separated), sfN (the same with a sign), gN (N significant digits). Negative
numbers get a true minus sign, undefined ones a dash.
"""

from __future__ import annotations

import math

import numpy as np


def num(value: float, digits: int = 1, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    value = round(float(value), digits)
    if value == 0:
        value = 0.0  # no "-0" or "+0"
        sign = False
    text = f"{value:{'+' if sign else ''},.{digits}f}"
    return text.replace("-", "−")


def fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return "–"
    if kind == "text":
        return str(value)
    if kind == "bool":
        return "yes" if bool(value) else ""
    value = float(value)
    if kind == "int":
        return num(value, 0)
    if kind == "pct":
        return f"{100 * value:.3f}%"
    if kind == "pct1":
        return f"{100 * value:.1f}%"
    if kind.startswith("sf"):
        return num(value, int(kind[2:]), sign=True)
    if kind.startswith("f"):
        return num(value, int(kind[1:]))
    if kind.startswith("g"):
        return f"{value:.{int(kind[1:])}g}"
    return str(value)


def metric_kind(key: str, value) -> str:
    """How an overall metric (`metrics.FairnessMetrics` field) is printed."""
    if isinstance(value, str):
        return "text"
    if key in ("loosemore_hanby", "gini", "theil", "per_1000_cv", "per_bn_gdp_cv"):
        return "g4"
    if key.startswith("ratio"):
        return "f4"
    if key in ("gallagher", "per_1000_mean"):
        return "f4"
    if key in ("total_absolute_deviation", "rounding_floor", "target_total", "allocated_total"):
        return "f2"
    return "int"
