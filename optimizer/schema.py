"""Inputs: the states table, the case list and scenarios, validated at the edge.

Everything the rest of the package sees has passed through here, so downstream code can trust it:
codes are unique, numbers are finite and non-negative, persons are whole, lists are canonical.
Anything we cannot use raises `InputError` naming the file, the row (as a spreadsheet numbers it:
the header is row 1) and the column. Nothing is silently dropped: unknown columns are kept and, when
numeric, usable by custom formulas.
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError

# Files above this size are refused before reading: a national case list of a million people is
# about 20 MB, so anything this large is almost certainly the wrong file.
MAX_INPUT_BYTES = 512 * 1024 * 1024

STATE_NUMERIC_COLUMNS = (
    "population",
    "area_km2",
    "gdp_meur",
    "unemployment_pct",
    "asylum_per_million",
    "tax_revenue_meur",
    "capacity",
    "minimum",
    "hosted",
)
# Counts of persons: must be whole numbers.
STATE_PERSON_COLUMNS = ("capacity", "minimum", "hosted")
STATE_TEXT_COLUMNS = ("code", "name")
CAPACITY_PREFIX = "capacity_"

CASE_LIST_COLUMNS = ("needs", "links", "excluded")
CASE_COLUMNS = ("case_id", "size", "needs", "links", "excluded", "group", "weight")

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


# ---------------------------------------------------------------------------------------------
# Reading raw CSV text


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("is a folder, expected a CSV file", file=path)
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise InputError(
            f"file is {size / 2**20:,.0f} MiB, above the {MAX_INPUT_BYTES / 2**20:,.0f} MiB limit; "
            "is this the right file?",
            file=path,
        )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as UTF-8 "
            "(in Excel: 'CSV UTF-8'), e.g. `iconv -f latin1 -t utf-8`",
            file=path,
            row=line,
        ) from None


def _sniff_dialect(text: str) -> tuple[str, str]:
    """Separator and decimal mark. European spreadsheets write `;` with decimal commas."""
    header = text.split("\n", 1)[0]
    if header.count(";") > header.count(","):
        return ";", ","
    return ",", "."


def read_csv_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV as text cells, one DataFrame row per data row, index = spreadsheet row number."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputError("file is empty", file=path)
    sep, decimal = _sniff_dialect(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, csv.Error) as err:
        raise InputError(f"cannot parse CSV: {err}", file=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise InputError("column appears more than once", file=path, column=dupes[0])
    unnamed = [c for c in frame.columns if c == "" or c.startswith("Unnamed:")]
    if unnamed:
        raise InputError("a column has no name in the header", file=path, row=1)
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    frame = frame.apply(lambda col: col.str.strip())
    blank = (frame == "").all(axis=1)
    frame = frame[~blank]
    if frame.empty:
        raise InputError("no data rows (header only)", file=path)
    frame.attrs["source"] = str(path)
    frame.attrs["decimal"] = decimal
    return frame


def _parse_numbers(
    cells: pd.Series, *, file: str, column: str, decimal: str, integer: bool, allow_empty: bool = True
) -> pd.Series:
    """Strictly parse a text column to floats: empty -> NaN, anything else must be a finite number >= 0."""
    text = cells.astype(str)
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    empty = text == ""
    values = pd.to_numeric(text.where(~empty, None), errors="coerce")
    bad = ~empty & values.isna()
    if bad.any():
        row = int(bad.idxmax())
        raise InputError(f"'{cells[row]}' is not a number", file=file, row=row, column=column)
    arr = values.to_numpy(dtype=float)
    if not np.isfinite(arr[~empty.to_numpy()]).all():
        row = int(cells.index[~empty.to_numpy() & ~np.isfinite(arr)][0])
        raise InputError(f"'{cells[row]}' is not a finite number", file=file, row=row, column=column)
    negative = ~empty.to_numpy() & (arr < 0)
    if negative.any():
        row = int(cells.index[negative][0])
        raise InputError(f"negative value {cells[row]}", file=file, row=row, column=column)
    if integer:
        fractional = ~empty.to_numpy() & (np.floor(arr) != arr)
        if fractional.any():
            row = int(cells.index[fractional][0])
            raise InputError(
                f"'{cells[row]}' is not a whole number of persons", file=file, row=row, column=column
            )
    if not allow_empty and empty.any():
        row = int(empty.idxmax())
        raise InputError("empty cell, a value is required", file=file, row=row, column=column)
    return pd.Series(arr, index=cells.index, name=column)


def _parse_bool(cells: pd.Series, *, file: str, column: str, default: bool) -> pd.Series:
    lowered = cells.str.lower()
    out = pd.Series(default, index=cells.index, dtype=bool)
    out[lowered.isin(_TRUE)] = True
    out[lowered.isin(_FALSE)] = False
    bad = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE) | (lowered == ""))
    if bad.any():
        row = int(bad.idxmax())
        raise InputError(
            f"'{cells[row]}' is not true/false (also accepted: yes/no, 1/0)",
            file=file,
            row=row,
            column=column,
        )
    return out


# ---------------------------------------------------------------------------------------------
# States


def load_states(path: str | Path) -> pd.DataFrame:
    """Read and validate a states CSV.

    Returns a DataFrame indexed by `code` in input order, with `name` (text), `willing` (bool), every
    canonical numeric column present as float (NaN where empty) and every other column kept: as
    float when all its cells are numbers, else as text. `attrs` holds `source` and `rows` (code ->
    spreadsheet row) for later messages.
    """
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    decimal = raw.attrs["decimal"]
    if "code" not in raw.columns:
        raise InputError(
            f"missing required column 'code' (columns found: {', '.join(raw.columns)})",
            file=file,
            row=1,
            column="code",
        )
    codes = raw["code"]
    if (codes == "").any():
        row = int((codes == "").idxmax())
        raise InputError("empty state code", file=file, row=row, column="code")
    duplicated = codes.duplicated()
    if duplicated.any():
        row = int(duplicated.idxmax())
        first = int(codes[codes == codes[row]].index[0])
        raise InputError(
            f"duplicate code '{codes[row]}' (first in row {first})", file=file, row=row, column="code"
        )

    out = pd.DataFrame(index=pd.Index(codes.to_numpy(dtype=object), name="code"))
    out["name"] = (raw["name"] if "name" in raw.columns else codes).to_numpy(dtype=object)
    out["willing"] = (
        _parse_bool(raw["willing"], file=file, column="willing", default=True).to_numpy()
        if "willing" in raw.columns
        else True
    )
    for column in raw.columns:
        if column in ("code", "name", "willing"):
            continue
        known = column in STATE_NUMERIC_COLUMNS or column.startswith(CAPACITY_PREFIX)
        if known:
            integer = column in STATE_PERSON_COLUMNS or column.startswith(CAPACITY_PREFIX)
            values = _parse_numbers(raw[column], file=file, column=column, decimal=decimal, integer=integer)
            out[column] = values.to_numpy()
        else:
            # Extra columns: numeric if every non-empty cell is a number, else kept as text.
            try:
                values = _parse_numbers(raw[column], file=file, column=column, decimal=decimal, integer=False)
                out[column] = values.to_numpy()
            except InputError:
                out[column] = raw[column].to_numpy(dtype=object)
    if "capacity" in out.columns and "minimum" in out.columns:
        below = out["minimum"] > out["capacity"]
        if below.any():
            code = below.idxmax()
            raise InputError(
                f"minimum {out.at[code, 'minimum']:.0f} is above capacity {out.at[code, 'capacity']:.0f}",
                file=file,
                row=int(raw.index[list(out.index).index(code)]),
                column="minimum",
            )
    out.attrs["source"] = file
    out.attrs["rows"] = dict(zip(out.index, (int(r) for r in raw.index)))
    return out


def state_row(states: pd.DataFrame, code: str) -> int | None:
    return states.attrs.get("rows", {}).get(code)


def participants(
    states: pd.DataFrame, only: list[str] | None = None, exclude: list[str] | None = None
) -> pd.DataFrame:
    """The states that take part: willing, in `only` (when given), not in `exclude`. Input order kept."""
    only = list(only or [])
    exclude = list(exclude or [])
    for option, codes in (("--only", only), ("--exclude", exclude)):
        unknown = [c for c in codes if c not in states.index]
        if unknown:
            raise InputError(
                f"{option}: unknown state code(s) {', '.join(unknown)} "
                f"(not in {states.attrs.get('source', 'the states file')})"
            )
    both = sorted(set(only) & set(exclude))
    if both:
        raise InputError(f"state(s) {', '.join(both)} both required (--only) and excluded (--exclude)")
    mask = states["willing"].astype(bool)
    if only:
        mask &= states.index.isin(only)
    if exclude:
        mask &= ~states.index.isin(exclude)
    chosen = states[mask]
    if chosen.empty:
        raise InputError("no participating state: every state is unwilling or left out by --only/--exclude")
    chosen.attrs = dict(states.attrs)
    return chosen


def split_codes(text: str | None) -> list[str]:
    """Parse an option like 'DE,FR, IT' into codes."""
    if not text:
        return []
    return [c.strip() for c in text.split(",") if c.strip()]


# ---------------------------------------------------------------------------------------------
# Cases


def _canonical_list(cells: pd.Series) -> pd.Series:
    """'b; a;;a' -> 'a;b': a semicolon list is a set, so it gets one spelling."""
    def canon(cell: str) -> str:
        if not cell:
            return ""
        return ";".join(sorted({part.strip() for part in cell.split(";") if part.strip()}))

    # Most cells are empty or already canonical; only touch the others.
    return cells.map(canon) if len(cells) else cells


def load_cases(path: str | Path) -> pd.DataFrame:
    """Read and validate a cases CSV.

    Columns out: case_id (text), size (int), needs, links, excluded (canonical 'a;b' text), group
    (text, '' for none), weight (float, NaN where not given). Row order is kept; the index is the
    spreadsheet row number.
    """
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    decimal = raw.attrs["decimal"]
    for required in ("case_id", "size"):
        if required not in raw.columns:
            raise InputError(
                f"missing required column '{required}' (columns found: {', '.join(raw.columns)})",
                file=file,
                row=1,
                column=required,
            )
    ids = raw["case_id"]
    if (ids == "").any():
        row = int((ids == "").idxmax())
        raise InputError("empty case id", file=file, row=row, column="case_id")
    duplicated = ids.duplicated()
    if duplicated.any():
        row = int(duplicated.idxmax())
        first = int(ids[ids == ids[row]].index[0])
        raise InputError(
            f"duplicate case id '{ids[row]}' (first in row {first})", file=file, row=row, column="case_id"
        )
    size = _parse_numbers(raw["size"], file=file, column="size", decimal=decimal, integer=True, allow_empty=False)
    if (size < 1).any():
        row = int((size < 1).idxmax())
        raise InputError("size must be at least 1 person", file=file, row=row, column="size")
    out = pd.DataFrame(index=raw.index)
    out["case_id"] = ids.to_numpy(dtype=object)
    out["size"] = size.to_numpy(dtype=np.int64)
    for column in CASE_LIST_COLUMNS:
        out[column] = _canonical_list(raw[column]).to_numpy(dtype=object) if column in raw.columns else ""
    out["group"] = raw["group"].to_numpy(dtype=object) if "group" in raw.columns else ""
    if "weight" in raw.columns:
        out["weight"] = _parse_numbers(raw["weight"], file=file, column="weight", decimal=decimal, integer=False).to_numpy()
    else:
        out["weight"] = np.nan
    for column in raw.columns:
        if column not in CASE_COLUMNS:
            out[column] = raw[column].to_numpy(dtype=object)
    out.attrs["source"] = file
    return out


def check_cases_against_states(cases: pd.DataFrame, states: pd.DataFrame) -> None:
    """Every state code a case names must exist; every need needs a capacity column or none."""
    known = set(states.index)
    file = cases.attrs.get("source")
    for column in ("links", "excluded"):
        listed = cases[column]
        nonempty = listed[listed != ""]
        if nonempty.empty:
            continue
        exploded = nonempty.str.split(";").explode()
        unknown = exploded[~exploded.isin(known)]
        if not unknown.empty:
            row = int(unknown.index[0])
            raise InputError(
                f"unknown state code '{unknown.iloc[0]}' (not in {states.attrs.get('source', 'the states file')})",
                file=file,
                row=row,
                column=column,
            )


def case_needs(cases: pd.DataFrame) -> list[str]:
    """The need dimensions used by any case, sorted."""
    listed = cases["needs"][cases["needs"] != ""]
    if listed.empty:
        return []
    return sorted(set(listed.str.split(";").explode()))


def case_weights(cases: pd.DataFrame, need_weights: dict[str, float] | None = None) -> np.ndarray:
    """Burden units per case: the `weight` column where given, else size x the largest per-person
    weight of the case's needs (1 when it has none or no weight is set for them)."""
    per_person = np.ones(len(cases))
    if need_weights:
        needs = cases["needs"].to_numpy()
        for i, cell in enumerate(needs):
            if cell:
                per_person[i] = max([need_weights.get(n, 1.0) for n in cell.split(";")] + [1.0])
    weights = cases["size"].to_numpy(dtype=float) * per_person
    given = cases["weight"].to_numpy(dtype=float)
    return np.where(np.isnan(given), weights, given)


