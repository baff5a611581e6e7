"""The Pact's Solidarity Pool (`relocate solidarity`, `optimizer.solidarity`): fair shares checked
by hand on the shipped EU-27 data, gaps and totals, Art. 63 offsets, every refusal through the
CLI, money for places, and the reports."""

from __future__ import annotations

import json
from fractions import Fraction

import pandas as pd
import pytest

from conftest import INPUTS, SCENARIOS, relocate

POOL = SCENARIOS / "pact-2026-pool.toml"
STATES = INPUTS / "eu_plus_2023.csv"
ASSOCIATES = "NO,CH,IS,LI"
# Sums over the 27 EU rows of eu_plus_2023.csv, added up by hand from the file: population
# (1 January 2024; Eurostat publishes 449,206,600 for the total, the rows add up to 21 fewer) and
# GDP 2023 in EUR million (the file's EU total, see inputs/README.md).
EU_POPULATION = 449_206_579
EU_GDP_MEUR = Fraction("17257484.0")


def run_json(*args, capsys) -> dict:
    code, out, err = relocate("solidarity", *args, "--format", "json", capsys=capsys)
    assert code == 0, err
    return json.loads(out)


def by_code(document: dict) -> dict[str, dict]:
    return {row["code"]: row for row in document["states"]}


def lines(document: dict) -> dict[str, dict]:
    return {line["key"]: line for line in document["lines"]}


def test_fair_shares_are_key_times_pool_to_the_cent(capsys):
    """Annex I by hand for three states: 1/2 P_i/P + 1/2 G_i/G, times 21,000 and EUR 420 million."""
    doc = run_json(STATES, "--exclude", ASSOCIATES, "--relocations", "21000", "--financial-eur", "420000000", capsys=capsys)
    rows = by_code(doc)
    hand = {  # code: (population, GDP in EUR million), from the file's rows
        "DE": (83_445_000, Fraction("4219310.0")),
        "MT": (563_443, Fraction("20923.4")),
        "IE": (5_343_805, Fraction("524728.8")),
    }
    for code, (population, gdp) in hand.items():
        share = Fraction(1, 2) * Fraction(population, EU_POPULATION) + Fraction(1, 2) * gdp / EU_GDP_MEUR
        assert rows[code]["share"] == pytest.approx(float(share), rel=1e-12)
        assert rows[code]["fair_relocations"] == pytest.approx(float(share * 21000), abs=1e-9)
        assert round(rows[code]["fair_eur"], 2) == round(float(share * 420_000_000), 2)
    # the same figures written out, so a change of data or arithmetic shows here in plain numbers
    assert round(rows["DE"]["fair_eur"], 2) == 90_353_017.92
    assert round(rows["DE"]["fair_relocations"], 4) == 4517.6509
    assert round(rows["MT"]["fair_relocations"], 4) == 25.9007
    assert round(rows["IE"]["fair_eur"], 2) == 8_883_412.87
    assert sum(r["fair_relocations"] for r in rows.values()) == pytest.approx(21000, abs=1e-9)
    assert sum(r["fair_eur"] for r in rows.values()) == pytest.approx(420_000_000, abs=1e-4)
    assert len(rows) == 27


def test_defaults_are_the_article_12_minima_and_their_ratio(capsys):
    doc = run_json(STATES, "--exclude", ASSOCIATES, capsys=capsys)
    assert doc["pool"]["relocations"] == 30000 and doc["pool"]["financial_eur"] == 600_000_000
    assert doc["pool"]["price_eur"] == 20000
    assert lines(doc)["pool_relocations"]["note"].startswith("default: the Art. 12(2) minimum")
    priced = run_json(STATES, "--exclude", ASSOCIATES, "--price-eur", "25000", capsys=capsys)
    assert priced["pool"]["price_eur"] == 25000


