#!/usr/bin/env python3
"""Derive the package's Europe map (optimizer/report/data/europe.json) from Natural Earth, once.

    python scripts/derive_europe_map.py [--atlas DIR] [--out FILE]

Source: Natural Earth 1:50m admin-0 countries (public domain, naturalearthdata.com), as the TopoJSON
`countries-50m.json` of the npm package `world-atlas` 2.0.2 (ISC licence, Mike Bostock). Without
--atlas the script installs that package into a temporary folder with npm (the only download) and
reads it from there; nothing is fetched when the map is drawn.

What it does, in order (every step deterministic, so rerunning gives the same bytes):
1. decodes the TopoJSON arcs (quantised, delta-encoded) to longitude/latitude;
2. projects them with the Lambert azimuthal equal-area projection of EPSG:3035 (ETRS89-LAEA, centre
   52N 10E, false easting 4,321 km, northing 3,210 km) on a sphere of radius 6,371 km: areas stay
   true, which a choropleth needs (the spherical form differs from the ellipsoidal one by well under
   a pixel at this scale);
3. simplifies each arc once (Douglas-Peucker), so neighbours keep a common border with no gaps or
   slivers; the tolerance is 3 km (a quarter of a point on a report page), finer on the arcs of
   small countries (5% of the square root of the country's area) so that Liechtenstein and Malta
   keep their shape;
4. rebuilds each country's outer rings from its arcs (holes are dropped: the enclaves they leave,
   San Marino and the Vatican, are countries drawn on top), merges Aland into Finland (Natural
   Earth keeps it apart), clips every ring to the map frame (Sutherland-Hodgman), drops islands
   under 100 km2 (smaller than a point on the page) unless they are the country's largest ring, and rounds to 0.1 km;
5. records per country: ISO 3166-1 alpha-2 code (numeric ids mapped by the table below), the names
   a states file may use for it, a label point (the interior point farthest from the border, on the
   largest ring) and its area in km2 as drawn.

Rings are stored as [x0, y0, dx1, dy1, dx2, dy2, ...] in units of 0.1 km (deltas keep the file small).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "optimizer" / "report" / "data" / "europe.json"
ATLAS_PACKAGE = "world-atlas@2.0.2"

# ISO 3166-1 numeric -> alpha-2, for every country that reaches into the frame. Kosovo and
# Northern Cyprus have no numeric code in Natural Earth: Kosovo takes the user-assigned XK, Northern
# Cyprus no code (it is drawn, never matched).
ALPHA2 = {
    "008": "AL", "012": "DZ", "020": "AD", "031": "AZ", "040": "AT", "051": "AM", "056": "BE", "070": "BA",
    "100": "BG", "112": "BY", "191": "HR", "196": "CY", "203": "CZ", "208": "DK", "233": "EE", "234": "FO",
    "246": "FI", "248": "FI", "250": "FR", "268": "GE", "275": "PS", "276": "DE", "300": "GR", "304": "GL",
    "348": "HU", "352": "IS", "364": "IR", "368": "IQ", "372": "IE", "376": "IL", "380": "IT", "398": "KZ",
    "400": "JO", "414": "KW", "422": "LB", "428": "LV", "434": "LY", "438": "LI", "440": "LT", "442": "LU",
    "470": "MT", "492": "MC", "498": "MD", "499": "ME", "504": "MA", "528": "NL", "578": "NO", "616": "PL",
    "620": "PT", "642": "RO", "643": "RU", "674": "SM", "682": "SA", "688": "RS", "703": "SK", "705": "SI",
    "724": "ES", "752": "SE", "756": "CH", "760": "SY", "788": "TN", "792": "TR", "804": "UA", "807": "MK",
    "818": "EG", "826": "GB", "831": "GG", "832": "JE", "833": "IM", "336": "VA",
}
NAMED_CODES = {"Kosovo": "XK"}
# Names a states file may give besides Natural Earth's: English long forms and the states' own.
ALIASES = {
    "AT": ["Österreich"], "BE": ["Belgique", "België", "Belgien"], "BG": ["Bulgaria", "България"],
    "CH": ["Schweiz", "Suisse", "Svizzera"], "CY": ["Κύπρος", "Kıbrıs"], "CZ": ["Czech Republic", "Česko", "Česká republika"],
    "DE": ["Deutschland"], "DK": ["Danmark"], "EE": ["Eesti"], "ES": ["España"], "FI": ["Suomi"],
    "GB": ["United Kingdom", "UK", "Great Britain", "Britain"], "GR": ["Hellas", "Ellada", "Ελλάδα"],
    "HR": ["Hrvatska"], "HU": ["Magyarország"], "IE": ["Éire"], "IS": ["Ísland"], "IT": ["Italia"],
    "LT": ["Lietuva"], "LU": ["Lëtzebuerg", "Luxemburg"], "LV": ["Latvija"], "MK": ["North Macedonia"],
    "BA": ["Bosnia and Herzegovina"], "NL": ["The Netherlands", "Nederland", "Holland"], "NO": ["Norge", "Noreg"],
    "PL": ["Polska"], "RO": ["România"], "SE": ["Sverige"], "SI": ["Slovenija"], "SK": ["Slovensko"],
    "MT": ["Republic of Malta"], "RU": ["Russian Federation"], "MD": ["Republic of Moldova"],
}
R = 6371.0
LAT0, LON0, FE, FN = math.radians(52.0), math.radians(10.0), 4321.0, 3210.0
# The frame, in km of EPSG:3035: Iceland to Cyprus, Malta to the North Cape.
FRAME = (2450.0, 1280.0, 6600.0, 5450.0)
TOLERANCE = 3.0
SMALL_FACTOR = 0.05
MIN_ISLAND = 100.0


def install_atlas() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="world-atlas-"))
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder), ATLAS_PACKAGE], check=True)
    return folder / "node_modules" / "world-atlas"


def project(lon: float, lat: float) -> tuple[float, float]:
    lam, phi = math.radians(lon), math.radians(lat)
    # The projection is finite everywhere but at the antipode (52S 170W, open sea): keep off it.
    k = math.sqrt(2.0 / max(1e-9, 1.0 + math.sin(LAT0) * math.sin(phi) + math.cos(LAT0) * math.cos(phi) * math.cos(lam - LON0)))
    x = R * k * math.cos(phi) * math.sin(lam - LON0)
    y = R * k * (math.cos(LAT0) * math.sin(phi) - math.sin(LAT0) * math.cos(phi) * math.cos(lam - LON0))
    return FE + x, FN + y


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            lon, lat = x * sx + tx, y * sy + ty
            points.append(project(lon, lat))
        arcs.append(points)
    return arcs


def douglas_peucker(points: list, tolerance: float) -> list:
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            d = abs(dy * (px - x1) - dx * (py - y1)) / norm if norm else math.hypot(px - x1, py - y1)
            if d > worst:
                worst, index = d, i
        if worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep) if k]


def ring_area(ring: list) -> float:
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]))


def clip(ring: list, frame: tuple) -> list:
    """Sutherland-Hodgman against the (convex) frame rectangle."""
    xmin, ymin, xmax, ymax = frame
    edges = [
        (lambda p: p[0] >= xmin, lambda a, b: (xmin, a[1] + (b[1] - a[1]) * (xmin - a[0]) / (b[0] - a[0]))),
        (lambda p: p[0] <= xmax, lambda a, b: (xmax, a[1] + (b[1] - a[1]) * (xmax - a[0]) / (b[0] - a[0]))),
        (lambda p: p[1] >= ymin, lambda a, b: (a[0] + (b[0] - a[0]) * (ymin - a[1]) / (b[1] - a[1]), ymin)),
        (lambda p: p[1] <= ymax, lambda a, b: (a[0] + (b[0] - a[0]) * (ymax - a[1]) / (b[1] - a[1]), ymax)),
    ]
    out = ring
    for inside, cross in edges:
        if not out:
            break
        points, out = out, []
        for a, b in zip(points[-1:] + points[:-1], points):
            if inside(b):
                if not inside(a):
                    out.append(cross(a, b))
                out.append(b)
            elif inside(a):
                out.append(cross(a, b))
    return out


def label_point(ring: list) -> tuple[float, float]:
    """The grid point inside `ring` farthest from its border (a cheap pole of inaccessibility)."""
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    best, where = -1.0, (sum(xs) / len(xs), sum(ys) / len(ys))
    steps = 48
    segments = list(zip(ring, ring[1:] + ring[:1]))
    for i in range(1, steps):
        for j in range(1, steps):
            x = min(xs) + (max(xs) - min(xs)) * i / steps
            y = min(ys) + (max(ys) - min(ys)) * j / steps
            inside = False
            for (x1, y1), (x2, y2) in segments:
                if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
            if not inside:
                continue
            d = min(_segment_distance(x, y, a, b) for a, b in segments)
            if d > best:
                best, where = d, (x, y)
    return where


def _segment_distance(x: float, y: float, a: tuple, b: tuple) -> float:
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / length))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


def outer_rings(geometry: dict) -> list[list[int]]:
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    return [polygon[0] for polygon in polygons]


def build(atlas: Path) -> dict:
    topology = json.loads((atlas / "countries-50m.json").read_text(encoding="utf-8"))
    arcs = decode_arcs(topology)
    countries: dict[str, dict] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        if geometry["type"] not in ("Polygon", "MultiPolygon"):
            continue
        name = geometry["properties"]["name"]
        code = ALPHA2.get(geometry.get("id") or "", NAMED_CODES.get(name, ""))
        key = code or name
        entry = countries.setdefault(key, {"code": code, "name": name, "rings": []})
        if name == "Finland":
            entry["name"] = name  # Aland comes first in the file; the country keeps Finland's name
        entry["rings"] += outer_rings(geometry)
    # Rough area of each country from its unsimplified rings: small countries get finer arcs.
    arc_tolerance: dict[int, float] = {}
    for entry in countries.values():
        rings = [_ring_points(arcs, ring) for ring in entry["rings"]]
        area = sum(abs(ring_area(r)) for r in rings if r)
        tolerance = min(TOLERANCE, SMALL_FACTOR * math.sqrt(area)) if area else TOLERANCE
        for ring in entry["rings"]:
            for index in ring:
                arc = index if index >= 0 else ~index
                arc_tolerance[arc] = min(arc_tolerance.get(arc, TOLERANCE), tolerance)
    simplified = {arc: douglas_peucker(arcs[arc], tol) for arc, tol in arc_tolerance.items()}
    shapes = []
    for key in sorted(countries):
        shape = _shape(countries[key], simplified)
        if shape is not None:
            shapes.append(shape)
    return {
        "source": "Natural Earth 1:50m admin-0 countries (public domain), from the npm package world-atlas 2.0.2 (countries-50m.json)",
        "licence": "Natural Earth: public domain (naturalearthdata.com/about/terms-of-use); world-atlas: ISC",
        "derived_by": "scripts/derive_europe_map.py",
        "projection": "EPSG:3035 Lambert azimuthal equal-area (52N 10E, false origin 4321 km E, 3210 km N), spherical, km",
        "simplification": f"Douglas-Peucker per shared arc, {TOLERANCE} km (small countries {SMALL_FACTOR} x sqrt(area)); islands under {MIN_ISLAND:g} km2 dropped; 0.1 km grid",
        "unit_km": 0.1,
        "frame": [round(v * 10) for v in FRAME],
        "shapes": shapes,
    }


def _ring_points(arcs: list, ring: list[int]) -> list:
    points: list = []
    for index in ring:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points += arc[1:] if points else arc
    return points[:-1] if len(points) > 1 and points[0] == points[-1] else points


def _shape(entry: dict, simplified: dict) -> dict | None:
    rings = []
    for ring in entry["rings"]:
        points = _ring_points(simplified, ring)
        if not points:
            continue
        points = clip(points, FRAME)
        if len(points) >= 3 and abs(ring_area(points)) > 0:
            rings.append(points)
    if not rings:
        return None
    rings.sort(key=lambda r: -abs(ring_area(r)))
    rings = [rings[0]] + [r for r in rings[1:] if abs(ring_area(r)) >= MIN_ISLAND]
    area = sum(abs(ring_area(r)) for r in rings)
    lx, ly = label_point(rings[0])
    names = [entry["name"]] + ALIASES.get(entry["code"], [])
    return {
        "code": entry["code"],
        "name": entry["name"],
        "names": list(dict.fromkeys(names)),
        "area_km2": round(area),
        "label": [round(lx * 10), round(ly * 10)],
        "rings": [_encode(r) for r in rings],
    }


def _encode(ring: list) -> list[int]:
    grid = [(round(x * 10), round(y * 10)) for x, y in ring]
    deduplicated = [p for i, p in enumerate(grid) if i == 0 or p != grid[i - 1]]
    flat = list(deduplicated[0])
    for (x1, y1), (x2, y2) in zip(deduplicated, deduplicated[1:]):
        flat += [x2 - x1, y2 - y1]
    return flat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atlas", type=Path, help="folder of an installed world-atlas package (default: npm install it into a temp folder)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    atlas = args.atlas or install_atlas()
    document = build(atlas)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"{args.out}: {len(document['shapes'])} shapes, {len(text.encode()) / 1024:.0f} KiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
