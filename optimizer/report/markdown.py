"""report.md: the report's tables and sentences in Markdown, with the charts as PNG files beside it."""

from __future__ import annotations

import html
import re

from .document import HEADLINE, Document, Table

FORMAT = "md"
# The report links to charts/*.png: asking for it writes them too.
NEEDS = ("charts",)


def render(document: Document) -> dict[str, str]:
    out = [f"# {_cell(document.title)}", "", _cell(document.lead(brief=True))]
    for section in (_summary, _charts, _comparison, _states, _origins, _solidarity, _explanation, _cases, _metrics, _provenance, _run):
        out += section(document)
    return {"report.md": "\n".join(out)}


# Markdown's own punctuation, backslash-escaped in every text the report takes from its inputs: a
# name like '![x](http://evil.example/p.png)' or '[click](javascript:...)' must not become an
# image that loads or a link, '*x*' not emphasis, '#' not a heading. (<, > and & are HTML-escaped.)
_MARKDOWN = re.compile(r"([\\`*_\[\]#!|~])")


def _cell(text: str) -> str:
    """`text` as literal Markdown: HTML-escaped, Markdown punctuation escaped, on one line. A
    leading '-' or '+' stays (the report's own list items pass through here)."""
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(str(text), quote=False))
    return escaped.replace("\n", " ").replace("\r", " ")


def _table(table: Table) -> str:
    header, rows, numeric = table.header, table.rows, table.numeric
    header = [": ".join(h) if isinstance(h, tuple) else h for h in header]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in rows:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _heading(document: Document, name: str) -> list[str]:
    """A variant's own heading, when there are several."""
    return [f"### {_cell(name)}", ""] if document.many else []


def _summary(document: Document) -> list[str]:
    out = ["", "## Summary", ""]
    for view in document.views:
        o = view.metrics.overall
        out.append(_cell(f"- {view.name}: {view.result.plan.status}, {o.persons_placed:,} of {o.persons:,} persons placed."))
    out += ["", _table(document.metrics_rows(HEADLINE)), ""]
    for note in document.notes:
        out += [_cell(note), ""]
    return out


def _charts(document: Document) -> list[str]:
    out = ["## Charts", ""]
    for chart in document.charts:
        out += [f"![{_cell(chart.caption)}](charts/{chart.name}.png)", "", _cell(chart.caption), ""]
    return out


def _comparison(document: Document) -> list[str]:
    if not document.many or document.wide is None:
        return []
    first = document.names[0]
    out = ["## Comparison", "", _cell(f"Difference and rank change against the first variant ({first}); positive rank change: moved up the list."), ""]
    out += [_table(document.comparison_rows()), ""]
    if document.sensitivity is not None:
        out += ["### Sensitivity to the criterion weights", ""]
        for view in document.views:
            table = document.sensitivity_rows(view)
            if table is not None:
                out += [f"#### {_cell(view.name)}", "", _table(table), ""]
    return out


def _states(document: Document) -> list[str]:
    out = ["## States", ""]
    for view in document.views:
        out += _heading(document, view.name) + [_table(view.state_rows()), ""]
    return out


def _origins(document: Document) -> list[str]:
    if not document.origin_views:
        return []
    out = ["## Origins", ""]
    for view in document.origin_views:
        out += _heading(document, view.name) + [_cell(view.origins_sentence()), "", _table(view.origin_rows()), ""]
    return out


def _solidarity(document: Document) -> list[str]:
    section = document.solidarity
    return solidarity_markdown(section) if section is not None else []


def solidarity_markdown(section) -> list[str]:
    """A `report.solidarity.SolidaritySection` (its chart is charts/solidarity.png)."""
    chart = section.chart
    out = ["## Solidarity pool", "", _cell(section.lead()), "", f"![{_cell(chart.caption)}](charts/{chart.name}.png)", ""]
    out += ["### The pool, line by line", "", _table(section.pool_rows()), ""]
    out += ["### Fair share, pledge and gap per state", "", _table(section.state_rows()), ""]
    if section.trade_rows() is not None:
        out += ["### Money for places at given prices", "", _table(section.trade_lines()), "", _table(section.trade_rows()), ""]
    out += [_cell(note) + "\n" for note in section.notes()]
    return out


def _explanation(document: Document) -> list[str]:
    out = ["## How the numbers came about", ""]
    for view in document.views:
        out += _heading(document, view.name) + [_table(view.explanation_rows()), ""]
        out += [f"- {_cell(t)}" for t in view.explanation["explanation"]]
        out.append("")
    return out


def _cases(document: Document) -> list[str]:
    if not document.case_views:
        return []
    out = ["## Cases", ""]
    for view in document.case_views:
        out.append(_cell(f"- {view.name}: {view.cases_sentence(brief=True)}"))
        missing = view.unplaced()
        if missing is not None:
            out += ["", _table(missing.table)]
    out.append("")
    return out


def _metrics(document: Document) -> list[str]:
    return ["## Metrics", "", _table(document.metrics_rows()), ""]


def _provenance(document: Document) -> list[str]:
    out = ["## Provenance", ""]
    for view in document.views:
        out += _heading(document, view.name)
        out += [f"- **{_cell(k)}**: {_cell(v)}" for k, v in view.provenance_items()]
        out.append("")
    return out


def _run(document: Document) -> list[str]:
    return ["## Run", "", *[_cell(f"- {label}: {text}") for label, text in document.run_items()], ""]
