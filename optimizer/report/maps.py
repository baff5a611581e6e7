"""Choropleth maps of Europe: persons per 1,000 inhabitants and ratio to fair share, per variant.

Drawn with matplotlib from the shipped geometry (`geometry`), so a report's map needs no network and
comes out byte-identical for the same inputs (the chart module's rc settings fix the SVG ids). One
figure per variant (the first MAX_VARIANTS), two panels sharing one colour scale across variants so
that maps of a comparison can be read against each other. States too small to see (Malta,
Luxembourg, Liechtenstein, Cyprus, ...) get a circle in their colour; states with no shape are
listed beside the map (and in the caption), never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from ..metrics import PlanMetrics
from .charts import Chart, rc_settings
from .geometry import Shape, Unmapped, europe, match

# Maps drawn for a comparison: one per variant up to this many (a map is ~0.2 s to draw).
MAX_VARIANTS = 4
# States listed beside the map; the caption lists every one.
MAX_LISTED = 30
SEA = "#eef3f7"
OUTSIDE = "#e3e3e3"  # a country not in the states file
NOT_TAKING_PART = "#bdbdbd"  # in the states file, but unwilling or left out
NO_VALUE = "#ffffff"  # taking part, but no population (per 1,000 undefined) or no target


@dataclass(frozen=True)
class Panel:
    column: str
    title: str
    legend: str
    cmap: str
    lower: float
    upper: float
    centre: float | None = None  # a diverging scale's neutral value

    def norm(self):
        from matplotlib.colors import Normalize, TwoSlopeNorm

        if self.centre is not None:
            return TwoSlopeNorm(vcenter=self.centre, vmin=self.lower, vmax=self.upper)
        return Normalize(vmin=self.lower, vmax=self.upper)

    def colour(self, value: float) -> tuple:
        """The RGBA fill of `value` (NaN: the no-value white)."""
        from matplotlib.colors import to_rgba

        if not math.isfinite(value):
            return to_rgba(NO_VALUE)
        return _colormap(self.cmap)(self.norm()(value))

    def ticks(self) -> list[float]:
        """Five to seven round values along the scale, for a legend."""
        from matplotlib.ticker import MaxNLocator

        return [float(t) for t in MaxNLocator(6).tick_values(self.lower, self.upper) if self.lower - 1e-12 <= t <= self.upper + 1e-12]


@cache
def _colormap(name: str):
    # matplotlib hands out a fresh copy per lookup, which builds its table again on first use.
    from matplotlib import colormaps

    return colormaps[name]


def panels(metrics: list[PlanMetrics]) -> tuple[Panel, Panel]:
    """The two panels, with colour scales that cover every variant's values."""
    per_1000 = np.concatenate([m.states["per_1000"].to_numpy(dtype=float) for m in metrics])
    ratio = np.concatenate([m.states["ratio"].to_numpy(dtype=float) for m in metrics])
    top = float(np.nanmax(per_1000)) if np.isfinite(per_1000).any() else 1.0
    top = _nice_ceiling(top) if top > 0 else 1.0
    spread = float(np.nanmax(np.abs(ratio - 1.0))) if np.isfinite(ratio).any() else 0.0
    # At least +-5% so that rounding noise in quota mode stays pale; the scale is symmetric around 1.
    spread = max(0.05, _nice_ceiling(spread) if spread > 0 else 0.0)
    return (
        Panel("per_1000", "Persons per 1,000 inhabitants", "persons per 1,000 inhabitants", "YlOrRd", 0.0, top),
        Panel("ratio", "Ratio to fair share", "allocation / fair-share target (1 = fair)", "RdBu_r", 1.0 - spread, 1.0 + spread, 1.0),
    )


