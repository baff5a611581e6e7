"""Input files as text: bytes read with limits, decoded, split into CSV cells, cells parsed strictly.

Files are data only: CSV cells are read as text and parsed here, TOML by `tomllib`; nothing in an
input is ever evaluated. What is accepted (see README, "Input rules and error messages"):

- Regular files only (a pipe, device or socket is refused before it is opened, so nothing blocks),
  UTF-8 text with or without a byte-order mark; anything else (Latin-1, UTF-16) is refused with a
  message saying how to convert it. At most `MAX_INPUT_BYTES`, checked before reading.
- Separated by commas, semicolons or tabs (whichever the header row has most of). Every row has as
  many cells as the header; blank rows are skipped. Cells are trimmed; column names are matched
  after trimming and lower-casing, so two names that differ only in case are refused.
- Numbers: the decimal mark (and with it the thousands separator, the other of '.' and ',') is
  decided once per file from cells that can only be read one way (`477837.3`, `0.125`, `1,5`,
  `9.158.750`); a cell such as `1.500` alone settles nothing. A file with no such evidence but an
  ambiguous cell is refused with a request for `--decimal`. `nan`, `inf` and the like are refused;
  an empty cell means "no value".

Rows are numbered as a spreadsheet numbers them (the header is row 1) in every message.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, show
from ..settings import MAX_PERSONS
from .columns import header, near_miss

# Files above this size are refused before reading: a national case list of a million people is
# about 20 MB, so anything this large is almost certainly the wrong file.
MAX_INPUT_BYTES = 512 * 1024 * 1024
# Largest value accepted in a numeric column: beyond it, sums lose precision and solvers treat
# bounds as infinite. Columns counting persons stop at MAX_PERSONS. Leave a cell empty for "no limit".
MAX_NUMBER = 1e15

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_NOT_NUMBERS = {"nan", "+nan", "-nan", "na", "n/a", "null", "none"}

# The two decimal marks; whichever a file uses, the other may group thousands.
DECIMAL_MARKS = (".", ",")
_EXPONENT = r"(?:[eE][+-]?\d+)?"


def _shapes(mark: str) -> tuple[str, str, str, str]:
    """Number shapes around the mark `mark` (m; o is the other mark): (one m with digits after it,
    one m between 1-3 digits and exactly 3 (a decimal or a thousands group: ambiguous), several m
    grouping thousands, o groups then m decimals)."""
    m, o = re.escape(mark), re.escape("," if mark == "." else ".")
    return (
        rf"[+-]?\d*{m}\d+{_EXPONENT}",
        rf"[+-]?[1-9]\d{{0,2}}{m}\d{{3}}",
        rf"[+-]?\d{{1,3}}(?:{m}\d{{3}}){{2,}}",
        rf"[+-]?\d{{1,3}}(?:{o}\d{{3}})+{m}\d+",
    )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# ---------------------------------------------------------------------------------------------
# Bytes and text


def _read_bytes(path: Path, what: str) -> bytes:
    """The file's bytes, refusing folders, pipes, devices, unreadable files and anything above
    MAX_INPUT_BYTES. The kind and size are checked before the file is opened (a FIFO would block
    the open, /dev/zero never ends), and again on the open handle, in case the path changed."""
    limit = f"{MAX_INPUT_BYTES / 2**20:,.0f} MiB"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror or type(err).__name__})", file=path) from None
    _check_kind(info, path, what, limit)
    try:
        # O_NONBLOCK: a path swapped for a FIFO after the check must not block the open.
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            _check_kind(os.fstat(handle), path, what, limit)
            with os.fdopen(handle, "rb", closefd=False) as stream:
                raw = stream.read(MAX_INPUT_BYTES + 1)
        finally:
            os.close(handle)
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror or type(err).__name__})", file=path) from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"more than the {limit} limit for an input file; is this the right file?", file=path)
    return raw


def _check_kind(info: os.stat_result, path: Path, what: str, limit: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"is a folder, expected {what}", file=path)
    if not stat.S_ISREG(info.st_mode):
        kind = "a pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file"
        raise InputError(f"is {kind}, expected {what}; inputs must be regular files", file=path)
    if info.st_size > MAX_INPUT_BYTES:
        raise InputError(
            f"file is {info.st_size / 2**20:,.0f} MiB, above the {limit} limit for an input file; is this the right file?",
            file=path,
        )


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
    # Without quotes a separator always splits a cell, so counting them per line is exact: on
    # the bytes, in bulk (a million rows in tens of milliseconds; the csv module takes seconds).
    # Only rows whose count is off are looked at one by one (a blank row is no row).
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(data == ord("\n")) + 1))
    ends = np.append(starts[1:] - 1, len(data))
    separators = np.flatnonzero(data == ord(sep))
    counts = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1
    for row in np.flatnonzero(counts != width):
        if data[starts[row] : ends[row]].tobytes().decode("utf-8").strip():
            raise _row_length(path, int(row) + 1, int(counts[row]), width)


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
    """`frame` (columns numbered) with its columns named by the header, trimmed and lower-cased
    (`attrs["headers"]` keeps each name as written), refusing names that repeat after that and
    dropping nameless columns, which spreadsheets export as empty ghosts."""
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
        key = canonical_name(name)
        if key in seen:
            first = names[seen[key]]
            spelled = "" if first == name else f" (as {show(first)} and {show(name)}; names are matched ignoring case)"
            raise InputError(
                f"column appears more than once (columns {seen[key] + 1} and {i + 1}){spelled}", file=path, row=1, column=name
            )
        seen[key] = i
        keep.append(i)
    frame = frame[keep]
    frame.columns = [canonical_name(names[i]) for i in keep]
    frame.attrs["headers"] = {canonical_name(names[i]): names[i] for i in keep}
    if not len(frame.columns):
        raise InputError("the header has no column names", file=path, row=1)
    return frame


def canonical_name(name: str) -> str:
    """A column name as the tool matches it: trimmed and lower-cased."""
    return name.strip().lower()


def read_csv_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV as text cells, one DataFrame row per data row, index = spreadsheet row number.

    Columns are named by `canonical_name`. `attrs`: `source` (the path as given), `sep` (the
    separator found), `headers` (canonical name -> the name as the header writes it)."""
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
    if len(frame) and _may_have_padding(text, sep):
        frame = frame.apply(lambda col: col.str.strip())
    frame = _named_columns(frame, names, path)
    headers = frame.attrs["headers"]
    frame = frame[~(frame == "").all(axis=1)]
    if frame.empty:
        raise InputError("no data rows (header only)", file=path)
    frame.attrs["headers"] = headers
    frame.attrs["source"] = str(path)
    frame.attrs["sep"] = sep
    return frame


