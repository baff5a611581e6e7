"""Fuzzing: generated states, cases and scenarios, valid and adversarial, through files.

Whatever the input, the tool answers with a plan, an `InputError` (exit 2) or an `InfeasibleError`
(exit 3), never anything else; and every plan keeps families and groups together, respects every
capacity, need capacity, minimum, exclusion and hard link, conserves persons, and says `optimal`
only when it is: on small instances a brute force over every assignment checks the persons placed,
the total deviation and the links honoured, and that "infeasible" really is.

Examples are derandomised (the same in every CI run); set RELOCATE_FUZZ_EXAMPLES=500 for a longer,
random search.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st

from optimizer.errors import InfeasibleError, InputError
from optimizer.keys import compute_key, resolve_formula, weight_column_formula
from optimizer.pipeline import run
from optimizer.schema import (
    MAX_NUMBER,
    ScenarioSettings,
    load_cases,
    load_states,
)
from conftest import brute_force, relocate_process

EXTRA = int(os.environ.get("RELOCATE_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int):
    """Hypothesis settings: `examples` per CI run (deterministic), more and random on request."""
    return settings(
        max_examples=EXTRA or examples,
        derandomize=not EXTRA,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def one_line(error: Exception) -> None:
    text = str(error)
    assert text and "\n" not in text and "\r" not in text and text.isprintable(), repr(text)


# ---------------------------------------------------------------------------------------------
# Adversarial files: any bytes, any cells


@fuzz(200)
@given(data=st.binary(max_size=400), which=st.sampled_from(["states", "cases"]))
def test_any_bytes_give_a_table_or_one_clear_line(data, which):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{which}.csv"
        path.write_bytes(data)
        try:
            table = load_states(path) if which == "states" else load_cases(path)
        except InputError as err:
            one_line(err)
        else:
            assert len(table) >= 1


WEIRD_CELLS = [
    "", " ", "0", "1", "7", "-1", "2.5", "1e3", "1e400", "1e16", "nan", "NaN", "inf", "-inf", "Infinity", "null",
    "1,5", "1.234,5", "9.158.750", "abc", "=1+1", "+5", "@SUM(A1)", "-", "AT", "AT;BE", "DE", "ü", "州",
    "\u202eevil", "a\nb", '"', "x,y", "x;y", "\t", "0x10", "1_000", "true", "maybe", "medical", "G1",
]
HEADERS = [
    "code", "name", "population", "gdp_meur", "capacity", "minimum", "willing", "capacity_medical",
    "case_id", "size", "needs", "links", "excluded", "group", "weight", "extra", "", "Code", "size ",
]


@fuzz(200)
@given(
    header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=7),
    rows=st.lists(st.lists(st.sampled_from(WEIRD_CELLS) | st.text(max_size=6), min_size=0, max_size=8), max_size=6),
    sep=st.sampled_from([",", ";", "\t"]),
)
def test_random_cells_give_valid_tables_or_one_clear_line(header, rows, sep):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        try:
            states = load_states(path)
        except InputError as err:
            one_line(err)
        else:
            assert states.index.is_unique and (states.index != "").all()
            for column in states.columns:
                if states[column].dtype == float:
                    values = states[column].dropna()
                    assert np.isfinite(values).all() and (values >= 0).all() and (values <= MAX_NUMBER).all()
            for column in ("capacity", "minimum", "capacity_medical"):
                if column in states.columns:
                    values = states[column].dropna()
                    assert (values == np.floor(values)).all()
        try:
            cases = load_cases(path)
        except InputError as err:
            one_line(err)
        else:
            assert cases["case_id"].is_unique and (cases["size"] >= 1).all()
            assert cases["size"].dtype == np.int64
            weights = cases["weight"].dropna()
            assert np.isfinite(weights).all() and (weights >= 0).all()


def european(value: float, decimals: int) -> str:
    """1234567.5 -> '1.234.567,5' (as a German or French spreadsheet exports it)."""
    whole, _, fraction = f"{value:.{decimals}f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return grouped + ("," + fraction if fraction else "")


@fuzz(100)
@given(
    values=st.lists(st.integers(0, 10**12), min_size=1, max_size=6),
    decimals=st.integers(0, 3),
    grouped=st.booleans(),
)
def test_european_numbers_read_as_written(values, decimals, grouped):
    numbers = [v / 10**decimals for v in values]
    cells = [european(n, decimals) if grouped else f"{n:.{decimals}f}".replace(".", ",") for n in numbers]
    text = "code;gdp_meur;note\n" + "".join(f"S{i};{c};x, y\n" for i, c in enumerate(cells))
    # Every cell is European, so they all agree; but a file whose only marks stand between a 1-3
    # digit number and three digits ('1.500', '1,500': 1.5 or 1500?) settles nothing, and is
    # refused with a request for --decimal, with which it is read as written.
    unsure = [bool(re.fullmatch(r"[1-9]\d{0,2}[.,]\d{3}", c)) for c in cells]
    settled = any(("," in c and not u) or c.count(".") > 1 or ("." in c and "," in c) for c, u in zip(cells, unsure))
    ambiguous = any(unsure)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "states.csv"
        path.write_text(text, encoding="utf-8")
        try:
            states = load_states(path)
        except InputError as err:
            assert ambiguous and not settled and "give --decimal . or --decimal ," in str(err), str(err)
            states = load_states(path, decimal=",")
        else:
            assert settled or not ambiguous
    assert states["gdp_meur"].tolist() == pytest.approx(numbers, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Generated instances: valid ones must solve (or be truly infeasible); broken ones must say so


CODES = ["AT", "BE", "Ö1", "州", "=X", "<b>"]
NAMES = st.sampled_from(["Austria", "=HYPERLINK(\"http://x\")", "<script>alert(1)</script>", "+49", "@me", "Ünïcødé 州", "a, b; c"]) | st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8
)
# Inputs broken on purpose: name -> ([(what, cells set there)], the error message it must give).
# `what`: the first state, the last case, the settings, or a copy of the first state or case
# appended; FIRST stands for the first state's code.
FIRST = "<first state>"
CORRUPTIONS = {
    "duplicate_code": ([("new state", {})], "duplicate code"),
    "bad_number": ([("state", {"population": "12 million"})], "is not a number"),
    "nan_cell": ([("state", {"gdp_meur": "NaN"})], "is not a number"),
    "negative": ([("state", {"capacity": -4})], "negative value"),
    "unknown_link": ([("case", {"links": "ZZ", "excluded": ""})], "unknown state code 'ZZ'"),
    "unknown_excluded": ([("case", {"excluded": "ZZ"})], "unknown state code 'ZZ'"),
    "unknown_only": ([("setting", {"only": ["ZZ"]})], "--only: unknown state code"),
    "only_and_exclude": ([("setting", {"only": [FIRST], "exclude": [FIRST]}), ("state", {"willing": True})], "both required"),
    "fractional_size": ([("case", {"size": 1.5})], "not a whole number"),
    "zero_size": ([("case", {"size": 0})], "at least 1 person"),
    "duplicate_case": ([("new case", {})], "duplicate case id"),
    "unknown_formula": ([("setting", {"formula": "no-such-key"})], "unknown formula"),
    "missing_column": ([("setting", {"formula": "eu-2015"})], "needs column"),
    "minimum_above_capacity": ([("state", {"capacity": 2, "minimum": 5})], "is above capacity"),
    "code_with_semicolon": ([("state", {"code": "A;B"})], "contains ';'"),
    "link_and_exclude": ([("case", {"links": FIRST, "excluded": FIRST})], "both a family link and excluded"),
}


@st.composite
def instances(draw, max_states: int = 4, max_cases: int = 6):
    """(states rows, cases rows, settings dict, corruption or None) for one run."""
    n_states = draw(st.integers(1, max_states))
    codes = draw(st.permutations(CODES))[:n_states]
    states = []
    for code in codes:
        capacity = draw(st.one_of(st.none(), st.integers(0, 14)))
        minimum = draw(st.one_of(st.none(), st.integers(0, 3)))
        if capacity is not None and minimum is not None:
            minimum = min(minimum, capacity)
        states.append(
            {
                "code": code,
                "name": draw(NAMES),
                "population": draw(st.integers(1, 10**8)),
                "gdp_meur": draw(st.floats(0.5, 1e7, allow_nan=False, allow_infinity=False)),
                "score": draw(st.integers(1, 9)),
                "capacity": capacity,
                "minimum": minimum,
                "capacity_medical": draw(st.one_of(st.none(), st.integers(0, 6))),
                "willing": draw(st.sampled_from([True] * 5 + [False])),
            }
        )
    if not any(s["willing"] for s in states):
        states[0]["willing"] = True
    for state in states:
        if not state["willing"]:
            state["minimum"] = None  # an unwilling state's minimum is refused (it could not be kept)
    willing = [s["code"] for s in states if s["willing"]]

    n_cases = draw(st.integers(1, max_cases))
    code_lists = st.lists(st.sampled_from(list(codes)), max_size=2, unique=True).map(";".join)
    cases = []
    for i in range(n_cases):
        links, excluded = draw(code_lists), draw(code_lists)
        excluded = ";".join(c for c in excluded.split(";") if c and c not in links.split(";"))
        cases.append(
            {
                "case_id": draw(st.sampled_from([f"c{i}", f"=c{i}", f"-{i}", f"ç{i}"])),
                "size": draw(st.integers(1, 6)),
                "needs": draw(st.sampled_from(["", "", "medical"])),
                "links": links,
                "excluded": excluded,
                "group": draw(st.sampled_from(["", "", "", "G1", "G2"])),
                "weight": draw(st.sampled_from([None, None, None, 0.5, 3])),
            }
        )
    ids = [c["case_id"] for c in cases]
    if len(set(ids)) != len(ids):
        for i, c in enumerate(cases):
            c["case_id"] = f"c{i}"

    only = draw(st.one_of(st.none(), st.lists(st.sampled_from(willing), min_size=1, unique=True)))
    remaining = [c for c in codes if not only or c not in only]
    exclude = draw(st.one_of(st.none(), st.lists(st.sampled_from(remaining), unique=True))) if remaining else None
    if only is None and exclude and set(willing) <= set(exclude):
        exclude = None
    if only is not None and exclude:
        exclude = [c for c in exclude if c not in only] or None
    setting = {
        "formula": draw(st.sampled_from(["population", "equal", "pact-2024", "column:score"])),
        "links": draw(st.sampled_from(["hard", "soft", "off"])),
        "objective": draw(st.sampled_from(["deviation", "deviation", "minimax"])),
        "require_all": draw(st.booleans()),
        # a weight for a need no case has is refused (a misspelt need would weigh nothing)
        "need_weights": draw(st.sampled_from([None, {"medical": 2.0}])) if any(c["needs"] for c in cases) else None,
        "only": only,
        "exclude": exclude,
        "european": draw(st.booleans()),
    }
    corruption = draw(st.sampled_from(list(CORRUPTIONS))) if draw(st.sampled_from([False, False, False, True])) else None
    return states, cases, setting, corruption


def corrupt(states: list[dict], cases: list[dict], setting: dict, corruption: str | None) -> str | None:
    """Break the instance on purpose; returns a regex the InputError must match."""
    if corruption is None:
        return None
    edits, error = CORRUPTIONS[corruption]
    code = states[0]["code"]
    rows = {"state": states[0], "case": cases[-1], "setting": setting}
    for what, cells in edits:
        if what == "new state":
            states.append(row := dict(states[0]))
        elif what == "new case":
            cases.append(row := dict(cases[0]))
        else:
            row = rows[what]
        for key, value in cells.items():
            row[key] = [code if v == FIRST else v for v in value] if isinstance(value, list) else code if value == FIRST else value
    return error


def number_cell(value, european_style: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and european_style:
        return european(value, 2)  # two decimals: '12,50' can only be a decimal comma
    if isinstance(value, int) and european_style:
        return f"{value:,}".replace(",", ".")
    return str(value)


def write_inputs(folder: Path, states: list[dict], cases: list[dict], setting: dict) -> ScenarioSettings:
    sep = ";" if setting["european"] else ","
    euro = setting["european"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")
    columns = ["code", "name", "population", "gdp_meur", "score", "capacity", "minimum", "capacity_medical", "willing"]
    writer.writerow(columns)
    for s in states:
        writer.writerow([number_cell(s[c], euro) if c not in ("code", "name") else s[c] for c in columns])
    (folder / "states.csv").write_text(buffer.getvalue(), encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")
    columns = ["case_id", "size", "needs", "links", "excluded", "group", "weight"]
    writer.writerow(columns)
    for c in cases:
        writer.writerow([number_cell(c[k], euro) if k in ("size", "weight") else c[k] for k in columns])
    (folder / "cases.csv").write_text(buffer.getvalue(), encoding="utf-8")
    formula = setting["formula"]
    return ScenarioSettings(
        states=str(folder / "states.csv"),
        cases=str(folder / "cases.csv"),
        formula=None if formula.startswith("column:") else formula,
        weight_column=formula.split(":", 1)[1] if formula.startswith("column:") else None,
        links=setting["links"],
        objective=setting["objective"],
        require_all=setting["require_all"],
        need_weights=setting["need_weights"],
        only=setting["only"],
        exclude=setting["exclude"],
    )


def check_plan(result, cases: pd.DataFrame, setting: dict) -> None:
    """The rules every plan keeps, checked on the plan the pipeline returns."""
    plan, chosen = result.plan, result.participants
    codes = set(chosen.index)
    table = plan.cases
    assert list(table["case_id"]) == list(cases["case_id"]), "every case once, in input order"
    state = dict(zip(table["case_id"], table["state"]))
    for row in cases.itertuples():
        where = state[row.case_id]
        if not where:
            assert table.loc[table["case_id"] == row.case_id, "reason"].iloc[0] != "", "unplaced without a reason"
            continue
        assert where in codes, f"{row.case_id} placed in {where!r}, not a participant"
        assert where not in row.excluded.split(";"), "exclusion broken"
        if setting["links"] == "hard" and row.links:
            assert where in row.links.split(";"), "hard link broken"
    for _, members in cases[cases["group"] != ""].groupby("group"):
        assert len({state[c] for c in members["case_id"]}) == 1, "group split"
    placed = table[table["state"] != ""]
    persons = placed.groupby("state")["size"].sum().reindex(list(chosen.index), fill_value=0)
    assert (plan.states["allocated"].to_numpy() == persons.to_numpy()).all()
    medical_ids = set(cases.loc[cases["needs"].str.contains("medical"), "case_id"])
    medical = placed[placed["case_id"].isin(medical_ids)].groupby("state")["size"].sum()
    for code in chosen.index:
        capacity = chosen.at[code, "capacity"] if "capacity" in chosen.columns else np.nan
        minimum = chosen.at[code, "minimum"] if "minimum" in chosen.columns else np.nan
        need_capacity = chosen.at[code, "capacity_medical"] if "capacity_medical" in chosen.columns else np.nan
        if not np.isnan(capacity):
            assert persons[code] <= capacity, f"capacity of {code}"
        if not np.isnan(minimum):
            assert persons[code] >= minimum, f"minimum of {code}"
        if not np.isnan(need_capacity):
            assert medical.get(code, 0) <= need_capacity, f"medical capacity of {code}"
    counts = plan.counts
    assert counts["placed_persons"] == placed["size"].sum() == plan.states["allocated"].sum()
    assert counts["placed_persons"] + counts["unplaced_persons"] == cases["size"].sum(), "persons not conserved"
    assert counts["placed_cases"] + counts["unplaced_cases"] == len(cases)
    assert counts["cases_split"] == 0
    if setting["require_all"]:
        assert counts["unplaced_persons"] == 0
    assert plan.status in ("optimal", "feasible")
    if plan.status == "optimal":
        assert all(stage.status == "optimal" for stage in plan.stages)
        assert plan.gap is not None and plan.gap <= 1e-6


@fuzz(300)
@given(instance=instances())
def test_generated_scenarios_keep_every_rule(instance):
    states, cases_rows, setting, corruption = instance
    expected_error = corrupt(states, cases_rows, setting, corruption)
    with tempfile.TemporaryDirectory() as folder:
        scenario = write_inputs(Path(folder), states, cases_rows, setting)
        try:
            result = run(scenario)
        except InputError as err:
            one_line(err)
            assert expected_error is not None, f"valid input refused: {err}"
            assert re.search(expected_error, str(err)), (expected_error, str(err))
            event("input error, as expected")
            return
        except InfeasibleError as err:
            one_line(err)
            assert expected_error is None, f"expected InputError /{expected_error}/, got: {err}"
            result = None
            failure = err
        else:
            assert expected_error is None, f"expected InputError /{expected_error}/, got a plan"
        cases = load_cases(Path(folder) / "cases.csv")
        loaded = load_states(Path(folder) / "states.csv")
    chosen = loaded[loaded["willing"]]
    if setting["only"]:
        chosen = chosen[chosen.index.isin(setting["only"])]
    if setting["exclude"]:
        chosen = chosen[~chosen.index.isin(setting["exclude"])]
    formula = (
        weight_column_formula("score") if setting["formula"] == "column:score" else resolve_formula(setting["formula"])
    )
    shares = compute_key(chosen, formula).shares.to_numpy()
    truth = brute_force(chosen, cases, shares, setting["links"], setting["need_weights"], limit=6000)
    if result is None:
        # Infeasible must be true: no assignment at all, nobody placeable, or not everyone with --require-all.
        if truth is not None:
            feasible, placed = truth[0], truth[1]
            assert (not feasible) or placed == 0 or (setting["require_all"] and placed < cases["size"].sum()), (
                f"said infeasible ({failure}) but {placed} persons can be placed"
            )
            event("infeasible, confirmed by brute force")
        return
    check_plan(result, cases, setting)
    event(f"plan ({result.plan.status})")
    if truth is None:
        return
    feasible, placed, deviation, honoured = truth.feasible, truth.placed, truth.deviation, truth.honoured
    assert feasible
    plan = result.plan
    if plan.status == "optimal":
        assert plan.counts["placed_persons"] == placed, "optimal, but more persons could be placed"
        if setting["objective"] == "deviation":
            got = float(plan.states["deviation"].abs().sum())
            assert got == pytest.approx(deviation, rel=1e-6, abs=1e-6), "optimal, but a smaller deviation exists"
            if setting["links"] == "soft":
                assert plan.counts["links_honoured"] == honoured, "optimal, but more links could be honoured"
            squares = next(stage.objective for stage in plan.stages if stage.name == "squared_relative_deviation")
            assert squares == pytest.approx(truth.squares, rel=1e-6, abs=1e-6), "optimal, but a fairer plan exists"
        event("optimal, confirmed by brute force")


# ---------------------------------------------------------------------------------------------
# The CSV writer: the fast path writes what pandas writes


CELL_TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\n\t=+-@\'\x00é')), max_size=4)
CSV_COLUMNS = {
    "int": st.integers(-(10**12), 10**12),
    "float": st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.sampled_from([0.0, -0.0, 1.5, 1 / 3, 1e20, 123456.78901234]),
    ),
    "bool": st.booleans(),
    "text": st.one_of(CELL_TEXT, st.sampled_from([None, float("nan"), pd.NA])),
    "str": st.one_of(CELL_TEXT, st.none()),
}


@st.composite
def csv_frames(draw):
    kinds = draw(st.lists(st.sampled_from(sorted(CSV_COLUMNS)), min_size=1, max_size=4))
    rows = draw(st.integers(0, 6))
    data = {}
    for j, kind in enumerate(kinds):
        cells = draw(st.lists(CSV_COLUMNS[kind], min_size=rows, max_size=rows))
        name = draw(st.one_of(st.just(f"c{j}"), CELL_TEXT.map(lambda text, j=j: f"{text}{j}")))
        data[name] = pd.Series(cells, dtype={"text": object, "str": "string"}.get(kind))
        if kind not in ("text", "str") and rows:
            data[name] = data[name].astype({"int": "int64", "float": "float64", "bool": "bool"}[kind])
    return pd.DataFrame(data)


@fuzz(300)
@given(frame=csv_frames())
def test_fast_csv_writer_matches_pandas(frame):
    from optimizer.io.output import csv_text, neutralise_frame

    expected = neutralise_frame(frame).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    text = csv_text(frame)
    assert text is not None, frame.dtypes
    assert text == expected


# ---------------------------------------------------------------------------------------------
# The command line, end to end: exit codes, one line, files that keep the rules


def neutral(text: str) -> str:
    from optimizer.report import neutralise

    return str(neutralise(text))


TEXT_COLUMNS = ("code", "name", "case_id", "state", "group", "links", "reason")


@fuzz(25)
@given(instance=instances(max_states=4, max_cases=6), reports=st.sampled_from(["none", "none", "none", "csv-only", "all"]))
def test_cli_gives_plans_or_one_line(instance, reports):
    states, cases_rows, setting, corruption = instance
    expected_error = corrupt(states, cases_rows, setting, corruption)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        scenario = write_inputs(folder, states, cases_rows, setting)
        lines = [f"states = {json.dumps('states.csv')}", f"cases = {json.dumps('cases.csv')}"]
        for key in ("formula", "weight_column", "links", "objective", "require_all", "only", "exclude"):
            value = getattr(scenario, key)
            if value is not None:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        if scenario.need_weights:
            lines.append("[need_weights]\nmedical = 2.0")
        (folder / "scenario.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = folder / "out" / "plan"
        args = ["solve", "scenario.toml", "--out", str(out)]
        if reports != "all":
            args += ["--report", "none" if reports == "none" else "json"]
        done = relocate_process(*args, cwd=folder, timeout=120)
        shown = f"{args}\n{done.stderr}\n{(folder / 'scenario.toml').read_text()}"
        assert "Traceback" not in done.stderr + done.stdout, shown
        assert done.returncode in (0, 2, 3), shown
        event(f"exit {done.returncode}")
        if done.returncode != 0:
            assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("relocate: error: "), shown
            assert (done.returncode == 2) == (expected_error is not None), shown
            assert not (folder / "out").exists(), shown
            return
        assert expected_error is None, shown
        assert sorted(p.name for p in out.parent.iterdir()) == ["plan"], "staging left behind"
        plan_states = pd.read_csv(out / "plan_states.csv", dtype=str, keep_default_na=False)
        plan_cases = pd.read_csv(out / "plan_cases.csv", dtype=str, keep_default_na=False)
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        cases = load_cases(folder / "cases.csv")
        loaded = load_states(folder / "states.csv")
        html = (out / "report.html").read_text(encoding="utf-8") if reports == "all" else ""
    # Spreadsheet safety: no text cell may start a formula.
    for frame in (plan_states, plan_cases):
        for column in TEXT_COLUMNS:
            if column in frame.columns:
                assert not frame[column].str.startswith(("=", "+", "-", "@", "\t", "\r")).any(), column
    assert list(plan_states["code"]) == [neutral(c) for c in metrics["provenance"]["participants"]]
    # The same rules as through the API, read back from the files.
    by_code = {neutral(c): c for c in loaded.index}
    assert list(plan_cases["case_id"]) == [neutral(c) for c in cases["case_id"]]
    state = [by_code[s] if s else "" for s in plan_cases["state"]]
    participants = set(metrics["provenance"]["participants"])
    persons: dict[str, int] = {}
    for row, where in zip(cases.itertuples(), state):
        if where:
            assert where in participants and where not in row.excluded.split(";")
            if setting["links"] == "hard" and row.links:
                assert where in row.links.split(";")
            persons[where] = persons.get(where, 0) + int(row.size)
    for group, members in cases.groupby("group"):
        if group:
            assert len({state[i] for i in np.flatnonzero(cases["group"].to_numpy() == group)}) == 1
    for code, count in persons.items():
        capacity = loaded.at[code, "capacity"]
        assert np.isnan(capacity) or count <= capacity
    assert sum(persons.values()) == metrics["counts"]["placed_persons"]
    assert metrics["counts"]["placed_persons"] + metrics["counts"]["unplaced_persons"] == cases["size"].sum()
    assert metrics["status"] in ("optimal", "feasible")
    if metrics["status"] == "optimal":
        assert all(stage["status"] == "optimal" for stage in metrics["stages"])
    if html:
        assert "<script>alert" not in html