def _nice_ceiling(value: float) -> float:
    """1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 or 10 times a power of ten, at or above `value`."""
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def build(variants: list[tuple[str, PlanMetrics, pd.DataFrame]]) -> list[Chart]:
    """One map chart per (name, metrics, whole states table) for the first MAX_VARIANTS variants."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    shown = variants[:MAX_VARIANTS]
    scales = panels([m for _, m, _ in shown])
    charts = []
    for k, (name, metrics, states) in enumerate(shown):
        chart_name = "map" if len(variants) == 1 else f"map-{k + 1}"
        with matplotlib.rc_context(rc_settings(chart_name)):
            charts.append(draw(chart_name, name, metrics, states, scales))
    if len(variants) > len(shown):
        last = charts[-1]
        charts[-1] = Chart(last.name, last.caption + f" Maps are drawn for the first {MAX_VARIANTS} of {len(variants)} variants.", last.figure)
    return charts


def draw(chart_name: str, name: str, metrics: PlanMetrics, states: pd.DataFrame, scales: tuple[Panel, Panel]) -> Chart:
    """The two panels of one variant, with the states that have no shape listed on the right."""
    from matplotlib.figure import Figure

    shapes, missing = match(states)
    taking_part = set(metrics.states.index)
    listed = [m for m in missing if m.code in taking_part]
    figure = Figure(figsize=(12.4 if listed else 10, 5.9), dpi=100)
    right = 0.79 if listed else 0.99
    axes = figure.subplots(1, 2, gridspec_kw={"left": 0.01, "right": right, "top": 0.9, "bottom": 0.15, "wspace": 0.04})
    for ax, panel in zip(axes, scales):
        _panel(figure, ax, panel, metrics.states, shapes)
    figure.suptitle(f"Where the persons go: {name}", x=0.01, ha="left", fontsize=11)
    _legend(figure, metrics.states, shapes)
    if listed:
        figure.text(0.805, 0.92, _listing(listed, metrics.states), va="top", ha="left", fontsize=7.5, family="sans-serif")
    return Chart(chart_name, _caption(name, metrics.states, shapes, missing, taking_part), figure)


def _panel(figure, ax, panel: Panel, per_state: pd.DataFrame, shapes: dict[str, Shape]) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PathCollection

    geo = europe()
    xmin, ymin, xmax, ymax = geo.frame
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor(SEA)
    for spine in ax.spines.values():
        spine.set_color("#c0c8d0")
    drawn = {id(s): code for code, s in shapes.items()}  # every shape of a state in the file
    faces, edges, markers = [], [], []
    for shape in geo.shapes:  # largest first: enclaves come out on top
        code = drawn.get(id(shape))
        if code is None:
            face = OUTSIDE
        else:
            if code not in per_state.index:
                face = NOT_TAKING_PART
            else:
                face = panel.colour(float(per_state.at[code, panel.column]))
            if shape.small:
                markers.append((shape, code, face))
        faces.append(face)
        edges.append("#ffffff" if code is None or code not in per_state.index else "#555555")
    ax.add_collection(PathCollection(_paths(), facecolors=faces, edgecolors=edges, linewidths=0.35))
    _labels(ax, per_state, shapes, panel)
    for shape, code, face in markers:
        ax.scatter([shape.label[0]], [shape.label[1]], s=70, facecolors=[face], edgecolors="#222222", linewidths=0.9, zorder=4)
        ax.annotate(code, shape.label, xytext=(6, -2), textcoords="offset points", fontsize=6.5, zorder=5)
    ax.set_title(panel.title, loc="left", fontsize=10)
    # 64 steps: smooth to the eye, and a fifth of the SVG of matplotlib's 256.
    bar = figure.colorbar(ScalarMappable(norm=panel.norm(), cmap=colormaps[panel.cmap].resampled(64)), ax=ax, orientation="horizontal", fraction=0.045, pad=0.02, aspect=30, shrink=0.86)
    # Vector colours, not the embedded PNG matplotlib uses for a long bar: the HTML report refers to
    # nothing but itself (a data: image included), and the bar stays sharp when zoomed.
    bar.solids.set_rasterized(False)
    bar.set_label(panel.legend, fontsize=8)
    bar.ax.tick_params(labelsize=7)


@cache
def _paths() -> tuple:
    """One compound path per shape (all its islands), in `europe().shapes` order: one SVG element
    per country instead of one per island."""
    from matplotlib.path import Path

    out = []
    for shape in europe().shapes:
        rings = [Path(np.vstack([ring, ring[:1]]), closed=True) for ring in shape.rings]
        out.append(Path.make_compound_path(*rings))
    return tuple(out)


def _labels(ax, per_state: pd.DataFrame, shapes: dict[str, Shape], panel: Panel) -> None:
    """Each participating state's code on it, dark or light against its colour."""
    for code, shape in shapes.items():
        if code not in per_state.index or shape.small:
            continue
        dark = is_dark(panel.colour(float(per_state.at[code, panel.column])))
        ax.text(*shape.label, code, ha="center", va="center", fontsize=6, color="white" if dark else "#1d2430", zorder=3)


def is_dark(rgba) -> bool:
    """Whether white text reads better than dark text on this fill (relative luminance < 0.45)."""
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45


def _legend(figure, per_state: pd.DataFrame, shapes: dict[str, Shape]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    entries = [Patch(facecolor=OUTSIDE, edgecolor="#ffffff", label="not in the states file")]
    if any(code not in per_state.index for code in shapes):
        entries.append(Patch(facecolor=NOT_TAKING_PART, edgecolor="#555555", label="in the file, not taking part"))
    if any(s.small for s in shapes.values()):
        entries.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="#ffffff", markeredgecolor="#222222", label="small state, drawn as a circle"))
    if per_state[["per_1000", "ratio"]].isna().any().any():
        entries.append(Patch(facecolor=NO_VALUE, edgecolor="#555555", label="no value (no population or no target)"))
    figure.legend(handles=entries, loc="lower left", bbox_to_anchor=(0.01, 0.0), ncol=len(entries), frameon=False, fontsize=7.5)


def _value_text(per_state: pd.DataFrame, code: str) -> str:
    """'0.123 per 1,000, ratio 1.002' (a dash for an undefined value)."""
    per_1000, ratio = (float(per_state.at[code, c]) for c in ("per_1000", "ratio"))
    return f"{_number(per_1000)} per 1,000, ratio {_number(ratio)}"


def _number(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "–"


def _listing(listed: list[Unmapped], per_state: pd.DataFrame) -> str:
    lines = ["Taking part, not on the map", "(per 1,000 inhabitants; ratio to fair share):"]
    for item in listed[:MAX_LISTED]:
        label = f"{item.code} {item.name}" if item.name and item.name != item.code else item.code
        values = [_number(float(per_state.at[item.code, c])) for c in ("per_1000", "ratio")]
        lines.append(f"{_short(label)}: {values[0]}; {values[1]}")
    if len(listed) > MAX_LISTED:
        lines.append(f"... and {len(listed) - MAX_LISTED} more (see the caption)")
    return "\n".join(lines)


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _caption(name: str, per_state: pd.DataFrame, shapes: dict[str, Shape], missing: list[Unmapped], taking_part: set) -> str:
    small = [code for code, s in shapes.items() if s.small]
    text = f"Persons per 1,000 inhabitants and ratio to fair share per state ({name}); grey: not taking part."
    if small:
        text += f" Circles mark states too small to see: {', '.join(small)}."
    listed = [m for m in missing if m.code in taking_part]
    if listed:
        text += " Not on the map: " + "; ".join(f"{m.code} ({m.reason}): {_value_text(per_state, m.code)}" for m in listed) + "."
    return text + f" Map: {europe().source}."
