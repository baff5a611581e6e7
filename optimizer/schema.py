"""Inputs: the states table, the case list and scenarios, validated at the edge.

Everything the rest of the package sees has passed through here, so downstream code can trust it:
codes are unique, numbers are finite, non-negative and not absurdly large, persons are whole, lists
are canonical. Anything we cannot use raises `InputError` naming the file, the row (as a spreadsheet
numbers it: the header is row 1) and the column. Nothing is silently dropped: unknown columns are
kept and, when numeric, usable by custom formulas.

Files are data only: CSV cells are read as text and parsed strictly, TOML by `tomllib`; nothing in
an input is ever evaluated. What is accepted (see README, "Input rules and error messages"):

- UTF-8 text, with or without a byte-order mark; anything else (Latin-1, UTF-16) is refused with a
  message saying how to convert it. At most `MAX_INPUT_BYTES`, checked before reading.
- Separated by commas, semicolons or tabs (whichever the header row has most of). Every row has as
  many cells as the header; blank rows are skipped. Cells are trimmed.
- Numbers: plain decimals (`1234.5`, `1e6`). In a semicolon-separated file, as European spreadsheets
  export them, the decimal mark is the comma and dots group thousands (`9.158.750`, `477837,3`),
  unless no number in the file has a decimal comma and some has a dot that cannot be a thousands
  separator (`477837.3`): then the file uses decimal points. `nan`, `inf` and the like are refused;
  an empty cell means "no value".
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError, show

# Files above this size are refused before reading: a national case list of a million people is
# about 20 MB, so anything this large is almost certainly the wrong file.
MAX_INPUT_BYTES = 512 * 1024 * 1024
# Largest value accepted in a numeric column, and in a column counting persons (capacity, size...):
# beyond these, sums lose precision and solvers treat bounds as infinite. Leave a cell empty for
# "no limit".
MAX_NUMBER = 1e15
MAX_PERSONS = 10**9
# Largest burden units per person a need may count for.
MAX_NEED_WEIGHT = 10**6

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
# Characters a state code may not contain: lists in cells are separated by ';', options by ','.
CODE_FORBIDDEN = (";", ",")

CASE_LIST_COLUMNS = ("needs", "links", "excluded")
CASE_COLUMNS = ("case_id", "size", "needs", "links", "excluded", "group", "weight")

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_NOT_NUMBERS = {"nan", "+nan", "-nan", "na", "n/a", "null", "none"}

# Number shapes in a semicolon-separated file.
_THOUSANDS = r"[+-]?\d{1,3}(?:\.\d{3})+"
_COMMA_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+(?:[eE][+-]?\d+)?")
_DOT_DECIMAL = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")
_GROUPED_INTEGER = re.compile(_THOUSANDS + r"(?:,\d*)?(?:[eE][+-]?\d+)?")


# ---------------------------------------------------------------------------------------------
# Reading raw text


def _read_bytes(path: Path, what: str) -> bytes:
    """The file's bytes, refusing folders, unreadable files and anything above MAX_INPUT_BYTES
    (checked before reading, and again while reading for pipes and devices that report no size)."""
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError(f"is a folder, expected {what}", file=path)
    limit = f"{MAX_INPUT_BYTES / 2**20:,.0f} MiB"
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(
                f"file is {size / 2**20:,.0f} MiB, above the {limit} limit for an input file; "
                "is this the right file?",
                file=path,
            )
        with open(path, "rb") as handle:
            raw = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror or type(err).__name__})", file=path) from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"more than the {limit} limit for an input file; is this the right file?", file=path)
    return raw


def _decode(raw: bytes, path: Path, table: bool) -> str:
    """UTF-8 text (a byte-order mark is dropped); a clear way out for anything else."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            "file is UTF-16 text; save it as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)'), "
            "e.g. `iconv -f utf-16 -t utf-8 IN > OUT`",
            file=path,
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        row = raw.count(b"\n", 0, err.start) + 1
        byte = raw[err.start]
        guess = bytes([byte]).decode("cp1252", errors="replace")
        column = None
        if table:
            # Name the column: count the separators before the bad byte on its line.
            header = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
            sep = _sniff_separator(header)
            start = raw.rfind(b"\n", 0, err.start) + 1
            prefix = raw[start : err.start].decode("latin-1")
            try:
                index = len(next(csv.reader([prefix + "x"], delimiter=sep))) - 1
                names = next(csv.reader([header], delimiter=sep))
                column = names[index].strip() if row > 1 and index < len(names) else None
            except (csv.Error, StopIteration):
                column = None
        raise InputError(
            f"not UTF-8 text (byte 0x{byte:02x}, '{guess}' in Latin-1/Windows-1252); save the file as "
            "UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)'), e.g. `iconv -f latin1 -t utf-8 IN > OUT`",
            file=path,
            row=row,
            column=column,
        ) from None
    if "\x00" in text:
        row = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            "file contains NUL bytes: not a text file (or UTF-16 without a byte-order mark); "
            "save it as UTF-8 CSV",
            file=path,
            row=row,
        )
    return text


