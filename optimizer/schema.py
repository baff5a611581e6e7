"""Old home of the input readers and scenario settings, kept so existing imports still work.

New code imports from where each thing lives now:

- `optimizer.io.text`: reading files, CSV tables, number parsing (`read_csv_table`, `read_text`)
- `optimizer.io.states`: the states table (`load_states`, `CAPACITY_PREFIX`, `state_row`)
- `optimizer.io.cases`: the case list and its burden (`load_cases`, `case_weights`)
- `optimizer.io.scenario`: scenario TOML files (`load_scenario`)
- `optimizer.participants`: who takes part (`participants`, `split_codes`)
- `optimizer.settings`: every setting and its allowed values (`ScenarioSettings`, `Scenario`)
"""

from __future__ import annotations

from .io.cases import CASE_COLUMNS, CASE_LIST_COLUMNS, case_needs, case_weights, check_cases_against_states, load_cases
from .io.scenario import load_scenario
from .io.states import (
    CAPACITY_PREFIX,
    CODE_FORBIDDEN,
    STATE_NUMERIC_COLUMNS,
    STATE_PERSON_COLUMNS,
    STATE_RESERVED_COLUMNS,
    STATE_TEXT_COLUMNS,
    ReadOnly,
    load_states,
    state_row,
)
from .io.text import MAX_INPUT_BYTES, MAX_NUMBER, decimal_mark, read_csv_table, read_text
from .participants import participants, split_codes
from .settings import (
    MAX_NEED_WEIGHT,
    MAX_PERSONS,
    Links as LinksMode,
    Objective,
    Scenario,
    ScenarioSettings,
    Solver as SolverName,
    Variant,
    validation_problem,
)

# The private name other modules used before `read_text` was public.
_read_text = read_text

__all__ = [
    "CAPACITY_PREFIX",
    "CASE_COLUMNS",
    "CASE_LIST_COLUMNS",
    "CODE_FORBIDDEN",
    "LinksMode",
    "MAX_INPUT_BYTES",
    "MAX_NEED_WEIGHT",
    "MAX_NUMBER",
    "MAX_PERSONS",
    "Objective",
    "ReadOnly",
    "STATE_NUMERIC_COLUMNS",
    "STATE_PERSON_COLUMNS",
    "STATE_RESERVED_COLUMNS",
    "STATE_TEXT_COLUMNS",
    "Scenario",
    "ScenarioSettings",
    "SolverName",
    "Variant",
    "case_needs",
    "case_weights",
    "check_cases_against_states",
    "decimal_mark",
    "load_cases",
    "load_scenario",
    "load_states",
    "participants",
    "read_csv_table",
    "read_text",
    "split_codes",
    "state_row",
    "validation_problem",
]
