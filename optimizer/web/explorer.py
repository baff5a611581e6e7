"""What the explorer computes: the page's choices turned into the same `ScenarioSettings` the CLI
builds, one run through `pipeline.run`, and the pieces a page shows (tables, chart, map).

Nothing here knows about HTTP; `app` calls it and renders what it returns, so the tests and the
benchmark can drive it directly. Weights come from sliders in percent; they start at the chosen
preset's weights, and any other standard criterion the states file has can be added (unemployment
at 10%, say). A formula whose sliders are untouched is the preset itself, exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..apportion import METHODS, canonical_method
from ..errors import InputError
from ..keys import PRESETS, Criterion, Formula, compute_key
from ..metrics import result_metrics
from ..participants import participants, split_codes
from ..pipeline import RunResult, run
from ..report import maps
from ..report.geometry import match
from ..report.document import HEADLINE, STATUS, Document, Table, build
from ..report.files import run_facts_all
from ..report.formatting import fmt, num
from ..settings import ScenarioSettings
from .svg import allocation_svg, map_svg, unmapped_rows

DEFAULT_PRESET = "pact-2024"
DEFAULT_TOTAL = 30_000  # the Pact's minimum annual pool (Regulation (EU) 2024/1351, Art. 12(2))
# Criteria a slider can add to any preset when the states file has the column: (column, direction, label).
CANDIDATES = (
    ("population", "share", "Population"),
    ("gdp_meur", "share", "GDP"),
    ("area_km2", "share", "Area"),
    ("unemployment_pct", "inverse", "Unemployment rate"),
    ("asylum_per_million", "inverse", "Asylum applications per million"),
)
_LABELS = {column: label for column, _, label in CANDIDATES}


@dataclass(frozen=True)
class Slider:
    column: str
    label: str
    percent: float  # the slider's position, 0-100
    note: str = ""  # "capped", "inverse"


@dataclass(frozen=True)
class Choices:
    """One request's settings, already checked."""

    states: Path
    cases: Path | None
    preset: str
    weights: dict[str, float] | None  # column -> percent; None: the preset's own weights
    method: str
    total: int
    exclude: tuple[str, ...]
    solve: bool  # with cases: place the families now (otherwise the key only, instantly)


@dataclass
class Outcome:
    """What a page shows after one request."""

    choices: Choices
    formula: Formula
    sliders: list[Slider]
    result: RunResult | None = None  # None: a family plan not solved yet
    document: Document | None = None
    key_table: Table | None = None
    maps: list[tuple[str, str]] = field(default_factory=list)  # (title, SVG) per panel
    unmapped: list[tuple[str, ...]] = field(default_factory=list)  # participants with no shape
    chart_svg: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def normalised(self) -> str:
        """The weights as the key uses them (normalised to sum to 1)."""
        total = sum(c.weight for c in self.formula.criteria)
        return ", ".join(f"{_label(c)} {100 * c.weight / total:.1f}%" for c in self.formula.criteria)


def _label(criterion: Criterion) -> str:
    return _LABELS.get(criterion.column, criterion.title)


