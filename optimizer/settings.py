"""Every setting and its allowed values, validated once.

The choices (solver, links mode, objective, sensitivity mode) are string enums: they compare equal
to their plain strings, print as them and serialise as them, so a scenario file, a command-line
option and the Python API all say `"soft"` or `Links.SOFT` alike. Each choice is checked here and
nowhere else; the other modules take the validated value.

Two models hold the settings: `ScenarioSettings` is what a scenario file, a variant or the command
line gives (None = not given, so layers can be merged); `Settings` is what the placement model
solves with, every value set. `model_settings` turns the first into the second.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError, show

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


def _member(enum: type[StrEnum], value: object) -> StrEnum | None:
    """The member of `enum` that `value` names, case and surrounding spaces ignored; None if none."""
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        return None


def choice(enum: type[StrEnum], value: object, option: str) -> StrEnum:
    """`value` as a member of `enum` (case and surrounding spaces ignored), or an InputError that
    names the option and the allowed values."""
    member = _member(enum, value)
    if member is None:
        allowed = ", ".join(m.value for m in enum)
        raise InputError(f"unknown {option} '{value}'; choose one of {allowed}")
    return member


def _field(enum: type[StrEnum]) -> Any:
    """`enum` as a pydantic field type that matches strings as `choice` does; anything naming no
    member (another string, a number, true/false) is refused with the allowed values and what the
    user wrote."""

    def match(value: object) -> object:
        member = _member(enum, value) if isinstance(value, (str, enum)) else None
        if member is None:
            allowed = [f"'{m.value}'" for m in enum]
            raise ValueError(f"Input should be {', '.join(allowed[:-1])} or {allowed[-1]}, got {show(value)}")
        return member

    return Annotated[enum, BeforeValidator(match)]


SolverField = _field(Solver)
LinksField = _field(Links)
ObjectiveField = _field(Objective)


def _check_need_weights(value: dict[str, float] | None) -> dict[str, float] | None:
    """Each weight in range; needs in lower case, as the cases' needs are."""
    if value is None:
        return None
    out: dict[str, float] = {}
    for need, weight in value.items():
        if not math.isfinite(weight) or weight < 0 or weight > MAX_NEED_WEIGHT:
            raise ValueError(f"need weight for '{need}' must be a number from 0 to {MAX_NEED_WEIGHT:,}")
        key = need.strip().lower()
        if key in out:
            raise ValueError(f"need {show(need)} is given twice (needs are matched ignoring case)")
        out[key] = weight
    return out


def _some_codes(value: list[str] | None) -> list[str] | None:
    # An empty list would silently mean "every state" where the user asked for some.
    if value is not None and not [c for c in value if c.strip()]:
        raise ValueError("names no state code; leave it out to let every willing state take part")
    return value


def _decimal_mark(value: str) -> str:
    if value not in (".", ","):
        raise ValueError(f"the decimal mark is '.' or ',', got {show(value)}")
    return value


# The decimal mark of the CSV files (--decimal); None = decided from each file's numbers.
Decimal = Annotated[str, AfterValidator(_decimal_mark)]


# Burden units per person for each need; a case counts its largest (see `io.cases.case_weights`).
NeedWeights = Annotated[dict[str, float] | None, AfterValidator(_check_need_weights)]
PersonCount = Annotated[int, Field(ge=0, le=MAX_PERSONS)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# A relative MIP gap.
Gap = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Settings(BaseModel):
    """How the placement model solves. Defaults are what a planner expects; every one is a CLI
    option. Choices given as strings are turned into their enums here, once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    links: LinksField = Links.SOFT
    objective: ObjectiveField = Objective.DEVIATION
    solver: SolverField = Solver.HIGHS
    time_limit: Seconds | None = None
    # Relative MIP gap at which a stage counts as solved. Set explicitly: HiGHS's default is 1e-4.
    gap: Gap = 1e-6
    require_all: bool = False
    count_hosted: bool = False
    # the states column holding what each state already hosts (a proxy such as past asylum
    # applications is a user's choice, and should be labelled one)
    hosted_column: str = "hosted"
    need_weights: NeedWeights = None


def validation_problem(err: ValidationError) -> tuple[str, str | None]:
    """The first problem pydantic found, as (message, dotted key) in words a user can act on."""
    first = err.errors()[0]
    key = _key(first["loc"])
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return "not a known setting; check the spelling", key
    if kind == "missing":
        return "required setting missing", key
    message = first["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, "), key
    given = first.get("input")
    if isinstance(given, bool):
        message += f", got {str(given).lower()}" + (" (true/false is not a number)" if kind in ("int_type", "float_type") else "")
    elif "input" in first and not isinstance(given, (dict, list, tuple)):
        message += f", got {show(given)}"
        if isinstance(given, float) and kind == "int_type":
            message += " (a whole number is written without a decimal point)"
    return message, key


# pydantic names the member of a union it tried (`str`, `dict[str,any]`): not a key the user wrote.
_UNION_MEMBER = re.compile(r"^(str|int|float|bool)$|\[|^function-|^constrained-")


def _key(location: tuple) -> str | None:
    return ".".join(str(p) for p in location if not _UNION_MEMBER.search(str(p))) or None


def settings(**given: object) -> Settings:
    """`Settings(**given)` with a one-line InputError instead of pydantic's report."""
    try:
        return Settings(**given)
    except ValidationError as err:
        message, key = validation_problem(err)
        raise InputError(f"{key}: {message}" if key else message) from None


# ---------------------------------------------------------------------------------------------
# The Pact's Solidarity Pool (`relocate solidarity`, `optimizer.solidarity`): a scenario's [pool].

# Regulation (EU) 2024/1351 (AMMR) Art. 12(2): the annual pool holds at least these.
ART_12_RELOCATIONS = 30_000
ART_12_FINANCIAL_EUR = 600_000_000
# Dublin IV (COM(2016) 270, a proposal never adopted): EUR per applicant a state does not accept.
DUBLIN_IV_EUR_PER_APPLICANT = 250_000
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Euros = Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]


