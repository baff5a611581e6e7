"""The shipped map of Europe and which of a states file's rows it can draw.

`data/europe.json` is Natural Earth 1:50m (public domain), projected to EPSG:3035 and simplified by
`scripts/derive_europe_map.py`, which says how; it ships with the package, so maps are drawn with no
network. A state is drawn when its code is the country's ISO 3166-1 alpha-2 code (or Eurostat's EL
and UK) *and* its name, when the file gives one, is a name of that country: the German Laender file
uses BE for Berlin and BY for Bayern, which must not paint Belgium and Belarus. Every state that
cannot be drawn is returned with the reason, for the map to list beside itself.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

# Eurostat's codes for two countries whose ISO codes differ.
CODE_ALIASES = {"EL": "GR", "UK": "GB"}
# Below this area (km2, as drawn) a state is too small to see on a map of Europe: it gets a marker.
SMALL_KM2 = 10_000


@dataclass(frozen=True)
class Shape:
    code: str  # ISO alpha-2; "" for a territory with none (Northern Cyprus)
    name: str
    names: frozenset[str]  # normalised names a states file may use
    area_km2: float
    label: tuple[float, float]  # km, EPSG:3035
    rings: tuple[np.ndarray, ...]  # (n, 2) arrays in km

    @property
    def small(self) -> bool:
        return self.area_km2 < SMALL_KM2


@dataclass(frozen=True)
class EuropeMap:
    shapes: tuple[Shape, ...]  # largest first, so that enclaves are drawn over their surroundings
    frame: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in km
    source: str

    @property
    def by_code(self) -> dict[str, Shape]:
        return {s.code: s for s in self.shapes if s.code}


@dataclass(frozen=True)
class Unmapped:
    code: str
    name: str
    reason: str


def normalise(name: object) -> str:
    """Case, accents, spaces and punctuation ignored: 'Česko' == 'cesko', 'The Netherlands' == 'the netherlands'."""
    text = unicodedata.normalize("NFKD", str(name)).casefold()
    return "".join(c for c in text if c.isalnum())


@cache
def europe() -> EuropeMap:
    data = json.loads(resources.files(__package__).joinpath("data/europe.json").read_text(encoding="utf-8"))
    unit = float(data["unit_km"])
    shapes = []
    for item in data["shapes"]:
        rings = []
        for flat in item["rings"]:
            # [x0, y0, dx1, dy1, ...]: a running sum restores the points.
            rings.append(np.cumsum(np.asarray(flat, dtype=float).reshape(-1, 2), axis=0) * unit)
        names = frozenset(normalise(n) for n in item["names"])
        label = (item["label"][0] * unit, item["label"][1] * unit)
        shapes.append(Shape(item["code"], item["name"], names, float(item["area_km2"]), label, tuple(rings)))
    shapes.sort(key=lambda s: (-s.area_km2, s.code, s.name))
    frame = tuple(v * unit for v in data["frame"])
    return EuropeMap(tuple(shapes), frame, data["source"])  # type: ignore[arg-type]


def match(states: pd.DataFrame) -> tuple[dict[str, Shape], list[Unmapped]]:
    """(state code -> its shape, states that have none with why), in the table's order."""
    shapes = europe().by_code
    found: dict[str, Shape] = {}
    missing: list[Unmapped] = []
    names = states["name"] if "name" in states.columns else pd.Series("", index=states.index)
    for code, name in zip(states.index, names):
        code_text = str(code)
        name_text = "" if pd.isna(name) else str(name)
        shape = shapes.get(CODE_ALIASES.get(code_text.upper(), code_text.upper()))
        if shape is None:
            missing.append(Unmapped(code_text, name_text, "no shape on the map of Europe"))
        elif name_text and normalise(name_text) not in shape.names | {normalise(code_text)}:
            missing.append(Unmapped(code_text, name_text, f"{code_text} is {shape.name} on the map, not {name_text}"))
        else:
            found[code_text] = shape
    return found, missing
