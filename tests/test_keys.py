"""Distribution keys: the formulas of DOMAIN.md section 2, on hand-made and real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from optimizer.errors import InputError
from optimizer.keys import PRESETS, compute_key, load_formula, resolve_formula
from optimizer.schema import load_states, participants
from conftest import INPUTS

EU2015_OUT = ["IT", "GR", "HU", "GB", "IE", "DK", "NO", "CH", "IS", "LI"]


def frame(**columns) -> pd.DataFrame:
    codes = [f"S{i}" for i in range(len(next(iter(columns.values()))))]
    out = pd.DataFrame(columns, index=pd.Index(codes, name="code"), dtype=float)
    out.insert(0, "name", codes)
    out["willing"] = True
    return out


def eu2015_by_hand(pop, gdp, asylum, unemployment, cap=True):
    """DOMAIN.md section 2, written out independently of the implementation."""
    pop = np.asarray(pop, float) / np.sum(pop)
    gdp = np.asarray(gdp, float) / np.sum(gdp)
    inv_a = (1 / np.asarray(asylum, float)) / np.sum(1 / np.asarray(asylum, float))
    inv_u = (1 / np.asarray(unemployment, float)) / np.sum(1 / np.asarray(unemployment, float))
    base = 0.5 * (pop + gdp)
    if cap:
        inv_a = np.minimum(inv_a, 0.3 * (pop + gdp))
        inv_u = np.minimum(inv_u, 0.3 * (pop + gdp))
    q = 0.4 * pop + 0.4 * gdp + 0.1 * inv_a + 0.1 * inv_u
    return q + (1 - q.sum()) * base


def test_eu2015_caps_bind_exactly_where_the_term_exceeds_its_ceiling():
    # The caps add up to 0.3 x 2 = 0.6 < 1, so some state is always capped: test per state.
    pop, gdp, asylum, unemp = [10, 20, 30], [30, 20, 10], [5, 4, 6], [7, 8, 9]
    states = frame(population=pop, gdp_meur=gdp, asylum_per_million=asylum, unemployment_pct=unemp)
    capped = compute_key(states, PRESETS["eu-2015"])
    uncapped = compute_key(states, PRESETS["eu-2015-uncapped"])
    ceiling = 0.3 * (np.array(pop) / 60 + np.array(gdp) / 60)
    raw = uncapped.terms["1/asylum_per_million"].to_numpy()
    np.testing.assert_array_equal(capped.capped["1/asylum_per_million"].to_numpy(), raw > ceiling)
    not_capped = ~capped.capped.any(axis=1).to_numpy()
    np.testing.assert_allclose(capped.terms.to_numpy()[not_capped], uncapped.terms.to_numpy()[not_capped])
    np.testing.assert_allclose(capped.shares, eu2015_by_hand(pop, gdp, asylum, unemp), atol=1e-15)
    np.testing.assert_allclose(uncapped.shares, eu2015_by_hand(pop, gdp, asylum, unemp, cap=False), atol=1e-15)
    assert not uncapped.capped.to_numpy().any()
    assert uncapped.contributions["remainder"].abs().max() < 1e-15


def test_eu2015_caps_binding_spread_by_base():
    # S0 is tiny with almost no asylum seekers: its inverse-asylum term is far above 0.3 (pop + gdp).
    pop, gdp, asylum, unemp = [1, 50, 49], [1, 60, 39], [0.01, 100, 200], [1, 10, 12]
    states = frame(population=pop, gdp_meur=gdp, asylum_per_million=asylum, unemployment_pct=unemp)
    result = compute_key(states, PRESETS["eu-2015"])
    assert result.capped.loc["S0", ["1/asylum_per_million", "1/unemployment_pct"]].all()
    np.testing.assert_allclose(result.shares, eu2015_by_hand(pop, gdp, asylum, unemp), atol=1e-15)
    assert result.shares.sum() == pytest.approx(1.0, abs=1e-12)
    # The cut is spread by the base key 0.5 pop + 0.5 gdp, not proportionally.
    assert result.contributions["remainder"].sum() > 0
    np.testing.assert_allclose(result.contributions.sum(axis=1), result.shares, atol=1e-15)
    uncapped = compute_key(states, PRESETS["eu-2015-uncapped"])
    assert result.shares["S0"] < uncapped.shares["S0"]


def test_eu2015_on_2014_data_matches_commission_allocation():
    """The Commission's 120,000 allocation (COM(2015) 451 annex). The figures are quoted from memory
    of the annex (unverified); our inputs leave out resettled refugees, so agreement is close, not exact."""
    published = {
        "AT": 3640, "BE": 4564, "BG": 1600, "HR": 1064, "CY": 274, "CZ": 2978, "EE": 373, "FI": 2398,
        "FR": 24031, "DE": 31443, "LV": 526, "LT": 780, "LU": 440, "MT": 133, "NL": 7214, "PL": 9287,
        "PT": 3074, "RO": 4646, "SK": 1502, "SI": 631, "ES": 14931, "SE": 4469,
    }
    states = participants(load_states(INPUTS / "eu_efta_2014.csv"), exclude=EU2015_OUT)
    assert sorted(states.index) == sorted(published)
    shares = compute_key(states, PRESETS["eu-2015"]).shares
    for code, persons in published.items():
        assert shares[code] * 120000 == pytest.approx(persons, rel=0.025), code


def test_pact_and_dublin_are_half_population_half_gdp():
    states = load_states(INPUTS / "eu_plus_2023.csv")
    pop = states["population"] / states["population"].sum()
    gdp = states["gdp_meur"] / states["gdp_meur"].sum()
    for name in ("pact-2024", "dublin-2016"):
        np.testing.assert_allclose(compute_key(states, PRESETS[name]).shares, 0.5 * pop + 0.5 * gdp, atol=1e-15)


def test_german_1994_equal_thirds_and_equal_key():
    states = load_states(INPUTS / "eu15_1995.csv")
    expected = sum(states[c] / states[c].sum() for c in ("population", "area_km2", "gdp_meur")) / 3
    np.testing.assert_allclose(compute_key(states, PRESETS["german-1994"]).shares, expected, atol=1e-15)
    np.testing.assert_allclose(compute_key(states, PRESETS["equal"]).shares, 1 / 15, atol=1e-15)


def test_koenigstein_two_thirds_tax_one_third_population():
    states = frame(tax_revenue_meur=[200, 100], population=[1, 3])
    shares = compute_key(states, PRESETS["koenigstein"]).shares
    np.testing.assert_allclose(shares, [2 / 3 * 2 / 3 + 1 / 3 * 1 / 4, 2 / 3 * 1 / 3 + 1 / 3 * 3 / 4])


def test_shares_are_over_participants_only():
    states = load_states(INPUTS / "eu_efta_2014.csv")
    chosen = participants(states, exclude=EU2015_OUT)
    changed = states.copy()
    changed.loc["GB", "population"] *= 10  # a non-participant's data must not matter
    changed.attrs = dict(states.attrs)
    again = participants(changed, exclude=EU2015_OUT)
    pd.testing.assert_series_equal(compute_key(chosen, PRESETS["eu-2015"]).shares, compute_key(again, PRESETS["eu-2015"]).shares)


def test_custom_formula_toml(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        """
name = "mine"
remainder = "proportional"
[[criteria]]
column = "population"
weight = 2
[[criteria]]
column = "unemployment_pct"
weight = 1
direction = "inverse"
cap = { factor = 0.5, of = ["population"] }
"""
    )
    formula = load_formula(path)
    states = frame(population=[1, 3], unemployment_pct=[1, 4])
    result = compute_key(states, formula)
    pop = np.array([0.25, 0.75])
    inv = np.minimum(np.array([0.8, 0.2]), 0.5 * pop)
    raw = 2 / 3 * pop + 1 / 3 * inv
    np.testing.assert_allclose(result.shares, raw / raw.sum(), atol=1e-15)
    assert resolve_formula(str(path)).name == "mine"


def test_custom_formula_with_extra_column(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text('[[criteria]]\ncolumn = "asylum_applicants_2023"\nweight = 1\n')
    states = load_states(INPUTS / "eu_plus_2023.csv")
    shares = compute_key(states, load_formula(path)).shares
    np.testing.assert_allclose(shares, states["asylum_applicants_2023"] / states["asylum_applicants_2023"].sum())


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[criteria]]\ncolumn = "population"\nweight = -1\n', "greater than or equal to 0"),
        ('[[criteria]]\ncolumn = "population"\nweight = 0\n', "sum to zero"),
        ("criteria = []\n", "at least 1"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_formula_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_formula(path)


def test_formula_needing_missing_column_or_value():
    states = load_states(INPUTS / "eu_plus_2023.csv")
    with pytest.raises(InputError, match="needs column 'tax_revenue_meur'"):
        compute_key(states, PRESETS["koenigstein"])
    # Liechtenstein has no unemployment figure: the message names its row.
    with pytest.raises(InputError, match=r"row 32, column 'unemployment_pct'.*LI"):
        compute_key(states, PRESETS["eu-2015"])


def test_unknown_formula():
    with pytest.raises(InputError, match="unknown formula 'nope'"):
        resolve_formula("nope")


positive = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.tuples(positive, positive, positive, positive, positive), min_size=1, max_size=30))
def test_every_preset_gives_shares_summing_to_one(data):
    columns = np.array(data).T
    states = frame(
        population=columns[0], gdp_meur=columns[1], area_km2=columns[2], asylum_per_million=columns[3], unemployment_pct=columns[4]
    )
    states["tax_revenue_meur"] = columns[1]
    for formula in PRESETS.values():
        shares = compute_key(states, formula).shares.to_numpy()
        assert (shares >= -1e-15).all()
        assert shares.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(
        compute_key(states, PRESETS["eu-2015"]).shares,
        eu2015_by_hand(columns[0], columns[1], columns[3], columns[4]),
        atol=1e-12,
    )
