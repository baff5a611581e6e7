"""Formula variants side by side: allocations, fairness metrics and weight sensitivity.

A variant is a named set of settings laid over a base (`pipeline.merge`): a `[[variants]]` table of a
scenario, or one `--formula` on the command line. States and case files are read once and shared.

The outputs:
- `table`: one row per (variant, state): allocation, share, target, difference to the first variant
  (a state that does not take part in a variant counts as 0 there), rank (1 = most persons; ties share
  the best rank) and rank change against the first variant (positive = moved up, towards carrying
  more);
- `metrics`: the fairness metrics of each variant (`metrics.FairnessMetrics`);
- `sensitivity`: for each criterion of each variant's formula, the allocation when its weight is
  multiplied by each factor (default 1.1 and 0.9) and the weights are renormalised to sum to 1, the
  other settings unchanged. Formulas with a single criterion are insensitive to their weight and are
  left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .keys import EQUAL, Formula, compute_key
from .targets import state_targets
from .metrics import FairnessMetrics, PlanMetrics, result_metrics, total_burden
from .pipeline import RunResult, choose_formula, merge, resolve_path, run
from .io.cases import load_cases
from .io.states import load_states
from .settings import ScenarioSettings, Sensitivity, Variant, choice

# progress(done, total, what is running now)
Progress = Callable[[int, int, str], None]
DEFAULT_FACTORS = (1.1, 0.9)


@dataclass(frozen=True)
class Comparison:
    results: list[RunResult]
    metrics: list[PlanMetrics]
    table: pd.DataFrame
    sensitivity: pd.DataFrame
    factors: tuple[float, ...] = DEFAULT_FACTORS
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.results]

    def wide(self) -> pd.DataFrame:
        """State x variant: code, name, then allocated/share/difference/rank_change per variant."""
        return self._wide.copy()

    @cached_property
    def _wide(self) -> pd.DataFrame:
        return wide_table(self.table, self.names)

    def metrics_table(self) -> pd.DataFrame:
        """One row per variant, one column per overall metric."""
        return metrics_table(self.results, self.metrics)


def variants_from_formulas(formulas: Sequence[str]) -> list[Variant]:
    """One variant per formula spec, named by the preset name or the file's stem."""
    out = []
    for spec in formulas:
        name = Path(spec).stem if spec.endswith(".toml") else spec
        out.append(Variant(name=name, formula=spec))
    return out


def _check_names(variants: Sequence[Variant]) -> None:
    if not variants:
        raise InputError("nothing to compare: give --formula (repeatable) or [[variants]] tables in the scenario")
    seen: set[str] = set()
    for variant in variants:
        if not variant.name.strip():
            raise InputError("a variant has an empty name")
        if variant.name in seen:
            raise InputError(f"variant name '{variant.name}' appears more than once")
        seen.add(variant.name)