def _read_text(path: Path, what: str = "a text file") -> str:
    """A whole input file as text (for TOML files; CSV files go through `read_csv_table`)."""
    return _decode(_read_bytes(path, what), path, table=False)


def _sniff_separator(header: str) -> str:
    """Comma, semicolon or tab: whichever the header row has most of (comma on a tie)."""
    counts = {",": header.count(","), ";": header.count(";"), "\t": header.count("\t")}
    best = max(counts.values())
    if best == 0 or counts[","] == best:
        return ","
    return ";" if counts[";"] == best else "\t"


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _check_row_lengths(text: str, sep: str, width: int, path: Path) -> None:
    """Every non-blank row has as many cells as the header (the parser pads short rows silently)."""
    if '"' in text:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
        try:
            for row, cells in enumerate(reader, start=1):
                if len(cells) != width and "".join(cells).strip():
                    _row_length_error(path, row, len(cells), width)
        except csv.Error as err:
            raise InputError(f"cannot parse CSV: {err}", file=path, row=reader.line_num) from None
        return
    lines = pd.Series(_LINE_BREAK.split(text), dtype=object)
    counts = lines.str.count(re.escape(sep)) + 1
    bad = (counts != width) & (lines.str.strip() != "")
    if bad.any():
        row = int(bad.idxmax())
        _row_length_error(path, row + 1, int(counts[row]), width)


def _row_length_error(path: Path, row: int, count: int, width: int) -> None:
    raise _row_length(path, row, count, width)


def _row_length(path: Path, row: int, count: int, width: int) -> InputError:
    cells = "1 cell" if count == 1 else f"{count} cells"
    return InputError(
        f"{cells}, but the header has {width} columns (a missing or extra separator, or an unquoted "
        "separator inside a cell?)",
        file=path,
        row=row,
    )


def read_csv_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV as text cells, one DataFrame row per data row, index = spreadsheet row number.

    `attrs`: `source` (the path as given), `sep` (the separator found)."""
    path = Path(path)
    text = _decode(_read_bytes(path, "a CSV file"), path, table=True)
    if not text.strip():
        raise InputError("file is empty", file=path)
    header = _LINE_BREAK.split(text, 1)[0]
    if not header.strip():
        raise InputError("the first row is empty; it must be the header (the column names)", file=path, row=1)
    sep = _sniff_separator(header)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            skipinitialspace=True,
            engine="c",
        )
    except pd.errors.ParserError as err:
        raise _parser_error(err, path) from None
    except (pd.errors.EmptyDataError, csv.Error, ValueError) as err:
        raise InputError(f"cannot parse CSV: {err}", file=path) from None
    names = [str(c).strip() for c in frame.iloc[0]]
    _check_row_lengths(text, sep, len(names), path)
    frame = frame.iloc[1:]
    frame.columns = range(len(names))
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    frame = frame.apply(lambda col: col.str.strip()) if len(frame) else frame
    seen: dict[str, int] = {}
    keep = []
    for i, name in enumerate(names):
        if name == "":
            # A nameless column is tolerated only when it is empty (spreadsheets export such ghosts).
            filled = frame[i] != ""
            if filled.any():
                raise InputError(
                    f"column {i + 1} has no name in the header but has values (first in row {int(filled.idxmax())})",
                    file=path,
                    row=1,
                )
            continue
        if name in seen:
            raise InputError(f"column appears more than once (columns {seen[name] + 1} and {i + 1})", file=path, row=1, column=name)
        seen[name] = i
        keep.append(i)
    frame = frame[keep]
    frame.columns = [names[i] for i in keep]
    if not len(frame.columns):
        raise InputError("the header has no column names", file=path, row=1)
    blank = (frame == "").all(axis=1)
    frame = frame[~blank]
    if frame.empty:
        raise InputError("no data rows (header only)", file=path)
    frame.attrs["source"] = str(path)
    frame.attrs["sep"] = sep
    return frame


def _parser_error(err: Exception, path: Path) -> InputError:
    """The C parser's messages, said the way a spreadsheet user counts rows."""
    message = str(err).strip()
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        width, row, count = (int(g) for g in fields.groups())
        return _row_length(path, row, count, width)
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return InputError("a quote (\") is opened and never closed", file=path, row=int(quote.group(1)) + 1)
    return InputError(f"cannot parse CSV: {message.removeprefix('Error tokenizing data. C error: ')}", file=path)


