"""One contract, every backend: each solver interface loads, grows and solves the same models to
the same optima (the scikit-learn way: one suite run over every implementation).

Two levels: the `Backend` interface on small models whose optima are known by hand, and whole plans
on real data (`inputs/`) for every objective x links mode x quota/family mode, where every backend
must reach the same stage optima and keep every placement rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.keys import PRESETS, compute_key
from optimizer.model import Settings, plan
from optimizer.model.backends import make_backend
from optimizer.model.backends.base import Infeasible
from optimizer.results import Status
from optimizer.schema import load_cases, load_states, participants
from conftest import INPUTS

# (solver, reference): HiGHS in bulk, HiGHS through PuLP, CBC through PuLP.
BACKENDS = {"highs": ("highs", False), "pulp:highs": ("highs", True), "pulp:cbc": ("cbc", False)}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    solver, reference = BACKENDS[request.param]
    made = make_backend(Settings(solver=solver), reference=reference)
    assert made.name == request.param
    return made


def _csr(rows: list[dict[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts, cols, values = [], [], []
    for row in rows:
        starts.append(len(cols))
        cols.extend(row)
        values.extend(row.values())
    return np.array(starts, dtype=np.int32), np.array(cols, dtype=np.int32), np.array(values, dtype=float)


def _row(backend, lower: float, upper: float, entries: dict[int, float]) -> None:
    backend.add_rows(np.array([lower]), np.array([upper]), *_csr([entries]))


def test_backend_solves_a_small_integer_program(backend):
    # max x0 + 1.5 x1, x0 + 2 x1 <= 4, 0 <= x0, x1 <= 3 whole: (2, 1) gives 3.5; (3, 0), (0, 2) give 3.
    backend.add_columns(np.array([3.0, 3.0]), integer=True)
    _row(backend, -np.inf, 4.0, {0: 1.0, 1: 2.0})
    backend.set_objective(np.array([1.0, 1.5]), maximize=True)
    backend.set_start(np.array([3.0, 0.0]))
    outcome = backend.solve(None, "small")
    assert outcome.status == Status.OPTIMAL
    assert outcome.objective == pytest.approx(3.5)
    assert outcome.values == pytest.approx([2.0, 1.0])


def test_backend_model_grows_and_rows_can_be_freed(backend):
    backend.add_columns(np.array([3.0, 3.0]), integer=True)
    _row(backend, -np.inf, 4.0, {0: 1.0, 1: 2.0})
    backend.set_objective(np.array([1.0, 1.5]), maximize=True)
    assert backend.solve(None, "first").objective == pytest.approx(3.5)
    # a continuous column added after the rows, and a row over old and new columns
    backend.add_columns(np.array([np.inf]), integer=False)
    _row(backend, 2.5, np.inf, {2: 1.0, 0: -1.0})  # x2 >= x0 + 2.5
    backend.set_row_bounds(0, -np.inf, np.inf)  # the first row no longer binds
    backend.set_objective(np.array([1.0, 1.5, -1.0]), maximize=True)
    outcome = backend.solve(None, "grown")
    # x1 = 3 (4.5); x0 adds 1 and costs 1 through x2: any x0, objective 4.5 - 2.5
    assert outcome.status == Status.OPTIMAL
    assert outcome.objective == pytest.approx(2.0)
    assert outcome.values[1] == pytest.approx(3.0)
    assert outcome.values[2] == pytest.approx(outcome.values[0] + 2.5)


def test_backend_reports_an_infeasible_model(backend):
    backend.add_columns(np.array([3.0]), integer=True)
    _row(backend, 5.0, np.inf, {0: 1.0})
    backend.set_objective(np.array([1.0]), maximize=False)
    with pytest.raises(Infeasible):
        backend.solve(None, "impossible")


# -- whole plans on real data --------------------------------------------------------------------


def _small_instance() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Four states of the shipped 2023 data with tight capacities, and 18 shipped cases, among
    them links, exclusions, needs and groups, so that every rule binds somewhere (small enough
    for CBC to prove the minimax stage in seconds)."""
    states = participants(load_states(INPUTS / "example_states_2023.csv"), only=["AT", "BE", "LU", "NL"])
    cases = load_cases(INPUTS / "example_cases_2023.csv")
    special = cases[(cases["links"] != "") | (cases["excluded"] != "") | (cases["group"] != "") | (cases["needs"] != "")]
    chosen = pd.concat([cases.iloc[:6], special.iloc[:12]]).drop_duplicates("case_id")
    groups = set(chosen["group"]) - {""}
    chosen = pd.concat([chosen, cases[cases["group"].isin(groups)]]).drop_duplicates("case_id").sort_index()
    states = states.copy()
    states["capacity"] = [20.0, 16.0, 6.0, 20.0]
    states["capacity_medical"] = [2.0, 2.0, 1.0, 3.0]
    shares = compute_key(states, PRESETS["pact-2024"]).shares
    return states, shares, chosen


def _check_rules(result, states: pd.DataFrame, cases: pd.DataFrame, links: str) -> None:
    placed = result.cases[result.cases["state"] != ""].merge(cases[["case_id", "excluded", "needs"]], on="case_id")
    per_state = placed.groupby("state")["size"].sum()
    assert (per_state <= states.loc[per_state.index, "capacity"]).all()
    for row in placed.itertuples():
        assert row.state not in row.excluded.split(";")
        if links == "hard" and row.links:
            assert row.state in row.links.split(";")
    in_groups = result.cases[result.cases["group"] != ""].groupby("group")["state"].nunique()
    assert (in_groups == 1).all()
    assert result.counts.cases_split == 0


@pytest.mark.parametrize("objective", ["deviation", "minimax"])
@pytest.mark.parametrize("links", ["hard", "soft", "off"])
def test_every_backend_reaches_the_same_family_plan_optima(objective, links):
    states, shares, cases = _small_instance()
    optima = {}
    for name, (solver, reference) in BACKENDS.items():
        settings = Settings(solver=solver, objective=objective, links=links, need_weights={"medical": 2})
        result = plan(states, shares, settings, cases=cases, reference=reference)
        assert result.backend == name
        assert result.status == Status.OPTIMAL
        _check_rules(result, states, cases, links)
        optima[name] = result.objective
    assert optima["pulp:highs"] == pytest.approx(optima["highs"], abs=1e-6)
    assert optima["pulp:cbc"] == pytest.approx(optima["highs"], abs=1e-5)
    expected_stages = ["persons_placed"] + (["max_relative_deviation"] if objective == "minimax" else []) + ["total_deviation"]
    assert list(optima["highs"])[: len(expected_stages)] == expected_stages


@pytest.mark.parametrize("objective", ["deviation", "minimax"])
def test_every_backend_reaches_the_same_quota_plan(objective):
    states, shares, _ = _small_instance()
    plans = {}
    for name, (solver, reference) in BACKENDS.items():
        result = plan(states, shares, Settings(solver=solver, objective=objective), total=60, reference=reference)
        assert result.backend == name and result.status == Status.OPTIMAL
        plans[name] = result
    deviation = {name: p.objective["total_deviation"] for name, p in plans.items()}
    assert deviation["pulp:highs"] == pytest.approx(deviation["highs"], abs=1e-6)
    assert deviation["pulp:cbc"] == pytest.approx(deviation["highs"], abs=1e-5)
    # capacities: 20 + 16 + 6 + 20 = 62 >= 60, so everyone is placed
    for result in plans.values():
        assert result.counts.placed_persons == 60
        assert (result.states["allocated"] <= states["capacity"]).all()
