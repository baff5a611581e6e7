"""Writing output folders: all or nothing, locked, and safe to open in a spreadsheet.

Every file goes first into a hidden staging folder beside the output folder, which is moved into
place only when everything was written: a failed or interrupted run leaves no partial output. One
run at a time writes a folder (a lock beside it, taken before the work); a symbolic link to a folder
is followed, never replaced; what --force would delete is checked before the work starts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interrupts import interrupts_deferred, written

# Spreadsheets run cells starting with these as formulas (CSV/formula injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PREFIX_CHARS = frozenset(_FORMULA_PREFIXES)


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would execute with a quote; numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype != object and not pd.api.types.is_string_dtype(series.dtype):
            continue
        values = series.to_numpy(dtype=object)
        risky = _risky(values.tolist())
        if risky:
            values = values.copy()
            values[risky] = ["'" + values[i] for i in risky]
            out[column] = pd.Series(values, index=series.index, dtype=series.dtype)
    return out


# A cell a spreadsheet would run, found in a column joined into one string (a C-speed scan: a
# million cells in a few hundredths of a second); the cell-by-cell check runs only on a hit.
_RISKY_START = re.compile("\x00[" + re.escape("".join(_FORMULA_PREFIXES)) + "]")


def _risky(values: list) -> list[int]:
    """The positions of the text cells that `neutralise` would change (usually none)."""
    try:
        joined = "\x00".join(values)  # all text, the usual case: no per-cell test in Python
    except TypeError:
        joined = "\x00".join(value for value in values if isinstance(value, str))
    # a literal first character: the regex engine jumps from one "\x00" to the next
    if not joined or not _RISKY_START.search("\x00" + joined):
        return []
    return [i for i, value in enumerate(values) if isinstance(value, str) and value[:1] in _PREFIX_CHARS]




def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """The frame as CSV (no index, "\\n" line ends, floats as %.10g, text neutralised): what
    pandas' `to_csv` writes, byte for byte, a column at a time where every column is of a plain
    kind (numbers, booleans, text with blanks); pandas' own writer otherwise."""
    text = csv_text(frame)
    if text is None:
        neutralise_frame(frame).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")
    else:
        path.write_text(text, encoding="utf-8", newline="")


def csv_text(frame: pd.DataFrame) -> str | None:
    """`write_csv`'s text, or None when a column is not of a plain kind. pandas formats each cell
    in Python (a second for 350,000 rows of case plans); here each column becomes a list of
    strings at once, floats through their distinct values, and rows are joined in C."""
    if not frame.shape[1] or isinstance(frame.columns, pd.MultiIndex):
        return None
    columns = [_csv_column(frame.iloc[:, j]) for j in range(frame.shape[1])]
    if any(column is None for column in columns):
        return None
    alone = len(columns) == 1
    header = _csv_quoted([str(c) for c in frame.columns], alone)
    columns = [_csv_quoted(column, alone) for column in columns]
    lines = [",".join(header), *map(",".join, zip(*columns))]
    return "\n".join(lines) + "\n"


def _csv_column(series: pd.Series) -> list[str] | None:
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else None  # not nullable kinds
    if kind in ("i", "u"):
        # once per distinct value: columns of sizes and weights hold a few
        codes, distinct = pd.factorize(series.to_numpy())
        return np.array([str(value) for value in distinct.tolist()], dtype=object)[codes].tolist()
    if kind == "b":
        return ["True" if value else "False" for value in series.tolist()]
    if kind == "f":
        values = series.to_numpy(dtype=np.float64)
        # distinct by bit pattern: 0.0 and -0.0 are written differently ("0", "-0")
        codes, distinct = pd.factorize(values.view(np.int64))
        names = np.array(["%.10g" % value for value in distinct.view(np.float64).tolist()], dtype=object)[codes]
        names[np.isnan(values)] = ""
        return names.tolist()
    if series.dtype != object and not pd.api.types.is_string_dtype(series.dtype):
        return None
    if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        return None  # numbers or other objects in a text column: pandas' own rules
    cells = series.to_numpy(dtype=object)
    missing = series.isna().to_numpy()
    if missing.any():
        cells = cells.copy()
        cells[missing] = ""
    cells = cells.tolist()
    for i in _risky(cells):
        cells[i] = "'" + cells[i]
    return cells


def _quoted_characters() -> str:
    """The characters that make Python's csv writer (pandas' writer) quote a cell with "\n"
    line ends: the separator, the quote and "\n" always; "\r" only in some Python versions."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["\r", ""])
    return ',"\n' + ("\r" if buffer.getvalue().startswith('"') else "")


_NEEDS_QUOTES = re.compile("[" + re.escape(_quoted_characters()) + "]")


def _csv_quoted(cells: list[str], alone: bool = False) -> list[str]:
    """Cells quoted as Python's csv module quotes them (QUOTE_MINIMAL): those holding the
    separator, a quote or a line break; an empty cell too when it is a row's only cell."""
    if not _NEEDS_QUOTES.search("".join(cells)) and not (alone and "" in cells):
        return cells
    return ['"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) or (alone and cell == "") else cell for cell in cells]


def to_jsonable(value: object) -> object:
    """Plain JSON types; NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class Records(list):
    """The rows of a table for JSON (see `records`): `json_text` writes them one row per line."""


def records(frame: pd.DataFrame) -> Records:
    """A table as JSON rows ({column: value}), converted a column at a time: plain ints, floats
    and text, NaN and infinities as null."""
    if not len(frame.columns):
        return Records({} for _ in range(len(frame)))
    columns = [str(c) for c in frame.columns]
    cells = [plain_cells(frame.iloc[:, j]) for j in range(len(columns))]
    return Records(dict(zip(columns, row)) for row in zip(*cells))


def plain_cells(series: pd.Series, each=None) -> list:
    """A column's cells as plain Python values, a column at a time: ints, bools, floats with
    NaN and infinities as None; other columns cell by cell through `each` (default: JSON's)."""
    values = series.tolist()  # numpy scalars become Python's own
    if series.dtype.kind in "iub":
        return values
    if series.dtype.kind == "f":
        return [value if math.isfinite(value) else None for value in values]
    if each is None and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        # text and missing cells only (checked in C): the missing ones null, the rest as they are
        return [None if missing else value for value, missing in zip(values, series.isna().tolist())]
    each = each or _json_cell
    return [each(value) for value in values]


def _json_cell(value: object) -> object:
    return to_jsonable(value.item() if isinstance(value, np.generic) else value)


def json_text(data: dict) -> str:
    """Indented JSON; each `Records` table one row per line. Python's json indents in pure Python
    (seconds for a 100,000-row case list) and writes compactly in C: so the tables are written
    compactly, a row at a time, into the indented rest."""
    tables: list[Records] = []
    marker = f"table-{secrets.token_hex(16)}-"  # a place holder no text of the user's can spell

    def lift(value: object) -> object:
        if isinstance(value, Records):
            tables.append(value)
            return f"{marker}{len(tables) - 1}"
        if isinstance(value, dict):
            return {key: lift(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [lift(item) for item in value]
        return value

    text = json.dumps(to_jsonable(lift(data)), indent=2, ensure_ascii=False) + "\n"
    if not tables:
        return text
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode

    def table(found: re.Match) -> str:
        indent, before, rows = found.group(1), found.group(2), tables[int(found.group(3))]
        if not rows:
            return f"{indent}{before}[]"
        return f"{indent}{before}[\n" + ",\n".join(f"{indent}  {encode(row)}" for row in rows) + f"\n{indent}]"

    return re.compile(rf'^( *)(.*?)"{marker}(\d+)"', re.MULTILINE).sub(table, text)


def write_content(content: str | bytes, path: Path) -> None:
    """A rendered file (text as UTF-8, or bytes), its folder made if it is a subfolder."""
    path.parent.mkdir(exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)


def write_json(data: dict, path: Path) -> None:
    path.write_text(json_text(data), encoding="utf-8")


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_output_folder(out_dir: Path, force: bool) -> None:
    """An output folder may be written when it does not exist, is empty, or `force` is given."""
    out_dir = real_output(Path(out_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", file=out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError("output folder is not empty; use --force to replace it", file=out_dir)


def real_output(out_dir: Path) -> Path:
    """The folder an output path names, symbolic links followed (the link stays; its target is
    written). A link that leads nowhere is refused: following it would create a folder somewhere
    the user may not expect, and replacing it would destroy the link."""
    for path in (out_dir, *out_dir.parents):
        if path.is_symlink() and not path.exists():
            which = "a symbolic link" if path == out_dir else f"{path} is a symbolic link"
            raise InputError(
                f"{which} to {os.readlink(path)}, which does not exist; create that folder or choose another --out",
                file=out_dir,
            )
    return Path(os.path.realpath(out_dir))


def prepare_output(out_dir: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Everything that can be known about writing `out_dir` before the work that fills it: it may
    be written (`check_output_folder`), it is not the current folder or one holding an input (which
    --force would delete), its parent can be written (and an existing folder replaced), and no other
    run is writing it: its lock is taken here and held until `release_outputs` (or the end of the
    `staged_output` that writes it)."""
    given, target = Path(out_dir), real_output(Path(out_dir))
    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        raise InputError("the output folder would replace the current folder (or one containing it); choose another --out", file=given)
    for path in inputs:
        if target == path.resolve() or target in path.resolve().parents:
            raise InputError(f"the output folder holds an input file ({path}); choose another --out", file=given)
    check_output_folder(given, force)
    existing = next(p for p in (target, *target.parents) if p.exists())
    if existing != target and not existing.is_dir():
        raise InputError(f"cannot create the output folder: {existing} is a file", file=given)
    if existing == target and force:
        _check_removable(target, given)
    _lock(target, given)


def _check_removable(folder: Path, given: Path) -> None:
    """--force replaces the folder: everything in it must be ours to delete, or the run would end
    after the work with half of it gone (a read-only subfolder)."""
    for root, dirs, _ in os.walk(folder):
        for path in (Path(root), *(Path(root) / d for d in dirs)):
            if not path.is_symlink() and not os.access(path, os.W_OK | os.X_OK):
                raise InputError(f"cannot replace the output folder: no permission to delete what is in {path}", file=given)


@contextmanager
def staged_output(out_dir: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `out_dir`, on any failure it is removed.
    The folder's lock is held meanwhile (taken here unless `prepare_output` took it)."""
    given = Path(out_dir)
    target = real_output(given)
    check_output_folder(given, force)
    owned = str(target) not in _LOCKS
    if owned:
        _lock(target, given)
    staging = None
    try:
        _clear_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        os.chmod(staging, _folder_mode(target))
        hold = _hold(staging)
        try:
            yield staging
            check_output_folder(given, force)
            _move_into_place(staging, target)
            written.append(given)
        finally:
            if hold is not None:
                os.close(hold)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if owned:
            _unlock(target)


def _folder_mode(target: Path) -> int:
    """The permissions the output folder gets: those it had, else a new folder's (mkdtemp makes
    its folder private to the user, which an output folder shared with colleagues must not be)."""
    if target.is_dir():
        return target.stat().st_mode & 0o7777
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def _move_into_place(staging: Path, target: Path) -> None:
    """The staging folder becomes `target`; an existing `target` is first moved aside beside it
    (the same parent: moving a folder into another needs write permission on the folder itself)
    and then deleted. Ctrl-C is held back meanwhile, so an interrupt cannot leave the old output
    moved aside and the new one not yet in place."""
    with interrupts_deferred():
        if target.exists():
            trash = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.replace(target, trash)
            os.replace(staging, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, target)


# ---------------------------------------------------------------------------------------------
# One run per output folder: an exclusive flock on `.NAME.lock` beside it, from before the work
# until the folder is in place. A second run for the same folder is refused at once instead of
# silently replacing the first one's plan. POSIX; elsewhere there is no lock.

# resolved output folder -> (lock file handle, lock file, the folders above it this run created)
_LOCKS: dict[str, tuple[int, Path, list[Path]]] = {}


def _lock(target: Path, given: Path) -> None:
    if str(target) in _LOCKS:
        return
    try:
        import fcntl
    except ImportError:
        return
    created = _make_parents(target.parent, given)
    path = target.parent / f".{target.name}.lock"
    try:
        for _ in range(10):
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(handle)
                raise InputError(
                    f"another relocate run is writing this output folder (it holds {path}); wait for it to end or choose another --out",
                    file=given,
                ) from None
            # A run that just ended removes the file after we opened it: lock the file that is there now.
            if os.path.exists(path) and os.stat(path).st_ino == os.fstat(handle).st_ino:
                _LOCKS[str(target)] = (handle, path, created)
                return
            os.close(handle)
        raise InputError(f"could not lock {path}: other runs keep replacing it", file=given)
    except OSError as err:
        _remove_empty(created)
        raise InputError(f"cannot write the output folder ({err.strerror or type(err).__name__} in {target.parent})", file=given) from None
    except BaseException:
        _remove_empty(created)
        raise


def _make_parents(parent: Path, given: Path) -> list[Path]:
    """Create the missing folders above the output; returns them, so a refused run removes them."""
    missing = [p for p in (parent, *parent.parents) if not p.exists()][::-1]
    created = []
    try:
        for folder in missing:
            folder.mkdir()
            created.append(folder)
    except OSError as err:
        _remove_empty(created)
        raise InputError(f"cannot create the output folder ({err.strerror or type(err).__name__}: {folder})", file=given) from None
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _unlock(target: Path) -> None:
    handle, path, created = _LOCKS.pop(str(target), (None, None, []))
    if handle is None:
        return
    try:
        os.unlink(path)  # while still held: a run waiting on this file sees it gone and retries
    except OSError:
        pass
    os.close(handle)
    _remove_empty(created)  # a run that wrote nothing leaves no empty folders either


def release_outputs() -> None:
    """Release every output lock this process holds (the command is over, done or not)."""
    for target in list(_LOCKS):
        _unlock(Path(target))


# A run killed with SIGKILL cannot remove its staging folder. Each run holds an exclusive flock on
# its own, so the next run for the same output removes those nobody holds (POSIX; elsewhere stale
# folders stay, hidden and harmless).


def _hold(folder: Path) -> int | None:
    try:
        import fcntl
    except ImportError:
        return None
    handle = os.open(folder, os.O_RDONLY)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _clear_stale_staging(out_dir: Path) -> None:
    try:
        import fcntl
    except ImportError:
        return
    parent, prefix = out_dir.absolute().parent, f".{out_dir.name}.partial-"
    for folder in parent.iterdir():
        if not folder.name.startswith(prefix) or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            handle = os.open(folder, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live run is writing it
        else:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(handle)


def with_input_columns(table: pd.DataFrame, own: dict[str, object], headers: dict[str, str]) -> pd.DataFrame:
    """`table` (a plan file) followed by an input file's own columns: `own` maps each (canonical)
    column to its cells as written, aligned with `table`'s rows; each is headed as the input's header
    writes it (`headers`), or 'input:<name>' where `table` already has a column of that name."""
    if not own:
        return table
    out = table.copy()
    for column, cells in own.items():
        name = headers.get(column, column)
        out["input:" + name if name in out.columns else name] = cells
    return out