def test_shipped_pool_gaps_and_totals_add_up(capsys):
    doc = run_json(POOL, capsys=capsys)
    rows, account = by_code(doc), lines(doc)
    frame = pd.DataFrame(doc["states"]).set_index("code")
    # the reported deductions (AT, PL, HR, CZ; 100% assumed) remove exactly their fair shares
    for code in ("AT", "PL", "HR", "CZ"):
        assert rows[code]["deducted_relocations"] == pytest.approx(rows[code]["fair_relocations"])
        assert rows[code]["gap_relocations"] == pytest.approx(0.0, abs=1e-9)
    assert account["deducted"]["value"] == pytest.approx(frame.loc[["AT", "PL", "HR", "CZ"], "fair_relocations"].sum())
    # Germany: 2,500 places and EUR 40 million at EUR 20,000 = 4,500 relocation equivalents
    assert rows["DE"]["pledge_equivalents"] == 4500
    assert rows["DE"]["gap_relocations"] == pytest.approx(4517.650895858069 - 4500, abs=1e-9)
    assert rows["DE"]["gap_eur"] == pytest.approx((4517.650895858069 - 4500) * 20000, abs=1e-4)
    # Slovenia: 40 places and EUR 1 million of alternative measures = 90
    assert rows["SI"]["pledge_equivalents"] == 90
    # per state: due = fair - deducted, gap = due - pledge; in the pool: the sums
    assert (frame["due_relocations"] - (frame["fair_relocations"] - frame["deducted_relocations"])).abs().max() < 1e-9
    assert (frame["gap_relocations"] - (frame["due_relocations"] - frame["pledge_equivalents"])).abs().max() < 1e-9
    assert account["due"]["value"] == pytest.approx(21000 - account["deducted"]["value"])
    assert account["gap"]["value"] == pytest.approx(frame["gap_relocations"].sum())
    assert account["gap"]["value"] == pytest.approx(account["shortfall"]["value"] - account["surplus"]["value"])
    assert account["pledged_relocations"]["value"] == 5716
    assert account["pledged_financial_eur"]["value"] == 133_800_000
    assert account["pledged_equivalents"]["value"] == pytest.approx(5716 + (133_800_000 + 5_000_000) / 20000)
    assert account["gap_benefitting"]["value"] == pytest.approx(frame.loc[["CY", "GR", "ES", "IT"], "gap_relocations"].sum())
    assert doc["benefitting"] == ["CY", "GR", "ES", "IT"]
    # every line carries its article (or source), and the unverified thresholds say so
    assert all(line["article"] for line in doc["lines"])
    assert "UNVERIFIED" in account["offsets_mandatory"]["article"]


def test_offsets_thresholds_are_parameters(tmp_path, capsys):
    """Art. 63(1): requests from >= 50% of the relocations; mandatory below 60% (or a minimum)."""
    states = tmp_path / "states.csv"
    states.write_text("code,population,gdp_meur\nAA,100,10\nBB,100,10\nCC,200,20\n")
    half = tmp_path / "half.csv"
    half.write_text("code,relocations\nAA,250\nBB,250\n")  # 500 of 1,000: exactly 50%
    args = (states, "--relocations", "1000", "--financial-eur", "1000000", "--benefitting", "CC", "--pledges", half)
    account = lines(run_json(*args, "--offsets-mandatory-minimum", "0", capsys=capsys))
    assert account["offsets_request"]["value"] == 500  # triggered, for the 500 relocations not pledged
    assert account["offsets_mandatory"]["value"] == 500  # 50% < 60%
    assert account["offsets_offer"]["value"] == 2  # AA and BB pledged 250 >= 50% of their 250
    account = lines(run_json(*args, "--offsets-request-at", "0.6", "--offsets-mandatory-below", "0.4", "--offsets-mandatory-minimum", "0", capsys=capsys))
    assert account["offsets_request"]["value"] == 0 and "not triggered" in account["offsets_request"]["label"]
    assert account["offsets_mandatory"]["value"] == 0
    account = lines(run_json(*args, "--offsets-mandatory-below", "0.4", capsys=capsys))
    assert account["offsets_mandatory"]["value"] == 500  # below the default minimum of 30,000


