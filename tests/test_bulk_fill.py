"""The warm start's first fill in bulk (`optimizer.model.bulk`) for case lists of many types, against
the one-by-one greedy, on generated instances of `benchmarks.hard` (states of
inputs/eu_efta_2014.csv): every case excluding three random states (one type per exclusion set), and
every case with its own burden weight (pooled exclusions with linked units pinned)."""

from __future__ import annotations

import numpy as np
import pytest

import optimizer.model.bulk as bulk
from optimizer.model import Settings, plan
from optimizer.model.honour import honour_given
from optimizer.model.problem import make_problem
from optimizer.model.types import build_types
from optimizer.model.warmstart import _packed, warm_start
from optimizer.targets import state_targets
from conftest import hard_instance


def _instance(family: str, n_cases: int, folder):
    states, shares, cases, _ = hard_instance(family, n_cases, folder)
    types = build_types(cases, list(states.index), Settings())
    total = float((types.count * types.burden).sum())
    targets = state_targets(states, shares, total, per_person=total / float((types.count * types.persons).sum()))
    return types, make_problem(states, targets.fair, types)


@pytest.fixture(scope="module")
def exclusions(tmp_path_factory):
    return _instance("exclusions-3", 20_000, tmp_path_factory.mktemp("exclusions"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return _instance("weights", 20_000, tmp_path_factory.mktemp("weights"))


def _valid(types, problem, packing) -> None:
    counts = packing.counts
    assert (counts.sum(axis=1) == types.count).all()  # everyone placed (everyone fits here)
    assert (counts >= 0).all() and (counts <= types.limit).all()
    assert ((counts * types.persons[:, None]).sum(axis=0) <= problem.capacity + 1e-9).all()
    for need, persons in types.need_persons.items():
        if need in problem.need_capacity:
            cap = np.nan_to_num(problem.need_capacity[need], nan=np.inf)
            assert ((counts * persons[:, None]).sum(axis=0) <= cap + 1e-9).all()
    # pinned (honoured) units are units of their type in their state
    pinned = np.zeros_like(counts)
    np.add.at(pinned, (types.link_base[np.nonzero(packing.honoured)[0]], np.nonzero(packing.honoured)[1]), packing.honoured[np.nonzero(packing.honoured)])
    assert (pinned <= counts).all()


@pytest.mark.parametrize("family", ["exclusions", "weights"])
def test_bulk_fill_places_everyone_as_well_as_one_by_one(family, request, monkeypatch):
    """Both fills place every unit within every bound; the bulk fill leaves the plan as close to
    the targets as the one-by-one greedy (exclusions: 4.1429 both, before the improvement moves)
    and honours as many links; the warm start ends at the same total deviation either way."""
    types, problem = request.getfixturevalue(family)
    args = (types, problem.capacity, problem.need_capacity, problem.target)
    monkeypatch.setattr(bulk, "BULK_FROM", 10**9)
    one_by_one = _packed(*args, shares=False)
    start_one = warm_start(*args)
    monkeypatch.setattr(bulk, "BULK_FROM", 0)
    left: list[int] = []
    fill = bulk.fill_tier
    monkeypatch.setattr(bulk, "fill_tier", lambda packing, ts: left.append(len(r := fill(packing, ts))) or r)
    in_bulk = _packed(*args, shares=False)
    _valid(types, problem, one_by_one)
    _valid(types, problem, in_bulk)
    assert in_bulk.total_deviation() <= one_by_one.total_deviation() + 1e-6
    if family == "exclusions":
        assert types.n_types > 10_000 and in_bulk.total_deviation() == pytest.approx(4.142911346124782, abs=1e-9)
        # the tiers' types are filled in bulk, not left to the one-by-one greedy
        assert sum(left) < 0.01 * types.n_types
    assert in_bulk.honoured.sum() >= one_by_one.honoured.sum()
    start_bulk = warm_start(*args)
    deviation = [float(np.abs(problem.burden(x) - problem.target).sum()) for x in (start_one[0], start_bulk[0])]
    assert deviation[1] == pytest.approx(deviation[0], abs=1e-9)


def test_bulk_links_pin_within_each_pooled_row(weights, monkeypatch):
    """Weights (pooled exclusions: a unit excluded from one state joins its base type): the linked
    units placed in rounds, the classes of one base type taking turns, keep every pooled row
    (`Packing.room` >= 0: the free units still fit the states they may go to) and pin as many
    units as one by one."""
    types, problem = weights
    pooled = (types.excluded > 0).any(axis=1)
    assert pooled[types.link_base].sum() > 300  # what the turns are for
    args = (types, problem.capacity, problem.need_capacity, problem.target)
    monkeypatch.setattr(bulk, "BULK_FROM", 10**9)
    from optimizer.model.packing import Packing

    one_by_one = Packing(*args)
    one_by_one.place_links()
    in_bulk = Packing(*args)
    order = np.lexsort((types.burden[types.link_base], types.persons[types.link_base]))
    bulk.place_links_in_bulk(in_bulk, order)
    assert (in_bulk.room(np.arange(types.n_types)) >= 0).all()
    assert in_bulk.honoured.sum() == one_by_one.honoured.sum() == 1163


def test_shares_in_bulk_are_the_one_by_one_shares(weights):
    """Every type's first share of every state (weights: burden per person differs), placed at
    once: the counts `Packing.place_share` gives type by type."""
    from optimizer.model.packing import Packing

    types, problem = weights
    args = (types, problem.capacity, problem.need_capacity, problem.target)
    order = np.lexsort((-types.burden, -types.persons))
    one_by_one, in_bulk = Packing(*args), Packing(*args)
    for t in order.tolist():
        one_by_one.place_share(t)
    bulk.place_shares(in_bulk, order, True)
    assert one_by_one.counts.sum() == 8506
    assert np.array_equal(in_bulk.counts, one_by_one.counts)


@pytest.mark.parametrize("family", ["exclusions", "weights"])
def test_honour_in_bulk_matches_one_by_one_and_is_idempotent(family, request, monkeypatch):
    """Which linked units a plan honours, in rounds (weights: the classes of a pooled type taking
    turns): within the counts, as many as one by one, and the same again when given as the
    preferred choice."""
    types, problem = request.getfixturevalue(family)
    monkeypatch.setattr(bulk, "BULK_FROM", 10**9)
    counts, _ = warm_start(types, problem.capacity, problem.need_capacity, problem.target)
    one_by_one = honour_given(types, counts)
    monkeypatch.setattr(bulk, "BULK_FROM", 0)
    in_bulk = honour_given(types, counts)
    assert in_bulk.sum() == one_by_one.sum() > 1000
    pooled = (types.excluded > 0).any(axis=1)[types.link_base]
    assert in_bulk[pooled].sum() == one_by_one[pooled].sum() == (405 if family == "weights" else 0)
    used = np.zeros_like(counts)
    np.add.at(used, (types.link_base[np.nonzero(in_bulk)[0]], np.nonzero(in_bulk)[1]), in_bulk[np.nonzero(in_bulk)])
    assert (used <= counts).all() and (in_bulk.sum(axis=1) <= types.link_count).all()
    assert np.array_equal(honour_given(types, counts, in_bulk), in_bulk)


def test_plans_in_bulk_are_proven_to_the_same_optima(tmp_path, monkeypatch):
    """The whole model from the bulk fill: every stage proven to the optimum of the one-by-one
    start (1,500 cases excluding three states each)."""
    states, shares, cases, _ = hard_instance("exclusions-3", 1500, tmp_path)
    objectives = []
    for bulk_from in (10**9, 0):
        monkeypatch.setattr(bulk, "BULK_FROM", bulk_from)
        result = plan(states, shares, Settings(time_limit=60), cases=cases)
        assert result.status == "optimal"
        objectives.append([stage.objective for stage in result.stages])
    assert objectives[1] == pytest.approx(objectives[0], rel=1e-9, abs=1e-9)
