"""The states table: one row per state, its criteria, capacities and willingness.

Codes are unique, non-empty and usable in lists; numbers are finite, non-negative and not absurdly
large; persons are whole. Unknown columns are kept and, when every cell is a number, usable by
custom formulas.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .text import MAX_NUMBER, MAX_PERSONS, check_identifiers, decimal_mark, missing_column, parse_bool, parse_numbers, read_csv_table

# Columns the loader reads itself; every other column is a number or kept as text.
STATE_TEXT_COLUMNS = ("code", "name")
STATE_RESERVED_COLUMNS = (*STATE_TEXT_COLUMNS, "willing")
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
# `capacity_<need>`: persons with that need a state can take (a count of persons, like capacity).
CAPACITY_PREFIX = "capacity_"
# Characters a state code may not contain: lists in cells are separated by ';', options by ','.
CODE_FORBIDDEN = (";", ",")


class ReadOnly(dict):
    """A dict kept in `DataFrame.attrs` that nothing changes after loading. pandas deep-copies
    attrs on every operation on the frame; sharing these instead saved seconds in a comparison of
    a thousand variants."""

    def __deepcopy__(self, memo: dict) -> "ReadOnly":
        return self


def counts_persons(column: str) -> bool:
    """Whether `column` counts persons (whole numbers up to MAX_PERSONS)."""
    return column in STATE_PERSON_COLUMNS or column.startswith(CAPACITY_PREFIX)


def _add_numbers(raw: pd.DataFrame, out: pd.DataFrame, file: str) -> dict[str, tuple[str, int | None]]:
    """Every column but the reserved ones into `out`: known columns as numbers (or an error),
    others as numbers when every non-empty cell is one, else as text. Returns, per text column,
    why it is not numeric (message, row), for a formula that wants to use it as a number."""
    others = [c for c in raw.columns if c not in STATE_RESERVED_COLUMNS]
    decimal = decimal_mark(raw, others)
    not_numeric: dict[str, tuple[str, int | None]] = {}
    for column in others:
        if column in STATE_NUMERIC_COLUMNS or column.startswith(CAPACITY_PREFIX):
            persons = counts_persons(column)
            values = parse_numbers(
                raw[column],
                file=file,
                column=column,
                decimal=decimal,
                integer=persons,
                maximum=MAX_PERSONS if persons else MAX_NUMBER,
            )
            out[column] = values.to_numpy()
            continue
        try:
            values = parse_numbers(raw[column], file=file, column=column, decimal=decimal, integer=False)
            out[column] = values.to_numpy()
        except InputError as err:
            out[column] = raw[column].to_numpy(dtype=object)
            not_numeric[column] = (err.detail, err.row)
    return not_numeric


def load_states(path: str | Path) -> pd.DataFrame:
    """Read and validate a states CSV.

    Returns a DataFrame indexed by `code` in input order, with `name` (text), `willing` (bool), every
    canonical numeric column present as float (NaN where empty) and every other column kept: as
    float when all its cells are numbers, else as text. `attrs` holds `source` and `rows` (code ->
    spreadsheet row) for later messages.
    """
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    if "code" not in raw.columns:
        raise missing_column(raw, "code")
    codes = raw["code"]
    check_identifiers(codes, file=file, column="code", noun="state code", short="code", forbidden=CODE_FORBIDDEN)

    out = pd.DataFrame(index=pd.Index(codes.to_numpy(dtype=object), name="code"))
    names = raw["name"] if "name" in raw.columns else codes
    out["name"] = names.where(names != "", codes).to_numpy(dtype=object)
    out["willing"] = (
        parse_bool(raw["willing"], file=file, column="willing", default=True).to_numpy()
        if "willing" in raw.columns
        else True
    )
    not_numeric = _add_numbers(raw, out, file)
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
    out.attrs["not_numeric"] = ReadOnly(not_numeric)
    out.attrs["source"] = file
    out.attrs["rows"] = ReadOnly(zip(out.index, (int(r) for r in raw.index)))
    return out


def state_row(states: pd.DataFrame, code: str) -> int | None:
    """The spreadsheet row `code` came from in the states file (None for tables built in code)."""
    return states.attrs.get("rows", {}).get(code)


__all__ = [
    "CAPACITY_PREFIX",
    "CODE_FORBIDDEN",
    "STATE_NUMERIC_COLUMNS",
    "STATE_PERSON_COLUMNS",
    "STATE_RESERVED_COLUMNS",
    "STATE_TEXT_COLUMNS",
    "ReadOnly",
    "counts_persons",
    "load_states",
    "state_row",
]
