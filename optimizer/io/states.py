"""The states table: one row per state, its criteria, capacities and willingness.

Codes are unique, non-empty and usable in lists; numbers are finite, non-negative and not absurdly
large; persons are whole; an unwilling state has no minimum. Column names are matched ignoring case
and surrounding spaces, and a near miss of one of the tool's names is refused (see `io.columns`).
Unknown columns are kept: as numbers when every cell is one (usable by custom formulas), and as the
text written (`attrs["text"]`), which the plan files carry through unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError, show
from .columns import header, misspelt, near_miss, refuse_near_misses
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
# Every column the tool reads by name (besides `capacity_<need>`).
STATE_COLUMNS = (*STATE_RESERVED_COLUMNS, *STATE_NUMERIC_COLUMNS)


class ReadOnly(dict):
    """A dict kept in `DataFrame.attrs` that nothing changes after loading. pandas deep-copies
    attrs on every operation on the frame; sharing these instead saved seconds in a comparison of
    a thousand variants."""

    def __deepcopy__(self, memo: dict) -> "ReadOnly":
        return self


def counts_persons(column: str) -> bool:
    """Whether `column` counts persons (whole numbers up to MAX_PERSONS)."""
    return column in STATE_PERSON_COLUMNS or column.startswith(CAPACITY_PREFIX)


def _add_numbers(raw: pd.DataFrame, out: pd.DataFrame, file: str, decimal: str) -> dict[str, tuple[str, int | None]]:
    """Every column but the reserved ones into `out`: known columns as numbers (or an error),
    others as numbers when every non-empty cell is one, else as text. Returns, per text column,
    why it is not numeric (message, row), for a formula that wants to use it as a number."""
    others = [c for c in raw.columns if c not in STATE_RESERVED_COLUMNS]
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


def load_states(path: str | Path, decimal: str | None = None) -> pd.DataFrame:
    """Read and validate a states CSV. `decimal`: the decimal mark when the user gave it
    (--decimal), else decided from the file.

    Returns a DataFrame indexed by `code` in input order, with `name` (text), `willing` (bool), every
    canonical numeric column present as float (NaN where empty) and every other column kept: as
    float when all its cells are numbers, else as text. Column names are lower case. `attrs` holds
    `source`, `rows` (code -> spreadsheet row) for later messages, `headers` (column -> the name as
    written) and `text` (each unknown column's cells as written).
    """
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    if "code" not in raw.columns:
        raise missing_column(raw, "code")
    refuse_near_misses(raw, STATE_COLUMNS, prefix=CAPACITY_PREFIX)
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
    decimal = decimal_mark(raw, [c for c in raw.columns if c not in STATE_RESERVED_COLUMNS], decimal)
    not_numeric = _add_numbers(raw, out, file, decimal)
    _check_bounds(raw, out, file)
    unknown = [c for c in raw.columns if c not in STATE_COLUMNS and not c.startswith(CAPACITY_PREFIX)]
    out.attrs["not_numeric"] = ReadOnly(not_numeric)
    out.attrs["source"] = file
    out.attrs["rows"] = ReadOnly(zip(out.index, (int(r) for r in raw.index)))
    out.attrs["headers"] = ReadOnly(raw.attrs["headers"])
    out.attrs["format"] = ReadOnly(sep=raw.attrs["sep"], decimal=decimal)
    out.attrs["text"] = ReadOnly({c: raw[c].to_numpy(dtype=object) for c in unknown})
    return out


def _check_bounds(raw: pd.DataFrame, out: pd.DataFrame, file: str) -> None:
    """A minimum holds only below the capacity, and only for a willing state (an unwilling one
    takes nobody, so its minimum could not be kept)."""
    rows = dict(zip(out.index, (int(r) for r in raw.index)))
    if "capacity" in out.columns and "minimum" in out.columns:
        below = out["minimum"] > out["capacity"]
        if below.any():
            code = below.idxmax()
            raise InputError(
                f"minimum {out.at[code, 'minimum']:.0f} is above capacity {out.at[code, 'capacity']:.0f}",
                file=file,
                row=rows[code],
                column="minimum",
            )
    if "minimum" in out.columns:
        held = (out["minimum"] > 0) & ~out["willing"].astype(bool)
        if held.any():
            code = held.idxmax()
            raise InputError(
                f"minimum {out.at[code, 'minimum']:.0f} for a state that is not willing (willing = "
                f"{show(raw.at[rows[code], 'willing'])}); an unwilling state takes nobody: remove the minimum "
                "or make the state willing",
                file=file,
                row=rows[code],
                column="minimum",
            )


def check_needs(states: pd.DataFrame, needs: list[str], need_weights: dict[str, float] | None, cases_file: str | None) -> None:
    """The need dimensions the cases use against the states' `capacity_<need>` columns and the
    scenario's need weights: a capacity or a weight for a need no case has, close to one some case
    has, is a misspelling; it would leave that need without its limit or its weight."""
    used, listed = set(needs), ", ".join(needs) if needs else "none"
    unlimited = [n for n in needs if CAPACITY_PREFIX + n not in states.columns]
    for column in states.columns:
        need = column[len(CAPACITY_PREFIX) :]
        if column.startswith(CAPACITY_PREFIX) and need not in used and (meant := near_miss(need, unlimited)):
            why = f"no case has the need {show(need)} (needs in {cases_file}: {listed})"
            raise misspelt(states, column, CAPACITY_PREFIX + meant, why)
    for need in unlimited:
        meant = near_miss(CAPACITY_PREFIX + need, [c for c in states.columns if c not in STATE_COLUMNS])
        if meant is not None:
            raise InputError(
                f"the cases need {show(need)} but there is no column '{CAPACITY_PREFIX + need}'; did you mean this "
                "column to be it? (column names are matched ignoring case and surrounding spaces)",
                file=states.attrs.get("source"),
                row=1,
                column=header(states, meant),
            )
    for need in need_weights or {}:
        if need not in used:
            meant = near_miss(need, needs)
            hint = f"; did you mean '{meant}'?" if meant else ""
            raise InputError(f"need_weights: no case has the need {show(need)} (needs in {cases_file or 'the cases'}: {listed}){hint}")


def state_row(states: pd.DataFrame, code: str) -> int | None:
    """The spreadsheet row `code` came from in the states file (None for tables built in code)."""
    return states.attrs.get("rows", {}).get(code)


__all__ = [
    "CAPACITY_PREFIX",
    "CODE_FORBIDDEN",
    "STATE_COLUMNS",
    "check_needs",
    "STATE_NUMERIC_COLUMNS",
    "STATE_PERSON_COLUMNS",
    "STATE_RESERVED_COLUMNS",
    "STATE_TEXT_COLUMNS",
    "ReadOnly",
    "counts_persons",
    "load_states",
    "state_row",
]
