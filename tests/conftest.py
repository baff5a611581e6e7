"""What the tests share: paths, the two ways to run `relocate`, small instances and the brute-force
oracle, and the code the tests watch or switch off (TARGETS).

TARGETS names, once, each place in the package that a test spies on or patches, and that
tests/mutations.py switches off to show that the feature's test notices. When code moves, repoint
it here and nowhere else. With the environment variable RELOCATE_TEST_MUTATION=<name> (set by
tests/mutations.py), the whole pytest run has that feature switched off (see MUTATIONS).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import itertools
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "inputs"
SCENARIOS = INPUTS / "scenarios"
DATA = ROOT / "tests" / "data"
BAD = DATA / "bad"

collect_ignore = ["mutations.py"]  # a script, not tests

# ---------------------------------------------------------------------------------------------
# Where features live: feature -> (module, attribute). The attribute may be dotted (Class.method).
# Spies and patches look them up here; so do the mutations. A function is named in the module that
# calls it (where the name is looked up at run time), not where it is defined. PuLP's entries are
# PuLP's own classes, patched on the class, so they hold however the package imports them.

TARGETS: dict[str, tuple[str, str]] = {
    # every setting the stages read (objective, links, require_all) arrives through this call
    "stages": ("optimizer.model.placement", "solve_stages"),
    # the solver name and `reference` choose the backend here
    "backend_choice": ("optimizer.model.placement", "make_backend"),
    # the envelope cut of one target (intercept, slope), as the model builds it
    "envelope": ("optimizer.model.problem", "integer_envelope"),
    # the LP relaxation of the model, solved first in quota mode: returns (bound, values)
    "relaxation": ("optimizer.model.backends.highs", "HighsBackend.solve_relaxation"),
    # the water-filled fair targets (capacities, minimums, what is hosted) behind every target
    "water_filled": ("optimizer.targets", "water_filled"),
    # the last stage: least sum of squared relative deviations, by cuts
    "squares_stage": ("optimizer.model.stages", "_fairest"),
    # deciding and reporting the ties left after the last stage
    "ties": ("optimizer.model.placement", "settle_ties"),
    # the links honoured greedily, before any links stage
    "greedy_honour": ("optimizer.model.stages", "honour_given"),
    # the `lp` quota method's tie-break towards the bounded quotas
    "lp_ties": ("optimizer.apportion.lp", "_canonical_optimum"),
    # the (type, state) pairs that get pooled-exclusion rows in the links stage
    "hall_rows": ("optimizer.model.matrix", "hall_rows"),
    # reading inputs: the size limit, and the states reader compare calls
    "input_limit": ("optimizer.io.text", "MAX_INPUT_BYTES"),
    "compare_reads_states": ("optimizer.compare", "load_states"),
    # PuLP: every solve of a PuLP problem, and CBC itself
    "pulp_solve": ("pulp", "LpProblem.solve"),
    "cbc_solve": ("pulp", "PULP_CBC_CMD.actualSolve"),
    # the maps: added to every report here, coloured by Panel.colour (the report's and the explorer's)
    "report_maps": ("optimizer.report.chartworker", "draw_maps"),
    "map_colour": ("optimizer.report.maps", "Panel.colour"),
    # the explorer's sliders turned into a formula
    "explorer_weights": ("optimizer.web.explorer", "with_weights"),
    # the solidarity pool: deductions per state, the benefitting states' check, the IPF and its
    # feasibility check (tests call origins.biproportional through the module)
    "pool_deductions": ("optimizer.solidarity.pool", "_deducted"),
    "benefitting_check": ("optimizer.solidarity.run", "check_benefitting"),
    "ipf": ("optimizer.solidarity.origins", "biproportional"),
    "ipf_hall": ("optimizer.biproportional", "_check_hall"),
    # the model's origin x destination cells: their deviation columns and rows (the cell stage),
    # and the origin added to each case's excluded states (never relocated to where it is)
    "cell_stage": ("optimizer.model.matrix", "PlacementModel._add_cell_rows"),
    "origin_excluded": ("optimizer.model.types", "_origins"),
    # the one-type relaxation's bounds (issue 13), and moving a plan toward given burdens
    "one_type_bounds": ("optimizer.model.placement", "Relaxation.make"),
    "reach": ("optimizer.model.reach", "Reaching.reach"),
    "reach_chain": ("optimizer.model.reach", "Reaching._reach_chain"),
    "reach_release": ("optimizer.model.reach", "Reaching._release"),
    "warm_start_shares": ("optimizer.model.packing", "Packing.place_share"),
    # HiGHS run in a copy of the process, killed when the time limit has passed
    "highs_bounded": ("optimizer.model.backends.highs", "call_bounded"),
    # the model's rows handed to HiGHS in one call when a solve needs them
    "highs_hand_over": ("optimizer.model.backends.highs", "HighsBackend.add_rows"),
    # the relaxation proves that not everyone fits
    "everyone_fits": ("optimizer.model.bounds", "Relaxation.everyone_fits"),
    # no warm-start improvement rounds when not everyone fits
    "no_rounds_unless_all_fit": ("optimizer.model.placement", "improvement_share"),
    # the chart worker started before the command's imports
    "early_chart_worker": ("optimizer.report.workerstart", "early_worker"),
    # a minimised stage's own LP relaxation and the plan near it
    "relaxed_start": ("optimizer.model.stages", "relaxed_start"),
    "near_whole": ("optimizer.model.relaxed", "near_whole"),
    # the squares stage's LP relaxation cut to the hull
    "relaxed_squares": ("optimizer.model.stages", "relaxed_squares"),
    # the links stage's relaxation and the plan near it
    "relaxed_links": ("optimizer.model.stages", "relaxed_links"),
    # fixing rows of whole-number objectives with a slack below one
    "whole_slack": ("optimizer.model.stages", "_whole_slack"),
    # the warm start's first fill in bulk: tiers of types, link classes, honoured links
    "bulk_tiers": ("optimizer.model.bulk", "fill_tier"),
    "bulk_links": ("optimizer.model.bulk", "place_links_in_bulk"),
    "bulk_honour": ("optimizer.model.honour", "_in_bulk"),
    "bulk_shares": ("optimizer.model.bulk", "place_shares"),
    # a solve not begun when the model could not be handed over in the time left; the stages
    # leaving time for the ties and the hand-out
    "hand_over_check": ("optimizer.model.backends.highs", "HighsBackend._too_late"),
    "after_stages": ("optimizer.model.placement", "_stages_end"),
}


def hard_instance(family: str, n_cases: int, folder: Path):
    """A generated instance of `benchmarks.hard` (states of inputs/eu_efta_2014.csv) written out
    and read back as the command does: (states, the Pact key's shares, cases, command options)."""
    from benchmarks.hard import instance
    from optimizer.keys import PRESETS, compute_key
    from optimizer.schema import load_cases, load_states

    states, cases, options = instance(family, n_cases, 1)
    states.reset_index().to_csv(folder / "states.csv", index=False)
    cases.to_csv(folder / "cases.csv", index=False)
    states = load_states(folder / "states.csv")
    return states, compute_key(states, PRESETS["pact-2024"]).shares, load_cases(folder / "cases.csv"), options


def resolve(feature: str) -> tuple[Any, str]:
    """(object holding the attribute, attribute name) for TARGETS[feature]."""
    module, attribute = TARGETS[feature]
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    if not hasattr(owner, name):
        raise AttributeError(f"TARGETS[{feature!r}]: {module}.{attribute} does not exist; repoint it in tests/conftest.py")
    return owner, name


def where(feature: str) -> str:
    return ".".join(TARGETS[feature])


class Call(NamedTuple):
    args: tuple
    kwargs: dict
    result: Any


@contextmanager
def spy(feature: str) -> Iterator[list[Call]]:
    """Records every call of TARGETS[feature] (which still runs) in the list it yields."""
    owner, name = resolve(feature)
    real = getattr(owner, name)
    calls: list[Call] = []

    @functools.wraps(real)
    def watched(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(Call(args, kwargs, result))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, name, watched)
        yield calls


@contextmanager
def replaced(feature: str, value: Any) -> Iterator[None]:
    """TARGETS[feature] replaced by `value` inside the block."""
    owner, name = resolve(feature)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, name, value)
        yield


