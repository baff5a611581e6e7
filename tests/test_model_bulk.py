"""The fast HiGHS path (matrix loaded in bulk) against the PuLP reference formulation, pooled
exclusions, and the hand-out of pooled units (`spread`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from optimizer.keys import PRESETS, compute_key
from optimizer.model import Settings, build_types, plan, spread
from optimizer.schema import load_cases, load_states
from conftest import INPUTS, brute_force, evaluate, make_cases, make_states, replaced, shares_of, small_instances, spy


@pytest.mark.parametrize(
    "options",
    [{}, {"objective": "minimax"}, {"links": "hard"}, {"links": "off"}, {"need_weights": {"medical": 2.0}}],
)
def test_bulk_and_reference_formulations_agree_on_the_shipped_example(options):
    states = load_states(INPUTS / "example_states_2023.csv")
    cases = load_cases(INPUTS / "example_cases_2023.csv")
    shares = compute_key(states, PRESETS["pact-2024"]).shares
    fast = plan(states, shares, Settings(**options), cases=cases)
    reference = plan(states, shares, Settings(**options), cases=cases, reference=True)
    assert fast.status == reference.status == "optimal"
    assert fast.objective.keys() == reference.objective.keys()
    for name, value in reference.objective.items():
        assert fast.objective[name] == pytest.approx(value, abs=1e-6)


def test_bulk_and_reference_agree_in_quota_mode():
    states = load_states(INPUTS / "eu_efta_2014.csv")
    shares = compute_key(states, PRESETS["dublin-2016"]).shares
    with spy("pulp_solve") as pulp_solves:
        fast = plan(states, shares, Settings(), total=16_000)
    assert pulp_solves == [], "the fast path went through PuLP"
    with spy("pulp_solve") as pulp_solves:
        reference = plan(states, shares, Settings(), total=16_000, reference=True)
    assert pulp_solves, "reference=True never solved the PuLP formulation"
    assert (fast.backend, reference.backend) == ("highs", "pulp:highs")
    assert fast.status == reference.status == "optimal"
    assert fast.objective == pytest.approx(reference.objective, abs=1e-6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=small_instances())
def test_reference_formulation_matches_bulk(instance):
    states, cases, links_mode, need_weight = instance
    need_weights = {"medical": need_weight} if need_weight else None
    if brute_force(states, cases, shares_of(states), links_mode, need_weights).placed == 0:
        return
    options = Settings(links=links_mode, need_weights=need_weights)
    fast = plan(states, shares_of(states), options, cases=cases)
    reference = plan(states, shares_of(states), options, cases=cases, reference=True)
    assert fast.objective == pytest.approx(reference.objective, abs=1e-6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=small_instances())
# Found by random search: without the links stage this plan honours no link (brute force: 2) ...
@example(instance=(make_states([48, 31, 48, 30], [4, 7, 4, 6], [9, 9, 9, 9]), make_cases([(1, "", "D", "A", ""), (1, "", "C", "", ""), (1, "", "A", "B", ""), (2, "", "", "", "")]), "soft", None))
# ... and without the pooled-exclusion rows its counts cannot be handed out to cases.
@example(instance=(make_states([17, 42], [3, 2], [9, 9]), make_cases([(2, "", "A", "", ""), (2, "", "", "B", ""), (1, "", "B", "", "")]), "soft", None))
def test_links_stage_with_pooled_exclusions_matches_brute_force(instance):
    """With no honour found greedily the links stage always runs, and its rows for pooled
    exclusions (honoured units pinned, the rest must still fit) are what keeps the plan right."""
    states, cases, _, need_weight = instance
    need_weights = {"medical": need_weight} if need_weight else None
    shares = shares_of(states)
    expected = brute_force(states, cases, shares, "soft", need_weights)
    if expected.placed == 0:
        return
    with replaced("greedy_honour", lambda types, counts, preferred=None: np.zeros((len(types.link_count), counts.shape[1]), dtype=np.int64)):
        result = plan(states, shares, Settings(links="soft", need_weights=need_weights), cases=cases)
    assert result.status == "optimal"
    by_case = dict(zip(result.cases["case_id"], result.cases["state"]))
    got = evaluate(states, cases, shares, need_weights, [by_case[c] for c in cases["case_id"]])
    assert (got.placed, got.honoured) == (expected.placed, expected.honoured)
    assert got.deviation == pytest.approx(expected.deviation, abs=1e-6)


def test_exclusions_of_one_state_are_pooled_and_handed_out_right():
    states = make_states([1, 1, 1], capacities=[10, 10, 10], medical=[9, 9, 9])
    rows = [(2, "", "", "", "")] * 4 + [(2, "", "", "A", "")] * 3 + [(2, "", "", "B", "")] + [(2, "", "", "A;B", "")]
    cases = make_cases(rows)
    types = build_types(cases, list(states.index), Settings())
    # the size-2 units excluded from at most one state share one type; A;B keeps its own
    assert types.n_types == 2
    pooled = int(np.argmax(types.count))
    assert types.count[pooled] == 8
    assert list(types.limit[pooled]) == [5, 7, 8]
    result = plan(states, shares_of(states), Settings(), cases=cases)
    assert result.status == "optimal"
    for row in result.cases.itertuples():
        excluded = cases.loc[cases["case_id"] == row.case_id, "excluded"].iloc[0]
        assert row.state and row.state not in excluded.split(";")


@st.composite
def spreads(draw):
    n = draw(st.integers(1, 5))
    excluded = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    plain = draw(st.integers(0, 6))
    total = int(excluded.sum()) + plain
    places = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)))
    return excluded, plain, places, total


@settings(max_examples=400, deadline=None)
@given(case=spreads())
def test_spread_hands_out_exactly_when_halls_condition_holds(case):
    excluded, plain, places, total = case
    possible = places.sum() <= total and (places + excluded <= total).all()
    if not possible:
        with pytest.raises(ValueError):
            spread(excluded, plain, places)
        return
    z, z_plain = spread(excluded, plain, places)
    assert (z >= 0).all() and (z_plain >= 0).all()
    assert (np.diag(z) == 0).all(), "a unit went to the state it is excluded from"
    assert ((z.sum(axis=0) + z_plain) == places).all()
    assert (z.sum(axis=1) <= excluded).all() and z_plain.sum() <= plain
