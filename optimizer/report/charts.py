"""The charts (matplotlib, Agg backend): drawing only; the statistics come from `optimizer.metrics`.

Deterministic SVG and PNG: a fixed hash salt per chart, no dates or software names in the files.
matplotlib is imported when the first chart is drawn, so commands without charts never pay for it.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..metrics import PlanMetrics

# As a report format: the charts alone, as PNG files (the Markdown report links to them).
FORMAT = "charts"
CHART_FORMAT = "png"

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MARKERS = "os^Dvp*hX<"
# Capacity on the allocation chart: a red triangle pointing at the limit.
CAPACITY_MARKER = "<"


@dataclass
class Chart:
    name: str
    caption: str
    figure: object  # matplotlib Figure (None when drawn elsewhere: `chartworker`)
    saved: dict[str, bytes] = field(default_factory=dict)  # "svg", "png": each saved once


def build(variants: list[tuple[str, PlanMetrics]]) -> list[Chart]:
    """The charts of one or more variants (name, metrics), in the order the reports show them:
    the variants compared (several only), allocation against fair share and capacity per variant,
    ratio to fair share, Lorenz curve. (The maps come from `maps`; the solidarity pool's chart
    (fair share, pledge, gap) and the ledger's cumulative allocations belong here, after the
    Lorenz curve, as one function each returning a Chart or None when the run has no such data.)"""
    import matplotlib

    matplotlib.use("Agg", force=False)
    # Text objects take some rc settings when created: build inside one rc context.
    with matplotlib.rc_context(_rc("build")):
        first = variants[0][1].states
        order = list(first.sort_values(["target", "burden"], ascending=[True, True], kind="mergesort").index)
        codes = list(dict.fromkeys(order + [c for _, m in variants for c in m.states.index if c not in order]))
        height = max(3.0, 0.24 * len(codes) + 1.2)
        charts = [_allocation(k, name, metrics, codes, height) for k, (name, metrics) in enumerate(variants)]
        if len(variants) > 1:
            charts.insert(0, _variants(variants, codes))
        charts.append(_ratio(variants, codes, height))
        charts.append(_lorenz(variants))
        return charts


def allocation_chart(name: str, metrics: PlanMetrics) -> Chart:
    """One plan's allocation chart alone, in `build`'s order (the explorer redraws only this one)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    with matplotlib.rc_context(_rc("build")):
        codes = list(metrics.states.sort_values(["target", "burden"], kind="mergesort").index)
        return _allocation(0, name, metrics, codes, max(3.0, 0.24 * len(codes) + 1.2))


def render(document) -> dict[str, bytes]:
    """charts/<name>.png for each chart of a `document.Document` (not imported: it imports us)."""
    section = getattr(document, "solidarity", None)
    extra = [section.chart] if section is not None else []
    return {f"charts/{chart.name}.png": png(chart) for chart in [*document.charts, *extra]}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot()


def _legend_label(text: str) -> str:
    # Matplotlib hides legend entries whose label starts with an underscore.
    return " " + text if text.startswith("_") else text


def _legend_below(ax, fig, entries: int) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.045 * 12 / fig.get_figheight()), ncol=min(entries, 5), frameon=False)


def _finish(ax, fig) -> None:
    ax.grid(axis="x", color="#dddddd")
    ax.set_axisbelow(True)
    fig.tight_layout()


def _allocation(k: int, name: str, metrics: PlanMetrics, codes: list, height: float) -> Chart:
    per = metrics.states.reindex([c for c in codes if c in metrics.states.index])
    fig, ax = _figure(9, height)
    y = np.arange(len(per))
    ax.barh(y, per["burden"], color=_PALETTE[k % 10], height=0.7, label="allocated")
    ax.scatter(per["target"], y, color="black", marker="|", s=180, linewidths=2, zorder=3, label="fair share (target)")
    capacity = per["capacity"].to_numpy(dtype=float)
    caption = f"Allocation against fair share per state ({name}); the black mark is the target"
    if np.isfinite(capacity).any():
        # Capacity is in persons, like the bars unless need weights apply (then burden units >= persons).
        ax.scatter(capacity, y, color="#b42318", marker=CAPACITY_MARKER, s=46, zorder=4, label="capacity (persons)")
        at = per["at_capacity"].to_numpy(dtype=bool)
        caption += f", the red triangle the capacity ({int(at.sum())} of {len(per)} states at capacity)"
    ax.set_yticks(y, [str(c) for c in per.index])
    ax.set_xlabel("burden units (persons unless weighted)")
    ax.set_title(f"Allocation against fair share and capacity: {name}", loc="left")
    ax.legend(loc="lower right", frameon=False)
    _finish(ax, fig)
    return Chart(f"allocation-{k + 1}", caption + ".", fig)


def _variants(variants: list[tuple[str, PlanMetrics]], codes: list) -> Chart:
    """A dot plot: one row per state, one dot per variant, joined by a line spanning their range."""
    fig, ax = _figure(9, max(3.0, 0.24 * len(codes) + 1.2))
    y = np.arange(len(codes))
    # A state that does not take part in a variant counts as 0 there (as in the comparison table).
    values = np.array([m.states["allocated"].reindex(codes).fillna(0).to_numpy(dtype=float) for _, m in variants])
    ax.hlines(y, values.min(axis=0), values.max(axis=0), color="#c7ccd1", linewidth=2, zorder=1)
    for k, (name, _) in enumerate(variants):
        ax.scatter(values[k], y, color=_PALETTE[k % 10], marker=_MARKERS[k % len(_MARKERS)], s=30, zorder=3, label=_legend_label(name))
    ax.set_yticks(y, [str(c) for c in codes])
    ax.set_xlabel("persons allocated")
    ax.set_title("Variants compared: persons per state", loc="left")
    _legend_below(ax, fig, len(variants))
    _finish(ax, fig)
    return Chart("comparison", "Persons allocated per state in each variant: one dot per variant; the grey line spans the range.", fig)


