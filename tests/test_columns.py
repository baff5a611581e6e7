"""Column names: every column the tool reads is honoured however its name is capitalised or padded,
a misspelt one is refused, and the columns it does not read are named and carried through.

The fuzz tests change one header name of a small states file and case list (its case, spaces
around or inside it, one typing slip) and require the run to be refused with one clear line, or to
give exactly the plan the unchanged files give: a `Willing` column that is quietly ignored would
hand people to a state that said no, an ignored `Group` would split a family.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from optimizer.errors import InputError
from optimizer.pipeline import run
from optimizer.settings import ScenarioSettings
from conftest import INPUTS, SCENARIOS, relocate_process

# Two small instances in which renaming a column (to a name the tool does not know) changes the
# plan, for every column the tool reads but `hosted` (read only with --count-hosted): found by a
# random search, so that a column read wrongly cannot go unnoticed (see the first test).
INSTANCES = (
    (
        "code,name,population,capacity,minimum,willing,capacity_medical,hosted\n"
        "AT,Austria,83000000,8,2,yes,0,5\n"
        "BE,Belgium,10000000,5,,yes,,\n"
        "CZ,Czechia,10000000,8,2,yes,2,5\n"
        "DE,Germany,83000000,3,1,yes,1,\n",
        "case_id,size,needs,links,excluded,group,weight\n"
        "c1,1,medical,,CZ,G2,\n"
        "c2,3,,,AT,G1,0.5\n"
        "c3,1,,AT,CZ,,\n"
        "c4,3,,,,,0.5\n"
        "c5,1,medical,,,,\n"
        "c6,2,medical,AT,CZ,G2,\n"
        "c7,1,,CZ,DE,,0.5\n"
        "c8,3,medical,AT,,,2.5\n",
    ),
    (
        "code,name,population,capacity,minimum,willing,capacity_medical,hosted\n"
        "AT,Austria,11000000,6,2,yes,1,\n"
        "BE,Belgium,83000000,,,yes,0,\n"
        "CZ,Czechia,11000000,6,1,yes,1,2\n"
        "DE,Germany,10000000,3,,no,2,\n",
        "case_id,size,needs,links,excluded,group,weight\n"
        "c1,1,,AT,,G1,0.5\n"
        "c2,3,,BE;CZ,AT,,2.5\n"
        "c3,2,,BE;CZ,DE,,2.5\n"
        "c4,3,,DE,AT,G2,\n"
        "c5,1,,,,G1,2.5\n"
        "c6,2,,AT,,,2.5\n"
        "c7,3,medical,BE;CZ,,G2,\n",
    ),
)
STATE_HEADERS = INSTANCES[0][0].splitlines()[0].split(",")
CASE_HEADERS = INSTANCES[0][1].splitlines()[0].split(",")
FUZZ = settings(max_examples=80, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def renamed(draw, name: str) -> str:
    """`name` as a person might write it: other capitals, spaces around or inside, or one slip of
    the keyboard (a letter left out, added, replaced, or two swapped)."""
    kind = draw(st.sampled_from(["case", "spaces", "inner", "typo"]))
    if kind == "case":
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        return "".join(c.upper() if f else c for c, f in zip(name, flips)) if any(flips) else name.upper()
    if kind == "spaces":
        return draw(st.sampled_from([" ", "  ", "\t"])) + name + draw(st.sampled_from(["", " "]))
    at = draw(st.integers(1, len(name) - 1))
    if kind == "inner":
        return name.replace("_", draw(st.sampled_from([" ", "-"]))) if "_" in name else name[:at] + " " + name[at:]
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
    slip = draw(st.sampled_from(["drop", "add", "replace", "swap"]))
    if slip == "drop":
        return name[:at] + name[at + 1 :]
    if slip == "add":
        return name[:at] + letter + name[at:]
    if slip == "replace":
        return name[:at] + (letter if letter != name[at] else "q") + name[at + 1 :]
    swapped = name[: at - 1] + name[at] + name[at - 1] + name[at + 1 :]
    return swapped if swapped != name else name[:at] + "x" + name[at:]


@st.composite
def mutations(draw) -> tuple[int, str, str, str]:
    """(which instance, which file, column, its new name)."""
    which = draw(st.sampled_from(["states", "cases"]))
    column = draw(st.sampled_from(STATE_HEADERS if which == "states" else CASE_HEADERS))
    return draw(st.sampled_from(range(len(INSTANCES)))), which, column, draw(renamed(column))


def write(folder: Path, instance: int, which: str = "", column: str = "", new: str = "") -> ScenarioSettings:
    states, cases = INSTANCES[instance]
    if which == "states":
        states = _rename(states, column, new)
    elif which == "cases":
        cases = _rename(cases, column, new)
    (folder / "states.csv").write_text(states, encoding="utf-8")
    (folder / "cases.csv").write_text(cases, encoding="utf-8")
    return ScenarioSettings(states=str(folder / "states.csv"), cases=str(folder / "cases.csv"), formula="population", links="soft")


def _rename(text: str, column: str, new: str) -> str:
    header, rest = text.split("\n", 1)
    names = header.split(",")
    names[names.index(column)] = new
    return ",".join(names) + "\n" + rest


def plan_of(result) -> tuple:
    """What a plan says: where each case goes, and each state's name and persons."""
    states = result.plan.states
    return tuple(zip(result.plan.cases["case_id"], result.plan.cases["state"])), tuple(states["name"]), tuple(states["allocated"])


