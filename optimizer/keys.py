"""Distribution keys: which fraction of the burden each participating state should carry.

A key is a weighted sum of criteria. Each criterion is a column of the states table turned into a
share over the participants (its value over their total) or, for "less is more" criteria such as
unemployment, an inverse share ((1/v_i) / sum_j 1/v_j). A criterion may be capped relative to other
criteria (the EU 2015 key caps its asylum and unemployment terms at 0.3 x (pop_i + gdp_i)); whatever
the caps cut is spread again by a base key. This single rule reproduces every preset below and lets
users write their own in TOML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError, show
from .io.columns import header, near_miss
from .io.states import state_row
from .io.tomlfile import load_toml
from .settings import validation_problem

# A pseudo column: every participant counts one (the "equal" key).
EQUAL = "@equal"


def _as_tuple(value: object) -> object:
    # TOML arrays arrive as lists; strict mode takes only a tuple for a tuple field.
    return tuple(value) if isinstance(value, list) else value


def _column_name(value: object) -> object:
    # States columns are matched ignoring case and surrounding spaces (`io.text.canonical_name`).
    return value.strip().lower() if isinstance(value, str) else value


def _column_names(value: object) -> object:
    value = _as_tuple(value)
    return tuple(_column_name(v) for v in value) if isinstance(value, tuple) else value


def _weights_by_column(value: object) -> object:
    return {_column_name(k): v for k, v in value.items()} if isinstance(value, dict) else value


Column = Annotated[str, BeforeValidator(_column_name)]


class Cap(BaseModel):
    """term_i <= factor x sum of the shares of the `of` columns for state i."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    factor: float = Field(gt=0, allow_inf_nan=False)
    of: Annotated[tuple[str, ...], BeforeValidator(_column_names)] = Field(min_length=1)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    column: Column
    weight: float = Field(ge=0, allow_inf_nan=False)
    direction: Literal["share", "inverse"] = "share"
    cap: Cap | None = None
    label: str | None = None

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        return f"1/{self.column}" if self.direction == "inverse" else self.column


class Formula(BaseModel):
    """A distribution key. Weights are normalised to sum to 1 before use. Types are strict (a
    formula file must be exact: true is not a weight)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: str
    title: str = ""
    source: str = ""
    caveats: str = ""
    criteria: Annotated[tuple[Criterion, ...], BeforeValidator(_as_tuple)] = Field(min_length=1)
    # How to spread what the caps cut: "base" (by the base key: the `base` weights, default the
    # uncapped share criteria with their weights) or "proportional" (rescale the capped sum to 1).
    remainder: Literal["base", "proportional"] = "base"
    base: Annotated[dict[str, float] | None, BeforeValidator(_weights_by_column)] = None

    @model_validator(mode="after")
    def _check_weights(self) -> "Formula":
        if sum(c.weight for c in self.criteria) <= 0:
            raise ValueError("criterion weights sum to zero")
        if self.base is not None:
            values = list(self.base.values())
            if any(not np.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
                raise ValueError("base weights must be >= 0 and not all zero")
        return self

    def columns(self) -> list[str]:
        """Every states column the formula reads."""
        needed: list[str] = []
        for criterion in self.criteria:
            needed.append(criterion.column)
            if criterion.cap:
                needed.extend(criterion.cap.of)
        needed.extend((self.base_weights() or {}).keys())
        return [c for c in dict.fromkeys(needed) if c != EQUAL]

    def base_weights(self) -> dict[str, float]:
        if self.base is not None:
            return dict(self.base)
        uncapped = {c.column: c.weight for c in self.criteria if c.cap is None and c.direction == "share"}
        return uncapped or {c.column: c.weight for c in self.criteria if c.direction == "share"}

    def with_weights(self, weights: dict[str, float]) -> "Formula":
        """A copy with some criterion weights replaced (keyed by column): for sensitivity runs."""
        criteria = tuple(
            c.model_copy(update={"weight": weights[c.column]}) if c.column in weights else c
            for c in self.criteria
        )
        return self.model_copy(update={"criteria": criteria})


def _criteria(*items: tuple) -> tuple[Criterion, ...]:
    out = []
    for item in items:
        column, weight, *rest = item
        direction = rest[0] if rest else "share"
        cap = Cap(factor=rest[1], of=rest[2]) if len(rest) > 1 else None
        out.append(Criterion(column=column, weight=weight, direction=direction, cap=cap))
    return tuple(out)


_EU_SOURCE = (
    "European Commission, COM(2015) 450 and COM(2015) 451 (relocation of 120,000 and the May 2015 "
    "Agenda key), as described by Grech (2016), European Union Politics"
)
_EU_CAVEATS = (
    "Inputs here: asylum_per_million = mean asylum applications per million inhabitants 2010-2014 "
    "WITHOUT resettled refugees (the Commission added them), so shares differ slightly from the "
    "published ones. The 120,000 scheme used 22 participants (not IT, EL/GR, HU, UK/GB, IE, DK)."
)

PRESETS: dict[str, Formula] = {
    f.name: f
    for f in (
        Formula(
            name="german-1994",
            title="German EU presidency proposal, 1994: population, area, GDP",
            source="Newland (2011), MPI for UNHCR, on the 1994 German presidency proposal",
            caveats="The weights were never published in any source found: equal thirds are an "
            "ASSUMPTION of this tool.",
            criteria=_criteria(("population", 1 / 3), ("area_km2", 1 / 3), ("gdp_meur", 1 / 3)),
        ),
        Formula(
            name="eu-2015",
            title="EU relocation key 2015: 40% population, 40% GDP, 10% asylum, 10% unemployment, capped",
            source=_EU_SOURCE,
            caveats="The inverse asylum and unemployment terms are capped at 0.3 x (pop_i + gdp_i); "
            "what the caps cut is spread by the base key 0.5 pop + 0.5 GDP. " + _EU_CAVEATS,
            criteria=_criteria(
                ("population", 0.4),
                ("gdp_meur", 0.4),
                ("asylum_per_million", 0.1, "inverse", 0.3, ("population", "gdp_meur")),
                ("unemployment_pct", 0.1, "inverse", 0.3, ("population", "gdp_meur")),
            ),
        ),
        Formula(
            name="eu-2015-uncapped",
            title="EU Agenda on Migration key, May 2015: 40/40/10/10 without caps",
            source=_EU_SOURCE,
            caveats="The May 2015 Agenda key: same weights as eu-2015, no caps. " + _EU_CAVEATS,
            criteria=_criteria(
                ("population", 0.4),
                ("gdp_meur", 0.4),
                ("asylum_per_million", 0.1, "inverse"),
                ("unemployment_pct", 0.1, "inverse"),
            ),
        ),
        Formula(
            name="dublin-2016",
            title="Dublin IV reference key, 2016: 50% population + 50% total GDP",
            source="COM(2016) 270, as summarised in the EPRS briefing (2016)",
            caveats="The corrective mechanism (triggered at 150% of the reference number) is not "
            "modelled; this is the reference key itself.",
            criteria=_criteria(("population", 0.5), ("gdp_meur", 0.5)),
        ),
        Formula(
            name="pact-2024",
            title="Pact on Migration and Asylum 2024: 50% population + 50% GDP",
            source="Regulation (EU) 2024/1351 (AMMR), Annex I and Art. 66",
            caveats="Solidarity may also be given as money or alternative measures (Art. 56(2)); "
            "this key shares relocations only.",
            criteria=_criteria(("population", 0.5), ("gdp_meur", 0.5)),
        ),
        Formula(
            name="koenigstein",
            title="Koenigstein key (Germany): 2/3 tax revenue + 1/3 population",
            source="Gemeinsame Wissenschaftskonferenz (GWK); BAMF (EASY distribution)",
            caveats="Asylum quotas of year Y use the key computed for Y-1 (s. 45 AsylG). Needs a "
            "tax_revenue_meur column; the shipped Laender file has the published keys instead "
            "(use --weight-column key_2016_pct).",
            criteria=_criteria(("tax_revenue_meur", 2 / 3), ("population", 1 / 3)),
        ),
        Formula(
            name="population",
            title="Population share",
            source="-",
            criteria=_criteria(("population", 1.0)),
        ),
        Formula(name="gdp", title="GDP share", source="-", criteria=_criteria(("gdp_meur", 1.0))),
        Formula(
            name="equal",
            title="Equal shares: every participant the same",
            source="-",
            criteria=_criteria((EQUAL, 1.0)),
        ),
    )
}


def load_formula(path: str | Path) -> Formula:
    """A custom formula from TOML: name, criteria = [{column, weight, direction, cap}], remainder, base."""
    path = Path(path)
    if not path.exists():
        raise InputError("formula file not found", file=path)
    data = load_toml(path, "a formula .toml file")
    data.setdefault("name", path.stem)
    return formula_from_dict(data, origin=path)


def formula_from_dict(data: dict, origin: str | Path = "formula") -> Formula:
    try:
        return Formula.model_validate(data)
    except ValidationError as err:
        message, key = validation_problem(err)
        raise InputError(message, file=origin, key=key) from None


def resolve_formula(spec: str | dict | Formula, base_dir: Path | None = None) -> Formula:
    """A preset name, a path to a TOML file, an inline table (from a scenario), or a Formula."""
    if isinstance(spec, Formula):
        return spec
    if isinstance(spec, dict):
        data = dict(spec)
        data.setdefault("name", "custom")
        return formula_from_dict(data, origin="formula table")
    if spec in PRESETS:
        return PRESETS[spec]
    candidate = Path(spec)
    if base_dir is not None and not candidate.is_absolute():
        candidate = base_dir / candidate
    if spec.endswith(".toml") or candidate.exists():
        return load_formula(candidate)
    raise InputError(f"unknown formula '{spec}'; choose one of {', '.join(PRESETS)} or a .toml file")


def weight_column_formula(column: str) -> Formula:
    """Shares proportional to one column (e.g. a published key in percent)."""
    return Formula(
        name=f"column:{column}",
        title=f"Shares proportional to column '{column}'",
        source="states file",
        criteria=(Criterion(column=column, weight=1.0),),
    )


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyResult:
    """Shares (summing to 1) over the participants, with the part each criterion contributed.

    `contributions` has one column per criterion (weight x capped term) plus `remainder` (what the
    caps cut, spread again); its rows sum to `shares`. `capped` tells which terms hit their cap.
    """

    formula: Formula
    shares: pd.Series
    contributions: pd.DataFrame
    terms: pd.DataFrame
    capped: pd.DataFrame


def _column_values(states: pd.DataFrame, column: str, formula: Formula) -> np.ndarray:
    if column == EQUAL:
        return np.ones(len(states))
    source = states.attrs.get("source", "states file")
    if column not in states.columns:
        meant = near_miss(column, list(states.columns))
        hint = f"; did you mean {show(header(states, meant))}?" if meant else ""
        raise InputError(
            f"formula '{formula.name}' needs column '{column}', which the file lacks{hint}",
            file=source,
            row=1,
            column=column,
        )
    reason = states.attrs.get("not_numeric", {}).get(column)
    if reason is not None:
        detail, row = reason
        raise InputError(
            f"formula '{formula.name}' needs numbers in column '{column}': {detail}", file=source, row=row, column=column
        )
    values = pd.to_numeric(states[column], errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(values)
    if missing.any():
        code = states.index[missing][0]
        raise InputError(
            f"formula '{formula.name}' needs a value for state {code}",
            file=source,
            row=state_row(states, code),
            column=column,
        )
    invalid = ~np.isfinite(values) | (values < 0)
    if invalid.any():
        code = states.index[invalid][0]
        raise InputError(
            f"formula '{formula.name}' needs finite numbers >= 0; state {code} has {values[invalid][0]:g}",
            file=source,
            row=state_row(states, code),
            column=column,
        )
    return values


def _share(values: np.ndarray, direction: str, column: str, states: pd.DataFrame, formula: Formula) -> np.ndarray:
    source = states.attrs.get("source", "states file")
    if direction == "inverse":
        zero = values <= 0
        if zero.any():
            code = states.index[zero][0]
            raise InputError(
                f"formula '{formula.name}' takes the inverse of '{column}', which is 0 for state {code}",
                file=source,
                row=state_row(states, code),
                column=column,
            )
        values = 1.0 / values
    total = values.sum()
    if total <= 0:
        raise InputError(
            f"formula '{formula.name}': column '{column}' sums to zero over the participants",
            file=source,
            column=column,
        )
    return values / total


def compute_key(states: pd.DataFrame, formula: Formula) -> KeyResult:
    """Shares of the given (already selected) participants under `formula`."""
    # Extreme inputs may overflow; the result is checked, so numpy need not warn on stderr.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        return _compute_key(states, formula)


def _compute_key(states: pd.DataFrame, formula: Formula) -> KeyResult:
    codes = states.index
    total_weight = sum(c.weight for c in formula.criteria)
    plain_share = {}

    def share_of(column: str) -> np.ndarray:
        if column not in plain_share:
            plain_share[column] = _share(_column_values(states, column, formula), "share", column, states, formula)
        return plain_share[column]

    terms, capped, contributions = {}, {}, {}
    for criterion in formula.criteria:
        title = criterion.title
        if title in terms:
            title = f"{title} ({len(terms) + 1})"
        values = _column_values(states, criterion.column, formula)
        term = _share(values, criterion.direction, criterion.column, states, formula)
        if criterion.cap is not None:
            ceiling = criterion.cap.factor * np.sum([share_of(c) for c in criterion.cap.of], axis=0)
            capped[title] = term > ceiling
            term = np.minimum(term, ceiling)
        else:
            capped[title] = np.zeros(len(codes), dtype=bool)
        terms[title] = term
        contributions[title] = (criterion.weight / total_weight) * term
    summed = np.sum(list(contributions.values()), axis=0)
    cut = 1.0 - summed.sum()
    if formula.remainder == "proportional":
        remainder = summed * (cut / summed.sum())
    else:
        base_weights = formula.base_weights()
        base_total = sum(base_weights.values())
        base = np.sum([(w / base_total) * share_of(c) for c, w in base_weights.items()], axis=0)
        remainder = cut * base
    contributions["remainder"] = remainder
    shares = summed + remainder
    if not np.isfinite(shares).all() or abs(shares.sum() - 1.0) > 1e-6:
        raise InputError(
            f"formula '{formula.name}' gives no usable shares over these states (values too large or too "
            "small to divide); check the columns it uses: " + ", ".join(formula.columns() or ["(none)"]),
            file=states.attrs.get("source"),
        )
    return KeyResult(
        formula=formula,
        shares=pd.Series(shares, index=codes, name="share"),
        contributions=pd.DataFrame(contributions, index=codes),
        terms=pd.DataFrame(terms, index=codes),
        capped=pd.DataFrame(capped, index=codes),
    )
