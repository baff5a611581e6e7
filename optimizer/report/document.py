"""One report, format-neutral: what every report format shows, built once.

A `Document` holds the results (one `View` each, with its metrics, explanation and provenance), the
comparison tables, the run facts and the charts. Tables come as `Table`s of formatted text (header,
rows, and a kind per column: text or number) and prose as plain sentences, so that a renderer
(`html`, `markdown`, `excel`, `jsonreport`) only lays them out and escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import pandas as pd

from ..compare import Comparison, comparison_table, metrics_table, sensitivity_wide, wide_table
from ..metrics import METRIC_INFO, PlanMetrics
from ..pipeline import RunResult
from ..results import PROOFS
from .charts import Chart
from .chartworker import chart_variants, draw_all, variant_metrics
from .explanation import explanation_table
from .files import provenance
from .formatting import fmt, metric_kind, num

# Above this many cases the case list stays in plan_cases.csv only (Excel stops at 1,048,576 rows).
MAX_CASE_ROWS = 100_000
# Unplaced cases listed in the HTML and Markdown reports (plan_cases.csv and the workbook list all).
MAX_UNPLACED_SHOWN = 200

_STATE_COLUMNS = [
    ("code", "Code", "text"),
    ("name", "State", "text"),
    ("share", "Key share", "pct"),
    ("target", "Target", "f1"),
    ("allocated", "Persons", "int"),
    ("burden", "Burden", "f1"),
    ("deviation", "Deviation", "sf1"),
    ("deviation_pct", "Deviation %", "sf2"),
    ("ratio", "Ratio to fair share", "f4"),
    ("per_1000", "Per 1,000 inhabitants", "f3"),
    ("per_bn_gdp", "Per EUR bn GDP", "f2"),
    ("capacity", "Capacity", "int"),
    ("capacity_use", "Capacity use", "pct1"),
    ("at_capacity", "At capacity", "bool"),
    ("cases", "Cases", "int"),
    ("links_honoured", "Links honoured", "int"),
]

# The metrics a summary shows, in this order.
HEADLINE = [
    "total_absolute_deviation",
    "loosemore_hanby",
    "gallagher",
    "ratio_max",
    "ratio_min",
    "ratio_max_min",
    "gini",
    "theil",
    "per_1000_cv",
    "states_at_capacity",
    "persons_unplaced",
    "groups_kept_together",
    "cases_split",
    "links_honoured",
]
# Facts of the run that a summary table shows before the metrics.
STATUS = ["formula", "status", "persons_placed"]
_FACTS = {
    "formula": ("Formula", "", lambda v: v.result.formula.name),
    "method": ("Method", "", lambda v: v.result.method),
    "status": ("Solver status", "", lambda v: v.result.plan.status),
}


class Table(NamedTuple):
    """A table as text: header labels (a (group, label) pair groups columns under a variant), rows
    of formatted cells, and each column's kind (`formatting`; all but text and bool are numbers)."""

    header: list
    rows: list[list[str]]
    kinds: list[str]

    @property
    def numeric(self) -> list[bool]:
        """Which columns hold numbers (aligned right)."""
        return [k not in ("text", "bool") for k in self.kinds]


def _table(frame: pd.DataFrame, columns: list[tuple[str, str, str]]) -> Table:
    """The (column, label, kind) columns of a frame as a Table."""
    rows = [[fmt(row[c], kind) for c, _, kind in columns] for _, row in frame.iterrows()]
    return Table([label for _, label, _ in columns], rows, [kind for _, _, kind in columns])


def unplaced_cases(cases: pd.DataFrame) -> pd.DataFrame:
    return cases[cases["state"] == ""]


@dataclass
class Unplaced:
    table: Table  # the first MAX_UNPLACED_SHOWN
    total: int

    @property
    def heading(self) -> str:
        shown = "" if self.total <= MAX_UNPLACED_SHOWN else f" (first {MAX_UNPLACED_SHOWN} of {self.total:,})"
        return f"Unplaced cases{shown}"