# ---------------------------------------------------------------------------------------------
# Parsing cells


def decimal_mark(raw: pd.DataFrame, columns: list[str]) -> str:
    """The decimal mark of `columns` of a file read by `read_csv_table` (see the module notes)."""
    if raw.attrs.get("sep") != ";":
        return "."
    dotted = False
    for column in columns:
        cells = raw[column]
        with_comma = cells[cells.str.contains(",", regex=False)]
        if len(with_comma) and with_comma.str.fullmatch(_COMMA_DECIMAL).any():
            return ","
        with_dot = cells[cells.str.contains(".", regex=False)]
        if len(with_dot) and (with_dot.str.fullmatch(_DOT_DECIMAL) & ~with_dot.str.fullmatch(_THOUSANDS)).any():
            dotted = True
    return "." if dotted else ","


def _parse_numbers(
    cells: pd.Series,
    *,
    file: str,
    column: str,
    decimal: str,
    integer: bool,
    allow_empty: bool = True,
    maximum: float = MAX_NUMBER,
) -> pd.Series:
    """Strictly parse a text column to floats: empty -> NaN, anything else must be a finite number
    between 0 and `maximum` (whole when `integer`). `nan`, `inf` and the like are refused."""
    text = cells.astype(str)
    if decimal == ",":
        dotted = text.str.contains(".", regex=False)
        misplaced = dotted & ~text.str.fullmatch(_GROUPED_INTEGER)
        if misplaced.any():
            row = int(misplaced.idxmax())
            raise InputError(
                f"{show(cells[row])}: this semicolon-separated file writes numbers with a decimal comma "
                "(1234,5 or 1.234,5); write the number that way, or save the file comma-separated "
                "with decimal points",
                file=file,
                row=row,
                column=column,
            )
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(dtype=float)
    bad = ~empty & ~np.isfinite(values)
    if bad.any():
        row = int(cells.index[bad][0])
        cell = str(cells[row])
        if cell.lower().lstrip("+-") in ("inf", "infinity"):
            detail = "is not a finite number; leave the cell empty for no value (or no limit)"
        elif cell.lower() in _NOT_NUMBERS:
            detail = "is not a number; leave the cell empty when there is no value"
        elif "," in cell and decimal == ".":
            detail = "is not a number (write decimals with a point, without thousands separators)"
        elif np.isinf(values[cells.index.get_loc(row)]):
            detail = "is too large"
        else:
            detail = "is not a number"
        raise InputError(f"{show(cell)} {detail}", file=file, row=row, column=column)
    negative = ~empty & (values < 0)
    if negative.any():
        row = int(cells.index[negative][0])
        raise InputError(f"negative value {cells[row]}; values must be >= 0", file=file, row=row, column=column)
    large = ~empty & (values > maximum)
    if large.any():
        row = int(cells.index[large][0])
        raise InputError(
            f"{show(cells[row])} is too large (at most {maximum:,.0f}; leave the cell empty for no limit)",
            file=file,
            row=row,
            column=column,
        )
    if integer:
        fractional = ~empty & (np.floor(values) != values)
        if fractional.any():
            row = int(cells.index[fractional][0])
            raise InputError(f"{show(cells[row])} is not a whole number of persons", file=file, row=row, column=column)
    if not allow_empty and empty.any():
        row = int(cells.index[empty][0])
        raise InputError("empty cell, a value is required", file=file, row=row, column=column)
    return pd.Series(values, index=cells.index, name=column)


