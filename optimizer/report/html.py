"""report.html: one self-contained page (no scripts, fonts, images or links outside it; the charts
are inline SVG). Everything shown comes from the `Document`; this module lays it out and escapes it."""

from __future__ import annotations

import html

from .charts import inline_svg
from .document import HEADLINE, STATUS, Document, Table, View
from .formatting import fmt, num

FORMAT = "html"
# The charts inline, as SVG.
CHART_FORMAT = "svg"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0;color:#1d2430;background:#fff;line-height:1.45}
main{max-width:1320px;margin:0 auto;padding:24px 28px 60px}
header{border-bottom:3px solid #1f77b4;margin-bottom:18px}
h1{font-size:1.7em;margin:0 0 6px}
h2{font-size:1.3em;margin:32px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:1.08em;margin:20px 0 8px}
p.lead{color:#475467;margin:0 0 14px}
nav{font-size:.92em;margin:0 0 12px}nav a{margin-right:14px;color:#1f5fa0}
table{border-collapse:collapse;font-size:.86em;margin:8px 0 16px;width:auto}
th,td{padding:3px 9px;border-bottom:1px solid #e4e7ec;vertical-align:top;white-space:nowrap}
table.wrap td{white-space:normal}
th{background:#f2f4f7;text-align:left;font-weight:600}
th.group{text-align:center;border-left:2px solid #fff}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfc}
.scroll{overflow-x:auto;max-width:100%}
figure{margin:10px 0 24px}figcaption{font-size:.88em;color:#475467}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0 6px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:150px}
.card b{display:block;font-size:1.35em}.card span{font-size:.82em;color:#475467}
.status-optimal,.status-exact{color:#067647}.status-feasible{color:#b54708}
details{margin:6px 0 14px}summary{cursor:pointer;font-weight:600}
ul.explain{font-size:.88em;padding-left:18px}ul.explain li{margin:2px 0}
code{font-size:.92em}
footer{font-size:.82em;color:#667085;margin-top:40px}
@media print{th{position:static}details{display:block}}
"""


def render(document: Document) -> dict[str, str]:
    parts = _head(document)
    for section in (_summary, _charts, _comparison, _states, _origins, _solidarity, _explanation, _cases, _metrics, _provenance, _run):
        parts += section(document)
    parts.append(f"<footer>{_esc(document.views[0].provenance['tool'])}. Everything above except this Run section is the same for the same inputs.</footer>")
    parts.append("</main></body></html>")
    return {"report.html": "\n".join(parts) + "\n"}


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(table: Table, wrap: bool = False) -> str:
    header, rows, numeric = table.header, table.rows, table.numeric
    top = ""
    if any(isinstance(h, tuple) for h in header):
        # (variant, measure) headers: the variant once above its columns, the measure below.
        groups: list[list] = []
        for h in header:
            group = h[0] if isinstance(h, tuple) else ""
            if groups and groups[-1][0] == group:
                groups[-1][1] += 1
            else:
                groups.append([group, 1])
        top = "<tr>" + "".join(f'<th colspan="{n}" class="group">{_esc(g)}</th>' for g, n in groups) + "</tr>"
        header = [h[1] if isinstance(h, tuple) else h for h in header]
    thead = f"<thead>{top}<tr>{_cells('th', header, numeric)}</tr></thead>" if any(header) else ""
    body = "".join(f"<tr>{_cells('td', row, numeric)}</tr>" for row in rows)
    attr = ' class="wrap"' if wrap else ""
    return f'<div class="scroll"><table{attr}>{thead}<tbody>{body}</tbody></table></div>'


def _cells(tag: str, values: list, numeric: list[bool]) -> str:
    return "".join(f'<{tag} class="num">{_esc(v)}</{tag}>' if n else f"<{tag}>{_esc(v)}</{tag}>" for v, n in zip(values, numeric))


def _pairs(items: list[tuple[str, str]]) -> str:
    return _table(Table(["", ""], [[k, v] for k, v in items], ["text", "text"]), wrap=True)


def _per_view(document: Document, view: View, inner: str) -> str:
    """A block of one variant: folded under its name when there are several (the first open)."""
    if not document.many:
        return inner
    return f"<details{' open' if view.index == 1 else ''}><summary>{_esc(view.name)}</summary>{inner}</details>"


def _head(document: Document) -> list[str]:
    title = _esc(document.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{title}</h1>",
        f'<p class="lead">{_esc(document.lead())}</p></header>',
    ]
    toc = [("summary", "Summary"), ("charts", "Charts")]
    if document.many:
        toc.append(("comparison", "Comparison"))
    toc.append(("states", "States"))
    if document.origin_views:
        toc.append(("origins", "Origins"))
    if document.solidarity is not None:
        toc.append(("solidarity", "Solidarity pool"))
    toc.append(("explanation", "How the numbers came about"))
    if document.case_views:
        toc.append(("cases", "Cases"))
    toc += [("metrics", "Metrics"), ("provenance", "Provenance"), ("run", "Run")]
    parts.append("<nav>" + "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t in toc) + "</nav>")
    return parts


def _cards(view: View) -> str:
    o = view.metrics.overall
    plan = view.result.plan
    cards = [
        (f'<b class="status-{_esc(plan.status)}">{_esc(plan.status)}</b>', "solver status"),
        (f"<b>{_esc(num(o.persons_placed, 0))}</b>", f"of {_esc(num(o.persons, 0))} persons placed"),
        (f"<b>{_esc(fmt(o.total_absolute_deviation, 'f1'))}</b>", "total absolute deviation"),
        (f"<b>{_esc(fmt(o.loosemore_hanby, 'f4'))}</b>", "Loosemore-Hanby index"),
        (f"<b>{_esc(fmt(o.ratio_min, 'f3'))} – {_esc(fmt(o.ratio_max, 'f3'))}</b>", "ratio to fair share, min – max"),
        (f"<b>{_esc(num(o.states_at_capacity, 0))}</b>", "states at capacity"),
    ]
    if plan.cases is not None:
        cards.append((f"<b>{_esc(num(o.cases_split, 0))}</b>", "family groups split"))
    return '<div class="cards">' + "".join(f'<div class="card">{b}<span>{_esc(s)}</span></div>' for b, s in cards) + "</div>"


def _summary(document: Document) -> list[str]:
    parts = ['<section id="summary"><h2>Summary</h2>']
    if not document.many:
        parts.append(_cards(document.views[0]))
    parts.append(_table(document.metrics_rows(STATUS + HEADLINE)))
    parts += [f"<p>{_esc(note)}</p>" for note in document.notes]
    parts.append("</section>")
    return parts


def _charts(document: Document) -> list[str]:
    parts = ['<section id="charts"><h2>Charts</h2>']
    for chart in document.charts:
        parts.append(f'<figure id="chart-{_esc(chart.name)}">{inline_svg(chart)}<figcaption>{_esc(chart.caption)}</figcaption></figure>')
    parts.append("</section>")
    return parts


def _comparison(document: Document) -> list[str]:
    if not document.many or document.wide is None:
        return []
    parts = ['<section id="comparison"><h2>Comparison</h2>']
    parts.append(
        "<p>Persons and key share per state in each variant; the difference and rank change are "
        f"against the first variant ({_esc(document.names[0])}); a positive rank change means the state moved up "
        "the list (carries more relative to the others).</p>"
    )
    parts.append(_table(document.comparison_rows()))
    sensitivity = document.sensitivity
    if sensitivity is not None:
        parts.append("<h3>Sensitivity to the criterion weights</h3>")
        factors = sorted(set(sensitivity["factor"]), reverse=True)
        parts.append(
            "<p>How each state's allocation moves when one criterion's weight is multiplied by "
            + ", ".join(f"{f:g}" for f in factors)
            + " (the weights then renormalised to sum to 1), everything else unchanged.</p>"
        )
        for view in document.views:
            table = document.sensitivity_rows(view)
            if table is not None:
                parts.append(_per_view(document, view, _table(table)))
    parts.append("</section>")
    return parts


def _states(document: Document) -> list[str]:
    blocks = [_per_view(document, view, _table(view.state_rows())) for view in document.views]
    return ['<section id="states"><h2>States</h2>', *blocks, "</section>"]


def _origins(document: Document) -> list[str]:
    if not document.origin_views:
        return []
    parts = ['<section id="origins"><h2>Origins</h2>']
    for view in document.origin_views:
        if document.many:
            parts.append(f"<h3>{_esc(view.name)}</h3>")
        parts += [f"<p>{_esc(view.origins_sentence())}</p>", _table(view.origin_rows())]
    parts.append("</section>")
    return parts


def _solidarity(document: Document) -> list[str]:
    section = document.solidarity
    return solidarity_html(section) if section is not None else []


def solidarity_html(section) -> list[str]:
    """A `report.solidarity.SolidaritySection`: lead, chart, the pool line by line, per state, the
    settlement at given prices, notes."""
    parts = ['<section id="solidarity"><h2>Solidarity pool</h2>', f"<p>{_esc(section.lead())}</p>"]
    chart = section.chart
    parts.append(f'<figure id="chart-{_esc(chart.name)}">{inline_svg(chart)}<figcaption>{_esc(chart.caption)}</figcaption></figure>')
    parts += ["<h3>The pool, line by line</h3>", _table(section.pool_rows(), wrap=True)]
    parts += ["<h3>Fair share, pledge and gap per state</h3>", _table(section.state_rows())]
    if section.trade_rows() is not None:
        parts += ["<h3>Money for places at given prices</h3>", _table(section.trade_lines(), wrap=True), _table(section.trade_rows())]
    parts += [f"<p>{_esc(note)}</p>" for note in section.notes()]
    parts.append("</section>")
    return parts


def _explanation(document: Document) -> list[str]:
    parts = ['<section id="explanation"><h2>How the numbers came about</h2>']
    parts.append(
        "<p>Each state's key share is a sum of criterion contributions; times the total they give its "
        "effects (population effect, GDP effect, ...), and what caps cut is spread again by the base key "
        "(caps remainder). The effects sum to the state's target. The allocation then differs from the "
        "target by rounding to whole persons or families and where capacity binds.</p>"
    )
    for view in document.views:
        sentences = "".join(f"<li>{_esc(t)}</li>" for t in view.explanation["explanation"])
        inner = f'{_table(view.explanation_rows())}<details><summary>In words</summary><ul class="explain">{sentences}</ul></details>'
        parts.append(_per_view(document, view, inner))
    parts.append("</section>")
    return parts


def _cases(document: Document) -> list[str]:
    if not document.case_views:
        return []
    parts = ['<section id="cases"><h2>Cases</h2>']
    for view in document.case_views:
        if document.many:
            parts.append(f"<h3>{_esc(view.name)}</h3>")
        parts.append(f"<p>{_esc(view.cases_sentence())}</p>")
        missing = view.unplaced()
        if missing is not None:
            parts.append(f"<h3>{_esc(missing.heading)}</h3>")
            parts.append(_table(missing.table))
    parts.append("</section>")
    return parts


def _metrics(document: Document) -> list[str]:
    return [
        '<section id="metrics"><h2>Metrics</h2>',
        "<p>a<sub>i</sub>: allocation of state i in burden units, t<sub>i</sub>: its fair-share target, "
        "A and T their sums, r<sub>i</sub> = a<sub>i</sub>/t<sub>i</sub>, w<sub>i</sub> = t<sub>i</sub>/T, "
        "mu = sum w<sub>i</sub> r<sub>i</sub>, p<sub>i</sub> persons, P<sub>i</sub> population, G<sub>i</sub> GDP in EUR million. "
        "A dash: undefined (e.g. no target, or nothing allocated).</p>",
        _table(document.metrics_rows()),
        "</section>",
    ]


def _provenance(document: Document) -> list[str]:
    parts = ['<section id="provenance"><h2>Provenance</h2>']
    for view in document.views:
        if document.many:
            parts.append(f"<h3>{_esc(view.name)}</h3>")
        parts.append(_pairs(view.provenance_items()))
    parts.append("</section>")
    return parts


def _run(document: Document) -> list[str]:
    return ['<section id="run"><h2>Run</h2>', _pairs(document.run_items()), "</section>"]
