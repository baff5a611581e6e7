"""Scenario files: TOML parsed as data by `tomllib`, then checked field by field by `Scenario`."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ..errors import InputError
from ..settings import Scenario, validation_problem
from .tomlfile import load_toml


def load_scenario(path: str | Path) -> tuple[Scenario, Path]:
    """Parse a scenario TOML; returns it and the folder its relative paths are read from."""
    path = Path(path)
    data = load_toml(path, "a scenario .toml file")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        message, key = validation_problem(err)
        raise InputError(message, file=path, key=key) from None
    return scenario, path.parent


__all__ = ["load_scenario"]