def outcome(instance: int, which: str = "", column: str = "", new: str = "") -> tuple | str:
    with tempfile.TemporaryDirectory() as folder:
        try:
            return plan_of(run(write(Path(folder), instance, which, column, new)))
        except InputError as err:
            return f"refused: {err}"


@pytest.fixture(scope="module")
def baselines() -> list[tuple]:
    return [outcome(i) for i in range(len(INSTANCES))]


def test_every_column_the_tool_reads_changes_a_plan(baselines):
    """The fuzzed files only test something if reading a column wrongly (here: not at all, as a
    column the tool does not know) changes the plan of some instance."""
    live = {}
    for i in range(len(INSTANCES)):
        for which, headers in (("states", STATE_HEADERS), ("cases", CASE_HEADERS)):
            for column in headers:
                if outcome(i, which, column, "zzz unrelated") != baselines[i]:
                    live.setdefault(column, []).append(i)
    assert sorted(live) == sorted(set(STATE_HEADERS + CASE_HEADERS) - {"hosted"})
    assert all(isinstance(b, tuple) for b in baselines)


@FUZZ
@given(mutation=mutations())
def test_a_renamed_column_is_honoured_or_refused(baselines, mutation):
    instance, which, column, new = mutation
    got = outcome(instance, which, column, new)
    if isinstance(got, str):
        assert "\n" not in got and ("row 1" in got or "need_weights" in got), got
        return
    assert got == baselines[instance], f"{which} column {column!r} written {new!r} changed the plan"


@settings(max_examples=8, derandomize=True, deadline=None, database=None)
@given(mutation=mutations())
def test_a_renamed_column_through_the_command_line(baselines, mutation):
    instance, which, column, new = mutation
    folder = Path(tempfile.mkdtemp())
    try:
        write(folder, instance, which, column, new)
        done = relocate_process("solve", "--states", "states.csv", "--cases", "cases.csv", "-f", "population", "--out", "plan", "--report", "none", cwd=folder)
        if done.returncode != 0:
            assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
            assert not (folder / "plan").exists()
            return
        plan = pd.read_csv(folder / "plan" / "plan_cases.csv", dtype=str, keep_default_na=False)
        assert tuple(zip(plan["case_id"], plan["state"])) == baselines[instance][0], (which, column, new)
    finally:
        shutil.rmtree(folder)