def _may_have_padding(text: str, sep: str) -> bool:
    """Whether any cell could start or end with white space: white space next to a separator or
    a line break (or inside a quoted cell: a false alarm costs only the strip). A file without
    any is read without stripping a million cells one by one."""
    s = re.escape(sep)
    pad = r"[^\S\r\n]"  # white space as str.strip() sees it (no-break spaces too), but line breaks
    if not re.search(pad, text):
        return False  # the common case, found by one quick scan
    return re.search(rf"{pad}(?:{s}|\r|\n|$)|(?:{s}|\n|^){pad}|\r(?!\n)", text) is not None


def missing_column(raw: pd.DataFrame, required: str) -> InputError:
    """The error for a table read by `read_csv_table` that lacks `required`, with a likely cause."""
    file = raw.attrs["source"]
    found = ", ".join(header(raw, c) for c in raw.columns)
    closest = [c for c in raw.columns if near_miss(c, [required]) == required]
    hint = f"; did you mean {show(header(raw, closest[0]))}?" if closest else ""
    if raw.attrs.get("sep") == "," and any(";" in c for c in raw.columns):
        hint += "; is the file separated by semicolons?"
    return InputError(
        f"missing required column '{required}' (columns found: {found}){hint}", file=file, row=1, column=required
    )


# ---------------------------------------------------------------------------------------------
# Cells