# ---------------------------------------------------------------------------------------------
# Mutations: each feature switched off, and the tests that must notice (tests/mutations.py).


def _bound(real: Callable, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    return inspect.signature(real).bind(*args, **kwargs)


def _with_settings(settings: Any, changes: dict[str, Any]) -> Any:
    values = {k: (v(getattr(settings, k)) if callable(v) else v) for k, v in changes.items()}
    if dataclasses.is_dataclass(settings):
        return dataclasses.replace(settings, **values)
    return type(settings).model_validate({**settings.model_dump(), **values})


def settings_changed(**changes: Any) -> Callable[[Callable], Callable]:
    """The real function, called with every settings argument changed (a callable value maps the
    old value to the new one)."""

    def off(real: Callable) -> Callable:
        @functools.wraps(real)
        def mutant(*args, **kwargs):
            bound = _bound(real, args, kwargs)
            for key, value in bound.arguments.items():
                if all(hasattr(value, field) for field in ("objective", "solver", "links")):
                    bound.arguments[key] = _with_settings(value, changes)
            return real(*bound.args, **bound.kwargs)

        return mutant

    return off


def argument_changed(**changes: Any) -> Callable[[Callable], Callable]:
    """The real function, called with the named arguments set to the given values."""

    def off(real: Callable) -> Callable:
        @functools.wraps(real)
        def mutant(*args, **kwargs):
            bound = _bound(real, args, kwargs)
            bound.arguments.update(changes)
            return real(*bound.args, **bound.kwargs)

        return mutant

    return off


def returns_argument(name: str) -> Callable[[Callable], Callable]:
    """A function that hands back its argument `name` unchanged (the step does nothing)."""

    def off(real: Callable) -> Callable:
        @functools.wraps(real)
        def mutant(*args, **kwargs):
            return _bound(real, args, kwargs).arguments[name]

        return mutant

    return off


def returns(make: Callable[..., Any]) -> Callable[[Callable], Callable]:
    """A function that returns make(*its arguments) instead of calling the real one."""
    return lambda real: make


def _no_squares_stage(model, honoured, time_left, *rest):
    from optimizer.results import Stage, Status

    return Stage("squared_relative_deviation", 0.0, Status.OPTIMAL, 0.0, 0.0), model.counts(), honoured


def _origin_not_excluded(real: Callable) -> Callable:
    """The case list's origins read, but a case's own state left open to it."""

    @functools.wraps(real)
    def mutant(cases):
        origins, index, _ = real(cases)
        return origins, index, cases["excluded"].to_numpy(dtype=object)

    return mutant


class Mutation(NamedTuple):
    what: str  # the feature switched off, in words
    target: str  # a key of TARGETS
    off: Callable[[Callable], Callable]  # the real function -> the function with the feature off
    tests: tuple[str, ...]  # node ids (below tests/); at least one must fail


MUTATIONS: dict[str, Mutation] = {
    "minimax": Mutation(
        "the minimax objective ignored",
        "stages",
        settings_changed(objective="deviation"),
        ("test_model.py::test_minimax_objective_lowers_the_worst_relative_deviation",),
    ),
    "envelope": Mutation(
        "no envelope cuts",
        "envelope",
        returns(lambda target, unit: None),
        ("test_model.py::test_envelope_cut_is_a_valid_lower_bound",),
    ),
    "fair_targets": Mutation(
        "targets are the key's (no water level: capacities, minimums and what is hosted ignored)",
        "water_filled",
        lambda real: lambda shares, total, hosted=None, capacity=None, minimum=None: real(shares, total),
        ("test_model.py::test_overflow_is_shared_by_the_fair_targets", "test_model.py::test_water_levels_by_hand"),
    ),
    "squares_stage": Mutation(
        "no squares stage (the plan of the stages before)",
        "squares_stage",
        returns(_no_squares_stage),
        ("test_model.py::test_plan_invariants_and_brute_force", "test_model.py::test_minimax_objective_lowers_the_worst_relative_deviation"),
    ),
    "ties": Mutation(
        "ties neither decided nor reported",
        "ties",
        returns(lambda problem, counts, honoured, codes, keep_worst: (counts, ())),
        ("test_model.py::test_minimax_objective_lowers_the_worst_relative_deviation", "test_model.py::test_shipped_example_is_within_one_person_of_every_fair_target"),
    ),
    "solver": Mutation(
        "the solver argument ignored (always HiGHS)",
        "backend_choice",
        settings_changed(solver="highs"),
        ("test_apportion.py::test_lp_with_cbc_matches_highs",),
    ),
    "reference": Mutation(
        "the reference argument ignored (PuLP never runs)",
        "backend_choice",
        argument_changed(reference=False),
        ("test_model_bulk.py::test_bulk_and_reference_agree_in_quota_mode",),
    ),
    "require_all": Mutation(
        "require_all ignored",
        "stages",
        settings_changed(require_all=False),
        ("test_model.py::test_require_all_explains_capacity_shortfall",),
    ),
    "soft_links": Mutation(
        "no links stage (soft links treated as off)",
        "stages",
        settings_changed(links=lambda links: "off" if links == "soft" else links),
        ("test_model_bulk.py::test_links_stage_with_pooled_exclusions_matches_brute_force",),
    ),
    "hall_rows": Mutation(
        "no pooled-exclusion rows in the links stage",
        "hall_rows",
        returns(lambda types: np.zeros(types.limit.shape, dtype=bool)),
        ("test_model_bulk.py::test_links_stage_with_pooled_exclusions_matches_brute_force",),
    ),
    "lp_ties": Mutation(
        "lp quota ties left as the solver returns them",
        "lp_ties",
        returns_argument("seats"),
        ("test_apportion.py::test_lp_spreads_a_capped_surplus_by_share_not_onto_one_state",),
    ),
    "report_maps": Mutation(
        "no maps in the reports",
        "report_maps",
        returns(lambda variants: []),
        ("test_maps.py::test_html_report_map_shows_every_participant",),
    ),
    "map_colour": Mutation(
        "every state the same colour on the maps",
        "map_colour",
        returns(lambda self, value: (0.5, 0.5, 0.5, 1.0)),
        ("test_maps.py::test_map_colours_follow_the_values", "test_web.py::test_moving_a_weight_recomputes_key_quotas_metrics_and_map"),
    ),
    "explorer_weights": Mutation(
        "the explorer's sliders ignored (the preset's weights always)",
        "explorer_weights",
        returns_argument("formula"),
        ("test_web.py::test_moving_a_weight_recomputes_key_quotas_metrics_and_map",),
    ),
    "pool_deductions": Mutation(
        "deductions ignored (nothing deducted)",
        "pool_deductions",
        returns(lambda fair, fair_eur, deductions, price: (fair * 0.0, fair * 0.0, fair * 0.0)),
        ("test_solidarity.py::test_shipped_pool_gaps_and_totals_add_up", "test_solidarity.py::test_deductions_by_share_relocations_or_euros"),
    ),
    "benefitting_check": Mutation(
        "benefitting states not checked",
        "benefitting_check",
        returns(lambda *args, **kwargs: None),
        ("test_solidarity.py::test_refused_options", "test_solidarity.py::test_refusals_in_a_scenario_name_its_key"),
    ),
    "ipf_forbidden": Mutation(
        "forbidden origin x destination cells ignored",
        "ipf",
        argument_changed(allowed=None),
        ("test_origins.py::test_a_forbidden_cell_by_hand",),
    ),
    "ipf_hall": Mutation(
        "no feasibility check before the IPF",
        "ipf_hall",
        returns(lambda *args, **kwargs: None),
        ("test_origins.py::test_an_impossible_pattern_is_refused_in_words",),
    ),
    "cell_stage": Mutation(
        "the origin x destination cells left out of the model (no cell stage)",
        "cell_stage",
        returns(lambda self: None),
        ("test_origins_plan.py::test_cell_targets_by_hand_and_the_plan_meets_them", "test_origins_plan.py::test_four_origins_twenty_destinations_every_cell_within_one_family"),
    ),
    "origin_excluded": Mutation(
        "a case may go to the state it is in",
        "origin_excluded",
        _origin_not_excluded,
        ("test_origins_plan.py::test_a_case_never_goes_to_the_state_it_is_in", "test_origins_plan.py::test_cell_targets_by_hand_and_the_plan_meets_them"),
    ),
    "one_type_bounds": Mutation(
        "no bounds from the one-type relaxation",
        "one_type_bounds",
        returns(lambda *args, **kwargs: None),
        ("test_bounds.py::test_demo_stages_proven_by_the_relaxation", "test_bounds.py::test_bound_proves_what_the_solver_could_not"),
    ),
    "reach": Mutation(
        "a plan never moved toward given burdens",
        "reach",
        returns(lambda self, *args, **kwargs: False),
        ("test_bounds.py::test_reach_moves_a_plan_to_the_burdens_of_another",),
    ),
    "reach_chain": Mutation(
        "no shift passed along a chain of states",
        "reach_chain",
        returns(lambda self, *args, **kwargs: False),
        ("test_bounds.py::test_reach_passes_a_shift_along_a_chain_of_states",),
    ),
    "reach_release": Mutation(
        "linked units never freed on the way to the goal",
        "reach_release",
        returns(lambda self, *args, **kwargs: False),
        ("test_bounds.py::test_reach_frees_linked_units_when_nothing_else_can_move",),
    ),
    "warm_start_shares": Mutation(
        "no first share of every type in the warm start",
        "warm_start_shares",
        returns(lambda self, *args, **kwargs: None),
        ("test_bounds.py::test_warm_start_shares_types_out_when_burden_per_person_differs",),
    ),
    "highs_bounded": Mutation(
        "HiGHS run in this process, however long it takes past the limit",
        "highs_bounded",
        returns(lambda call, seconds: call()),
        ("test_bounds.py::test_highs_stopped_at_the_time_limit_when_it_does_not_stop_itself",),
    ),
    "highs_hand_over": Mutation(
        "rows handed to HiGHS as each group of rows is added",
        "highs_hand_over",
        lambda real: lambda self, *args: (real(self, *args), self._hand_over())[0],
        ("test_bounds.py::test_highs_gets_the_rows_in_one_call_per_solve",),
    ),
    "everyone_fits": Mutation(
        "the placement solved with everyone placed even when the relaxation has no such plan",
        "everyone_fits",
        returns(lambda self, time_left: True),
        ("test_bounds.py::test_relaxation_proves_that_not_everyone_fits",),
    ),
    "no_rounds_unless_all_fit": Mutation(
        "the warm start's improvement rounds whether or not everyone fits",
        "no_rounds_unless_all_fit",
        returns(lambda problem, bounds, end: 0.25),
        ("test_bounds.py::test_no_improvement_rounds_when_not_everyone_fits",),
    ),
    "early_chart_worker": Mutation(
        "no chart worker started before the imports",
        "early_chart_worker",
        returns(lambda argv: None),
        ("test_report.py::test_chart_worker_started_before_the_imports",),
    ),
    "relaxed_start": Mutation(
        "no LP relaxation or near plan for a minimised stage that no bound proves",
        "relaxed_start",
        returns(lambda model, name, time_left: None),
        ("test_bounds.py::test_a_stage_no_bound_proves_starts_near_its_relaxation",),
    ),
    "near_whole": Mutation(
        "no plan near the relaxation",
        "near_whole",
        returns(lambda model, x, time_left, name: None),
        ("test_bounds.py::test_a_stage_no_bound_proves_starts_near_its_relaxation",),
    ),
    "relaxed_squares": Mutation(
        "no LP bound for the squares stage",
        "relaxed_squares",
        returns(lambda model, time_left: None),
        ("test_bounds.py::test_squares_bound_from_their_relaxation_cut_to_the_hull",),
    ),
    "relaxed_links": Mutation(
        "no relaxation or plan near it for the links stage",
        "relaxed_links",
        returns(lambda model, time_left: None),
        ("test_bounds.py::test_links_stage_looks_near_its_relaxation_when_the_solver_has_not_proven_it",),
    ),
    "whole_slack": Mutation(
        "whole-number objectives fixed with the relative slack",
        "whole_slack",
        returns(lambda value, coefficients: 1e-6 * max(1.0, abs(value))),
        ("test_bounds.py::test_whole_objectives_are_fixed_with_less_than_one_unit_of_slack",),
    ),
    "bulk_tiers": Mutation(
        "every tier left to the one-by-one greedy",
        "bulk_tiers",
        returns_argument("ts"),
        ("test_bulk_fill.py::test_bulk_fill_places_everyone_as_well_as_one_by_one",),
    ),
    "bulk_links": Mutation(
        "no linked units placed in rounds",
        "bulk_links",
        returns(lambda packing, classes: None),
        ("test_bulk_fill.py::test_bulk_links_pin_within_each_pooled_row",),
    ),
    "bulk_honour": Mutation(
        "no links honoured in rounds",
        "bulk_honour",
        returns(lambda *args: None),
        ("test_bulk_fill.py::test_honour_in_bulk_matches_one_by_one_and_is_idempotent",),
    ),
    "bulk_shares": Mutation(
        "no shares placed at once",
        "bulk_shares",
        returns(lambda packing, order, bulk: None),
        ("test_bulk_fill.py::test_shares_in_bulk_are_the_one_by_one_shares",),
    ),
    "hand_over_check": Mutation(
        "solves begun whatever the time left",
        "hand_over_check",
        returns(lambda self, time_left: False),
        ("test_bounds.py::test_no_solve_begun_that_the_model_could_not_reach_in_time",),
    ),
    "after_stages": Mutation(
        "the stages use the whole limit",
        "after_stages",
        returns_argument("end"),
        ("test_bounds.py::test_the_stages_leave_time_for_what_follows_them",),
    ),
}

MUTATION_VARIABLE = "RELOCATE_TEST_MUTATION"


def switch_off(patch: pytest.MonkeyPatch, mutation: str) -> None:
    chosen = MUTATIONS[mutation]
    owner, name = resolve(chosen.target)
    patch.setattr(owner, name, chosen.off(getattr(owner, name)))


@contextmanager
def switched_off(mutation: str) -> Iterator[None]:
    """The feature of MUTATIONS[mutation] switched off inside the block."""
    with pytest.MonkeyPatch.context() as patch:
        switch_off(patch, mutation)
        yield


def pytest_configure(config: pytest.Config) -> None:
    mutation = os.environ.get(MUTATION_VARIABLE)
    if not mutation:
        return
    if mutation not in MUTATIONS:
        raise pytest.UsageError(f"{MUTATION_VARIABLE}={mutation!r}: not one of {sorted(MUTATIONS)}")
    from hypothesis import Phase, settings

    # A mutant only needs one failing example: no shrinking, and nothing saved for later runs.
    settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)
    settings.load_profile("mutation")
    patch = pytest.MonkeyPatch()
    switch_off(patch, mutation)
    config.add_cleanup(patch.undo)


