"""Variants side by side, and the downloads: the same tables, charts and files as `relocate compare`
and `relocate solve` write, made from the plans the session already solved (nothing is solved
again) and written into the session's folder just long enough to send them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..compare import Comparison, comparison_table
from ..errors import InputError
from ..metrics import result_metrics
from ..report import charts, write_comparison_files, write_plan_files, write_reports
from ..report.document import HEADLINE, STATUS, build
from ..report.files import run_facts_all
from ..settings import Variant
from .session import MAX_VARIANTS, Session


def add_variant(session: Session, name: str) -> None:
    """The session's last plan joins the comparison under `name` (default: its formula and method)."""
    if session.last is None:
        raise InputError("nothing to add yet: the current settings have no plan (solve it first)")
    if len(session.variants) >= MAX_VARIANTS:
        raise InputError(f"at most {MAX_VARIANTS} variants side by side: clear the comparison first")
    result = session.last
    name = " ".join(name.split())[:60] or f"{result.formula.name}, {result.method}"
    taken = {v.name for v, _ in session.variants}
    unique, k = name, 2
    while unique in taken:
        unique, k = f"{name} ({k})", k + 1
    variant = Variant(name=unique, **result.settings.model_dump(exclude={"title"}, exclude_none=True))
    session.variants.append((variant, replace(result, name=unique)))


def comparison(session: Session) -> Comparison:
    results = [r for _, r in session.variants]
    if len(results) < 1:
        raise InputError("no variants to compare yet: add the current plan to the comparison")
    return Comparison(results, [result_metrics(r) for r in results], comparison_table(results), pd.DataFrame())


def comparison_view(session: Session) -> dict:
    """Tables and the dot plot of the session's variants, for the page."""
    compared = comparison(session)
    document = build(compared.results, run_facts_all(compared.results), compared)
    view = {"names": document.names, "metrics": document.metrics_rows(STATUS + HEADLINE), "table": None, "chart": "", "caption": ""}
    if document.many:
        view["table"] = document.comparison_rows()
        dots = charts.build([(v.name, v.metrics) for v in document.views])[0]
        view["chart"], view["caption"] = charts.inline_svg(dots), dots.caption
    return view


def write_plan(session: Session, formats: str | None = None) -> Path:
    """The reports in `formats` of the last plan; None: plan_states.csv, plan_cases.csv,
    metrics.json and every report, as `relocate solve` writes them."""
    if session.last is None:
        raise InputError("nothing to download yet: no plan has been solved in this session")
    folder = session.download_folder()
    if formats is None:
        write_plan_files(session.last, folder)
    write_reports([session.last], folder, formats or "all", run=run_facts_all([session.last]))
    return folder


def write_comparison(session: Session, formats: str | None = None) -> Path:
    """The reports in `formats` of the variants side by side; None: comparison.csv, metrics.json
    and every report, as `relocate compare` writes them."""
    compared = comparison(session)
    folder = session.download_folder()
    if formats is None:
        write_comparison_files(compared, folder)
    write_reports(compared.results, folder, formats or "all", compared, title="Explorer comparison", run=run_facts_all(compared.results))
    return folder