def _ratio(variants: list[tuple[str, PlanMetrics]], codes: list, height: float) -> Chart:
    fig, ax = _figure(9, height)
    y = np.arange(len(codes))
    for k, (name, metrics) in enumerate(variants):
        ratio = metrics.states["ratio"].reindex(codes).to_numpy(dtype=float)
        ax.scatter(ratio, y, color=_PALETTE[k % 10], marker=_MARKERS[k % len(_MARKERS)], s=28, label=_legend_label(name), zorder=3)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y, [str(c) for c in codes])
    ax.set_xlabel("ratio to fair share (allocated / target); 1 = exactly the fair share")
    ax.set_title("Ratio to fair share", loc="left")
    ax.ticklabel_format(axis="x", useOffset=False)
    if len(variants) > 1:
        _legend_below(ax, fig, len(variants))
    _finish(ax, fig)
    return Chart("ratio", "Ratio to fair share per state: allocation over target (1 is exactly fair).", fig)


def _lorenz(variants: list[tuple[str, PlanMetrics]]) -> Chart:
    fig, ax = _figure(6, 6)
    ax.plot([0, 1], [0, 1], color="black", linewidth=1, label="equality")
    for k, (name, metrics) in enumerate(variants):
        x, y = metrics.lorenz
        gini = metrics.overall.gini
        label = f"{name} (Gini {gini:.4f})" if math.isfinite(gini) else name
        ax.plot(x, y, color=_PALETTE[k % 10], marker=_MARKERS[k % len(_MARKERS)], markersize=3, linewidth=1.5, label=_legend_label(label))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("cumulative share of fair-share targets")
    ax.set_ylabel("cumulative share of allocation")
    ax.set_title("Lorenz curve of the ratio to fair share", loc="left")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(color="#eeeeee")
    fig.tight_layout()
    return Chart("lorenz", "Lorenz curve: states sorted by ratio to fair share; the further below the diagonal, the less even.", fig)


def solidarity(states, price_eur: float) -> Chart | None:
    """The solidarity pool (`optimizer.solidarity.state_table`): per state, the pledge by kind in
    relocation equivalents against its fair share and what is due after deductions."""
    if states is None or not len(states):
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    with matplotlib.rc_context(_rc("solidarity")):
        table = states.sort_values(["fair_relocations"], kind="mergesort")
        fig, ax = _figure(9, max(3.0, 0.24 * len(table) + 1.6))
        y = np.arange(len(table))
        left = np.zeros(len(table))
        kinds = (("pledged_relocations", 1.0, "relocations"), ("pledged_financial_eur", price_eur, "money / price"), ("pledged_alternative_eur", price_eur, "alternative / price"))
        for k, (column, unit, label) in enumerate(kinds):
            values = table[column].to_numpy(dtype=float) / unit
            if values.any():
                ax.barh(y, values, left=left, height=0.7, color=_PALETTE[k], label=label)
                left += values
        ax.scatter(table["fair_relocations"], y, color="black", marker="|", s=180, linewidths=2, zorder=3, label="fair share")
        deducted = table["deducted_relocations"].to_numpy(dtype=float) > 0
        if deducted.any():
            ax.scatter(table["due_relocations"].to_numpy()[deducted], y[deducted], color=_PALETTE[3], marker="|", s=180, linewidths=2, zorder=3, label="after deductions")
        ax.set_yticks(y, [str(c) for c in table.index])
        ax.set_xlabel("relocation equivalents")
        ax.set_title("Solidarity pledges against fair shares", loc="left")
        _legend_below(ax, fig, 5)
        _finish(ax, fig)
        caption = "Pledges per state by kind, in relocation equivalents; the black mark is the fair share (key x pool)"
        return Chart("solidarity", caption + (", the red one what is due after deductions." if deducted.any() else "."), fig)


def rc_settings(name: str) -> dict:
    """The rc settings a chart is drawn and saved with (the maps module draws with them too)."""
    return _rc(name)


def _rc(name: str) -> dict:
    return {
        "svg.hashsalt": f"relocate-{name}",
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.size": 9,
        "text.parse_math": False,
        "path.simplify": True,
    }


def svg(chart: Chart) -> bytes:
    if "svg" not in chart.saved:
        import matplotlib

        with matplotlib.rc_context(_rc(chart.name)):
            buffer = io.BytesIO()
            chart.figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
            chart.saved["svg"] = _round_paths(buffer.getvalue())
    return chart.saved["svg"]


def _round_paths(svg_bytes: bytes) -> bytes:
    """Path coordinates to 0.1 pt (matplotlib writes 6 decimals): a map's borders take a third less
    room, and no one sees a tenth of a point."""
    return re.sub(rb'( d="[^"]*")', lambda m: re.sub(rb"(\d+\.\d)\d+", rb"\1", m.group(1)), svg_bytes)


def png(chart: Chart) -> bytes:
    if "png" not in chart.saved:
        import matplotlib

        with matplotlib.rc_context(_rc(chart.name)):
            buffer = io.BytesIO()
            chart.figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
            chart.saved["png"] = buffer.getvalue()
    return chart.saved["png"]


def inline_svg(chart: Chart) -> str:
    """The chart as an <svg> element for an HTML page, scaling with the page up to its own width."""
    text = svg(chart).decode("utf-8")
    text = text[text.index("<svg") :]
    match = re.match(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"', text)
    if match:
        width = match.group(2)
        text = text.replace(match.group(0), f'<svg{match.group(1)} style="width:100%;max-width:{width}pt;height:auto"', 1)
    return text.strip()
