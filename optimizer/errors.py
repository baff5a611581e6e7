"""Errors the command line turns into one clear line and an exit code.

`InputError` (exit 2) is for anything the user gave that we cannot use; `InfeasibleError` (exit 3)
is for a well-formed problem that has no solution. Both carry a message that names the file, row and
column where that applies, so the CLI never needs a traceback to explain itself.

Messages quote what the user wrote, and user text can hold anything: line breaks, control or
invisible characters, a megabyte in one cell. `str()` of every error is therefore one printable line
(`one_line`), and cell values are quoted with `show`, which also shortens them.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

# Longest cell value quoted in a message.
SHOW_CHARS = 60
# Longest message, a safety net: a message is one line a person reads.
MAX_MESSAGE_CHARS = 2000


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def one_line(text: str) -> str:
    """`text` with line breaks, control, format (bidi, zero-width) and unassigned characters escaped."""
    if text.isprintable():
        out = text
    else:
        out = "".join(
            c if c == " " or not unicodedata.category(c).startswith(("C", "Z")) else _escape(c) for c in text
        )
    if len(out) > MAX_MESSAGE_CHARS:
        out = out[: MAX_MESSAGE_CHARS - 3] + "..."
    return out


def show(value: object, limit: int = SHOW_CHARS) -> str:
    """A user's value, quoted for a message: 'abc', shortened to `limit` characters, escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + one_line(text) + "'"


class RelocationError(Exception):
    """Base of the errors the CLI reports without a traceback."""

    exit_code = 1

    def __str__(self) -> str:
        return one_line(super().__str__())


class InputError(RelocationError):
    """Bad input: a file, a row, a column (or a key of a TOML file), or an option the user gave."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        key: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.key = key
        self.detail = message
        where = []
        if self.file is not None:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {show(column)}")
        if key is not None:
            where.append(f"key {show(key)}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class InfeasibleError(RelocationError):
    """The problem is well formed but has no solution; the message says why in words."""

    exit_code = 3


class SolverError(RelocationError):
    """The solver gave an answer that cannot be trusted (exit code 1): no plan is written."""
