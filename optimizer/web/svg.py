"""The explorer's map and allocation chart, written as SVG text directly.

The reports draw with matplotlib (PNG for Markdown, one look for every chart); a page that redraws
on every slider move cannot spend the half second matplotlib takes to lay out and save two figures,
so here the same geometry, colour scales and small-state markers (`report.maps`) are written out
as SVG elements: a few milliseconds. Each state's shape carries its code (`data-code`), its value
and a `<title>` tooltip; every text that comes from a file is escaped.
"""

from __future__ import annotations

import html
import math
from functools import cache

import numpy as np
import pandas as pd

from ..report.geometry import Shape, Unmapped, europe
from ..report.maps import NOT_TAKING_PART, OUTSIDE, SEA, Panel, is_dark

# Map units are km; the legend and labels are sized in km too (the map is ~4,150 km wide).
_LEGEND_KM = 420
_LABEL_KM = 78
_MARKER_KM = 52


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def hex_colour(rgba) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])


@cache
def _path_data() -> dict[int, str]:
    """Each shape's outline as SVG path data, y pointing down, whole km (a pixel is ~7 km), each
    point relative to the one before (short numbers: half the bytes the browser has to read)."""
    ymax = europe().frame[3]
    out = {}
    for index, shape in enumerate(europe().shapes):
        parts = []
        for ring in shape.rings:
            points = np.round(np.column_stack([ring[:, 0], ymax - ring[:, 1]])).astype(int)
            steps = np.diff(points, axis=0)
            steps = steps[(steps != 0).any(axis=1)]
            parts.append(f"M{points[0][0]} {points[0][1]}l" + " ".join(f"{dx} {dy}" for dx, dy in steps) + "z")
        out[index] = "".join(parts)
    return out


def map_svg(panel: Panel, per_state: pd.DataFrame, shapes: dict[str, Shape], unit: str) -> str:
    """One choropleth panel: every shape, the participants coloured by `panel.column`, small
    states as circles, codes on the states, a colour bar below."""
    geo = europe()
    xmin, ymin, xmax, ymax = geo.frame
    width, height = xmax - xmin, ymax - ymin
    by_shape = {id(s): code for code, s in shapes.items()}
    paths, labels, markers = [], [], []
    for index, shape in enumerate(geo.shapes):
        code = by_shape.get(id(shape))
        d = _path_data()[index]
        if code is None:
            paths.append(f'<path d="{d}" fill="{OUTSIDE}" stroke="#fff" stroke-width="2"/>')
            continue
        if code not in per_state.index:
            tip = f"{code} {shapes[code].name}: not taking part"
            paths.append(f'<path d="{d}" fill="{NOT_TAKING_PART}" stroke="#555" stroke-width="2" data-code="{esc(code)}"><title>{esc(tip)}</title></path>')
            fill = NOT_TAKING_PART
            value = math.nan
        else:
            value = float(per_state.at[code, panel.column])
            rgba = panel.colour(value)
            fill = hex_colour(rgba)
            shown = f"{value:.3f}" if math.isfinite(value) else "no value"
            tip = f"{code} {per_state.at[code, 'name']}: {shown} {unit}"
            paths.append(f'<path d="{d}" fill="{fill}" stroke="#444" stroke-width="2" data-code="{esc(code)}" data-value="{shown}"><title>{esc(tip)}</title></path>')
            if not shape.small:
                colour = "#fff" if is_dark(rgba) else "#1d2430"
                labels.append(_text(shape.label[0] - xmin, ymax - shape.label[1], code, colour, "middle"))
        if shape.small:
            cx, cy = shape.label[0] - xmin, ymax - shape.label[1]
            markers.append(f'<circle cx="{cx:.0f}" cy="{cy:.0f}" r="{_MARKER_KM}" fill="{fill}" stroke="#222" stroke-width="9" data-code="{esc(code)}"><title>{esc(tip)}</title></circle>')
            labels.append(_text(cx + _MARKER_KM + 12, cy, code, "#1d2430", "start"))
    legend = _legend(panel, width, height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height + _LEGEND_KM:.0f}" class="map" data-column="{esc(panel.column)}" role="img" aria-label="{esc(panel.title)}">'
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="{SEA}"/>'
        f'<g transform="translate({-xmin:.0f} 0)">{"".join(paths)}</g>'
        f'{"".join(markers)}{"".join(labels)}{legend}</svg>'
    )


def _text(x: float, y: float, text: str, colour: str, anchor: str) -> str:
    return f'<text x="{x:.0f}" y="{y:.0f}" font-size="{_LABEL_KM}" fill="{colour}" text-anchor="{anchor}" dominant-baseline="middle">{esc(text)}</text>'