# ---------------------------------------------------------------------------------------------
# Scenarios (TOML)

LinksMode = Literal["hard", "soft", "off"]
Objective = Literal["deviation", "minimax"]
SolverName = Literal["highs", "cbc"]


class ScenarioSettings(BaseModel):
    """Settings a scenario, a variant or the command line can give. `None` means 'not given'."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    states: str | None = None
    cases: str | None = None
    total: int | None = Field(default=None, ge=0)
    formula: str | dict[str, Any] | None = None
    weight_column: str | None = None
    only: list[str] | None = None
    exclude: list[str] | None = None
    method: str | None = None
    links: LinksMode | None = None
    objective: Objective | None = None
    solver: SolverName | None = None
    time_limit: float | None = Field(default=None, gt=0)
    gap: float | None = Field(default=None, ge=0, le=1)
    require_all: bool | None = None
    count_hosted: bool | None = None
    need_weights: dict[str, float] | None = None
    capacity: dict[str, int] | None = None

    @field_validator("need_weights")
    @classmethod
    def _positive_weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            for need, weight in value.items():
                if not math.isfinite(weight) or weight < 0:
                    raise ValueError(f"need weight for '{need}' must be a finite number >= 0")
        return value


class Variant(ScenarioSettings):
    name: str


class Scenario(ScenarioSettings):
    variants: list[Variant] = Field(default_factory=list)


def load_scenario(path: str | Path) -> tuple[Scenario, Path]:
    """Parse a scenario TOML; returns it and the folder its relative paths are read from."""
    path = Path(path)
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", file=path) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        location = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{first['msg']}", file=path, column=location) from None
    return scenario, path.parent