def pytest_report_header(config: pytest.Config) -> str | None:
    mutation = os.environ.get(MUTATION_VARIABLE)
    if mutation not in MUTATIONS:
        return None
    return f"mutation {mutation}: {MUTATIONS[mutation].what} ({where(MUTATIONS[mutation].target)})"


# ---------------------------------------------------------------------------------------------
# Running `relocate`


def relocate(*args, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `relocate ARGS` run in this process, as the console script
    would, with pytest's capsys capturing the streams."""
    from optimizer.cli import main

    saved = sys.argv
    sys.argv = ["relocate", *map(str, args)]
    code = 0
    try:
        main()
    except SystemExit as done:
        code = done.code or 0
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err


def relocate_process(*args, cwd: Path = ROOT, env: dict[str, str] | None = None, wait: bool = True, timeout: float = 300):
    """`python -m optimizer ARGS` in a child process, with this checkout first on the path and
    RELOCATE_DEBUG unset: the CompletedProcess, or with wait=False the running Popen."""
    full = {k: v for k, v in os.environ.items() if k != "RELOCATE_DEBUG"}
    full["PYTHONPATH"] = str(ROOT) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env or {})
    command = [sys.executable, "-m", "optimizer", *map(str, args)]
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout)


def scenario_settings(name: str):
    """(ScenarioSettings without variants, base folder) of inputs/scenarios/NAME."""
    from optimizer.schema import ScenarioSettings, load_scenario

    scenario, base_dir = load_scenario(SCENARIOS / name)
    return ScenarioSettings.model_validate(scenario.model_dump(exclude={"variants"})), base_dir