def _parse_bool(cells: pd.Series, *, file: str, column: str, default: bool) -> pd.Series:
    lowered = cells.str.lower()
    out = pd.Series(default, index=cells.index, dtype=bool)
    out[lowered.isin(_TRUE)] = True
    out[lowered.isin(_FALSE)] = False
    bad = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE) | (lowered == ""))
    if bad.any():
        row = int(bad.idxmax())
        raise InputError(
            f"{show(cells[row])} is not true/false (also accepted: yes/no, 1/0)",
            file=file,
            row=row,
            column=column,
        )
    return out


def _missing_column(raw: pd.DataFrame, required: str) -> InputError:
    file = raw.attrs["source"]
    found = ", ".join(raw.columns)
    similar = [c for c in raw.columns if c.lower().replace(" ", "_") == required]
    hint = f"; did you mean '{similar[0]}'? names are lower case" if similar else ""
    if raw.attrs.get("sep") == "," and any(";" in c for c in raw.columns):
        hint += "; is the file separated by semicolons?"
    return InputError(
        f"missing required column '{required}' (columns found: {found}){hint}", file=file, row=1, column=required
    )


# ---------------------------------------------------------------------------------------------
# States


class ReadOnly(dict):
    """A dict kept in `DataFrame.attrs` that nothing changes after loading. pandas deep-copies
    attrs on every operation on the frame; sharing these instead saved seconds in a comparison of
    a thousand variants."""

    def __deepcopy__(self, memo: dict) -> "ReadOnly":
        return self


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
        raise _missing_column(raw, "code")
    codes = raw["code"]
    if (codes == "").any():
        row = int((codes == "").idxmax())
        raise InputError("empty state code", file=file, row=row, column="code")
    for char in CODE_FORBIDDEN:
        bad = codes.str.contains(char, regex=False)
        if bad.any():
            row = int(bad.idxmax())
            raise InputError(
                f"state code {show(codes[row])} contains '{char}', which separates codes in lists",
                file=file,
                row=row,
                column="code",
            )
    duplicated = codes.duplicated()
    if duplicated.any():
        row = int(duplicated.idxmax())
        first = int(codes[codes == codes[row]].index[0])
        raise InputError(
            f"duplicate code {show(codes[row])} (first in row {first})", file=file, row=row, column="code"
        )

    out = pd.DataFrame(index=pd.Index(codes.to_numpy(dtype=object), name="code"))
    names = raw["name"] if "name" in raw.columns else codes
    out["name"] = names.where(names != "", codes).to_numpy(dtype=object)
    out["willing"] = (
        _parse_bool(raw["willing"], file=file, column="willing", default=True).to_numpy()
        if "willing" in raw.columns
        else True
    )
    others = [c for c in raw.columns if c not in ("code", "name", "willing")]
    decimal = decimal_mark(raw, others)
    not_numeric: dict[str, tuple[str, int | None]] = {}
    for column in others:
        known = column in STATE_NUMERIC_COLUMNS or column.startswith(CAPACITY_PREFIX)
        persons = column in STATE_PERSON_COLUMNS or column.startswith(CAPACITY_PREFIX)
        if known:
            values = _parse_numbers(
                raw[column],
                file=file,
                column=column,
                decimal=decimal,
                integer=persons,
                maximum=MAX_PERSONS if persons else MAX_NUMBER,
            )
            out[column] = values.to_numpy()
        else:
            # Extra columns: numeric if every non-empty cell is a number, else kept as text (and
            # why, for a formula that wants to use it as a number).
            try:
                values = _parse_numbers(raw[column], file=file, column=column, decimal=decimal, integer=False)
                out[column] = values.to_numpy()
            except InputError as err:
                out[column] = raw[column].to_numpy(dtype=object)
                not_numeric[column] = (err.detail, err.row)
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
    return states.attrs.get("rows", {}).get(code)


