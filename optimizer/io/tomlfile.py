"""TOML files (scenarios, formulas) as data: read with the input limits, parsed by `tomllib`, and
refused when nested deeper than any real scenario is (a few thousand levels made the parser or
the validation that follows recurse until Python gave up)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import InputError
from .text import read_text

# Tables and arrays inside each other: a scenario uses three ([[variants]] -> [formula] -> cap).
MAX_TOML_DEPTH = 32


def load_toml(path: str | Path, what: str) -> dict:
    """The table a TOML file holds; `what` names the kind of file in messages."""
    path = Path(path)
    text = read_text(path, what)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", file=path) from None
    except RecursionError:
        raise _too_deep(path) from None
    if _depth(data) > MAX_TOML_DEPTH:
        raise _too_deep(path)
    return data


def _too_deep(path: Path) -> InputError:
    return InputError(f"tables or arrays nested more than {MAX_TOML_DEPTH} levels deep; is this the right file?", file=path)


def _depth(data: object) -> int:
    """How deeply tables and arrays nest in `data`, counted without recursion (and without going
    further than one level past the limit)."""
    deepest, todo = 0, [(data, 0)]
    while todo:
        value, depth = todo.pop()
        deepest = max(deepest, depth)
        if depth > MAX_TOML_DEPTH:
            break
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        todo.extend((child, depth + 1) for child in children)
    return deepest


__all__ = ["MAX_TOML_DEPTH", "load_toml"]