def test_deductions_by_share_relocations_or_euros(tmp_path, capsys):
    states = tmp_path / "states.csv"
    states.write_text("code,population,gdp_meur\nAA,100,10\nBB,100,10\nCC,200,20\n")
    deductions = tmp_path / "deductions.csv"
    deductions.write_text("code,share,relocations,eur,note\nAA,0.4,,,reported\nBB,,100,,\nCC,,,2000000,\n")
    doc = run_json(states, "--relocations", "1000", "--financial-eur", "20000000", "--deductions", deductions, capsys=capsys)
    rows = by_code(doc)
    assert rows["AA"]["deducted_relocations"] == pytest.approx(100)  # 40% of 250
    assert rows["AA"]["deducted_eur"] == pytest.approx(2_000_000)
    assert rows["BB"]["deducted_relocations"] == 100 and rows["BB"]["deduction_share"] == pytest.approx(0.4)
    assert rows["CC"]["deducted_relocations"] == pytest.approx(100)  # EUR 2 million at EUR 20,000
    assert lines(doc)["deducted"]["value"] == pytest.approx(300)
    assert doc["deduction_notes"] == {"AA": "reported"}


REFUSALS = [
    # (file name, contents, option, message fragment)
    ("pledges.csv", "code,relocations\nDE,10\nXX,5\n", "--pledges", "row 3, column 'code': unknown state code 'XX'"),
    ("pledges.csv", "code,relocations,financial_eur\nDE,10,-5\n", "--pledges", "row 2, column 'financial_eur': negative value -5"),
    ("pledges.csv", "code,relocations\nDE,10.5\n", "--pledges", "row 2, column 'relocations': '10.5' is not a whole number"),
    ("pledges.csv", "code,relocations\nDE,10\nDE,5\n", "--pledges", "row 3, column 'code': duplicate code 'DE'"),
    ("pledges.csv", "code,relocations\nNO,10\n", "--pledges", "row 2, column 'code': 'NO' is not a participant"),
    ("pledges.csv", "code,places\nDE,10\n", "--pledges", "no pledge column"),
    ("deductions.csv", "code,share\nAT,1.5\n", "--deductions", "row 2, column 'share': deduction above 100% (share 1.5)"),
    ("deductions.csv", "code,relocations\nAT,800\n", "--deductions", "row 2, column 'relocations': deduction above 100% of AT's fair share"),
    ("deductions.csv", "code,share,relocations\nAT,0.5,10\n", "--deductions", "row 2, column 'share': more than one amount"),
    ("deductions.csv", "code,share\nEL,0.5\n", "--deductions", "unknown state code 'EL' (not in"),
]


@pytest.mark.parametrize("name, contents, option, message", REFUSALS)
def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys, name, contents, option, message):
    path = tmp_path / name
    path.write_text(contents)
    out = tmp_path / "out"
    code, stdout, err = relocate("solidarity", STATES, "--exclude", ASSOCIATES, option, path, "--out", out, capsys=capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("relocate: error: ")
    assert f"{path}, " in err and message in err, err
    assert stdout == "" and not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--benefitting", "NO"), "--benefitting: 'NO' is not a participant of the key"),
        (("--benefitting", "EL"), "--benefitting: unknown state code 'EL' (not in " + str(STATES) + "); the states file writes it 'GR'"),
        (("--benefitting", "IT,IT"), "benefitting state 'IT' named twice"),
        (("--relocations", "0"), "--relocations: Input should be greater than 0"),
        (("--offsets-request-at", "1.5"), "--offsets-request-at: Input should be less than or equal to 1"),
        (("--trade-price", "dublin"), "--trade-price: expected NAME=EUR"),
        (("--report", "html"), "--report needs --out"),
    ],
)
def test_refused_options(capsys, args, message):
    code, _, err = relocate("solidarity", STATES, "--exclude", ASSOCIATES, *args, capsys=capsys)
    assert code == 2 and err.count("\n") == 1
    assert message in err, err