@dataclass
class View:
    """One result and everything derived from it, for the reports."""

    index: int  # 1, 2, ... in the order of the variants
    result: RunResult
    metrics: PlanMetrics
    explanation: pd.DataFrame
    provenance: dict

    @property
    def name(self) -> str:
        return self.result.name

    def state_rows(self) -> Table:
        """The per-state table, without the columns that say nothing for this plan."""
        per = self.metrics.states.reset_index()
        columns = [(c, label, kind) for c, label, kind in _STATE_COLUMNS if c in per.columns]
        if per["capacity"].isna().all():
            columns = [c for c in columns if c[0] not in ("capacity", "capacity_use", "at_capacity")]
        if self.result.plan.cases is None:
            columns = [c for c in columns if c[0] not in ("cases", "links_honoured", "burden")]
        for key in ("per_1000", "per_bn_gdp"):
            if per[key].isna().all():
                columns = [c for c in columns if c[0] != key]
        return _table(per, columns)

    def origin_rows(self) -> Table | None:
        """Relocation from several origins: one row per destination (input order), per origin its
        target, burden placed and deviation; a last row with each origin's totals. None without
        origins."""
        cells = self.result.plan.origins
        if cells is None:
            return None
        origins = sorted(set(cells["origin"]))
        names = self.result.plan.states["name"]
        by_cell = cells.set_index(["origin", "destination"])
        spec = [(o, measure, label, kind) for o in origins for measure, label, kind in (("target", "target", "f1"), ("burden", "placed", "f1"), ("deviation", "deviation", "sf1"))]
        rows = []
        for code in names.index:
            values = [by_cell.at[(o, code), m] if (o, code) in by_cell.index else None for o, m, _, _ in spec]
            rows.append([str(code), str(names[code])] + [fmt(v, kind) if v is not None else "–" for v, (_, _, _, kind) in zip(values, spec)])
        totals = cells.groupby("origin").agg(target=("target", "sum"), burden=("burden", "sum"), deviation=("deviation", lambda d: d.abs().sum()))
        rows.append(["", "All destinations (deviation: sum of |deviation|)"] + [fmt(totals.at[o, m], "f1") for o, m, _, _ in spec])
        header = ["Code", "Destination"] + [(o, label) for o, _, label, _ in spec]
        return Table(header, rows, ["text", "text"] + [kind for _, _, _, kind in spec])

    def origins_sentence(self) -> str:
        """What the origin x destination table shows, with the plan's total cell deviation."""
        cells = self.result.plan.origins
        absolute = cells["deviation"].abs()
        worst = cells.loc[absolute.idxmax()] if len(cells) else None
        largest = f"; the largest is {worst['origin']} to {worst['destination']}, {num(float(absolute.max()), 2)}" if worst is not None else ""
        return (
            "Each origin's burden (the benefitting state where its cases are) split over the destinations in proportion "
            "to their targets: the biproportional matrix whose row sums are the origins' burdens and whose column sums are "
            "the destinations' targets (iterative proportional fitting; no destination for its own cases, none where every "
            "case of the origin is excluded). The plan places the families as close to these cell targets as it can, before "
            f"the states' deviation: total cell deviation {num(float(absolute.sum()), 2)} burden units over {len(cells):,} cells{largest}. "
            "The full table is in plan_origins.csv."
        )

    def explanation_rows(self) -> Table:
        table = self.explanation.reset_index()
        columns = [("code", "Code", "text"), ("name", "State", "text"), ("share", "Key share", "pct"), ("key_amount", "Key x total", "f1")]
        for c in [c for c in table.columns if c.startswith("effect:")]:
            label = c.split(":", 1)[1]
            columns.append((c, "caps remainder" if label == "remainder" else f"{label} effect", "sf1"))
        if (table["capped"] != "").any():
            columns.append(("capped", "Capped terms", "text"))
        if (table["fair_adjustment"].abs() > 1e-9).any():
            columns.append(("fair_adjustment", "Fair target − key", "sf1"))
        allocated_kind = "int" if self.result.plan.cases is None else "f1"
        columns += [("target", "Target", "f1"), ("burden", "Allocated", allocated_kind), ("difference", "Allocated − target", "sf2")]
        if table["capacity"].notna().any():
            columns += [("capacity", "Capacity", "int"), ("capacity_binding", "Capacity binding", "bool")]
        columns.append(("reason", "Why", "text"))
        if (table["target_note"] != "").any():
            columns.append(("target_note", "Why the fair target differs", "text"))
        return _table(table, columns)

    def unplaced(self) -> Unplaced | None:
        """The unplaced cases of a case plan and why, when there are any."""
        cases = self.result.plan.cases
        if cases is None:
            return None
        missing = unplaced_cases(cases)
        if not len(missing):
            return None
        shown = missing.head(MAX_UNPLACED_SHOWN).itertuples()
        rows = [[str(r.case_id), num(r.size, 0), str(r.group), str(r.links), str(r.reason)] for r in shown]
        return Unplaced(Table(["Case", "Persons", "Group", "Links", "Why"], rows, ["text", "int", "text", "text", "text"]), len(missing))

    def cases_sentence(self, brief: bool = False) -> str:
        """Cases placed, groups kept together and links honoured (`brief`: the Markdown wording)."""
        c = {key: num(value, 0) for key, value in self.result.plan.counts.as_dict().items()}
        if brief:
            return (
                f"{c['placed_cases']} of {c['cases']} cases placed; {c['groups_kept_together']} of {c['groups']} groups kept "
                f"together, {c['cases_split']} split; {c['links_honoured']} of {c['cases_with_links']} linked cases in a linked state."
            )
        return (
            f"{c['placed_cases']} of {c['cases']} cases placed ({c['placed_persons']} of {c['persons']} persons); "
            f"{c['groups_kept_together']} of {c['groups']} family groups kept together, {c['cases_split']} split; "
            f"{c['links_honoured']} of {c['cases_with_links']} cases with family links placed in a linked state. "
            "The full case list is in plan_cases.csv and report.xlsx."
        )

    def provenance_items(self) -> list[tuple[str, str]]:
        """Where the result came from: tool, formula, solver and its proof, settings, inputs, ties."""
        result, plan, formula = self.result, self.result.plan, self.result.formula
        settings = plan.settings
        criteria = [
            f"{c.weight:.4g} x {c.direction} of {c.column}" + (f", capped at {c.cap.factor:g} x ({' + '.join(c.cap.of)})" if c.cap else "")
            for c in formula.criteria
        ]
        items = [("Tool", self.provenance["tool"]), ("Formula", f"{formula.name}: {formula.title}"), ("Criteria", "; ".join(criteria)), ("Source", formula.source)]
        if formula.caveats:
            items.append(("Caveats", formula.caveats))
        stages = [f"{st.name}: {st.objective:,.4f} ({st.status}{'' if st.gap in (None, 0, 0.0) else f', gap {st.gap:.3g}'}; proof: {PROOFS[st.proof]})" for st in plan.stages]
        items += [
            ("Method", result.method),
            ("Solver", plan.solver),
            ("Status", plan.status),
            ("Gap", "–" if plan.gap is None else f"{plan.gap:.3g}"),
            ("Stages", "; ".join(stages)),
            ("Settings", f"links {settings.links}, objective {settings.objective}, MIP gap {settings.gap:g}, "
             f"time limit {settings.time_limit if settings.time_limit is not None else 'none'}, "
             f"count hosted {'yes' if settings.count_hosted else 'no'}"
             + (f", need weights {settings.need_weights}" if settings.need_weights else "")),
            ("Participants", ", ".join(self.provenance["participants"])),
        ]
        items += [(f"Input: {role}", f"{entry['path']} (SHA-256 {entry['sha256']})") for role, entry in self.provenance["inputs"].items()]
        items += [("Tie", tie) for tie in plan.ties]
        return items