def _legend(panel: Panel, width: float, height: float) -> str:
    """A colour bar of the panel's scale with round ticks, under the map."""
    left, right, top = 0.08 * width, 0.92 * width, height + 60
    stops = "".join(
        f'<stop offset="{k / 20:.2f}" stop-color="{hex_colour(panel.colour(panel.lower + (panel.upper - panel.lower) * k / 20))}"/>' for k in range(21)
    )
    gradient_id = f"scale-{panel.column}"
    ticks = []
    for value in panel.ticks():
        x = left + (right - left) * _position(panel, value)
        ticks.append(f'<line x1="{x:.0f}" x2="{x:.0f}" y1="{top + 110}" y2="{top + 140}" stroke="#333" stroke-width="6"/>')
        ticks.append(f'<text x="{x:.0f}" y="{top + 215}" font-size="{_LABEL_KM + 8}" text-anchor="middle">{value:g}</text>')
    return (
        f'<defs><linearGradient id="{gradient_id}">{stops}</linearGradient></defs>'
        f'<rect x="{left:.0f}" y="{top:.0f}" width="{right - left:.0f}" height="110" fill="url(#{gradient_id})" stroke="#333" stroke-width="4"/>'
        + "".join(ticks)
        + f'<text x="{width / 2:.0f}" y="{top + 320}" font-size="{_LABEL_KM + 8}" text-anchor="middle">{esc(panel.legend)}</text>'
    )


def _position(panel: Panel, value: float) -> float:
    """Where `value` sits on the bar, 0-1 (linear: the gradient's stops are evenly spaced values)."""
    return (value - panel.lower) / (panel.upper - panel.lower) if panel.upper > panel.lower else 0.5


def unmapped_rows(missing: list[Unmapped], per_state: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(code, name, per 1,000, ratio) of each participant the map cannot draw, for beside the map."""
    rows = []
    for item in missing:
        if item.code in per_state.index:
            values = [float(per_state.at[item.code, c]) for c in ("per_1000", "ratio")]
            rows.append((item.code, item.name, *(f"{v:.3f}" if math.isfinite(v) else "–" for v in values), item.reason))
    return rows


def allocation_svg(per_state: pd.DataFrame) -> str:
    """Allocation (bars) against fair share (black tick) and capacity (red triangle) per state,
    smallest target at the top, as `report.charts` orders it."""
    rows = per_state.sort_values(["target", "burden"], kind="mergesort")
    capacity = rows["capacity"].to_numpy(dtype=float)
    top = max(float(rows["burden"].max()), float(rows["target"].max()), float(np.nanmax(capacity)) if np.isfinite(capacity).any() else 0.0, 1.0)
    step = _step(top)
    top = step * math.ceil(top / step)
    left, width, row, head = 46, 560, 15, 24
    height = head + row * len(rows) + 34
    scale = width / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + width + 20} {height}" class="chart" role="img" aria-label="allocation against fair share and capacity">']
    for k in range(int(round(top / step)) + 1):
        x = left + k * step * scale
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{head - 4}" y2="{height - 30}" stroke="#e4e7ec"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 16}" font-size="10" text-anchor="middle">{k * step:,.0f}</text>')
    for i, (code, r) in enumerate(rows.iterrows()):
        y = head + i * row
        cap = float(r["capacity"])
        tip = f"{code} {r['name']}: {float(r['burden']):,.1f} allocated, target {float(r['target']):,.1f}" + (f", capacity {cap:,.0f}" if math.isfinite(cap) else "")
        parts.append(f'<g data-code="{esc(code)}"><title>{esc(tip)}</title>')
        parts.append(f'<text x="{left - 6}" y="{y + row / 2 + 3.5:.1f}" font-size="10" text-anchor="end">{esc(code)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{float(r["burden"]) * scale:.1f}" height="{row - 4}" fill="#1f77b4"/>')
        tx = left + float(r["target"]) * scale
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + row}" stroke="#000" stroke-width="2"/>')
        if math.isfinite(cap):
            cx = left + cap * scale
            parts.append(f'<path d="M{cx:.1f} {y + row / 2:.1f} l7 -5 v10 z" fill="#b42318"/>')
        parts.append("</g>")
    parts.append(f'<text x="{left}" y="14" font-size="11">bars: allocated · black tick: fair share · red triangle: capacity</text></svg>')
    return "".join(parts)


def _step(top: float) -> float:
    """A round tick step giving four to eight ticks up to `top`."""
    power = 10 ** math.floor(math.log10(top / 5)) if top > 0 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if top / (factor * power) <= 8:
            return factor * power
    return 10 * power
