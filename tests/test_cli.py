"""The `relocate` command end to end: DOMAIN.md test vectors, real scenarios, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import DATA, INPUTS, relocate, relocate_process


def allocation(*args: str, capsys) -> list[int]:
    code, out, err = relocate("apportion", *args, "--format", "json", capsys=capsys)
    assert code == 0, err
    return [row["allocated"] for row in json.loads(out)]


VECTORS = [
    ("vector_100_seats.csv", 100, "quota", [52, 44, 2, 1, 1]),
    ("vector_100_seats.csv", 100, "hamilton", [51, 44, 2, 2, 1]),
    ("vector_100_seats.csv", 100, "lp", [51, 44, 2, 2, 1]),
    ("vector_100_seats.csv", 100, "dhondt", [52, 45, 1, 1, 1]),
    ("vector_100_seats.csv", 100, "jefferson", [52, 45, 1, 1, 1]),
    ("vector_100_seats.csv", 100, "webster", [51, 43, 2, 2, 2]),
    ("vector_100_seats.csv", 100, "sainte-lague", [51, 43, 2, 2, 2]),
    ("vector_100_seats.csv", 100, "huntington-hill", [51, 43, 2, 2, 2]),
    ("vector_100_seats.csv", 100, "adams", [51, 43, 2, 2, 2]),
    ("vector_100_seats.csv", 100, "dean", [51, 43, 2, 2, 2]),
    ("vector_26_seats.csv", 26, "jefferson", [10, 7, 5, 3, 1]),
    ("vector_26_seats.csv", 26, "webster", [9, 8, 5, 3, 1]),
    ("vector_26_seats.csv", 26, "huntington-hill", [9, 7, 6, 3, 1]),
    ("vector_26_seats.csv", 26, "adams", [9, 7, 5, 3, 2]),
]


@pytest.mark.parametrize("file, total, method, expected", VECTORS)
def test_domain_test_vectors_through_the_cli(file, total, method, expected, capsys):
    got = allocation(DATA / file, "--total", str(total), "--weight-column", "votes", "--method", method, capsys=capsys)
    assert got == expected


def test_count_hosted_targets_and_capacity(capsys):
    code, out, _ = relocate("apportion", DATA / "hosted.csv", "--total", "100", "-f", "pact-2024", "--count-hosted", "--format", "json", capsys=capsys)
    assert code == 0
    rows = {row["code"]: row for row in json.loads(out)}
    # the water level L of max(0, L/4 - 50) + L/4 + min(L/2, 30) = 100 is 240: AA 60 - 50 = 10,
    # BB 60, CC held at its capacity of 30 (tests/test_report.py has the same instance)
    assert rows["AA"]["target"] == pytest.approx(10.0)
    assert rows["BB"]["target"] == pytest.approx(60.0)
    assert rows["CC"]["target"] == pytest.approx(30.0)
    assert [rows[c]["allocated"] for c in ("AA", "BB", "CC")] == [10, 60, 30]
    assert sum(r["allocated"] for r in rows.values()) == 100
    plain = {r["code"]: r["allocated"] for r in json.loads(relocate("apportion", DATA / "hosted.csv", "--total", "100", "-f", "pact-2024", "--format", "json", capsys=capsys)[1])}
    assert plain == {"AA": 35, "BB": 35, "CC": 30}


def test_ties_are_reported(capsys, tmp_path):
    path = tmp_path / "even.csv"
    path.write_text("code,population\nX,1\nY,1\n")
    for method in ("lp", "hamilton", "webster"):
        code, out, err = relocate("apportion", path, "--total", "1", "-f", "population", "--method", method, "--format", "csv", capsys=capsys)
        assert code == 0
        assert "tie:" in err and "X" in err and "Y" in err
        assert out.splitlines()[1].endswith(",1,0.5") or ",1," in out.splitlines()[1]


def test_key_command_on_real_data(capsys):
    code, out, _ = relocate("key", INPUTS / "eu_plus_2023.csv", "-f", "pact-2024", "--format", "csv", capsys=capsys)
    assert code == 0
    frame = pd.read_csv(pd.io.common.StringIO(out))
    assert len(frame) == 31 and frame["share"].sum() == pytest.approx(1.0)
    assert {"population", "gdp_meur"} <= set(frame.columns)


def test_formulas_lists_every_preset_with_source(capsys):
    code, out, _ = relocate("formulas", capsys=capsys)
    assert code == 0
    for name in ("german-1994", "eu-2015", "eu-2015-uncapped", "dublin-2016", "pact-2024", "koenigstein", "population", "gdp", "equal"):
        assert name in out
    assert "ASSUMPTION" in out


def test_koenigstein_laender_by_published_key(capsys):
    code, out, _ = relocate("apportion", INPUTS / "de_laender_koenigstein.csv", "--total", "10000", "--weight-column", "asylum_quota_2015_pct", "--method", "hamilton", "--format", "json", capsys=capsys)
    assert code == 0
    rows = {r["code"]: r for r in json.loads(out)}
    assert rows["NW"]["allocated"] == 2124  # 21.24052 % of 10,000
    assert sum(r["allocated"] for r in rows.values()) == 10000


def test_solve_quota_scenario_writes_plan(capsys, tmp_path):
    out_dir = tmp_path / "eu2015"
    code, _, err = relocate("solve", INPUTS / "scenarios" / "eu-2015-relocation.toml", "--out", out_dir, "--report", "none", capsys=capsys)
    assert code == 0, err
    assert err.startswith("optimal")
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["status"] == "optimal"
    states = pd.read_csv(out_dir / "plan_states.csv")
    assert states["allocated"].sum() == 120000 and len(states) == 22


def test_solve_family_scenario(capsys, tmp_path):
    out_dir = tmp_path / "families"
    code, _, err = relocate("solve", INPUTS / "scenarios" / "pact-2024-families.toml", "--out", out_dir, "--report", "none", capsys=capsys)
    assert code == 0, err
    cases = pd.read_csv(out_dir / "plan_cases.csv", keep_default_na=False)
    source = pd.read_csv(INPUTS / "example_cases_2023.csv", keep_default_na=False)
    assert list(cases["case_id"]) == list(source["case_id"])
    grouped = cases[cases["group"] != ""]
    assert (grouped.groupby("group")["state"].nunique() == 1).all()
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["status"] == "optimal"
    assert metrics["counts"]["cases_split"] == 0


def test_flags_override_scenario_and_infeasible_exit_code(capsys, tmp_path):
    code, _, err = relocate(
        "solve", "--states", DATA / "hosted.csv", "--total", "1000", "-f", "population", "--only", "CC", "--out", tmp_path / "x", capsys=capsys
    )
    assert code == 3
    assert "total 1000 is above total capacity 30" in err or "short by" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_bad_input_one_line_exit_2(capsys, tmp_path):
    code, out, err = relocate("apportion", tmp_path / "missing.csv", "--total", "5", "-f", "population", capsys=capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "file not found" in err and "Traceback" not in err
    code, _, err = relocate("apportion", INPUTS / "eu_plus_2023.csv", "--total", "5", "-f", "nope", capsys=capsys)
    assert code == 2 and "unknown formula 'nope'" in err
    code, _, err = relocate("apportion", INPUTS / "eu_plus_2023.csv", "--total", "5", "-f", "population", "--method", "borda", capsys=capsys)
    assert code == 2 and "unknown method 'borda'" in err


def test_python_dash_m_entry_point():
    done = relocate_process("formulas")
    assert done.returncode == 0 and "pact-2024" in done.stdout


def test_entry_point_exit_codes_output_and_version():
    """`python -m optimizer` (like the console script) leaves through os._exit: output must be
    flushed and exit codes kept."""
    done = relocate_process("--version")
    assert done.returncode == 0 and done.stdout.strip().startswith("relocate ")
    done = relocate_process("key", INPUTS / "eu_plus_2023.csv", "-f", "pact-2024", "--format", "csv")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 32
    # the two columns no key reads are named, not dropped silently
    assert done.stderr == f"relocate: warning: {INPUTS / 'eu_plus_2023.csv'}: column(s) not used: 'group', 'asylum_applicants_2023'\n"
    done = relocate_process("key", INPUTS / "eu_plus_2023.csv", "-f", "nope")
    assert done.returncode == 2 and done.stderr.startswith("relocate: error: unknown formula 'nope'") and done.stdout == ""


def test_usage_errors_are_one_line(capsys):
    for args in (["apportion", "--bogus"], ["apportion"], ["solve", "--links", "maybe", "--total", "3", "--out", "x"]):
        code, _, err = relocate(*args, capsys=capsys)
        assert code == 2, args
        assert err.startswith("relocate: error:") and err.strip().count("\n") == 0, err


def test_unknown_report_format_fails_before_solving(capsys, tmp_path):
    code, _, err = relocate("solve", INPUTS / "scenarios" / "eu-2015-relocation.toml", "--report", "pdf", "--out", tmp_path / "o", capsys=capsys)
    assert code == 2 and "unknown report format 'pdf'" in err
    assert not (tmp_path / "o").exists()
