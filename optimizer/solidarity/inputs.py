"""The pool's two input tables: pledges (CSV) and deductions (CSV or a scenario table).

Both are read as text and parsed strictly by `io.text`, like every other input: a refusal is one
line naming the file, the row (as a spreadsheet numbers it) and the column. Codes must be states
of the key's participants; the frames come back indexed by code, with `attrs["rows"]` (code ->
row) so that later checks (a deduction above the fair share) can still name the row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from ..errors import InputError, show
from ..io.states import CODE_FORBIDDEN, ReadOnly
from ..io.text import MAX_PERSONS, check_identifiers, decimal_mark, first_row, missing_column, parse_numbers, read_csv_table
from ..settings import Deduction, validation_problem

PLEDGE_COLUMNS = ("relocations", "financial_eur", "alternative_eur")
DEDUCTION_AMOUNTS = ("share", "relocations", "eur")


def check_codes(
    codes: list[str],
    participants: pd.DataFrame,
    states: pd.DataFrame,
    *,
    what: str,
    file: str | None = None,
    rows: dict | None = None,
    key: str | None = None,
) -> None:
    """Every code must be a participant of the key: unknown codes and states left out of the key
    are refused, naming the row of a CSV (`rows`: code -> row), the key of a scenario table, or,
    with neither, `what` (an option such as --benefitting). Greece and the United Kingdom get a
    hint (Eurostat writes EL and UK, ISO 3166 GR and GB)."""
    for code in codes:
        if code in participants.index:
            continue
        if code in states.index:
            reason = f"{show(code)} is not a participant of the key (unwilling, or left out by only/exclude)"
        else:
            reason = f"unknown state code {show(code)} (not in {states.attrs.get('source', 'the states file')})"
            hint = {"EL": "GR", "UK": "GB", "GR": "EL", "GB": "UK"}.get(code)
            if hint in states.index:
                reason += f"; the states file writes it {show(hint)}"
        row = (rows or {}).get(code)
        if row is not None:
            raise InputError(reason, file=file, row=row, column="code")
        if key is not None:
            raise InputError(reason, file=file, key=key)
        raise InputError(f"{what}: {reason}", file=file)


def _read(path: str | Path, amounts: tuple[str, ...], missing: str) -> tuple[pd.DataFrame, str, pd.Series, str]:
    """(text cells, file, the checked `code` column, decimal mark) of a table that must have a
    `code` column and at least one of the `amounts` columns (else `missing`, listing them)."""
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    if "code" not in raw.columns:
        raise missing_column(raw, "code")
    codes = raw["code"]
    check_identifiers(codes, file=file, column="code", noun="state code", short="code", forbidden=CODE_FORBIDDEN)
    present = [c for c in amounts if c in raw.columns]
    if not present:
        raise InputError(f"{missing} {', '.join(amounts)}", file=file, row=1)
    return raw, file, codes, decimal_mark(raw, present)


def _indexed(out: pd.DataFrame, codes: pd.Series, file: str) -> pd.DataFrame:
    out.index = pd.Index(codes.to_numpy(dtype=object), name="code")
    out.attrs["source"] = file
    out.attrs["rows"] = ReadOnly(zip(out.index, (int(r) for r in codes.index)))
    return out


def load_pledges(path: str | Path, participants: pd.DataFrame, states: pd.DataFrame | None = None) -> pd.DataFrame:
    """A pledges CSV: `code` and any of `relocations` (whole persons), `financial_eur`,
    `alternative_eur` (euros); an empty cell pledges nothing of that kind. Other columns are kept
    as text. Refused: unknown or non-participating codes, negative or non-numeric amounts,
    fractional relocations, a file without any pledge column."""
    raw, file, codes, decimal = _read(path, PLEDGE_COLUMNS, "no pledge column: give at least one of")
    out = pd.DataFrame(index=raw.index)
    for column in PLEDGE_COLUMNS:
        if column in raw.columns:
            persons = column == "relocations"
            values = parse_numbers(raw[column], file=file, column=column, decimal=decimal, integer=persons, maximum=MAX_PERSONS if persons else 1e15)
            out[column] = values.fillna(0.0).to_numpy()
        else:
            out[column] = 0.0
    for column in raw.columns:
        if column != "code" and column not in PLEDGE_COLUMNS:
            out[column] = raw[column].to_numpy(dtype=object)
    out = _indexed(out, codes, file)
    check_codes(list(out.index), participants, states if states is not None else participants, what="pledges", file=file, rows=out.attrs["rows"])
    return out


def load_deductions(path: str | Path, participants: pd.DataFrame, states: pd.DataFrame | None = None) -> pd.DataFrame:
    """A deductions CSV: `code`, and per row exactly one of `share` (fraction of the fair share
    deducted, 0 to 1), `relocations` or `eur` (an absolute amount); `note` and other columns kept.
    Refused: a share above 1 (100%), none or two amounts in a row, negative numbers, unknown codes."""
    raw, file, codes, decimal = _read(path, DEDUCTION_AMOUNTS, "no deduction column: give one of")
    present = [c for c in DEDUCTION_AMOUNTS if c in raw.columns]
    out = pd.DataFrame(index=raw.index)
    for column in DEDUCTION_AMOUNTS:
        out[column] = (
            parse_numbers(raw[column], file=file, column=column, decimal=decimal, integer=False).to_numpy()
            if column in raw.columns
            else float("nan")
        )
    if "share" in raw.columns and (row := first_row(out["share"] > 1, raw["share"])) is not None:
        raise InputError(
            f"deduction above 100% (share {raw.at[row, 'share']}); write a share as a fraction, 0.4 for 40%",
            file=file,
            row=row,
            column="share",
        )
    count = out[list(DEDUCTION_AMOUNTS)].notna().sum(axis=1)
    if (row := first_row(count != 1, raw["code"])) is not None:
        problem = "no amount" if count[row] == 0 else "more than one amount"
        raise InputError(f"{problem}: give exactly one of {', '.join(present)} per row", file=file, row=row, column=present[0])
    out["note"] = raw["note"].to_numpy(dtype=object) if "note" in raw.columns else ""
    out = _indexed(out, codes, file)
    check_codes(list(out.index), participants, states if states is not None else participants, what="deductions", file=file, rows=out.attrs["rows"])
    return out


def deductions_from_table(table: dict[str, dict], participants: pd.DataFrame, states: pd.DataFrame | None = None, origin: str | None = None) -> pd.DataFrame:
    """A scenario's `[pool.deductions]` table (code = {share | relocations | eur, note}) as the
    frame `load_deductions` returns; each entry is checked as a `settings.Deduction`, and a refusal
    names its key (pool.deductions.CODE.FIELD)."""
    entries = {}
    for code, entry in table.items():
        key = f"pool.deductions.{code}"
        check_codes([code], participants, states if states is not None else participants, what="deductions", file=origin, key=key)
        try:
            entries[code] = entry if isinstance(entry, Deduction) else Deduction.model_validate(entry)
        except ValidationError as err:
            message, field = validation_problem(err)
            raise InputError(message, file=origin, key=f"{key}.{field}" if field else key) from None
    rows = [{"share": d.share, "relocations": d.relocations, "eur": d.eur, "note": d.note} for d in entries.values()]
    out = pd.DataFrame(rows, columns=[*DEDUCTION_AMOUNTS, "note"], index=pd.Index(list(entries), name="code"), dtype=object)
    for column in DEDUCTION_AMOUNTS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out.attrs["source"] = origin
    return out


def no_pledges() -> pd.DataFrame:
    """Nobody pledged anything (the table before the Council's implementing act)."""
    frame = pd.DataFrame(0.0, index=pd.Index([], name="code"), columns=list(PLEDGE_COLUMNS))
    frame.attrs["source"] = None
    return frame


__all__ = ["DEDUCTION_AMOUNTS", "PLEDGE_COLUMNS", "check_codes", "deductions_from_table", "load_deductions", "load_pledges", "no_pledges"]