def participants(
    states: pd.DataFrame, only: list[str] | None = None, exclude: list[str] | None = None
) -> pd.DataFrame:
    """The states that take part: willing, in `only` (when given), not in `exclude`. Input order kept."""
    only = list(only or [])
    exclude = list(exclude or [])
    source = states.attrs.get("source", "the states file")
    for option, codes in (("--only", only), ("--exclude", exclude)):
        unknown = [c for c in codes if c not in states.index]
        if unknown:
            raise InputError(
                f"{option}: unknown state code(s) {', '.join(show(c) for c in unknown)} (not in {source})"
            )
    both = sorted(set(only) & set(exclude))
    if both:
        raise InputError(
            f"state(s) {', '.join(show(c) for c in both)} both required (--only) and excluded (--exclude)"
        )
    unwilling = [c for c in only if not bool(states.at[c, "willing"])]
    if unwilling:
        raise InputError(
            f"state(s) {', '.join(show(c) for c in unwilling)} required (--only) but not willing "
            f"(willing = false in {source})"
        )
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
    for required in ("case_id", "size"):
        if required not in raw.columns:
            raise _missing_column(raw, required)
    decimal = decimal_mark(raw, [c for c in ("size", "weight") if c in raw.columns])
    ids = raw["case_id"]
    if (ids == "").any():
        row = int((ids == "").idxmax())
        raise InputError("empty case id", file=file, row=row, column="case_id")
    duplicated = ids.duplicated()
    if duplicated.any():
        row = int(duplicated.idxmax())
        first = int(ids[ids == ids[row]].index[0])
        raise InputError(
            f"duplicate case id {show(ids[row])} (first in row {first})", file=file, row=row, column="case_id"
        )
    size = _parse_numbers(
        raw["size"], file=file, column="size", decimal=decimal, integer=True, allow_empty=False, maximum=MAX_PERSONS
    )
    if (size < 1).any():
        row = int((size < 1).idxmax())
        raise InputError(f"size must be at least 1 person, not {show(raw.at[row, 'size'])}", file=file, row=row, column="size")
    if size.sum() > MAX_PERSONS:
        raise InputError(f"the cases add up to {size.sum():,.0f} persons, more than {MAX_PERSONS:,}", file=file, column="size")
    out = pd.DataFrame(index=raw.index)
    out["case_id"] = ids.to_numpy(dtype=object)
    out["size"] = size.to_numpy(dtype=np.int64)
    for column in CASE_LIST_COLUMNS:
        out[column] = _canonical_list(raw[column]).to_numpy(dtype=object) if column in raw.columns else ""
    out["group"] = raw["group"].to_numpy(dtype=object) if "group" in raw.columns else ""
    if "weight" in raw.columns:
        out["weight"] = _parse_numbers(
            raw["weight"], file=file, column="weight", decimal=decimal, integer=False, maximum=MAX_PERSONS
        ).to_numpy()
    else:
        out["weight"] = np.nan
    for column in raw.columns:
        if column not in CASE_COLUMNS:
            out[column] = raw[column].to_numpy(dtype=object)
    out.attrs["source"] = file
    return out


def check_cases_against_states(cases: pd.DataFrame, states: pd.DataFrame) -> None:
    """Every state code a case names must exist, and no case may link to a state it excludes."""
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
    total: int | None = Field(default=None, ge=0, le=MAX_PERSONS)
    formula: str | dict[str, Any] | None = None
    weight_column: str | None = None
    only: list[str] | None = None
    exclude: list[str] | None = None
    method: str | None = None
    links: LinksMode | None = None
    objective: Objective | None = None
    solver: SolverName | None = None
    time_limit: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    gap: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    require_all: bool | None = None
    count_hosted: bool | None = None
    need_weights: dict[str, float] | None = None
    capacity: dict[str, Annotated[int, Field(ge=0, le=MAX_PERSONS)]] | None = None

    @field_validator("need_weights")
    @classmethod
    def _positive_weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            for need, weight in value.items():
                if not math.isfinite(weight) or weight < 0 or weight > MAX_NEED_WEIGHT:
                    raise ValueError(f"need weight for '{need}' must be a number from 0 to {MAX_NEED_WEIGHT:,}")
        return value


class Variant(ScenarioSettings):
    name: str


class Scenario(ScenarioSettings):
    variants: list[Variant] = Field(default_factory=list)


def validation_problem(err: ValidationError) -> tuple[str, str | None]:
    """The first problem pydantic found, as (message, dotted key) in words a user can act on."""
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or None
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return "not a known setting; check the spelling", key
    if kind == "missing":
        return "required setting missing", key
    message = first["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, "), key
    if "input" in first and not isinstance(first["input"], (dict, list, tuple)):
        message += f", got {show(first['input'])}"
    return message, key


def load_scenario(path: str | Path) -> tuple[Scenario, Path]:
    """Parse a scenario TOML; returns it and the folder its relative paths are read from."""
    path = Path(path)
    text = _read_text(path, "a scenario .toml file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", file=path) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        message, key = validation_problem(err)
        raise InputError(message, file=path, key=key) from None
    return scenario, path.parent