def test_refusals_in_a_scenario_name_its_key(tmp_path, capsys):
    scenario = tmp_path / "pool.toml"
    scenario.write_text(f'states = "{STATES}"\nexclude = ["NO", "CH", "IS", "LI"]\n[pool]\nbenefitting = ["IT", "NO"]\n')
    code, _, err = relocate("solidarity", scenario, capsys=capsys)
    assert code == 2 and f"{scenario}, key 'pool.benefitting': 'NO' is not a participant" in err, err
    scenario.write_text(f'states = "{STATES}"\n[pool.deductions]\nAT = {{ share = 1.2 }}\n')
    code, _, err = relocate("solidarity", scenario, capsys=capsys)
    assert code == 2 and "key 'pool.deductions.AT.share': deduction above 100% (share 1.2)" in err, err
    scenario.write_text(f'states = "{STATES}"\n[pool.deductions]\nAT = {{ relocations = 10000 }}\n')
    code, _, err = relocate("solidarity", scenario, capsys=capsys)
    assert code == 2 and "key 'pool.deductions.AT.relocations': deduction above 100% of AT's fair share" in err, err


def test_trade_settles_and_balances(capsys):
    """Money for places on the shipped pool: buyers pay the price per place bought out, states above
    their share are paid for their extra places, the rest goes to the benefitting states."""
    doc = run_json(POOL, "--trade", "--trade-price", "market=60000", capsys=capsys)
    trade = doc["trade"]
    assert trade["prices"] == {"market": 60000}  # --trade-price replaces the default prices
    rows = {r["code"]: r for r in trade["states"]}
    assert rows["DE"]["buys_out"] == pytest.approx(4517.650895858069 - 2500)
    assert rows["DE"]["pays:market"] == pytest.approx((4517.650895858069 - 2500) * 60000)
    assert rows["LU"]["takes_more"] == pytest.approx(80 - 65.67053516185047, abs=1e-6)
    assert all(rows[c]["pays:market"] == 0 and rows[c]["receives:market"] == 0 for c in ("CY", "GR", "ES", "IT"))
    totals = {line["key"]: line["value"] for line in trade["lines"]}
    assert totals["paid:market"] == pytest.approx(totals["received:market"] + totals["benefitting:market"])
    assert totals["received:market"] == pytest.approx(totals["trade_taken_more"] * 60000)  # fewer extra places than bought out: all paid
    defaults = run_json(POOL, "--trade", capsys=capsys)["trade"]["prices"]
    assert defaults == {"pact-price": 20000, "dublin-iv": 250000}


def test_settle_by_hand():
    from optimizer.solidarity import settle

    table = pd.DataFrame(
        {"name": ["A", "B", "C", "D"], "benefitting": [False, False, False, True], "due_relocations": [10.0, 10.0, 5.0, 3.0], "pledged_relocations": [4.0, 16.0, 0.0, 0.0]},
        index=pd.Index(list("ABCD"), name="code"),
    )
    trade = settle(table, {"p": 100.0})
    s = trade.states
    assert list(s["pays:p"]) == [600.0, 0.0, 500.0, 0.0]  # A buys out 6, C 5; D benefits, pays nothing
    assert list(s["receives:p"]) == [0.0, 600.0, 0.0, 0.0]  # B took 6 beyond its share
    totals = {line.key: line.value for line in trade.lines}
    assert totals["benefitting:p"] == 500.0 and totals["trade_unmatched"] == 5.0
    # C now takes 10 beyond its share: 16 extra places, 6 bought out; A's 600 shared pro rata
    table.loc["C", "pledged_relocations"] = 15.0
    s = settle(table, {"p": 100.0}).states
    assert list(s["receives:p"]) == pytest.approx([0.0, 600 * 6 / 16, 600 * 10 / 16, 0.0])
    assert s["pays:p"].sum() == pytest.approx(s["receives:p"].sum())


