"""What a solved plan is: its stages, status, counts and per-state table, each built once.

Both ways of making a plan, the placement model (`optimizer.model.plan`) and a closed-form quota
method (`optimizer.pipeline.rule_plan`), end here, so a report or a metric reads one shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from .settings import Settings


class Status(StrEnum):
    """`optimal` only when the solver proved every stage optimal; otherwise `feasible`. `exact`: a
    closed-form apportionment method, whose rule is the definition of its answer."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    EXACT = "exact"


@dataclass(frozen=True)
class Stage:
    """One lexicographic objective as solved: its optimum (or best value), proof and time.

    `proof` says what closed the stage: `solver` (the solver's branch and bound), `relaxation`
    (the LP relaxation's optimum was a whole plan), `bound` (the plan in hand met the one-type
    relaxation's bound, `model.bounds`), `count` (a count no plan can beat: everyone placed,
    every link honoured), `rule` (a closed-form method); `none` for a stage not proven."""

    name: str
    objective: float
    status: Status
    gap: float | None
    seconds: float
    proof: str = "solver"


# What each `Stage.proof` means, as the reports say it.
PROOFS = {
    "solver": "the solver's branch and bound",
    "relaxation": "the LP relaxation's optimum, a whole plan",
    "bound": "met the one-type relaxation's bound",
    "count": "a count no plan can beat",
    "rule": "the method's rule",
    "none": "not proven",
}


def overall_status(stages: tuple[Stage, ...] | list[Stage]) -> tuple[Status, float | None]:
    """A plan is optimal when every stage is; its gap is the largest (None when one is unknown)."""
    status = Status.OPTIMAL if all(stage.status == Status.OPTIMAL for stage in stages) else Status.FEASIBLE
    gaps = [stage.gap for stage in stages]
    gap = None if any(g is None for g in gaps) else max(gaps + [0.0])
    return status, gap


@dataclass(frozen=True)
class Counts:
    """How many cases, persons, links and groups a plan has, placed and not."""

    cases: int
    persons: int
    placed_persons: int
    placed_cases: int
    case_types: int = 1
    link_classes: int = 0
    cases_with_links: int = 0
    links_honoured: int = 0
    groups: int = 0
    groups_kept_together: int = 0
    cases_split: int = 0

    @property
    def unplaced_persons(self) -> int:
        return self.persons - self.placed_persons

    @property
    def unplaced_cases(self) -> int:
        return self.cases - self.placed_cases

    def __getitem__(self, key: str) -> int:
        """`counts["placed_persons"]`, as code written when the counts were a dict reads them."""
        return self.as_dict()[key]

    def as_dict(self) -> dict[str, int]:
        """The counts as the reports and JSON files list them (derived counts included)."""
        values = asdict(self)
        ordered = {key: values[key] for key in ("cases", "persons", "placed_persons")}
        ordered["unplaced_persons"] = self.unplaced_persons
        ordered["placed_cases"] = self.placed_cases
        ordered["unplaced_cases"] = self.unplaced_cases
        ordered.update({key: value for key, value in values.items() if key not in ordered})
        return ordered


def state_table(
    states: pd.DataFrame,
    shares: pd.Series,
    targets,
    persons: np.ndarray,
    burden: np.ndarray,
    cases: np.ndarray,
    links_honoured: np.ndarray,
) -> pd.DataFrame:
    """The per-state table of a plan (index `code`, input order): name, share, key_target (share x
    the burden), target (the fair, water-filled target the plan is held to; both in burden units),
    allocated (persons), burden, cases, capacity, minimum, deviation (burden - target),
    links_honoured, at_capacity, target_note (why target and key_target differ). `targets`: a
    `targets.Targets`."""
    target = targets.fair
    capacity = column_or_nan(states, "capacity")
    persons = np.asarray(persons, dtype=np.int64)
    return pd.DataFrame(
        {
            "name": states["name"].to_numpy(),
            "share": shares.to_numpy(),
            "key_target": targets.key,
            "target": target,
            "allocated": persons,
            "burden": np.asarray(burden, dtype=float),
            "cases": np.asarray(cases, dtype=np.int64),
            "capacity": capacity,
            "minimum": column_or_nan(states, "minimum"),
            "deviation": burden - target,
            "links_honoured": np.asarray(links_honoured, dtype=np.int64),
            "at_capacity": ~np.isnan(capacity) & (persons >= np.nan_to_num(capacity, nan=np.inf)),
            "target_note": np.array(targets.why, dtype=object),
        },
        index=pd.Index(list(states.index), name="code"),
    )


def column_or_nan(states: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric states column as floats, NaN where it is empty or absent (no limit)."""
    if column not in states.columns:
        return np.full(len(states), np.nan)
    return pd.to_numeric(states[column], errors="coerce").to_numpy(dtype=float)


@dataclass(frozen=True)
class Plan:
    """A solved placement.

    `states`: the per-state table (`state_table`), plus persons per need in family plans.
    `cases`: one row per case with `state` ('' when unplaced), link_honoured and reason (and
    `origin` when the case list has one); None in quota mode. `origins`: the origin x destination
    table when cases have origins. `backend`: which solver interface made it (highs, pulp:highs, pulp:cbc, rule).
    """

    states: pd.DataFrame
    cases: pd.DataFrame | None
    status: Status
    gap: float | None
    stages: tuple[Stage, ...]
    solver: str
    settings: Settings
    times: dict[str, float]
    counts: Counts
    need_dimensions: tuple[str, ...] = field(default_factory=tuple)
    # Alternative optima or equal priorities that a deterministic rule decided, in words.
    ties: tuple[str, ...] = field(default_factory=tuple)
    backend: str = ""
    # Relocation from several origins: one row per (origin, destination) with its biproportional
    # target, cases, persons, burden and deviation (`optimizer.model.origins.origin_table`); None
    # when no case has an origin.
    origins: pd.DataFrame | None = None

    @property
    def objective(self) -> dict[str, float]:
        return {stage.name: stage.objective for stage in self.stages}