def decimal_mark(raw: pd.DataFrame, columns: list[str], given: str | None = None) -> str:
    """The decimal mark of a file read by `read_csv_table`, from the number cells of `columns`
    (see the module notes): `given` when the user said (--decimal), else what the cells that can
    only be read one way show; an error when they show both, or nothing while some cell is
    ambiguous (`1.500`: 1.5 or 1500?)."""
    if given is not None:
        return given
    file = raw.attrs.get("source")
    evidence: dict[str, tuple[int, str]] = {}
    ambiguous: tuple[int, str] | None = None
    for column in columns:
        cells = raw[column]
        # each distinct cell matched once (a column of weights repeats a few hundred values)
        codes, distinct = pd.factorize(cells, use_na_sentinel=False)
        distinct = pd.Series(distinct, dtype=object)
        has_mark = distinct.str.contains(r"[.,]", regex=True, na=False).to_numpy(dtype=bool)
        in_marked = has_mark[codes]
        if not in_marked.any():
            continue
        marked, marked_codes = cells[in_marked], codes[in_marked]

        def matches(pattern: str) -> np.ndarray:
            return distinct.str.fullmatch(pattern, na=False).to_numpy(dtype=bool)[marked_codes]

        for mark in DECIMAL_MARKS:
            one, unsure, _, both = _shapes(mark)
            others_grouped = _shapes("," if mark == "." else ".")[2]
            # one `mark` that cannot be a thousands group, the other mark grouping thousands more
            # than once, or both marks: each can be read only with `mark` as the decimal mark
            sure = (matches(one) & ~matches(unsure)) | matches(others_grouped) | matches(both)
            if mark not in evidence and (row := first_row(sure, marked)) is not None:
                evidence[mark] = (row, column)
            if ambiguous is None and (row := first_row(matches(unsure), marked)) is not None:
                ambiguous = (row, column)
    if len(evidence) == 2:
        (prow, pcol), (crow, ccol) = evidence["."], evidence[","]
        raise InputError(
            f"{show(raw.at[prow, pcol])} is written with '.' as the decimal mark, but {show(raw.at[crow, ccol])} "
            f"(row {crow}, column {show(header(raw, ccol))}) with ','; write every number of the file the same way, "
            "or say which mark is the decimal one with --decimal . or --decimal ,",
            file=file,
            row=prow,
            column=header(raw, pcol),
        )
    if evidence:
        return next(iter(evidence))
    if ambiguous is not None:
        row, column = ambiguous
        cell = raw.at[row, column]
        plain = cell.lstrip("+-")
        raise InputError(
            f"{show(cell)} could be {float(plain.replace(',', '.')):g} or {plain.replace(',', '').replace('.', '')}, "
            "and no other number in the file shows whether its decimal mark is '.' or ','; give --decimal . or "
            "--decimal , (or write the number without a thousands separator)",
            file=file,
            row=row,
            column=header(raw, column),
        )
    return "."


def first_row(bad: pd.Series | np.ndarray, cells: pd.Series) -> int | None:
    """The spreadsheet row of the first cell of `cells` that `bad` marks; None when none is."""
    marked = np.flatnonzero(np.asarray(bad))
    return int(cells.index[marked[0]]) if len(marked) else None


def _plain_decimals(cells: pd.Series, text: pd.Series, decimal: str, *, file: str, column: str) -> pd.Series:
    """Cells rewritten with a decimal point and no thousands separators, refusing a cell that uses
    the other mark anywhere but between groups of three digits."""
    other = "," if decimal == "." else "."
    marked = text.str.contains(other, regex=False)
    grouped = rf"[+-]?\d{{1,3}}(?:{re.escape(other)}\d{{3}})+(?:{re.escape(decimal)}\d+)?"
    if (row := first_row(marked & ~text.str.fullmatch(grouped), cells)) is not None:
        example = "1234.5 or 1,234.5" if decimal == "." else "1234,5 or 1.234,5"
        raise InputError(
            f"{show(cells[row])}: the numbers of this file have '{decimal}' as the decimal mark ({example}); "
            f"write the number that way, or give --decimal {other} if '{other}' is the decimal mark",
            file=file,
            row=row,
            column=column,
        )
    if not marked.any() and decimal == ".":
        return text
    return text.str.replace(other, "", regex=False).str.replace(decimal, ".", regex=False)


def _not_a_number(cell: str, value: float, decimal: str) -> str:
    """Why a non-empty cell did not parse to a finite number, in words that say how to fix it."""
    if cell.lower().lstrip("+-") in ("inf", "infinity"):
        return "is not a finite number; leave the cell empty for no value (or no limit)"
    if cell.lower() in _NOT_NUMBERS:
        return "is not a number; leave the cell empty when there is no value"
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
    rules = dict(file=file, column=column, decimal=decimal, integer=integer, allow_empty=allow_empty, maximum=maximum)
    codes, distinct = pd.factorize(cells.to_numpy(dtype=object))
    if len(distinct) > len(cells) // 2 or (codes < 0).any():
        return _parse_each(cells, **rules)
    # Each distinct cell once (a size column of a million cases holds a dozen). Each is indexed by
    # its first row, and factorize keeps the order of first appearance, so the first bad distinct
    # cell is the first bad row of the column: the same error as cell by cell.
    first = np.unique(codes, return_index=True)[1]
    values = _parse_each(pd.Series(distinct, index=cells.index[first], dtype=object), **rules)
    return pd.Series(values.to_numpy()[codes], index=cells.index, name=column)


def _parse_each(
    cells: pd.Series, *, file: str, column: str, decimal: str, integer: bool, allow_empty: bool, maximum: float
) -> pd.Series:
    text = _plain_decimals(cells, cells.astype(str), decimal, file=file, column=column)
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
    "DECIMAL_MARKS",
    "MAX_INPUT_BYTES",
    "MAX_NUMBER",
    "canonical_name",
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
