"""The case list: family cases to place, and the burden each one counts for.

Case ids are unique, sizes whole and positive, semicolon lists (needs, links, excluded) canonical,
and every state a case names exists in the states table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, show
from .text import MAX_PERSONS, check_identifiers, decimal_mark, first_row, missing_column, parse_numbers, read_csv_table

# Columns holding semicolon lists: needs, and the state codes a case is linked to or excluded from.
CASE_LIST_COLUMNS = ("needs", "links", "excluded")
# `origin`: the (benefitting) state where the applicant is now, for relocation from several states.
CASE_COLUMNS = ("case_id", "size", *CASE_LIST_COLUMNS, "group", "weight", "origin")


def _canonical_list(cells: pd.Series) -> pd.Series:
    """'b; a;;a' -> 'a;b': a semicolon list is a set, so it gets one spelling."""
    def canon(cell: str) -> str:
        if not cell:
            return ""
        return ";".join(sorted({part.strip() for part in cell.split(";") if part.strip()}))

    return cells.map(canon) if len(cells) else cells


def _sizes(raw: pd.DataFrame, file: str, decimal: str) -> pd.Series:
    """Persons per case: whole, at least one, and not more than MAX_PERSONS all together."""
    size = parse_numbers(
        raw["size"], file=file, column="size", decimal=decimal, integer=True, allow_empty=False, maximum=MAX_PERSONS
    )
    if (row := first_row(size < 1, size)) is not None:
        raise InputError(f"size must be at least 1 person, not {show(raw.at[row, 'size'])}", file=file, row=row, column="size")
    if size.sum() > MAX_PERSONS:
        raise InputError(f"the cases add up to {size.sum():,.0f} persons, more than {MAX_PERSONS:,}", file=file, column="size")
    return size


def load_cases(path: str | Path) -> pd.DataFrame:
    """Read and validate a cases CSV.

    Columns out: case_id (text), size (int), needs, links, excluded (canonical 'a;b' text), group
    (text, '' for none), weight (float, NaN where not given), and origin (one state code, '' for
    none) when the file has that column. Row order is kept; the index is the spreadsheet row number.
    """
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    for required in ("case_id", "size"):
        if required not in raw.columns:
            raise missing_column(raw, required)
    decimal = decimal_mark(raw, [c for c in ("size", "weight") if c in raw.columns])
    ids = raw["case_id"]
    check_identifiers(ids, file=file, column="case_id", noun="case id", short="case id")
    size = _sizes(raw, file, decimal)
    out = pd.DataFrame(index=raw.index)
    out["case_id"] = ids.to_numpy(dtype=object)
    out["size"] = size.to_numpy(dtype=np.int64)
    for column in CASE_LIST_COLUMNS:
        out[column] = _canonical_list(raw[column]).to_numpy(dtype=object) if column in raw.columns else ""
    out["group"] = raw["group"].to_numpy(dtype=object) if "group" in raw.columns else ""
    if "weight" in raw.columns:
        out["weight"] = parse_numbers(
            raw["weight"], file=file, column="weight", decimal=decimal, integer=False, maximum=MAX_PERSONS
        ).to_numpy()
    else:
        out["weight"] = np.nan
    if "origin" in raw.columns:
        out["origin"] = _origins(raw["origin"], file)
    for column in raw.columns:
        if column not in CASE_COLUMNS:
            out[column] = raw[column].to_numpy(dtype=object)
    out.attrs["source"] = file
    return out


def _origins(cells: pd.Series, file: str) -> np.ndarray:
    """One state code per case (or none): a list is refused, a case comes from one place."""
    several = cells.str.contains(";", regex=False) | cells.str.contains(",", regex=False)
    if (row := first_row(several, cells)) is not None:
        raise InputError(f"{show(cells[row])}: origin is one state code (where the applicant is now), not a list", file=file, row=row, column="origin")
    return cells.to_numpy(dtype=object)


def check_cases_against_states(cases: pd.DataFrame, states: pd.DataFrame) -> None:
    """Every state code a case names (links, excluded, origin) must exist, and no case may link
    to a state it excludes."""
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
                f"unknown state code {show(unknown.iloc[0])} (not in {states.attrs.get('source', 'the states file')})",
                file=file,
                row=row,
                column=column,
            )
    if "origin" in cases.columns:
        unknown = cases["origin"][(cases["origin"] != "") & ~cases["origin"].isin(known)]
        if not unknown.empty:
            raise InputError(
                f"unknown origin state {show(unknown.iloc[0])} (not in {states.attrs.get('source', 'the states file')})",
                file=file,
                row=int(unknown.index[0]),
                column="origin",
            )
    both = (cases["links"] != "") & (cases["excluded"] != "")
    for row in cases.index[both.to_numpy()]:
        common = sorted(set(cases.at[row, "links"].split(";")) & set(cases.at[row, "excluded"].split(";")))
        if common:
            raise InputError(
                f"state {show(common[0])} is both a family link and excluded for this case",
                file=file,
                row=int(row),
                column="excluded",
            )


# ---------------------------------------------------------------------------------------------
# Burden rules


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


__all__ = [
    "CASE_COLUMNS",
    "CASE_LIST_COLUMNS",
    "case_needs",
    "case_weights",
    "check_cases_against_states",
    "load_cases",
]
