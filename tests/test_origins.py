"""Relocation from several benefitting states, the data side: the `origin` column of a case list
and the biproportional fair origin x destination targets (iterative proportional fitting)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer.solidarity.origins as bp
from conftest import INPUTS, relocate
from optimizer.errors import InfeasibleError

STATES = INPUTS / "eu_plus_2023.csv"


def frame(rows: list[list[float]], origins: str, destinations: str) -> pd.DataFrame:
    return pd.DataFrame(rows, index=list(origins), columns=list(destinations), dtype=float)


def test_no_forbidden_cell_gives_the_product_split():
    """Every origin split like the destinations' targets: x_ij = r_i c_j / T."""
    rows, columns = pd.Series([30.0, 70.0], index=["A", "B"]), pd.Series([50.0, 30.0, 20.0], index=["X", "Y", "Z"])
    got = bp.biproportional(rows, columns)
    pd.testing.assert_frame_equal(got, frame([[15, 9, 6], [35, 21, 14]], "AB", "XYZ"), atol=1e-9)


def test_a_forbidden_cell_by_hand():
    """Rows 60, 40; columns 50, 30, 20; A may not go to Z. By hand: only B can fill Z (20), so B
    has 20 left for X and Y, which it splits like A does (the IPF limit is a_i b_j on allowed cells,
    so X:Y is the same 5:3 in both rows): A 37.5, 22.5; B 12.5, 7.5, 20."""
    rows, columns = pd.Series([60.0, 40.0], index=["A", "B"]), pd.Series([50.0, 30.0, 20.0], index=["X", "Y", "Z"])
    allowed = frame([[1, 1, 0], [1, 1, 1]], "AB", "XYZ").astype(bool)
    got = bp.biproportional(rows, columns, allowed)
    pd.testing.assert_frame_equal(got, frame([[37.5, 22.5, 0], [12.5, 7.5, 20]], "AB", "XYZ"), atol=1e-7)


def test_an_origin_never_relocates_to_itself_and_targets_are_scaled():
    """Origins IT and GR; destinations IT (target 100), DE (300), FR (100): the targets (sum 500)
    are scaled to the 100 people. IT's own cell is forbidden. By hand with scaled targets
    20, 60, 20: GR must send all IT gets (20) and then splits the rest like IT: IT 0, 45, 15 and
    GR 20, 15, 5 (DE:FR = 3:1 in both rows)."""
    rows = pd.Series([60.0, 40.0], index=["IT", "GR"])
    columns = pd.Series([100.0, 300.0, 100.0], index=["IT", "DE", "FR"])
    got = bp.biproportional(rows, columns)
    pd.testing.assert_frame_equal(got, pd.DataFrame([[0.0, 45, 15], [20, 15, 5]], index=rows.index, columns=columns.index, dtype=float), atol=1e-7)
    assert got.sum(axis=1).tolist() == pytest.approx([60, 40])
    assert got.sum(axis=0).tolist() == pytest.approx([20, 60, 20])


def test_an_impossible_pattern_is_refused_in_words():
    """A has 60 people and may only go to X, whose target is 50: no split exists."""
    rows, columns = pd.Series([60.0, 40.0], index=["A", "B"]), pd.Series([50.0, 50.0], index=["X", "Y"])
    allowed = frame([[1, 0], [1, 1]], "AB", "XY").astype(bool)
    with pytest.raises(InfeasibleError, match=r"origins A have 60.00 people but the destinations open to them \(X\) have targets of only 50.00"):
        bp.biproportional(rows, columns, allowed)


def test_an_impossible_pattern_not_strict_meets_the_rows():
    """Not strict (as the placement model asks): A's 60 all go to X, the only cell open to it; B
    fills the rest of Y."""
    rows, columns = pd.Series([60.0, 40.0], index=["A", "B"]), pd.Series([50.0, 50.0], index=["X", "Y"])
    allowed = frame([[1, 0], [1, 1]], "AB", "XY").astype(bool)
    got = bp.biproportional(rows, columns, allowed, strict=False)
    pd.testing.assert_frame_equal(got, frame([[60, 0], [0, 40]], "AB", "XY"), atol=1e-6)


def test_real_data_four_origins_twenty_destinations():
    """The four benefitting states of the first cycle and the fair shares of twenty destinations
    (Pact key on the shipped EU-27 data); 5,000 people with a few excluded cells."""
    from optimizer.keys import PRESETS, compute_key
    from optimizer.schema import load_states

    states = load_states(STATES)
    eu = states[states["group"] == "EU27"]
    destinations = [c for c in eu.index if c not in ("CY", "GR", "ES", "IT")][:20]
    targets = compute_key(eu, PRESETS["pact-2024"]).shares[destinations] * 21000
    rows = pd.Series([300.0, 1200.0, 1500.0, 2000.0], index=["CY", "GR", "ES", "IT"])
    allowed = pd.DataFrame(True, index=rows.index, columns=destinations)
    allowed.loc["CY", ["DE", "FR"]] = False
    allowed.loc["ES", "PL"] = False
    got = bp.biproportional(rows, targets, allowed)
    assert np.allclose(got.sum(axis=1), rows, atol=1e-6)
    assert np.allclose(got.sum(axis=0), targets * 5000 / targets.sum(), atol=1e-6)
    assert got.loc["CY", "DE"] == 0 and got.loc["ES", "PL"] == 0
    # the IPF form: on allowed cells the ratio between two destinations is the same in every row
    assert got.loc["GR", "NL"] / got.loc["GR", "BE"] == pytest.approx(got.loc["IT", "NL"] / got.loc["IT", "BE"])


def test_allowed_cells_from_the_case_list():
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d"],
            "size": [2, 3, 1, 4],
            "origin": ["IT", "IT", "GR", ""],
            "excluded": ["DE", "DE;FR", "", ""],
            "links": ["", "", "NL", ""],
        }
    )
    allowed = bp.allowed_cells(cases, ["IT", "DE", "FR", "NL"])
    assert allowed.loc["IT"].tolist() == [False, False, True, True]  # itself and DE (excluded by both) forbidden
    assert allowed.loc["GR"].tolist() == [True, True, True, True]
    assert bp.allowed_cells(cases, ["IT", "DE", "FR", "NL"], hard_links=True).loc["GR"].tolist() == [False, False, False, True]
    assert bp.people_by_origin(cases).to_dict() == {"IT": 5.0, "GR": 1.0}


def test_origin_column_is_read_checked_and_kept_in_plan_cases(tmp_path, capsys):
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,size,origin\nc1,2,IT\nc2,3, GR \nc3,1,\n")
    out = tmp_path / "out"
    code, _, err = relocate("solve", "--states", STATES, "--cases", cases, "-f", "pact-2024", "--out", out, "--report", "none", capsys=capsys)
    assert code == 0, err
    plan = pd.read_csv(out / "plan_cases.csv", keep_default_na=False)
    assert list(plan.columns[:3]) == ["case_id", "origin", "state"]
    assert plan["origin"].tolist() == ["IT", "GR", ""]
    for cell, message in (("XX", "row 2, column 'origin': unknown origin state 'XX'"), ("IT;GR", "row 2, column 'origin': 'IT;GR': origin is one state code")):
        cases.write_text(f"case_id,size,origin\nc1,2,{cell}\n")
        code, _, err = relocate("solve", "--states", STATES, "--cases", cases, "-f", "pact-2024", "--out", tmp_path / "x", capsys=capsys)
        assert code == 2 and message in err, err