# ---------------------------------------------------------------------------------------------
# Small instances


def make_states(populations, capacities=None, medical=None) -> pd.DataFrame:
    """Willing states A, B, C, ... with these populations (and capacities, medical capacities)."""
    codes = [chr(ord("A") + i) for i in range(len(populations))]
    states = pd.DataFrame({"name": codes, "willing": True, "population": np.asarray(populations, float)}, index=pd.Index(codes, name="code"))
    if capacities is not None:
        states["capacity"] = np.asarray(capacities, float)
    if medical is not None:
        states["capacity_medical"] = np.asarray(medical, float)
    return states


def make_cases(rows) -> pd.DataFrame:
    """A case list from (size, needs, links, excluded, group) rows; ids c0, c1, ...; no weights."""
    frame = pd.DataFrame(rows, columns=["size", "needs", "links", "excluded", "group"])
    frame.insert(0, "case_id", [f"c{i}" for i in range(len(frame))])
    frame["weight"] = np.nan
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    return frame


def shares_of(states: pd.DataFrame) -> pd.Series:
    """Shares in proportion to population."""
    from optimizer.keys import PRESETS, compute_key

    return compute_key(states, PRESETS["population"]).shares


_CODE_CELLS = st.sampled_from(["", "A", "B", "C", "A;B", "B;C"])


