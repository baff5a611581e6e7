"""The case list: family cases to place, and the burden each one counts for.

Case ids are unique, sizes whole and positive, semicolon lists (needs, links, excluded) canonical,
and every state a case names exists in the states table. Needs are lower case, as the
`capacity_<need>` columns they name are (column names are matched ignoring case). A near miss of
one of the column names read here is refused; every other column is kept as written
(`attrs["headers"]`: its name as written) and carried through to plan_cases.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, show
from .columns import refuse_near_misses
from .text import MAX_PERSONS, check_identifiers, decimal_mark, first_row, missing_column, parse_numbers, read_csv_table

# Columns holding semicolon lists: needs, and the state codes a case is linked to or excluded from.
CASE_LIST_COLUMNS = ("needs", "links", "excluded")
# `origin`: the (benefitting) state where the applicant is now, for relocation from several states.
CASE_COLUMNS = ("case_id", "size", *CASE_LIST_COLUMNS, "group", "weight", "origin")


def _canonical_list(cells: pd.Series, lower: bool = False) -> np.ndarray:
    """'b; a;;a' -> 'a;b': a semicolon list is a set, so it gets one spelling (`lower`: in lower
    case). Each distinct cell is spelled once: 350,000 cases hold a few thousand distinct lists."""
    def canon(cell: str) -> str:
        if not cell:
            return ""
        cell = cell.lower() if lower else cell
        return ";".join(sorted({part.strip() for part in cell.split(";") if part.strip()}))

    codes, distinct = pd.factorize(cells.to_numpy(dtype=object))
    return np.asarray([canon(cell) for cell in distinct] + [""], dtype=object)[codes]


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


def load_cases(path: str | Path, decimal: str | None = None) -> pd.DataFrame:
    """Read and validate a cases CSV. `decimal`: the decimal mark when the user gave it
    (--decimal), else decided from the file.

    Columns out: case_id (text), size (int), needs, links, excluded (canonical 'a;b' text), group
    (text, '' for none), weight (float, NaN where not given), and origin (one state code, '' for
    none) when the file has that column. Row order is kept; the index is the spreadsheet row number.
    """
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    for required in ("case_id", "size"):
        if required not in raw.columns:
            raise missing_column(raw, required)
    refuse_near_misses(raw, CASE_COLUMNS)
    decimal = decimal_mark(raw, [c for c in ("size", "weight") if c in raw.columns], decimal)
    ids = raw["case_id"]
    check_identifiers(ids, file=file, column="case_id", noun="case id", short="case id")
    size = _sizes(raw, file, decimal)
    out = pd.DataFrame(index=raw.index)
    out["case_id"] = ids.to_numpy(dtype=object)
    out["size"] = size.to_numpy(dtype=np.int64)
    for column in CASE_LIST_COLUMNS:
        # A need names a `capacity_<need>` column, and column names are matched ignoring case.
        out[column] = _canonical_list(raw[column], lower=column == "needs") if column in raw.columns else ""
    _check_needs(out["needs"], out["size"], file)
    out["group"] = raw["group"].to_numpy(dtype=object) if "group" in raw.columns else ""
    if "weight" in raw.columns:
        out["weight"] = parse_numbers(
            raw["weight"], file=file, column="weight", decimal=decimal, integer=False, maximum=MAX_PERSONS
        ).to_numpy()
    else:
        out["weight"] = np.nan
    if "origin" in raw.columns:
        out["origin"] = _origins(raw["origin"], file)
        _check_group_origins(out, file)
    for column in raw.columns:
        if column not in CASE_COLUMNS:
            out[column] = raw[column].to_numpy(dtype=object)
    out.attrs["source"] = file
    out.attrs["headers"] = raw.attrs["headers"]
    out.attrs["format"] = {"sep": raw.attrs["sep"], "decimal": decimal}
    return out


def _origins(cells: pd.Series, file: str) -> np.ndarray:
    """One state code per case (or none): a list is refused, a case comes from one place."""
    several = cells.str.contains(";", regex=False) | cells.str.contains(",", regex=False)
    if (row := first_row(several, cells)) is not None:
        raise InputError(f"{show(cells[row])}: origin is one state code (where the applicant is now), not a list", file=file, row=row, column="origin")
    return cells.to_numpy(dtype=object)


def has_origins(cases: pd.DataFrame | None) -> bool:
    """Whether some case says where it comes from (an `origin` column with a code in it)."""
    return cases is not None and "origin" in cases.columns and bool((cases["origin"] != "").any())


def _check_group_origins(cases: pd.DataFrame, file: str) -> None:
    """A group (an extended family) is relocated together, so from one place: its cases name the
    same origin (or all none)."""
    grouped = cases[cases["group"] != ""]
    if grouped.empty:
        return
    first = grouped.groupby("group", sort=False)["origin"].transform("first")
    differs = grouped["origin"] != first
    if differs.any():
        row = int(differs.index[differs.to_numpy()][0])
        group = grouped.at[row, "group"]
        before = int(grouped.index[(grouped["group"] == group).to_numpy()][0])
        raise InputError(
            f"group {show(group)} has cases from two origins ({show(first[row]) if first[row] else 'none'} in row {before}, "
            f"{show(cases.at[row, 'origin']) if cases.at[row, 'origin'] else 'none'} here): a group is relocated together, from one origin",
            file=file,
            row=row,
            column="origin",
        )


def check_cases_against_states(cases: pd.DataFrame, states: pd.DataFrame) -> None:
    """Every state code a case names (links, excluded, origin) must exist, and no case may link
    to a state it excludes."""
    known = set(states.index)
    file = cases.attrs.get("source")
    # Each distinct list is split once (a million cases name a few thousand lists): the first row
    # holding an unknown code, and its first unknown code, as a split of every row would find them.
    for column in ("links", "excluded"):
        codes, distinct = pd.factorize(cases[column])
        unknown_in = [next((code for code in text.split(";") if code not in known), None) if text else None for text in distinct]
        bad = np.flatnonzero([code is not None for code in unknown_in])
        if len(bad):
            at = int(np.flatnonzero(np.isin(codes, bad))[0])
            raise InputError(
                f"unknown state code {show(unknown_in[codes[at]])} (not in {states.attrs.get('source', 'the states file')})",
                file=file,
                row=int(cases.index[at]),
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
    both = ((cases["links"] != "") & (cases["excluded"] != "")).to_numpy()
    if not both.any():
        return
    # each distinct (links, excluded) pair checked once, the first row of a clash reported
    pairs, distinct = pd.factorize(pd.MultiIndex.from_arrays([cases["links"].to_numpy()[both], cases["excluded"].to_numpy()[both]]))
    common = [sorted(set(links.split(";")) & set(excluded.split(";"))) for links, excluded in distinct]
    clash = np.flatnonzero([bool(c) for c in common])
    if len(clash):
        at = int(np.flatnonzero(np.isin(pairs, clash))[0])
        raise InputError(
            f"state {show(common[pairs[at]][0])} is both a family link and excluded for this case",
            file=file,
            row=int(cases.index[np.flatnonzero(both)[at]]),
            column="excluded",
        )


# ---------------------------------------------------------------------------------------------
# Burden rules


def need_counts(cases: pd.DataFrame) -> dict[str, np.ndarray]:
    """Persons with each need, per case: `medical:1;wheelchair:2` names how many of the case's
    persons have each need; a bare name (`medical`) means all of them."""
    size = cases["size"].to_numpy(dtype=np.int64)
    cells, distinct = pd.factorize(cases["needs"], sort=True)
    parsed = [dict(_need(part) for part in cell.split(";")) if cell else {} for cell in distinct]
    out = {}
    for need in sorted({n for entry in parsed for n in entry}):
        per_cell = np.array([entry.get(need, 0) for entry in parsed], dtype=np.int64)
        counts = per_cell[cells]
        out[need] = np.where(counts < 0, size, counts)  # -1: every person of the case
    return out


def _need(part: str) -> tuple[str, int]:
    """'medical:2' -> ('medical', 2); 'medical' -> ('medical', -1): all persons of the case."""
    name, _, count = part.partition(":")
    return name.strip(), int(count) if count else -1


def _check_needs(needs: pd.Series, size: pd.Series, file: str) -> None:
    """A need's count is a whole number of the case's persons, from 1 to its size. Each distinct
    cell is read once (a million cases hold a few hundred); the first row that fails is then read
    again for its message."""
    counted = needs[needs.str.contains(":", regex=False)]
    which, distinct = pd.factorize(counted)
    most = np.zeros(len(distinct), dtype=np.int64)  # the largest count in the cell; -1: malformed
    for j, cell in enumerate(distinct):
        for part in cell.split(";"):
            name, _, count = part.partition(":")
            if not name.strip() or (count and not (count.strip().isdigit() and int(count) >= 1)):
                most[j] = -1
                break
            most[j] = max(most[j], int(count) if count else 0)
    largest = most[which]
    failing = np.flatnonzero((largest < 0) | (largest > size.loc[counted.index].to_numpy()))
    if len(failing):
        _check_need_cells(counted.iloc[failing[:1]], size, file)


def _check_need_cells(needs: pd.Series, size: pd.Series, file: str) -> None:
    for row, cell in needs.items():
        for part in cell.split(";"):
            name, _, count = part.partition(":")
            if not name.strip() or (count and not (count.strip().isdigit() and 1 <= int(count) <= size[row])):
                raise InputError(
                    f"{show(part)}: a need is a name, or name:persons with 1 to {size[row]} of the case's persons",
                    file=file, row=row, column="needs",
                )


def case_needs(cases: pd.DataFrame) -> list[str]:
    """The need dimensions used by any case, sorted."""
    return sorted(need_counts(cases))


def case_weights(cases: pd.DataFrame, need_weights: dict[str, float] | None = None) -> np.ndarray:
    """Burden units per case: the `weight` column where given, else the sum over its persons of
    each person's weight. A person counts 1, or the largest weight of the needs they have; the
    persons with the weightiest need are taken to be the ones with the others too (so a bare need
    list, every person having each need, gives size x the largest weight, as before counts)."""
    size = cases["size"].to_numpy(dtype=np.int64)
    weights = size.astype(float)
    if need_weights:
        counts = need_counts(cases)
        # heaviest first: persons 0..k-1 of a case have the need with the k-th ...
        ranked = sorted(((need_weights.get(n, 1.0), n) for n in counts), reverse=True)
        covered = np.zeros(len(cases), dtype=np.int64)  # persons already given a heavier weight
        for weight, need in ranked:
            if weight <= 1.0:
                break
            extra = np.clip(counts[need] - covered, 0, None)
            weights += extra * (weight - 1.0)
            covered += extra
    given = cases["weight"].to_numpy(dtype=float)
    return np.where(np.isnan(given), weights, given)


__all__ = [
    "CASE_COLUMNS",
    "CASE_LIST_COLUMNS",
    "case_needs",
    "need_counts",
    "case_weights",
    "check_cases_against_states",
    "has_origins",
    "load_cases",
]
