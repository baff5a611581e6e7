"""report.json: everything machine-readable, with metric definitions, Lorenz points and cases."""

from __future__ import annotations


from .. import __version__
from ..io.output import json_text, records
from ..metrics import METRIC_INFO, origin_metrics
from .document import MAX_CASE_ROWS, Document, View, unplaced_cases
from .files import plan_cases_table, stages
from .solidarity import solidarity_document

FORMAT = "json"


def render(document: Document) -> dict[str, str]:
    return {"report.json": json_text(report_document(document))}


def report_document(document: Document) -> dict:
    out = {
        "title": document.title,
        "tool": f"relocate {__version__}",
        "metric_definitions": {k: {"label": label, "formula": formula} for k, (label, formula) in METRIC_INFO.items()},
        "variants": [_variant(view) for view in document.views],
    }
    if document.wide is not None:
        comparison = {
            "first": document.names[0],
            "states": records(document.wide),
            "metrics": records(document.per_variant) if document.per_variant is not None else [],
        }
        if document.comparison is not None:
            comparison["long"] = records(document.comparison.table)
            comparison["sensitivity_factors"] = list(document.comparison.factors)
            comparison["notes"] = list(document.comparison.notes)
        if document.sensitivity is not None:
            comparison["sensitivity"] = records(document.sensitivity)
        out["comparison"] = comparison
    if document.solidarity is not None:
        out["solidarity"] = solidarity_document(document.solidarity.result)
    out["run"] = document.run
    return out


def _variant(view: View) -> dict:
    result = view.result
    plan = result.plan
    entry = {
        "name": view.name,
        "settings": result.settings.model_dump(mode="json", exclude_none=True, exclude={"formula"}),
        "formula": result.formula.model_dump(mode="json"),
        "method": result.method,
        "status": plan.status,
        "gap": plan.gap,
        "solver": plan.solver,
        "stages": stages(result),
        "counts": plan.counts.as_dict(),
        "ties": list(plan.ties),
        "metrics": view.metrics.overall.to_dict(),
        "lorenz": {"x": view.metrics.lorenz[0].tolist(), "y": view.metrics.lorenz[1].tolist()},
        "states": records(view.metrics.states.reset_index()),
        "explanation": records(view.explanation.reset_index()),
        "provenance": view.provenance,
    }
    if plan.origins is not None:
        entry["origins"] = {**origin_metrics(plan), "cells_table": records(plan.origins)}
    cases = plan_cases_table(result)
    if cases is not None:
        if len(cases) <= MAX_CASE_ROWS:
            entry["cases"] = records(cases)
        else:
            entry["cases_note"] = f"{len(cases):,} cases: the list is in plan_cases.csv; unplaced ones here"
            entry["cases"] = records(unplaced_cases(cases))
    return entry