@st.composite
def small_instances(draw):
    """(states, cases, links mode, medical need weight or None): 2-3 states, 1-5 cases, small
    enough for brute_force."""
    n_states = draw(st.integers(2, 3))
    populations = draw(st.lists(st.integers(1, 100), min_size=n_states, max_size=n_states))
    capacities = draw(st.lists(st.integers(0, 12), min_size=n_states, max_size=n_states))
    medical = draw(st.lists(st.integers(0, 6), min_size=n_states, max_size=n_states))
    valid = set("ABC"[:n_states])
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        links, excluded = (";".join(c for c in draw(_CODE_CELLS).split(";") if c in valid) for _ in range(2))
        rows.append((draw(st.integers(1, 4)), draw(st.sampled_from(["", "", "medical"])), links, excluded, draw(st.sampled_from(["", "", "g1", "g2"]))))
    links_mode = draw(st.sampled_from(["soft", "hard", "off"]))
    need_weight = draw(st.sampled_from([None, 2.0]))
    return make_states(populations, capacities, medical), make_cases(rows), links_mode, need_weight


# ---------------------------------------------------------------------------------------------
# The brute-force oracle


class Outcome(NamedTuple):
    feasible: bool
    placed: float  # persons placed
    deviation: float  # sum over states |burden - target|
    honoured: int  # cases placed in one of their linked states
    squares: float = 0.0  # sum over states (burden - target)^2 / target (1 where the target is 0)


