"""Comparing formula variants: tables, sensitivity, shared inputs, the `compare` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.compare import compare, sensitivity_columns, sensitivity_wide, variants_from_formulas
from optimizer.errors import InputError
from optimizer.keys import PRESETS
from optimizer.schema import ScenarioSettings, Variant, load_scenario
from conftest import INPUTS, SCENARIOS, relocate, scenario_settings, spy

SCENARIO = SCENARIOS / "compare-keys.toml"


@pytest.fixture(scope="module")
def keys_comparison():
    base, base_dir = scenario_settings("compare-keys.toml")
    variants = load_scenario(SCENARIO)[0].variants
    calls = []
    result = compare(base, variants, base_dir, progress=lambda done, total, what: calls.append((done, total, what)))
    return result, calls


def test_scenario_variants_and_table(keys_comparison):
    result, _ = keys_comparison
    assert result.names == ["german-1994", "eu-2015", "pact-2024"]
    table = result.table
    assert len(table) == 3 * 30 and "LI" not in set(table["code"])
    for name, part in table.groupby("variant"):
        assert part["allocated"].sum() == 30000
        assert part["share"].sum() == pytest.approx(1.0)
    first = table[table["variant"] == "german-1994"].set_index("code")
    other = table[table["variant"] == "eu-2015"].set_index("code")
    assert (first["difference"] == 0).all() and (first["rank_change"] == 0).all()
    assert (other["difference"] == other["allocated"] - first["allocated"]).all()
    assert (other["rank_change"] == first["rank"] - other["rank"]).all()
    # Germany and France carry the most under every key; area lifts Finland and Sweden in 1994's key.
    assert first.loc["FI", "allocated"] > 2 * other.loc["FI", "allocated"]
    assert first["rank"].min() == 1
    wide = result.wide()
    assert list(wide.columns[:5]) == ["code", "name", "allocated:german-1994", "allocated:eu-2015", "allocated:pact-2024"]
    assert "difference:german-1994" not in wide.columns and "rank_change:pact-2024" in wide.columns
    metrics = result.metrics_table()
    assert list(metrics["variant"]) == result.names
    assert (metrics["persons_placed"] == 30000).all()


def test_pact_population_weight_up_ten_percent_by_hand(keys_comparison):
    result, _ = keys_comparison
    states = pd.read_csv(INPUTS / "eu_plus_2023.csv").set_index("code").drop(index="LI")
    pop = states["population"] / states["population"].sum()
    gdp = states["gdp_meur"] / states["gdp_meur"].sum()
    # weights 0.55 and 0.5, renormalised: 0.55/1.05 and 0.5/1.05
    expected = 30000 * (0.55 / 1.05 * pop + 0.5 / 1.05 * gdp)
    sens = result.sensitivity
    rows = sens[(sens["variant"] == "pact-2024") & (sens["column"] == "population") & (sens["factor"] == 1.1)].set_index("code")
    assert rows["target"].to_numpy() == pytest.approx(expected.reindex(rows.index).to_numpy())
    # Whole persons: the moved allocation is within one person of the moved target, and sums to 30,000.
    assert (np.abs(rows["allocated"] - rows["target"]) < 1).all()
    assert rows["allocated"].sum() == 30000 and rows["change"].sum() == 0
    # More weight on population: states with a larger population than GDP share gain.
    gain = (pop - gdp).reindex(rows.index)
    assert (np.sign(rows["target_change"]) == np.sign(gain)).all()


def test_sensitivity_covers_every_criterion(keys_comparison):
    result, calls = keys_comparison
    sens = result.sensitivity
    # 3 + 4 + 2 criteria, two factors each, 30 states
    assert len(sens) == (3 + 4 + 2) * 2 * 30
    assert set(sens[sens["variant"] == "eu-2015"]["criterion"]) == {"population", "gdp_meur", "1/asylum_per_million", "1/unemployment_pct"}
    wide = sensitivity_wide(sens, "german-1994")
    assert list(wide.columns[4:]) == ["population x1.1", "population x0.9", "area_km2 x1.1", "area_km2 x0.9", "gdp_meur x1.1", "gdp_meur x0.9"]
    # progress: every step reported once, then the end
    steps = 3 + (3 + 4 + 2) * 2
    assert [c[0] for c in calls] == list(range(steps + 1))
    assert all(c[1] == steps for c in calls) and calls[-1][2] == "done"


def test_targets_only_sensitivity_matches_and_none_skips():
    base = ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=30000, exclude=["LI"])
    variants = variants_from_formulas(["eu-2015", "population"])
    quick = compare(base, variants, sensitivity="targets")
    full = compare(base, variants, sensitivity="allocation")
    assert quick.sensitivity["allocated"].isna().all()
    assert quick.sensitivity["target_change"].to_numpy() == pytest.approx(full.sensitivity["target_change"].to_numpy())
    assert any("population" in note and "one criterion" in note for note in quick.notes)
    none = compare(base, variants, sensitivity="none")
    assert none.sensitivity.empty and not none.notes
    assert sensitivity_columns(PRESETS["population"]) == []


def test_variants_change_any_setting_and_inputs_are_read_once():
    base = ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=1000, formula="pact-2024", exclude=["LI"])
    variants = [
        Variant(name="lp"),
        Variant(name="webster", method="webster"),
        Variant(name="no DE", exclude=["LI", "DE"]),
        Variant(name="capped FR", capacity={"FR": 10}),
    ]
    with spy("compare_reads_states") as reads:
        result = compare(base, variants, sensitivity="none")
    assert len(reads) == 1
    table = result.table.set_index(["variant", "code"])
    assert np.isnan(table.loc[("no DE", "DE"), "allocated"])
    assert table.loc[("no DE", "DE"), "difference"] == -table.loc[("lp", "DE"), "allocated"]
    assert table.loc[("capped FR", "FR"), "allocated"] == 10
    assert result.results[1].method == "webster"
    assert all(r.plan.states["allocated"].sum() == 1000 for r in result.results)


def test_variant_names_must_be_unique_and_present():
    base = ScenarioSettings(states=str(INPUTS / "eu_plus_2023.csv"), total=10)
    with pytest.raises(InputError, match="more than once"):
        compare(base, variants_from_formulas(["pact-2024", "pact-2024"]))
    with pytest.raises(InputError, match="nothing to compare"):
        compare(base, [])
    assert [v.name for v in variants_from_formulas(["pact-2024", "keys/my-key.toml"])] == ["pact-2024", "my-key"]


def test_cli_compare_with_formula_flags(capsys, tmp_path):
    out_dir = tmp_path / "cmp"
    code, out, err = relocate(
        "compare", "--states", INPUTS / "eu_plus_2023.csv", "--total", "30000", "--exclude", "LI",
        "-f", "german-1994", "-f", "eu-2015", "-f", "pact-2024", "--out", out_dir, "--report", "none", capsys=capsys,
    )
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["comparison.csv", "metrics.json", "sensitivity.csv"]
    wide = pd.read_csv(out_dir / "comparison.csv")
    assert len(wide) == 30 and wide["allocated:pact-2024"].sum() == 30000
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert [v["name"] for v in metrics["variants"]] == ["german-1994", "eu-2015", "pact-2024"]
    assert "created" in metrics["run"]
    assert "german-1994" in out and "Germany" in out
    assert "written to" in err and "Loosemore-Hanby" in err
    # A non-empty folder is refused before any work; --force replaces it.
    code, _, err = relocate("compare", SCENARIO, "--out", out_dir, "--report", "none", capsys=capsys)
    assert code == 2 and "not empty" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["comparison.csv", "metrics.json", "sensitivity.csv"]
    code, _, err = relocate("compare", SCENARIO, "--out", out_dir, "--force", "--report", "json", "--sensitivity", "none", capsys=capsys)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["comparison.csv", "metrics.json", "report.json"]


def test_cli_compare_errors_before_work(capsys, tmp_path):
    out_dir = tmp_path / "never"
    code, _, err = relocate("compare", SCENARIO, "--out", out_dir, "--report", "pdf", capsys=capsys)
    assert code == 2 and "unknown report format 'pdf'" in err
    assert not out_dir.exists()
    code, _, err = relocate("compare", "--states", INPUTS / "eu_plus_2023.csv", "--total", "10", "--out", out_dir, capsys=capsys)
    assert code == 2 and "nothing to compare" in err
    code, _, err = relocate("compare", "--states", INPUTS / "eu_plus_2023.csv", "--total", "10", "-f", "eu-2015", "--out", out_dir, capsys=capsys)
    assert code == 2 and "unemployment_pct" in err  # LI has no unemployment rate
    assert not out_dir.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind
