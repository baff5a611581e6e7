"""Checks across the inputs of a run, before anything is solved, and what a run reads of each file.

Each input file is valid on its own once loaded (`io`); here the files meet: the needs the cases
use against the states' `capacity_<need>` columns and the scenario's need weights, a minimum of a
state the options leave out, and which columns of each file the run reads. Columns it does not
read are not errors: they are listed (one warning line per file) and carried through to the plan
files as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .errors import InputError, show
from .io.cases import CASE_COLUMNS, case_needs, check_cases_against_states
from .io.columns import header, unused_columns
from .io.states import CAPACITY_PREFIX, STATE_COLUMNS, check_needs
from .keys import Formula


def check_plan_inputs(states: pd.DataFrame, cases: pd.DataFrame | None, total: int | None, method: str, need_weights: dict[str, float] | None) -> None:
    """What is to be placed against the states: a case list or a total, not both; the cases'
    needs against the states' columns and the need weights; every state a case names; a rounding
    method only for a total (a case plan is always the integer program)."""
    if cases is not None and total is not None:
        raise InputError("give either a cases file or a total, not both")
    check_case_inputs(states, cases, need_weights)
    if cases is not None:
        check_cases_against_states(cases, states)
        if method != "lp":
            raise InputError(f"method '{method}' applies to quota plans (--total); a case plan is always solved by the integer program")


def check_case_inputs(states: pd.DataFrame, cases: pd.DataFrame | None, need_weights: dict[str, float] | None) -> None:
    """The cases' needs against the states and the need weights (see `io.states.check_needs`)."""
    if cases is None:
        if need_weights:
            raise InputError(
                f"need_weights ({', '.join(need_weights)}) apply to a case list, and this plan has a total; "
                "leave them out or give a cases file"
            )
        return
    check_needs(states, case_needs(cases), need_weights, cases.attrs.get("source"))


@dataclass(frozen=True)
class Reading:
    """What a run reads of its inputs, per file, as the header writes the columns: `used`, the
    columns the run reads; `ignored`, the tool's own columns it has no use for this time (`hosted`
    without --count-hosted, `area_km2` under a key without area); `unused`, the columns the tool
    does not know and no formula reads (listed in a warning, carried through to the plan files);
    and notes on inputs that have no effect."""

    used: dict[str, list[str]] = field(default_factory=dict)
    ignored: dict[str, list[str]] = field(default_factory=dict)
    unused: dict[str, list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


# States columns every run reads when they are there: who takes part and the bounds of the plan.
_ALWAYS = ("code", "name", "willing", "capacity", "minimum")


def reading(
    states: pd.DataFrame,
    chosen: pd.DataFrame,
    formula: Formula | None,
    cases: pd.DataFrame | None,
    need_weights: dict[str, float] | None = None,
    count_hosted: bool = False,
    hosted_column: str = "hosted",
) -> Reading:
    """What a run of `formula` (None: not chosen yet) over `chosen` (of `states`), placing `cases`
    (None: a quota plan), reads (see `Reading`)."""
    needs = case_needs(cases) if cases is not None else []
    wanted = set(_ALWAYS) | {CAPACITY_PREFIX + n for n in needs} | ({hosted_column} if count_hosted else set())
    wanted |= set(formula.columns()) if formula is not None else set(STATE_COLUMNS)
    present = _present(states, ["code", *states.columns])
    known = [c for c in present if c in STATE_COLUMNS or c.startswith(CAPACITY_PREFIX)]
    state_file = states.attrs.get("source", "states")
    used = {state_file: [header(states, c) for c in present if c in wanted]}
    ignored = {state_file: [header(states, c) for c in known if c not in wanted]}
    unused = {state_file: unused_columns(states, known, wanted if formula is not None else ())}
    notes = []
    dropped = [c for c in states.index if c not in chosen.index and states.at[c, "willing"] and _minimum(states, c) > 0]
    if dropped:
        notes.append(
            f"{state_file}: the minimum of {', '.join(show(c) for c in dropped)} does not apply: "
            "left out by --only/--exclude, they take nobody"
        )
    if cases is not None:
        cases_file = cases.attrs.get("source", "cases")
        used[cases_file] = [header(cases, c) for c in _present(cases, cases.columns) if c in CASE_COLUMNS]
        unused[cases_file] = unused_columns(cases, CASE_COLUMNS)
        free = [n for n in needs if CAPACITY_PREFIX + n not in states.columns and n not in (need_weights or {})]
        if free:
            notes.append(
                f"{cases_file}: need(s) {', '.join(show(n) for n in free)} have no '{CAPACITY_PREFIX}<need>' column in "
                f"{state_file} and no need weight: they limit nothing"
            )
    return Reading(used, ignored, {k: v for k, v in unused.items() if v}, tuple(notes))


def _present(table: pd.DataFrame, columns) -> list[str]:
    """The columns of `columns` the file itself has (a loader adds defaults for absent ones)."""
    written = table.attrs.get("headers")
    return [c for c in columns if written is None or c in written]


def _minimum(states: pd.DataFrame, code: str) -> float:
    if "minimum" not in states.columns:
        return 0.0
    value = states.at[code, "minimum"]
    return 0.0 if pd.isna(value) else float(value)


def warning_lines(readings: list[Reading], carried: dict[str, str] | None = None) -> list[str]:
    """One line per file with columns no run reads (and where they are carried to: file role ->
    plan file), then every note once."""
    unused: dict[str, list[str]] = {}
    for r in readings:
        for file, columns in r.unused.items():
            kept = unused.setdefault(file, list(columns))
            kept[:] = [c for c in kept if c in columns]  # unused by every run
    lines = []
    for file, columns in unused.items():
        if columns:
            where = (carried or {}).get(file)
            tail = f" (kept as written in {where})" if where else ""
            lines.append(f"{file}: column(s) not used: {', '.join(show(c) for c in columns)}{tail}")
    notes = dict.fromkeys(note for r in readings for note in r.notes)
    return lines + list(notes)


__all__ = ["Reading", "check_case_inputs", "check_plan_inputs", "reading", "warning_lines"]