class _Instance:
    """The arrays an assignment is scored against (participants x cases)."""

    def __init__(self, participants: pd.DataFrame, cases: pd.DataFrame, shares, need_weights):
        from optimizer.schema import case_weights

        self.codes = list(participants.index)
        n = len(self.codes)

        def column(name: str, default: float) -> np.ndarray:
            if name not in participants.columns:
                return np.full(n, default)
            values = participants[name].to_numpy(dtype=float)
            return np.where(np.isnan(values), default, values)

        self.capacity, self.minimum = column("capacity", np.inf), column("minimum", 0.0)
        self.medical_capacity = column("capacity_medical", np.inf)
        self.burden = case_weights(cases, need_weights)
        from optimizer.targets import state_targets

        # the model is held to the water-filled fair targets, computed by their own step
        per_person = self.burden.sum() / cases["size"].sum()
        shares = pd.Series(np.asarray(shares, dtype=float), index=participants.index)
        self.target = state_targets(participants, shares, float(self.burden.sum()), per_person=per_person).fair
        self.size = cases["size"].to_numpy(dtype=float)
        self.medical = np.array(["medical" in cell.split(";") for cell in cases["needs"]])
        self.links = [set(cell.split(";")) - {""} for cell in cases["links"]]
        self.excluded = [set(cell.split(";")) - {""} for cell in cases["excluded"]]
        self.linked = np.array([[code in links for code in self.codes] for links in self.links], dtype=bool).reshape(len(cases), n)

    def score(self, case_state: np.ndarray) -> list[Outcome]:
        """One Outcome per row of `case_state` (assignments x cases: a participant position, -1 for none)."""
        at = case_state[:, :, None] == np.arange(len(self.codes))[None, None, :]
        persons = (at * self.size[None, :, None]).sum(axis=1)
        load = (at * self.burden[None, :, None]).sum(axis=1)
        need = (at * (self.size * self.medical)[None, :, None]).sum(axis=1)
        feasible = (persons <= self.capacity).all(axis=1) & (need <= self.medical_capacity).all(axis=1)
        feasible &= ((self.minimum <= 0) | (persons >= self.minimum)).all(axis=1)
        placed, deviation = persons.sum(axis=1), np.abs(load - self.target).sum(axis=1)
        honoured = (at & self.linked[None]).sum(axis=(1, 2))
        squares = ((load - self.target) ** 2 / np.where(self.target > 0, self.target, 1.0)).sum(axis=1)
        return [Outcome(bool(f), float(p), float(d), int(h), float(q)) for f, p, d, h, q in zip(feasible, placed, deviation, honoured, squares)]


def evaluate(participants: pd.DataFrame, cases: pd.DataFrame, shares, need_weights, states_of_cases) -> Outcome:
    """The Outcome of one plan: the state code of each case, in case order ('' or None: unplaced)."""
    instance = _Instance(participants, cases, shares, need_weights)
    position = [instance.codes.index(s) if s else -1 for s in states_of_cases]
    return instance.score(np.array([position]))[0]


def brute_force(participants: pd.DataFrame, cases: pd.DataFrame, shares, links: str, need_weights=None, limit: int | None = None) -> Outcome | None:
    """The lexicographic optimum over every assignment of units (a case, or all cases of one group)
    to an allowed state or to none: most persons placed, then least total deviation, then most
    links honoured, then the least sum of squared relative deviations. Outcome(False, 0, 0.0, 0) when no assignment keeps the capacities and minimums;
    None when there are more than `limit` assignments to try."""
    instance = _Instance(participants, cases, shares, need_weights)
    position = {c: i for i, c in enumerate(instance.codes)}
    groups: dict[str, list[int]] = {}
    units = []
    for i, group in enumerate(cases["group"]):
        if group:
            groups.setdefault(group, []).append(i)
        else:
            units.append([i])
    units += list(groups.values())
    options = []
    for members in units:
        allowed = set(range(len(position)))
        for i in members:
            allowed -= {position[c] for c in instance.excluded[i] if c in position}
            if links == "hard" and instance.links[i]:
                allowed &= {position[c] for c in instance.links[i] if c in position}
        options.append([-1, *sorted(allowed)])
    if limit is not None and math.prod(len(o) for o in options) > limit:
        return None
    unit_of_case = np.empty(len(cases), dtype=np.int64)
    for u, members in enumerate(units):
        unit_of_case[members] = u
    choices = np.array(list(itertools.product(*options)), dtype=np.int64).reshape(-1, len(units))
    outcomes = [o for o in instance.score(choices[:, unit_of_case]) if o.feasible]
    if not outcomes:
        return Outcome(False, 0, 0.0, 0)
    placed = max(o.placed for o in outcomes)
    deviation = min(o.deviation for o in outcomes if o.placed == placed)
    best = [o for o in outcomes if o.placed == placed and o.deviation <= deviation + 1e-7]
    honoured = max(o.honoured for o in best)
    # only soft links make honouring a stage: elsewhere the squares choose among all of `best`
    squares = min(o.squares for o in best if o.honoured == honoured or links != "soft")
    return Outcome(True, placed, deviation, honoured, squares)