def preset(name: str) -> Formula:
    if name not in PRESETS:
        raise InputError(f"unknown formula '{name}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def sliders(formula: Formula, states: pd.DataFrame) -> list[Slider]:
    """The preset's criteria at their weights (in percent), then every candidate the file has at 0."""
    total = sum(c.weight for c in formula.criteria)
    out = []
    for c in formula.criteria:
        note = "capped" if c.cap is not None else ("inverse" if c.direction == "inverse" else "")
        out.append(Slider(c.column, _label(c), round(100 * c.weight / total, 1), note))
    present = {c.column for c in formula.criteria}
    for column, direction, label in CANDIDATES:
        if column not in present and column in states.columns:
            out.append(Slider(column, label, 0.0, "inverse" if direction == "inverse" else ""))
    return out


def with_weights(formula: Formula, weights: dict[str, float] | None) -> Formula:
    """`formula` with the sliders' weights: criteria at 0 are left out, new candidates added. The
    caps remainder keeps the preset's base key (the Commission spreads it by 0.5 pop + 0.5 GDP
    whatever the other weights)."""
    if weights is None:
        return formula
    for column, value in weights.items():
        if not math.isfinite(value) or value < 0 or value > 100:
            raise InputError(f"weight of {column} must be between 0 and 100, got {value:g}")
    criteria = [c.model_copy(update={"weight": weights.get(c.column, 0.0)}) for c in formula.criteria]
    present = {c.column for c in formula.criteria}
    for column, direction, _ in CANDIDATES:
        if column not in present and weights.get(column, 0.0) > 0:
            criteria.append(Criterion(column=column, weight=weights[column], direction=direction))
    criteria = [c for c in criteria if c.weight > 0]
    if not criteria:
        raise InputError("every weight is 0: give at least one criterion a weight above 0")
    total = sum(c.weight for c in criteria)
    described = ", ".join(f"{100 * c.weight / total:.1f}% {c.title}" for c in criteria)
    return formula.model_copy(
        update={
            "name": f"{formula.name} (weights changed)",
            "title": f"{formula.name} with weights {described}",
            "criteria": tuple(criteria),
            "base": formula.base_weights(),
        }
    )


def parse_total(text: str) -> int:
    try:
        value = float(text.replace(",", "").replace("_", "").strip())
    except ValueError:
        raise InputError(f"total: not a number: {text[:40]!r}") from None
    if not math.isfinite(value) or value != int(value) or value < 1 or value > 1e9:
        raise InputError(f"total: give a whole number of persons from 1 to 1,000,000,000, got {text[:40]!r}")
    return int(value)


def method_choice(text: str) -> str:
    return canonical_method(text or "lp")


def explore(choices: Choices, states: pd.DataFrame, cases: pd.DataFrame | None, name: str = "explorer") -> Outcome:
    """Run the choices through the pipeline and draw what the page shows."""
    started = time.perf_counter()
    base = preset(choices.preset)
    formula = with_weights(base, choices.weights)
    slider_state = sliders(base, states)
    if choices.weights is not None:
        slider_state = [Slider(s.column, s.label, choices.weights.get(s.column, 0.0), s.note) for s in slider_state]
    outcome = Outcome(choices, formula, slider_state)
    if cases is not None and not choices.solve:
        outcome.key_table = key_table(states, formula, choices.exclude, float(cases["size"].sum()))
        outcome.notes.append(f"{len(cases):,} family cases ({int(cases['size'].sum()):,} persons): the key is shown; press “Solve family plan” to place them.")
        outcome.seconds = time.perf_counter() - started
        return outcome
    result = run(settings_for(choices, formula), name=name, states=states, cases=cases)
    outcome.result = result
    metrics = result_metrics(result)
    outcome.document = build([result], run_facts_all([result]))
    shapes, missing = match(result.states)
    units = {"per_1000": "persons per 1,000 inhabitants", "ratio": "× fair share"}
    for panel in maps.panels([metrics]):
        outcome.maps.append((panel.title, map_svg(panel, metrics.states, shapes, units[panel.column])))
    outcome.unmapped = unmapped_rows(missing, metrics.states)
    outcome.chart_svg = allocation_svg(metrics.states)
    outcome.notes += list(result.plan.ties)[:5]
    outcome.seconds = time.perf_counter() - started
    return outcome


def settings_for(choices: Choices, formula: Formula) -> ScenarioSettings:
    """The scenario the CLI would build from the same choices (reports and downloads use it)."""
    given = {
        "title": f"Explorer: {formula.name}",
        "states": str(choices.states),
        "formula": formula.model_dump(),
        "exclude": list(choices.exclude) or None,
        "method": choices.method,
    }
    if choices.cases is not None:
        given["cases"] = str(choices.cases)
    else:
        given["total"] = choices.total
    return ScenarioSettings(**given)


def key_table(states: pd.DataFrame, formula: Formula, exclude: tuple[str, ...], persons: float) -> Table:
    """Key share and target per participant (before any plan is solved)."""
    chosen = participants(states, None, list(exclude))
    key = compute_key(chosen, formula)
    rows = []
    for code in chosen.index:
        share = float(key.shares[code])
        rows.append([str(code), str(chosen.at[code, "name"]), fmt(share, "pct"), fmt(share * persons, "f1")])
    return Table(["Code", "State", "Key share", "Target (persons)"], rows, ["text", "text", "pct", "f1"])


def summary(outcome: Outcome) -> list[tuple[str, str]]:
    """Headline facts of a solved outcome, as (label, value) cards."""
    if outcome.document is None:
        return []
    view = outcome.document.views[0]
    o = view.metrics.overall
    return [
        ("status", str(view.result.plan.status)),
        ("persons placed", f"{num(o.persons_placed, 0)} of {num(o.persons, 0)}"),
        ("total deviation", fmt(o.total_absolute_deviation, "f2")),
        ("Loosemore-Hanby", fmt(o.loosemore_hanby, "g4")),
        ("ratio min – max", f"{fmt(o.ratio_min, 'f3')} – {fmt(o.ratio_max, 'f3')}"),
        ("states at capacity", num(o.states_at_capacity, 0)),
    ]


def metrics_table(outcome: Outcome) -> Table | None:
    return outcome.document.metrics_rows(STATUS + HEADLINE) if outcome.document is not None else None


def parse_exclude(text: str) -> tuple[str, ...]:
    return tuple(split_codes(text))


__all__ = ["CANDIDATES", "DEFAULT_PRESET", "DEFAULT_TOTAL", "METHODS", "Choices", "Outcome", "Slider", "explore", "method_choice"]
