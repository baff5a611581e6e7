"""Column names: the ones the tool reads, near misses of them, and the ones it only carries along.

Names are matched after trimming and lower-casing (`text.canonical_name`). A name that is not one of
the tool's but is a small edit away from one (`capacty`, `exclude`, `need`, `case id`) is refused
with "did you mean", because reading it as an unknown column would silently drop what it says: an
unwilling state would receive people, a family would be split. Every other unknown column is kept
as written, listed in one warning line and carried through to the plan files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ..errors import InputError


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _allowed_edits(name: str) -> int:
    # One slip in a short name, two in a long one: 'gdp_musd' (three from 'gdp_meur') stays a
    # column of its own, 'capacty' and 'exclude' do not.
    return 1 if len(name) <= 7 else 2


def near_miss(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate `name` is most likely a misspelling of (None when none is close or `name` is
    one of them)."""
    best, best_distance = None, None
    for candidate in candidates:
        if candidate == name:
            return None
        distance = edit_distance(name, candidate)
        if distance <= _allowed_edits(candidate) and (best_distance is None or distance < best_distance):
            best, best_distance = candidate, distance
    return best


def header(table: pd.DataFrame, column: str) -> str:
    """`column` as the file's header writes it."""
    return table.attrs.get("headers", {}).get(column, column)


def refuse_near_misses(table: pd.DataFrame, reserved: Sequence[str], *, prefix: str | None = None) -> None:
    """An InputError for the first column of `table` that is not one of `reserved` (nor starts
    with `prefix`, a family of columns such as `capacity_<need>`) but looks like a misspelling of
    one."""
    for column in table.columns:
        if column in reserved or (prefix and column.startswith(prefix)):
            continue
        meant = near_miss(column, reserved)
        stem = prefix.rstrip("_") if prefix else None
        if meant is None and stem and column.startswith(stem) and len(column) > len(stem):
            # 'capacity medical', 'capacity-medical': one of the family with the wrong separator
            meant = prefix + column[len(stem) :].lstrip(" -.:")
        if meant is not None:
            raise misspelt(table, column, meant)


def misspelt(table: pd.DataFrame, column: str, meant: str, why: str = "not a column this tool reads") -> InputError:
    return InputError(
        f"{why}; did you mean '{meant}'? (rename the column; names are matched ignoring case and surrounding spaces)",
        file=table.attrs.get("source"),
        row=1,
        column=header(table, column),
    )


def unused_columns(table: pd.DataFrame, reserved: Sequence[str], used: Iterable[str] = ()) -> list[str]:
    """The columns of `table` this run reads nowhere, as the header writes them: not one of
    `reserved` and not in `used` (a formula's columns, the `capacity_<need>` of a need some case
    has)."""
    skip = set(reserved) | set(used)
    return [header(table, c) for c in table.columns if c not in skip]


__all__ = [
    "edit_distance",
    "header",
    "misspelt",
    "near_miss",
    "refuse_near_misses",
    "unused_columns",
]