@dataclass
class Document:
    title: str
    views: list[View]
    run: dict  # the run facts: created, seconds and stage_seconds per result
    comparison: Comparison | None  # as `relocate compare` made it: adds the sensitivity and notes
    wide: pd.DataFrame | None  # state x variant (several results, or a comparison)
    per_variant: pd.DataFrame | None  # overall metrics per variant
    sensitivity: pd.DataFrame | None
    solidarity: object | None = None  # a report.solidarity.SolidaritySection (a scenario with a [pool])
    drawn_by: object | None = None  # a chartworker.ChartWorker drawing the charts meanwhile

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.views]

    @property
    def many(self) -> bool:
        return len(self.views) > 1

    @property
    def case_views(self) -> list[View]:
        """The views of case plans (a quota plan has no case list)."""
        return [v for v in self.views if v.result.plan.cases is not None]

    @property
    def origin_views(self) -> list[View]:
        """The views of plans whose cases have origins (relocation from several states)."""
        return [v for v in self.views if v.result.plan.origins is not None]

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self.comparison.notes) if self.comparison is not None else ()

    @cached_property
    def charts(self) -> list[Chart]:
        """Drawn on first use (matplotlib is slow to import), by the `drawn_by` worker when there
        is one, and shared by every format."""
        drawn = self.drawn_by.charts() if self.drawn_by is not None else None
        return drawn if drawn is not None else draw_all(chart_variants([v.result for v in self.views], [v.metrics for v in self.views]))

    def lead(self, brief: bool = False) -> str:
        """What the report is about, in one sentence (`brief`: without the number of family cases)."""
        first = self.views[0].result
        what = f"{num(first.plan.counts.persons, 0)} persons"
        if first.plan.cases is not None and not brief:
            what += f" in {num(first.plan.counts.cases, 0)} family cases"
        subject = "Variants " + ", ".join(self.names) if self.many else "Formula " + first.formula.name
        return f"{subject}; {what}; {len(first.participants)} participating states; method {first.method}."

    def metrics_rows(self, keys: list[str] | None = None) -> Table:
        """One row per metric (every metric unless `keys`), one column per variant."""
        rows = []
        for key in keys or list(METRIC_INFO):
            if key in _FACTS:
                label, formula, get = _FACTS[key]
                rows.append([label, formula] + [str(get(v)) for v in self.views])
                continue
            label, formula = METRIC_INFO[key]
            values = [getattr(v.metrics.overall, key) for v in self.views]
            rows.append([label, formula] + [fmt(value, metric_kind(key, value)) for value in values])
        return Table(["Metric", "Formula"] + self.names, rows, ["text", "text"] + ["num"] * len(self.views))

    def comparison_rows(self) -> Table:
        """Persons and share per state and variant; difference and rank change against the first."""
        spec = []
        for i, name in enumerate(self.names):
            spec.append((f"allocated:{name}", (name, "persons"), "int"))
            spec.append((f"share:{name}", (name, "share"), "pct"))
            if i > 0:
                spec.append((f"difference:{name}", (name, "vs first"), "sf0"))
                spec.append((f"rank_change:{name}", (name, "rank change"), "sf0"))
        rows = []
        for _, row in self.wide.iterrows():
            rows.append([str(row["code"]), str(row["name"])] + [fmt(row.get(c), kind) for c, _, kind in spec])
        return Table(["Code", "State"] + [label for _, label, _ in spec], rows, ["text", "text"] + [k for _, _, k in spec])

    def sensitivity_rows(self, view: View) -> Table | None:
        """How a variant's allocation (or, without re-solving, its targets) moves per weight change."""
        allocation_known = self.sensitivity["allocated"].notna().any()
        wide = sensitivity_wide(self.sensitivity, view.name, "change" if allocation_known else "target_change")
        if wide.empty:
            return None
        moved = [c for c in wide.columns if c not in ("code", "name", "allocated_base", "target_base")]
        kind = "sf0" if allocation_known else "sf2"
        rows = []
        for _, row in wide.iterrows():
            base = fmt(row["allocated_base"], "int") if allocation_known else fmt(row["target_base"], "f1")
            rows.append([str(row["code"]), str(row["name"]), base] + [fmt(row[c], kind) for c in moved])
        header = ["Code", "State", "Persons" if allocation_known else "Target"] + [f"{c}" for c in moved]
        return Table(header, rows, ["text", "text", "num"] + ["num"] * len(moved))

    def run_items(self) -> list[tuple[str, str]]:
        """The run facts (date, wall times): the only part of a report that changes between runs."""
        items = [("Created", str(self.run.get("created", "")))]
        for label, key in (("Seconds", "seconds"), ("Stage seconds", "stage_seconds")):
            for name, seconds in self.run.get(key, {}).items():
                items.append((f"{label} ({name})", ", ".join(f"{k} {v:g}" for k, v in seconds.items()) or "–"))
        return items