def test_unknown_columns_of_real_data_are_carried_through_as_written(tmp_path):
    """eu_plus_2023.csv has a `group` and an `asylum_applicants_2023` column that no key reads:
    one warning names them, and plan_states.csv carries them cell for cell."""
    out = tmp_path / "plan"
    done = relocate_process("solve", "--states", INPUTS / "eu_plus_2023.csv", "--total", "30000", "-f", "pact-2024", "--out", out, "--report", "none")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[1:] == [
        f"relocate: warning: {INPUTS / 'eu_plus_2023.csv'}: column(s) not used: 'group', 'asylum_applicants_2023' (kept as written in plan_states.csv)"
    ]
    written = pd.read_csv(out / "plan_states.csv", dtype=str, keep_default_na=False).set_index("code")
    given = pd.read_csv(INPUTS / "eu_plus_2023.csv", dtype=str, keep_default_na=False).set_index("code")
    assert written["group"].to_dict() == given["group"].to_dict()
    assert written["asylum_applicants_2023"].to_dict() == given["asylum_applicants_2023"].to_dict()


def test_check_says_what_will_be_used_and_ignored(tmp_path):
    """`relocate check` on the shipped family scenario: every file read and cross-checked, nothing
    solved, and per file what the run uses, what it has no use for and what it carries along."""
    states = SCENARIOS.parent / "example_states_2023.csv"
    cases = SCENARIOS.parent / "example_cases_2023.csv"
    done = relocate_process("check", states, cases, SCENARIOS / "pact-2024-families.toml")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == [
        f"states: {states}: 31 states; separator ',', decimal mark '.'",
        "  used: code, name, population, gdp_meur, capacity, capacity_medical",
        "  ignored (not needed by this run): area_km2, unemployment_pct, asylum_per_million",
        "  not used, kept as written in plan_states.csv: group, asylum_applicants_2023",
        f"cases: {cases}: 2,000 cases; separator ',', decimal mark '.'",
        "  used: case_id, size, needs, links, excluded, group",
        "  needs: medical (each limited by a 'capacity_<need>' column where the states file has one)",
        "31 of 31 states take part; formula pact-2024; 2,000 cases, 5,765 persons to place",
        "ok: every input is valid (nothing was solved)",
    ]
    # The same checks as a run: a misspelt column is refused, without solving anything.
    bad = tmp_path / "cases.csv"
    bad.write_text(cases.read_text(encoding="utf-8").replace(",excluded,", ",exclude,", 1), encoding="utf-8")
    done = relocate_process("check", states, bad, "-f", "pact-2024")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"relocate: error: {bad}, row 1, column 'exclude': not a column this tool reads; did you mean 'excluded'? (rename the column; names are matched ignoring case and surrounding spaces)\n"


def _padded(text: str, pad: str) -> str:
    """Every cell of a CSV text with `pad` after it (and, for the non-first cells, before it)."""
    lines = text.rstrip("\n").split("\n")
    return "\n".join(",".join(f"{pad}{cell}{pad}" if i else f"{cell}{pad}" for i, cell in enumerate(line.split(","))) for line in lines) + "\n"


# (not tabs: a comma file whose header has more tabs than commas reads as tab-separated)
@pytest.mark.parametrize("pad", [" ", "  ", "\u00a0", " \u2003"])
def test_padded_cells_give_the_plan_of_the_unpadded_files(baselines, pad):
    """Cells are trimmed before they are read (a code 'AT ' is AT, a size ' 3' is 3), whatever
    white space pads them: spaces, and the no-break spaces spreadsheets leave."""
    for instance, (states, cases) in enumerate(INSTANCES):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder)
            (path / "states.csv").write_text(_padded(states, pad), encoding="utf-8")
            (path / "cases.csv").write_text(_padded(cases, pad), encoding="utf-8")
            settings_ = ScenarioSettings(states=str(path / "states.csv"), cases=str(path / "cases.csv"), formula="population", links="soft")
            assert plan_of(run(settings_)) == baselines[instance]
