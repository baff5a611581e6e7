"""Input files as text: bytes read with limits, decoded, split into CSV cells, cells parsed strictly.

Files are data only: CSV cells are read as text and parsed here, TOML by `tomllib`; nothing in an
input is ever evaluated. What is accepted (see README, "Input rules and error messages"):

- UTF-8 text, with or without a byte-order mark; anything else (Latin-1, UTF-16) is refused with a
  message saying how to convert it. At most `MAX_INPUT_BYTES`, checked before reading.
- Separated by commas, semicolons or tabs (whichever the header row has most of). Every row has as
  many cells as the header; blank rows are skipped. Cells are trimmed.
- Numbers: plain decimals (`1234.5`, `1e6`). In a semicolon-separated file, as European spreadsheets
  export them, the decimal mark is the comma and dots group thousands (`9.158.750`, `477837,3`),
  unless no number in the file has a decimal comma and some has a dot that cannot be a thousands
  separator (`477837.3`): then the file uses decimal points. `nan`, `inf` and the like are refused;
  an empty cell means "no value".

Rows are numbered as a spreadsheet numbers them (the header is row 1) in every message.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, show
from ..settings import MAX_PERSONS

# Files above this size are refused before reading: a national case list of a million people is
# about 20 MB, so anything this large is almost certainly the wrong file.
MAX_INPUT_BYTES = 512 * 1024 * 1024
# Largest value accepted in a numeric column: beyond it, sums lose precision and solvers treat
# bounds as infinite. Columns counting persons stop at MAX_PERSONS. Leave a cell empty for "no limit".
MAX_NUMBER = 1e15

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_NOT_NUMBERS = {"nan", "+nan", "-nan", "na", "n/a", "null", "none"}

# Number shapes in a semicolon-separated file.
_THOUSANDS = r"[+-]?\d{1,3}(?:\.\d{3})+"
_COMMA_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+(?:[eE][+-]?\d+)?")
_DOT_DECIMAL = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")
_GROUPED_INTEGER = re.compile(_THOUSANDS + r"(?:,\d*)?(?:[eE][+-]?\d+)?")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# ---------------------------------------------------------------------------------------------
# Bytes and text


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


def _column_at(raw: bytes, position: int) -> str | None:
    """The header name of the CSV column holding byte `position` (None in the header itself or
    past its last column), so an encoding error can say which cell to fix."""
    header = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    if raw.count(b"\n", 0, position) == 0:
        return None
    sep = _sniff_separator(header)
    start = raw.rfind(b"\n", 0, position) + 1
    prefix = raw[start:position].decode("latin-1")
    try:
        index = len(next(csv.reader([prefix + "x"], delimiter=sep))) - 1
        names = next(csv.reader([header], delimiter=sep))
    except (csv.Error, StopIteration):
        return None
    return names[index].strip() if index < len(names) else None


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
        byte = raw[err.start]
        guess = bytes([byte]).decode("cp1252", errors="replace")
        raise InputError(
            f"not UTF-8 text (byte 0x{byte:02x}, '{guess}' in Latin-1/Windows-1252); save the file as "
            "UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)'), e.g. `iconv -f latin1 -t utf-8 IN > OUT`",
            file=path,
            row=raw.count(b"\n", 0, err.start) + 1,
            column=_column_at(raw, err.start) if table else None,
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


def read_text(path: Path, what: str = "a text file") -> str:
    """A whole input file as text (for TOML files; CSV files go through `read_csv_table`)."""
    return _decode(_read_bytes(path, what), path, table=False)


# ---------------------------------------------------------------------------------------------
# CSV tables


def _sniff_separator(header: str) -> str:
    """Comma, semicolon or tab: whichever the header row has most of (comma on a tie)."""
    counts = {",": header.count(","), ";": header.count(";"), "\t": header.count("\t")}
    best = max(counts.values())
    if best == 0 or counts[","] == best:
        return ","
    return ";" if counts[";"] == best else "\t"


def _check_row_lengths(text: str, sep: str, width: int, path: Path) -> None:
    """Every non-blank row has as many cells as the header (the parser pads short rows silently)."""
    if '"' in text:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
        try:
            for row, cells in enumerate(reader, start=1):
                if len(cells) != width and "".join(cells).strip():
                    raise _row_length(path, row, len(cells), width)
        except csv.Error as err:
            raise InputError(f"cannot parse CSV: {err}", file=path, row=reader.line_num) from None
        return
    # Without quotes a separator always splits a cell, so counting them per line is exact and
    # much faster than the csv module on large files.
    lines = pd.Series(_LINE_BREAK.split(text), dtype=object)
    counts = lines.str.count(re.escape(sep)) + 1
    bad = (counts != width) & (lines.str.strip() != "")
    if bad.any():
        row = int(bad.idxmax())
        raise _row_length(path, row + 1, int(counts[row]), width)


def _row_length(path: Path, row: int, count: int, width: int) -> InputError:
    cells = "1 cell" if count == 1 else f"{count} cells"
    return InputError(
        f"{cells}, but the header has {width} columns (a missing or extra separator, or an unquoted "
        "separator inside a cell?)",
        file=path,
        row=row,
    )


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


def _named_columns(frame: pd.DataFrame, names: list[str], path: Path) -> pd.DataFrame:
    """`frame` (columns numbered) with its columns named by the header, refusing repeated names
    and dropping nameless columns, which spreadsheets export as empty ghosts."""
    seen: dict[str, int] = {}
    keep = []
    for i, name in enumerate(names):
        if name == "":
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
    return frame


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
    frame = _named_columns(frame, names, path)
    frame = frame[~(frame == "").all(axis=1)]
    if frame.empty:
        raise InputError("no data rows (header only)", file=path)
    frame.attrs["source"] = str(path)
    frame.attrs["sep"] = sep
    return frame


def missing_column(raw: pd.DataFrame, required: str) -> InputError:
    """The error for a table read by `read_csv_table` that lacks `required`, with a likely cause."""
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
# Cells


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


def first_row(bad: pd.Series | np.ndarray, cells: pd.Series) -> int | None:
    """The spreadsheet row of the first cell of `cells` that `bad` marks; None when none is."""
    marked = np.flatnonzero(np.asarray(bad))
    return int(cells.index[marked[0]]) if len(marked) else None


def _point_decimals(cells: pd.Series, text: pd.Series, *, file: str, column: str) -> pd.Series:
    """Decimal-comma cells rewritten with a decimal point and no thousands dots, refusing a dot
    that cannot group thousands (a decimal point in a decimal-comma file)."""
    dotted = text.str.contains(".", regex=False)
    if (row := first_row(dotted & ~text.str.fullmatch(_GROUPED_INTEGER), cells)) is not None:
        raise InputError(
            f"{show(cells[row])}: this semicolon-separated file writes numbers with a decimal comma "
            "(1234,5 or 1.234,5); write the number that way, or save the file comma-separated "
            "with decimal points",
            file=file,
            row=row,
            column=column,
        )
    return text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)


def _not_a_number(cell: str, value: float, decimal: str) -> str:
    """Why a non-empty cell did not parse to a finite number, in words that say how to fix it."""
    if cell.lower().lstrip("+-") in ("inf", "infinity"):
        return "is not a finite number; leave the cell empty for no value (or no limit)"
    if cell.lower() in _NOT_NUMBERS:
        return "is not a number; leave the cell empty when there is no value"
    if "," in cell and decimal == ".":
        return "is not a number (write decimals with a point, without thousands separators)"
    if np.isinf(value):
        return "is too large"
    return "is not a number"


def parse_numbers(
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
        text = _point_decimals(cells, text, file=file, column=column)
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(dtype=float)
    if (row := first_row(~empty & ~np.isfinite(values), cells)) is not None:
        cell = str(cells[row])
        detail = _not_a_number(cell, values[cells.index.get_loc(row)], decimal)
        raise InputError(f"{show(cell)} {detail}", file=file, row=row, column=column)
    if (row := first_row(~empty & (values < 0), cells)) is not None:
        raise InputError(f"negative value {cells[row]}; values must be >= 0", file=file, row=row, column=column)
    if (row := first_row(~empty & (values > maximum), cells)) is not None:
        raise InputError(
            f"{show(cells[row])} is too large (at most {maximum:,.0f}; leave the cell empty for no limit)",
            file=file,
            row=row,
            column=column,
        )
    if integer and (row := first_row(~empty & (np.floor(values) != values), cells)) is not None:
        raise InputError(f"{show(cells[row])} is not a whole number of persons", file=file, row=row, column=column)
    if not allow_empty and (row := first_row(empty, cells)) is not None:
        raise InputError("empty cell, a value is required", file=file, row=row, column=column)
    return pd.Series(values, index=cells.index, name=column)


def check_identifiers(
    cells: pd.Series, *, file: str, column: str, noun: str, short: str, forbidden: tuple[str, ...] = ()
) -> None:
    """A column that names its rows: every cell filled, free of the `forbidden` characters (they
    separate names in lists) and different from the others. `noun` names a cell in messages
    ("state code"), `short` in the duplicate message ("code")."""
    if (row := first_row(cells == "", cells)) is not None:
        raise InputError(f"empty {noun}", file=file, row=row, column=column)
    for char in forbidden:
        if (row := first_row(cells.str.contains(char, regex=False), cells)) is not None:
            message = f"{noun} {show(cells[row])} contains '{char}', which separates codes in lists"
            raise InputError(message, file=file, row=row, column=column)
    if (row := first_row(cells.duplicated(), cells)) is not None:
        first = int(cells[cells == cells[row]].index[0])
        raise InputError(
            f"duplicate {short} {show(cells[row])} (first in row {first})", file=file, row=row, column=column
        )


def parse_bool(cells: pd.Series, *, file: str, column: str, default: bool) -> pd.Series:
    """true/false cells (also yes/no, 1/0, ...); empty cells take `default`."""
    lowered = cells.str.lower()
    out = pd.Series(default, index=cells.index, dtype=bool)
    out[lowered.isin(_TRUE)] = True
    out[lowered.isin(_FALSE)] = False
    bad = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE) | (lowered == ""))
    if (row := first_row(bad, cells)) is not None:
        raise InputError(f"{show(cells[row])} is not true/false (also accepted: yes/no, 1/0)", file=file, row=row, column=column)
    return out


__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_NUMBER",
    "MAX_PERSONS",
    "check_identifiers",
    "decimal_mark",
    "first_row",
    "missing_column",
    "parse_bool",
    "parse_numbers",
    "read_csv_table",
    "read_text",
]