def build(
    results: list[RunResult],
    run: dict,
    comparison: Comparison | None = None,
    title: str | None = None,
    solidarity: object | None = None,
    drawn_by: object | None = None,
) -> Document:
    metrics = variant_metrics(results, comparison)
    views = [View(i + 1, r, m, explanation_table(r), provenance(r)) for i, (r, m) in enumerate(zip(results, metrics))]
    wide, per_variant, sensitivity = _comparison_frames(views, comparison)
    return Document(_title(results, title), views, run, comparison, wide, per_variant, sensitivity, solidarity, drawn_by)


def _title(results: list[RunResult], title: str | None) -> str:
    if title:
        return title
    titles = {r.settings.title for r in results}
    if len(titles) == 1 and None not in titles:
        return str(titles.pop())
    if len(results) == 1:
        return results[0].name
    return "Comparison: " + ", ".join(r.name for r in results)


def _comparison_frames(views: list[View], comparison: Comparison | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """(wide state x variant table, metrics per variant, long sensitivity) or None each."""
    if comparison is not None:
        sensitivity = comparison.sensitivity if not comparison.sensitivity.empty else None
        return comparison.wide(), comparison.metrics_table(), sensitivity
    if len(views) < 2:
        return None, None, None
    results = [v.result for v in views]
    return wide_table(comparison_table(results), [v.name for v in views]), metrics_table(results, [v.metrics for v in views]), None
