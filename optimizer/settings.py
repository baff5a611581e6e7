"""Every setting and its allowed values, validated once.

The choices (solver, links mode, objective, sensitivity mode) are string enums: they compare equal
to their plain strings, print as them and serialise as them, so a scenario file, a command-line
option and the Python API all say `"soft"` or `Links.SOFT` alike. Each choice is checked here and
nowhere else; the other modules take the validated value.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError

# Bounds that keep numbers meaningful (a billion persons, a weight of a million).
MAX_PERSONS = 10**9
MAX_NEED_WEIGHT = 10**6


class Solver(StrEnum):
    HIGHS = "highs"
    CBC = "cbc"


class Links(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    OFF = "off"


class Objective(StrEnum):
    DEVIATION = "deviation"
    MINIMAX = "minimax"


class Sensitivity(StrEnum):
    ALLOCATION = "allocation"
    TARGETS = "targets"
    NONE = "none"


def choice(enum: type[StrEnum], value: object, option: str) -> StrEnum:
    """`value` as a member of `enum` (case and surrounding spaces ignored), or an InputError that
    names the option and the allowed values."""
    if isinstance(value, enum):
        return value
    key = str(value).strip().lower()
    try:
        return enum(key)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InputError(f"unknown {option} '{value}'; choose one of {allowed}") from None


def _check_need_weights(value: dict[str, float] | None) -> dict[str, float] | None:
    if value is not None:
        for need, weight in value.items():
            if not math.isfinite(weight) or weight < 0 or weight > MAX_NEED_WEIGHT:
                raise ValueError(f"need weight for '{need}' must be a number from 0 to {MAX_NEED_WEIGHT:,}")
    return value


class Settings(BaseModel):
    """How the placement model solves. Defaults are what a planner expects; every one is a CLI
    option. Choices given as strings are turned into their enums here, once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    links: Links = Links.SOFT
    objective: Objective = Objective.DEVIATION
    solver: Solver = Solver.HIGHS
    time_limit: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # Relative MIP gap at which a stage counts as solved. Set explicitly: HiGHS's default is 1e-4.
    gap: float = Field(default=1e-6, ge=0, le=1, allow_inf_nan=False)
    require_all: bool = False
    count_hosted: bool = False
    need_weights: dict[str, float] | None = None

    @field_validator("links", "objective", "solver", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    _need_weights = field_validator("need_weights")(classmethod(lambda cls, value: _check_need_weights(value)))


def settings(**given: object) -> Settings:
    """`Settings(**given)` with a one-line InputError instead of pydantic's report."""
    try:
        return Settings(**given)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{where}: {first['msg']}") from None


PersonCount = Annotated[int, Field(ge=0, le=MAX_PERSONS)]
