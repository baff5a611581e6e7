"""Needs per person: a case says how many of its persons have each need; burden weights add up over
persons, and need capacities count the persons who have the need."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import InfeasibleError, InputError
from optimizer.io.cases import case_weights, load_cases, need_counts
from optimizer.keys import PRESETS, compute_key
from optimizer.model import Settings, plan
from optimizer.schema import load_states

from conftest import INPUTS

HEADER = "case_id,size,needs,links,excluded,group\n"


def _cases(tmp_path, rows: str):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return load_cases(path)


def test_counts_and_weights_by_hand(tmp_path):
    cases = _cases(tmp_path, "a,9,medical:1,,,\nb,4,medical:2;wheelchair:1,,,\nc,3,medical,,,\nd,2,,,,\ne,5,Wheelchair:3;medical:1,,,\n")
    counts = need_counts(cases)
    assert counts["medical"].tolist() == [1, 2, 3, 0, 1]
    assert counts["wheelchair"].tolist() == [0, 1, 0, 0, 3]
    # "One severely ill refugee weighs as five healthy ones", for one member of a family of nine:
    # 8 + 5 = 13. b: the wheelchair user (3) is among the two with medical needs (5): 5 + 5 + 1 + 1.
    # c: bare name, all three: 15. e: three wheelchair users, one of them also medical: 5 + 3 + 3 + 1 + 1.
    weights = case_weights(cases, {"medical": 5, "wheelchair": 3})
    assert weights.tolist() == [13, 12, 15, 2, 13]
    assert case_weights(cases).tolist() == [9, 4, 3, 2, 5]


@pytest.mark.parametrize("cell", ["medical:0", "medical:10", "medical:x", ":2", "medical:1.5"])
def test_bad_counts_are_refused_with_row_and_column(tmp_path, cell):
    with pytest.raises(InputError) as caught:
        _cases(tmp_path, f"a,9,{cell},,,\n")
    message = str(caught.value)
    assert "row 2" in message and "needs" in message and "1 to 9" in message


def test_a_count_valid_for_one_case_is_refused_for_a_smaller_one(tmp_path):
    """Each distinct needs cell is read once: the same cell, fine for a family of nine, names the
    row of the family of three it does not fit."""
    with pytest.raises(InputError) as caught:
        _cases(tmp_path, "a,9,medical:5,,,\nb,9,medical:5,,,\nc,3,medical:5,,,\nd,2,medical:5,,,\n")
    message = str(caught.value)
    assert "row 4" in message and "needs" in message and "1 to 3" in message


def test_a_family_with_one_medical_member_uses_one_medical_place():
    """On the shipped 2023 states: Malta has 20 places, and here one medical place. A family of
    nine with one member needing care fits (one medical place used); with all nine needing care it
    does not (nine would be needed)."""
    states = load_states(INPUTS / "example_states_2023.csv").loc[["MT", "CY"]].copy()
    states["capacity_medical"] = [1.0, 0.0]
    shares = compute_key(states, PRESETS["pact-2024"]).shares
    one = pd.DataFrame({"case_id": ["f"], "size": [9], "needs": ["medical:1"], "links": [""], "excluded": ["CY"], "group": [""], "weight": [np.nan]})
    placed = plan(states, shares, Settings(need_weights={"medical": 5}), cases=one)
    assert placed.cases["state"].tolist() == ["MT"]
    assert placed.states.at["MT", "persons_medical"] == 1
    assert placed.states.at["MT", "burden"] == 13
    every = one.assign(needs="medical")
    with pytest.raises(InfeasibleError, match="need 'medical'"):
        plan(states, shares, Settings(require_all=True), cases=every)
