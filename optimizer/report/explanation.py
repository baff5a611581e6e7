"""How the numbers came about: each state's key share taken apart into what every criterion
contributed, then the step from the target to the allocation, as a table and a sentence per state."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..metrics import total_burden
from ..pipeline import RunResult
from .formatting import num


def explanation_table(result: RunResult) -> pd.DataFrame:
    """How each state's number came about.

    key_amount = share x B (B: the burden to share, the key's raw target); `effect:<criterion>` =
    that criterion's contribution to the share x B (the population effect, the GDP effect, ...),
    `effect:remainder` = what the caps cut, spread again; the effects sum to key_amount.
    fair_adjustment = target - key_amount: the water-filled fair target against the key's (what is
    already hosted under --count-hosted, capacities, minimums; `target_note` says why).
    difference = burden - target: rounding to whole persons or families (`capacity_binding`: the
    state is at capacity, which holds it below its key target)."""
    plan = result.plan
    states = plan.states
    contributions = result.key.contributions.reindex(states.index)
    capped = result.key.capped.reindex(states.index)
    base = total_burden(plan)
    out = pd.DataFrame(index=states.index)
    out["name"] = states["name"].to_numpy()
    out["share"] = states["share"].to_numpy(dtype=float)
    out["key_amount"] = out["share"] * base
    for column in contributions.columns:
        values = contributions[column].to_numpy(dtype=float) * base
        if column == "remainder" and not (np.abs(values) > 1e-9).any():
            continue
        out[f"effect:{column}"] = values
    out["capped"] = [
        "; ".join(c for c in capped.columns if bool(capped.at[code, c])) for code in states.index
    ]
    out["fair_adjustment"] = states["target"].to_numpy(dtype=float) - out["key_amount"].to_numpy()
    out["target"] = states["target"].to_numpy(dtype=float)
    out["target_note"] = states["target_note"].to_numpy(dtype=object) if "target_note" in states.columns else ""
    out["allocated"] = states["allocated"].to_numpy()
    out["burden"] = states["burden"].to_numpy(dtype=float)
    out["difference"] = out["burden"] - out["target"]
    out["capacity"] = states["capacity"].to_numpy(dtype=float) if "capacity" in states.columns else np.nan
    out["at_capacity"] = states["at_capacity"].to_numpy(dtype=bool) if "at_capacity" in states.columns else False
    # binding: the capacity holds the state below its key target (its fair target is the capacity)
    out["capacity_binding"] = out["at_capacity"] & (out["target"] < out["key_amount"] - 1e-9)
    out["reason"] = _reasons(out, "families" if plan.cases is not None else "persons")
    out["explanation"] = [_explain(out, code, base) for code in states.index]
    return out


def _reasons(table: pd.DataFrame, whole: str) -> list[str]:
    """Why each allocation differs from its target, in a few words."""
    any_binding = bool(table["capacity_binding"].any())
    reasons = []
    for diff, binding in zip(table["difference"], table["capacity_binding"]):
        if binding:
            reasons.append("capacity full")
        elif abs(diff) < 1:
            reasons.append(f"rounding to whole {whole}")
        elif diff > 0 and any_binding:
            reasons.append("takes over from states at capacity")
        else:
            reasons.append(f"whole {whole}")
    return reasons


def _explain(table: pd.DataFrame, code: str, base: float) -> str:
    row = table.loc[code]
    effects = [c for c in table.columns if c.startswith("effect:")]
    parts = []
    for column in effects:
        label = column.split(":", 1)[1]
        label = "remainder of the caps" if label == "remainder" else label
        capped = " (capped)" if label in row["capped"].split("; ") else ""
        parts.append(f"{label} {num(row[column], 1, sign=True)}{capped}")
    text = (
        f"{code} {row['name']}: key share {100 * row['share']:.3f}% of {num(base, 0)} = {num(row['key_amount'])}"
        f" ({', '.join(parts)})."
    )
    if abs(row["fair_adjustment"]) > 1e-9 or row["target_note"]:
        text += f" Fair target {num(row['target'])} ({num(row['fair_adjustment'], 1, sign=True)}): {row['target_note']}."
    units = ""
    if abs(row["burden"] - row["allocated"]) > 1e-9:
        units = f" ({num(row['burden'])} burden units)"
    text += f" Allocated {num(row['allocated'], 0)} persons{units}, {num(row['difference'], 1, sign=True)} against the target: {row['reason']}."
    if math.isfinite(row["capacity"]):
        state = "full" if row["at_capacity"] else "not reached"
        text += f" Capacity {num(row['capacity'], 0)} persons, {state}."
    return text
