"""Errors the command line turns into one clear line and an exit code.

`InputError` (exit 2) is for anything the user gave that we cannot use; `InfeasibleError` (exit 3)
is for a well-formed problem that has no solution. Both carry a message that names the file, row and
column where that applies, so the CLI never needs a traceback to explain itself.
"""

from __future__ import annotations

from pathlib import Path


class RelocationError(Exception):
    """Base of the errors the CLI reports without a traceback."""

    exit_code = 1


class InputError(RelocationError):
    """Bad input: a file, a row, a column, or an option the user gave."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.detail = message
        where = []
        if self.file is not None:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class InfeasibleError(RelocationError):
    """The problem is well formed but has no solution; the message says why in words."""

    exit_code = 3