def _at_most_whole(value: float | None) -> float | None:
    # Checked here, not by `le=1`, so the message can say how to write a percentage.
    if value is not None and value > 1:
        raise ValueError(f"deduction above 100% (share {value:g}); write a share as a fraction, 0.4 for 40%")
    return value


class Deduction(BaseModel):
    """What a state may leave out of its fair share (AMMR Art. 61-62): a share of it, or an absolute
    amount in relocations or in euros. Exactly one of the three."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    share: Annotated[float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_at_most_whole)] = None
    relocations: Euros | None = None
    eur: Euros | None = None
    note: str = ""

    @model_validator(mode="after")
    def _one_amount(self) -> "Deduction":
        given = [name for name in ("share", "relocations", "eur") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of share, relocations or eur")
        return self


class OffsetRules(BaseModel):
    """AMMR Art. 63 responsibility offsets, as parameters: the thresholds are UNVERIFIED against
    the Official Journal (DOMAIN.md). Fractions are of `reference` relocations (the number in the
    Commission's proposal, Art. 12; default the pool's relocations)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Art. 63(1), read in a copy of the text: pledges >= 50% of the proposal -> a benefitting state may request offsets.
    request_at: Fraction = 0.5
    # Art. 63(2)(b), same copy: a state pledging >= 50% of its fair share as relocations may offer offsets.
    offer_at: Fraction = 0.5
    # Our reading of the mandatory offsets (not found in any text we could check): pledges below
    # 60% of the proposal, or below the Art. 12(2) minimum.
    mandatory_below: Fraction = 0.6
    mandatory_minimum: PersonCount = ART_12_RELOCATIONS
    reference: Annotated[int, Field(gt=0, le=MAX_PERSONS)] | None = None


class PoolSettings(BaseModel):
    """A Solidarity Pool: its size, who benefits, deductions, pledges and the offset thresholds.
    `None` = not given (the defaults are the Art. 12(2) minima and their ratio as the price)."""

    model_config = ConfigDict(extra="forbid")
    relocations: Annotated[int, Field(gt=0, le=MAX_PERSONS)] | None = None
    financial_eur: Annotated[float, Field(gt=0, le=1e15, allow_inf_nan=False)] | None = None
    price_eur: Annotated[float, Field(gt=0, le=1e15, allow_inf_nan=False)] | None = None
    benefitting: list[str] | None = None
    # A CSV path, or a table code -> {share | relocations | eur, note}, each checked as a `Deduction`
    # when it is read (`solidarity.inputs.deductions_from_table`), so a refusal names its key.
    deductions: str | dict[str, dict[str, Any]] | None = None
    pledges: str | None = None  # a CSV path
    offsets: OffsetRules | None = None
    trade_prices: dict[str, Euros] | None = None  # name -> EUR per place (`--trade`)


class ScenarioSettings(BaseModel):
    """Settings a scenario, a variant or the command line can give. `None` means 'not given'; the
    solver's share of them has the same fields, types and checks as `Settings`. Types are strict,
    as a TOML file must be exact: true is not 1, 5.0 is not a whole number of persons, 2024 is not
    a title."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = None
    states: str | None = None
    cases: str | None = None
    total: PersonCount | None = None
    formula: str | dict[str, Any] | None = None
    weight_column: str | None = None
    only: Annotated[list[str] | None, AfterValidator(_some_codes)] = None
    exclude: list[str] | None = None
    method: str | None = None
    decimal: Decimal | None = None
    links: LinksField | None = None
    objective: ObjectiveField | None = None
    solver: SolverField | None = None
    time_limit: Seconds | None = None
    gap: Gap | None = None
    require_all: bool | None = None
    count_hosted: bool | None = None
    hosted_column: str | None = None
    need_weights: NeedWeights = None
    capacity: dict[str, PersonCount] | None = None
    pool: PoolSettings | None = None  # the Pact's Solidarity Pool (`relocate solidarity`)


class Variant(ScenarioSettings):
    name: str


class Scenario(ScenarioSettings):
    variants: list[Variant] = Field(default_factory=list)


def model_settings(scenario: ScenarioSettings) -> Settings:
    """What the placement model solves with: the scenario's given settings, defaults for the rest.
    Derived from the fields, so a new setting needs no mapping here."""
    return Settings(**scenario.model_dump(include=set(Settings.model_fields), exclude_none=True))
