"""The placement model: an integer program that places family cases in participating states.

Cases are never split: a case (and a `group` of cases, an extended family) goes whole to one state
or stays unplaced. Interchangeable units are aggregated into one integer variable per (type, state)
(`types`); the numbers one plan is solved over are a `Problem` (`problem`); the model is one matrix
(`matrix`) mirrored into a solver `Backend` (`backends/`: HiGHS in bulk, or PuLP with CBC or
HiGHS); the lexicographic stages are written once (`stages`) and start from a greedy plan
(`warmstart`); ties left after the last stage are decided and reported (`ties`) and the counts
become cases (`assign`). `placement` runs these phases: `plan()` is the whole step. Quota mode (a total, no
case list) is the same model with one type of one-person case.

Two things make the solver fast and its answers proven: cuts that give the LP relaxation the exact
integer rounding loss of each state (`problem.integer_envelope`), so the root bound is tight, and
the warm start, which usually meets that bound, so the search ends at the root. A plan is `optimal`
only when every stage was proven optimal; otherwise it is `feasible` with the largest gap.
"""

from ..results import Plan, Stage, Status
from ..settings import Settings
from ..targets import Targets, hosted_persons, state_targets, water_filled
from .assign import REASON_CAPACITY, REASON_NEED, REASON_NO_STATE, REASON_TOO_LARGE, assign_units, explain_infeasible, spread
from .backends.highs import HIGHS_OPTIONS, silence_highs_banner
from .placement import Solution, plan, solve
from .problem import Problem, burden_unit, integer_envelope
from .types import CaseTypes, build_types, quota_types

_integer_envelope = integer_envelope  # the name the tests knew

__all__ = [
    "CaseTypes", "HIGHS_OPTIONS", "Plan", "Problem", "REASON_CAPACITY", "REASON_NEED", "REASON_NO_STATE",
    "REASON_TOO_LARGE", "Settings", "Solution", "Stage", "Status", "assign_units", "build_types", "burden_unit",
    "explain_infeasible", "hosted_persons", "integer_envelope", "plan", "quota_types",
    "silence_highs_banner", "solve", "spread", "state_targets", "Targets", "water_filled",
]