class _Inputs:
    """States and case files, each read once."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self._states: dict[Path, pd.DataFrame] = {}
        self._cases: dict[Path, pd.DataFrame] = {}

    def states(self, settings: ScenarioSettings) -> pd.DataFrame | None:
        path = resolve_path(settings.states, self.base_dir)
        if path is None:
            return None
        key = path.resolve()
        if key not in self._states:
            self._states[key] = load_states(path, settings.decimal)
        return self._states[key]

    def cases(self, settings: ScenarioSettings) -> pd.DataFrame | None:
        path = resolve_path(settings.cases, self.base_dir)
        if path is None or settings.total is not None:
            return None
        key = path.resolve()
        if key not in self._cases:
            self._cases[key] = load_cases(path, settings.decimal)
        return self._cases[key]


def sensitivity_columns(formula: Formula) -> list[str]:
    """The criterion columns whose weight can move the key (all but a lone criterion)."""
    columns = list(dict.fromkeys(c.column for c in formula.criteria))
    return columns if len(columns) > 1 else []


def _label(formula: Formula, column: str) -> str:
    titles = [c.title for c in formula.criteria if c.column == column]
    label = titles[0] if titles else column
    return "equal" if label == EQUAL else label


def compare(
    base: ScenarioSettings,
    variants: Sequence[Variant],
    base_dir: Path | None = None,
    *,
    sensitivity: Sensitivity | str = Sensitivity.ALLOCATION,
    factors: Sequence[float] = DEFAULT_FACTORS,
    progress: Progress | None = None,
) -> Comparison:
    """Run each variant (merged onto `base`), then the weight sensitivity runs; see the module doc.

    `sensitivity`: "allocation" re-solves each moved key (the allocation moves); "targets" only
    recomputes the key (fair-share targets, no solve: fast for large case plans); "none" skips it."""
    sensitivity = choice(Sensitivity, sensitivity, "sensitivity")
    _check_names(variants)
    inputs = _Inputs(base_dir)
    settings = [merge(base, v) for v in variants]
    formulas = [choose_formula(s, base_dir) for s in settings]
    moved = [sensitivity_columns(f) if sensitivity != "none" else [] for f in formulas]
    steps = len(variants) + sum(len(cols) * len(factors) for cols in moved)
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, steps, what)
        done += 1

    results: list[RunResult] = []
    for variant, s in zip(variants, settings):
        tick(f"variant {variant.name}")
        results.append(run(s, base_dir, name=variant.name, states=inputs.states(s), cases=inputs.cases(s)))

    rows = []
    notes = []
    for result, s, formula, columns in zip(results, settings, formulas, moved):
        if sensitivity != "none" and not columns:
            notes.append(f"{result.name}: formula '{formula.name}' has one criterion; its weight cannot move the key")
        base_weights = {}
        for c in formula.criteria:
            base_weights.setdefault(c.column, c.weight)
        base_states = result.plan.states
        for column in columns:
            for factor in factors:
                tick(f"{result.name}: {column} x{factor:g}")
                shifted = formula.with_weights({column: base_weights[column] * factor})
                moved_settings = s.model_copy(update={"formula": shifted, "weight_column": None})
                if sensitivity == "allocation":
                    other = run(moved_settings, base_dir, name=result.name, states=inputs.states(s), cases=inputs.cases(s))
                    allocated = other.plan.states["allocated"]
                    target = other.plan.states["target"]
                else:
                    target = key_targets(result, compute_key(result.participants, shifted).shares)
                    allocated = pd.Series(np.nan, index=base_states.index)
                rows.extend(_sensitivity_rows(result.name, _label(formula, column), column, factor, base_states, allocated, target))
    if progress is not None:
        progress(steps, steps, "done")
    sens = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    return Comparison(
        results=results,
        metrics=[result_metrics(r) for r in results],
        table=comparison_table(results),
        sensitivity=sens,
        factors=tuple(float(f) for f in factors),
        notes=tuple(notes),
    )


SENSITIVITY_COLUMNS = ["variant", "criterion", "column", "factor", "code", "name", "allocated_base", "allocated", "change", "target_base", "target", "target_change"]


def _sensitivity_rows(variant: str, criterion: str, column: str, factor: float, base: pd.DataFrame, allocated: pd.Series, target: pd.Series) -> list[dict]:
    """One sensitivity row per state of the base plan: its allocation and target with one weight moved."""
    return [
        {
            "variant": variant,
            "criterion": criterion,
            "column": column,
            "factor": float(factor),
            "code": code,
            "name": base.at[code, "name"],
            "allocated_base": int(base.at[code, "allocated"]),
            "allocated": float(allocated.get(code, np.nan)),
            "change": float(allocated.get(code, np.nan)) - float(base.at[code, "allocated"]),
            "target_base": float(base.at[code, "target"]),
            "target": float(target.get(code, np.nan)),
            "target_change": float(target.get(code, np.nan)) - float(base.at[code, "target"]),
        }
        for code in base.index
    ]


def key_targets(result: RunResult, shares: pd.Series) -> pd.Series:
    """The fair-share targets the run would have had with other key shares (no solve)."""
    plan = result.plan
    burden = total_burden(plan)
    per_person = burden / plan.counts.persons if plan.counts.persons > 0 else 1.0
    states = result.participants.reindex(shares.index)
    targets = state_targets(states, shares, burden, per_person=per_person, count_hosted=plan.settings.count_hosted, hosted_column=plan.settings.hosted_column)
    return pd.Series(targets.fair, index=shares.index)


def comparison_table(results: Sequence[RunResult]) -> pd.DataFrame:
    """Long table: variant, code, name, allocated, share, target, difference, rank, rank_change.

    States are the union over the variants, in first-seen order; a state absent from a variant has
    NaN there (allocated counts as 0 for the difference)."""
    if not results:
        return pd.DataFrame(columns=["variant", "code", "name", "allocated", "share", "target", "difference", "rank", "rank_change"])
    codes: dict[str, str] = {}
    for result in results:
        for code, name in result.plan.states["name"].items():
            codes.setdefault(code, name)
    index = pd.Index(list(codes), name="code")
    # One (variants x states) array per measure; a frame per variant costs seconds at 1,000 variants.
    def stacked(column: str) -> np.ndarray:
        return np.vstack([r.plan.states[column].reindex(index).to_numpy(dtype=float) for r in results])

    allocated, share, target = stacked("allocated"), stacked("share"), stacked("target")
    rank = np.vstack([r.plan.states["allocated"].rank(ascending=False, method="min").reindex(index).to_numpy(dtype=float) for r in results])
    placed = np.nan_to_num(allocated, nan=0.0)
    n_variants, n_states = allocated.shape
    return pd.DataFrame(
        {
            "variant": np.repeat(np.array([r.name for r in results], dtype=object), n_states),
            "code": np.tile(index.to_numpy(dtype=object), n_variants),
            "name": np.tile(np.array([codes[c] for c in index], dtype=object), n_variants),
            "allocated": allocated.ravel(),
            "share": share.ravel(),
            "target": target.ravel(),
            "difference": (placed - placed[0]).ravel(),
            "rank": rank.ravel(),
            "rank_change": (rank[0] - rank).ravel(),
        }
    )


def wide_table(table: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The long comparison table as state x variant: `allocated:<variant>`, `share:<variant>`,
    `difference:<variant>`, `rank:<variant>`, `rank_change:<variant>` (the first variant's
    difference and rank change are 0 and left out)."""
    states = table.drop_duplicates("code")[["code", "name"]].reset_index(drop=True)
    blocks = [states]
    for measure in ("allocated", "share", "target", "difference", "rank", "rank_change"):
        kept = list(names[1:] if measure in ("difference", "rank_change") else names)
        block = table.pivot(index="code", columns="variant", values=measure).reindex(index=states["code"], columns=kept)
        block.columns = [f"{measure}:{name}" for name in kept]
        blocks.append(block.reset_index(drop=True))
    return pd.concat(blocks, axis=1)


def metrics_table(results: Sequence[RunResult], metrics: Sequence[PlanMetrics]) -> pd.DataFrame:
    rows = []
    for result, pm in zip(results, metrics):
        row = {"variant": result.name, "formula": result.formula.name, "method": result.method, "status": result.plan.status}
        row.update(pm.overall.to_dict())
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_wide(sensitivity: pd.DataFrame, variant: str, value: str = "change") -> pd.DataFrame:
    """One variant's sensitivity as state x (criterion, factor): columns `<criterion> x<factor>`."""
    part = sensitivity[sensitivity["variant"] == variant]
    if part.empty:
        return pd.DataFrame()
    states = part.drop_duplicates("code")[["code", "name", "allocated_base", "target_base"]].reset_index(drop=True)
    out = states.copy()
    for (criterion, factor), block in part.groupby(["criterion", "factor"], sort=False):
        out[f"{criterion} x{factor:g}"] = block.set_index("code")[value].reindex(out["code"]).to_numpy()
    return out


__all__ = [
    "Comparison",
    "FairnessMetrics",
    "compare",
    "comparison_table",
    "metrics_table",
    "sensitivity_columns",
    "sensitivity_wide",
    "variants_from_formulas",
    "wide_table",
]