def test_python_api_matches_the_cli(capsys):
    from optimizer.schema import ScenarioSettings, load_scenario
    from optimizer.solidarity import solidarity

    scenario, base = load_scenario(POOL)
    result = solidarity(ScenarioSettings.model_validate(scenario.model_dump(exclude={"variants"})), base)
    cli = by_code(run_json(POOL, capsys=capsys))
    assert result.states.loc["FR", "gap_eur"] == pytest.approx(cli["FR"]["gap_eur"])
    assert list(result.states.index) == list(cli)
    targets = result.destination_targets()
    assert targets["DE"] == 2500 and targets["IT"] == 0  # pledged places; benefitting states take nobody


def test_files_and_reports(tmp_path, capsys):
    out = tmp_path / "pool"
    code, _, err = relocate("solidarity", POOL, "--trade", "--out", out, "--format", "csv", capsys=capsys)
    assert code == 0, err
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == sorted(["charts/solidarity.png", "report.html", "report.json", "report.md", "report.xlsx", "solidarity.json", "solidarity_pool.csv", "solidarity_states.csv", "trade_pool.csv", "trade_states.csv"])
    states = pd.read_csv(out / "solidarity_states.csv", keep_default_na=False)
    assert round(states.set_index("code").loc["DE", "fair_eur"], 2) == 90_353_017.92
    html = (out / "report.html").read_text()
    for text in ("Solidarity pool", "Fair share, pledge and gap per state", "AMMR Art. 63(1)", "REPORTED, NOT VERIFIED", "<svg", "Money for places"):
        assert text in html
    from openpyxl import load_workbook

    book = load_workbook(out / "report.xlsx")
    assert book.sheetnames == ["Solidarity pool", "Solidarity states", "Trade", "Trade states"]
    sheet = book["Solidarity states"]
    header = [c.value for c in sheet[1]]
    de = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "DE")
    assert de[header.index("fair_relocations")] == pytest.approx(4517.650895858069)  # a number, not text
    # deterministic: a second run differs only in the run facts
    again = tmp_path / "again"
    relocate("solidarity", POOL, "--trade", "--out", again, "--format", "csv", capsys=capsys)
    for name in ("solidarity_states.csv", "solidarity_pool.csv", "trade_states.csv", "charts/solidarity.png"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_user_text_is_escaped(tmp_path, capsys):
    states = tmp_path / "states.csv"
    states.write_text('code,name,population,gdp_meur\nAA,"<script>x</script>",100,10\nBB,[bold]B,100,10\n')
    deductions = tmp_path / "deductions.csv"
    deductions.write_text('code,share,note\nAA,0.5,"<b>reported</b> | *x*"\n')
    out = tmp_path / "out"
    code, stdout, err = relocate("solidarity", states, "--deductions", deductions, "--out", out, capsys=capsys)
    assert code == 0, err
    html = (out / "report.html").read_text()
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html and "&lt;b&gt;reported" in html
    md = (out / "report.md").read_text()
    assert "&lt;b&gt;reported&lt;/b&gt; \\|" in md and "<b>" not in md
    assert "[bold]B" in stdout  # rich markup in a name is shown, not applied


def test_a_solve_scenario_with_a_pool_gets_the_solidarity_section(tmp_path, capsys):
    scenario = tmp_path / "solve.toml"
    scenario.write_text(
        f'states = "{STATES}"\ntotal = 2100\nformula = "pact-2024"\nexclude = ["NO", "CH", "IS", "LI"]\n'
        f'[pool]\nrelocations = 21000\nfinancial_eur = 420000000\nbenefitting = ["CY", "GR", "ES", "IT"]\n'
    )
    out = tmp_path / "out"
    code, _, err = relocate("solve", scenario, "--out", out, "--report", "html,xlsx,json", capsys=capsys)
    assert code == 0, err
    assert 'id="solidarity"' in (out / "report.html").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["solidarity"]["pool"]["relocations"] == 21000
    from openpyxl import load_workbook

    assert "Solidarity states" in load_workbook(out / "report.xlsx").sheetnames
