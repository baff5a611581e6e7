"""Writing output folders: all or nothing, locked, and safe to open in a spreadsheet.

Every file goes first into a hidden staging folder beside the output folder, which is moved into
place only when everything was written: a failed or interrupted run leaves no partial output.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import InputError

# Spreadsheets run cells starting with these as formulas (CSV/formula injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would execute with a quote; numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    neutralise_frame(frame).to_csv(path, index=False, lineterminator="\n", float_format="%.10g")


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


def json_text(data: dict) -> str:
    return json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n"


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
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", file=out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError("output folder is not empty; use --force to replace it", file=out_dir)


@contextmanager
def staged_output(out_dir: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `out_dir`, on any failure it is removed."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    lock = _hold(staging)
    try:
        yield staging
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, trash / "old")
            os.replace(staging, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)


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
