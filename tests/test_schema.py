"""Reading states and cases: what is accepted, and the one-line errors for what is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import InputError
from optimizer.schema import check_cases_against_states, load_cases, load_states, participants
from conftest import INPUTS


def write(tmp_path: Path, text: str | bytes, name: str = "states.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_states_file_loads():
    for path in INPUTS.glob("*.csv"):
        if "cases" in path.name:
            continue
        states = load_states(path)
        assert states.index.is_unique and len(states) >= 15
        assert states["willing"].all()


def test_states_columns_and_rows():
    states = load_states(INPUTS / "eu_plus_2023.csv")
    assert list(states.index[:3]) == ["AT", "BE", "BG"]
    assert states.at["DE", "population"] == 83445000
    assert np.isnan(states.at["LI", "unemployment_pct"])  # empty cell: no value, not zero
    assert states.attrs["rows"]["AT"] == 2
    assert states["group"].iloc[0] == "EU27"  # extra text columns are kept


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "file is empty"),
        ("code,population\n", "no data rows"),
        ("name,population\nX,1\n", "missing required column 'code'"),
        ("code,population\nAT,1\nAT,2\n", r"row 3, column 'code': duplicate code 'AT' \(first in row 2\)"),
        ("code,population\nAT,abc\n", r"row 2, column 'population': 'abc' is not a number"),
        ("code,population\nAT,-5\n", r"row 2, column 'population': negative value -5"),
        ("code,population\nAT,inf\n", "not a finite number"),
        ("code,capacity\nAT,2.5\n", "not a whole number of persons"),
        ("code,willing\nAT,maybe\n", "not true/false"),
        ("code,capacity,minimum\nAT,5,9\n", "minimum 9 is above capacity 5"),
        ("code,population\n,5\n", "empty state code"),
    ],
)
def test_bad_states(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as caught:
        load_states(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_encoding_and_european_spreadsheets(tmp_path):
    bom = write(tmp_path, "\ufeffcode,population\nAT,5\n".encode("utf-8"), "bom.csv")
    assert list(load_states(bom).index) == ["AT"]
    latin = write(tmp_path, "code,name,population\nAT,\xd6sterreich,5\n".encode("latin-1"), "latin.csv")
    with pytest.raises(InputError, match="not UTF-8"):
        load_states(latin)
    european = write(tmp_path, "code;population;gdp_meur\nAT;9.158.750;477837,3\n", "eu.csv")
    states = load_states(european)
    assert states.at["AT", "population"] == 9158750
    assert states.at["AT", "gdp_meur"] == pytest.approx(477837.3)


def test_participants_selection_and_errors():
    states = load_states(INPUTS / "eu_plus_2023.csv")
    assert list(participants(states, only=["DE", "FR"]).index) == ["FR", "DE"]  # input order
    assert "DE" not in participants(states, exclude=["DE"]).index
    with pytest.raises(InputError, match="unknown state code"):
        participants(states, only=["XX"])
    with pytest.raises(InputError, match="both required"):
        participants(states, only=["DE"], exclude=["DE"])
    unwilling = states.copy()
    unwilling["willing"] = False
    with pytest.raises(InputError, match="no participating state"):
        participants(unwilling)


def test_cases_load_and_canonical_lists(tmp_path):
    path = write(tmp_path, "case_id,size,links,needs\nc1,3,FR; DE,\nc2,1,,medical\n", "cases.csv")
    cases = load_cases(path)
    assert list(cases["links"]) == ["DE;FR", ""]
    assert list(cases["size"]) == [3, 1]
    assert cases["group"].tolist() == ["", ""]
    shipped = load_cases(INPUTS / "example_cases_2023.csv")
    assert len(shipped) == 2000 and shipped["size"].sum() == 5765


@pytest.mark.parametrize(
    "text, message",
    [
        ("size\n1\n", "missing required column 'case_id'"),
        ("case_id,size\na,1\na,2\n", "duplicate case id 'a'"),
        ("case_id,size\na,0\n", "size must be at least 1"),
        ("case_id,size\na,1.5\n", "not a whole number"),
        ("case_id,size\na,\n", "empty cell"),
    ],
)
def test_bad_cases(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_cases(write(tmp_path, text, "cases.csv"))


def test_unknown_codes_in_cases(tmp_path):
    states = load_states(INPUTS / "eu_plus_2023.csv")
    cases = load_cases(write(tmp_path, "case_id,size,excluded\na,1,\nb,1,XX\n", "cases.csv"))
    with pytest.raises(InputError, match=r"row 3, column 'excluded': unknown state code 'XX'"):
        check_cases_against_states(cases, states)
