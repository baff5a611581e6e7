"""Safe outputs: all or nothing, never over a folder without --force, the same bytes for the same
inputs, user text that cannot run in a spreadsheet or a browser, inputs that are data only."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import BAD, INPUTS, ROOT, SCENARIOS, relocate_process

SCENARIO = SCENARIOS / "pact-2024-families.toml"


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


def small_solve(out: Path, *extra) -> list[str]:
    return ["solve", "--states", BAD / "good_states.csv", "--cases", BAD / "good_cases.csv", "-f", "population", "--out", out, "--report", "none", *extra]


# ---------------------------------------------------------------------------------------------
# Never over an existing folder without --force


def test_non_empty_output_folder_needs_force(tmp_path):
    out = tmp_path / "plan"
    out.mkdir()
    (out / "keep.txt").write_text("the minister's notes\n")
    (out / "plan_states.csv").write_text("old plan\n")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}

    done = relocate_process(*small_solve(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"relocate: error: {out}: output folder is not empty; use --force to replace it"]
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before
    assert siblings(out) == ["plan"]

    done = relocate_process(*small_solve(out, "--force"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "plan_cases.csv", "plan_states.csv"]
    assert siblings(out) == ["plan"], "no staging or old folder left beside it"
    # An empty folder needs no --force; a file in the way is refused.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert relocate_process(*small_solve(empty)).returncode == 0
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    done = relocate_process(*small_solve(blocker))
    assert done.returncode == 2 and "output path exists and is not a folder" in done.stderr
    assert blocker.read_text() == "x"


def test_force_never_replaces_the_inputs_or_the_working_folder(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("good_states.csv", "good_cases.csv"):
        (inputs / name).write_bytes((BAD / name).read_bytes())
    args = ["solve", "--states", inputs / "good_states.csv", "--cases", inputs / "good_cases.csv", "-f", "population", "--report", "none", "--force"]
    done = relocate_process(*args, "--out", inputs)
    assert done.returncode == 2 and "the output folder holds an input file" in done.stderr, done.stderr
    assert sorted(p.name for p in inputs.iterdir()) == ["good_cases.csv", "good_states.csv"]
    for out in (".", tmp_path):
        done = relocate_process(*args, "--out", out, cwd=tmp_path)
        assert done.returncode == 2 and "would replace the current folder" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]


# ---------------------------------------------------------------------------------------------
# Same inputs, same bytes


def test_same_inputs_give_identical_files(tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    runs = [
        relocate_process("solve", SCENARIO, "--out", out, "--report", "none", env={"PYTHONHASHSEED": seed}, wait=False)
        for out, seed in zip(outs, ("1", "2"))
    ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    for name in ("plan_states.csv", "plan_cases.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    first, second = (json.loads((out / "metrics.json").read_text(encoding="utf-8")) for out in outs)
    assert set(first["run"]) >= {"created"}
    first.pop("run"), second.pop("run")
    assert first == second
    # ... and the bytes differ only inside the run entry: nothing else is time- or order-dependent.
    strip = lambda out: (out / "metrics.json").read_text(encoding="utf-8").split('"run":')[0]  # noqa: E731
    assert strip(outs[0]) == strip(outs[1])
    assert first["status"] == "optimal"


# ---------------------------------------------------------------------------------------------
# All or nothing, even when killed


@pytest.fixture(scope="module")
def big_instance(tmp_path_factory) -> tuple[Path, Path]:
    """200,000 generated cases over the 2023 states (about 580,000 persons): seconds to solve."""
    from benchmarks.generate import generate_cases, with_capacities

    folder = tmp_path_factory.mktemp("big")
    states = pd.read_csv(INPUTS / "eu_plus_2023.csv", dtype={"code": str}, keep_default_na=False).set_index("code")
    cases = generate_cases(states, 200_000, seed=11)
    cases.to_csv(folder / "cases.csv", index=False, lineterminator="\n")
    with_capacities(states, int(cases["size"].sum()), seed=11).reset_index().to_csv(folder / "states.csv", index=False, lineterminator="\n")
    return folder / "states.csv", folder / "cases.csv"


def big_solve(states: Path, cases: Path, out: Path, *extra):
    return ["solve", "--states", states, "--cases", cases, "-f", "pact-2024", "--out", out, *extra]


def start_fed(instance, folder: Path, out: Path, *extra) -> tuple[subprocess.Popen, float]:
    """Start a solve whose cases come through a named pipe: when the pipe is written and closed,
    the run has read its input (no guessing from the clock). Returns the run and that moment.
    Anything that reads the cases again (the input checksums, written with the plan) then waits
    forever on the pipe: a run fed this way stops inside the writing phase until it is killed."""
    states, cases = instance
    fifo = folder / "cases.csv"
    os.mkfifo(fifo)
    run = relocate_process(*big_solve(states, fifo, out, *extra), wait=False)
    deadline = time.monotonic() + 60
    while True:  # open for writing once the run opens it for reading (never block on a dead run)
        try:
            pipe = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            if run.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the run never read its cases: {run.communicate()[1]}") from None
            time.sleep(0.002)
    os.set_blocking(pipe, True)
    with os.fdopen(pipe, "wb") as handle:
        handle.write(cases.read_bytes())
    return run, time.monotonic()


def staging_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".plan.partial-")]


def test_killed_while_writing_leaves_no_output_and_the_next_run_clears_the_staging(tmp_path, big_instance):
    feed, out_dir = tmp_path / "feed", tmp_path / "out"
    feed.mkdir(), out_dir.mkdir()
    out = out_dir / "plan"
    run, _ = start_fed(big_instance, feed, out, "--report", "none")
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline and not (staging_in(out_dir) and list(staging_in(out_dir)[0].glob("plan_cases.csv"))):
        time.sleep(0.01)
    partial = staging_in(out_dir)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert partial and (partial[0] / "plan_states.csv").exists(), "the run never got to writing"
    assert not out.exists(), "a killed run must not leave an output folder"
    assert [p.name for p in out_dir.iterdir()] == [partial[0].name]  # hidden, never the output
    # The next run for the same output removes what the killed one left.
    done = relocate_process(*small_solve(out))
    assert done.returncode == 0, done.stderr
    assert siblings(out) == ["plan"]


def test_killed_mid_solve_leaves_nothing(tmp_path, big_instance):
    # How long does this machine take from reading the cases to writing the plan?
    feed, out_dir = tmp_path / "reference", tmp_path / "reference-out"
    feed.mkdir(), out_dir.mkdir()
    run, read = start_fed(big_instance, feed, out_dir / "plan", "--report", "none")
    while run.poll() is None and not staging_in(out_dir):
        time.sleep(0.002)
    window = time.monotonic() - read
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert window > 0.2, f"the solve takes only {window:.2f} s: use a bigger instance"
    # Kill halfway through that; a busy machine may be slower or faster, so up to three tries.
    for attempt in range(3):
        feed, out_dir = tmp_path / f"feed-{attempt}", tmp_path / f"out-{attempt}"
        feed.mkdir(), out_dir.mkdir()
        out = out_dir / "plan"
        run, read = start_fed(big_instance, feed, out, "--report", "none")
        time.sleep(window / 2)
        solving = run.poll() is None and not list(out_dir.iterdir())
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
        assert not out.exists()
        if solving:
            break
    assert solving, "could not catch the run between reading its input and writing its plan"
    assert os.listdir(out_dir) == [] and not out.exists()


def test_a_staging_folder_in_use_is_left_alone(tmp_path):
    import fcntl

    out = tmp_path / "plan"
    live = tmp_path / ".plan.partial-live"
    stale = tmp_path / ".plan.partial-stale"
    other = tmp_path / ".other.partial-x"
    for folder in (live, stale, other):
        folder.mkdir()
        (folder / "plan_states.csv").write_text("half")
    handle = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a run that is writing holds it
        done = relocate_process(*small_solve(out))
        assert done.returncode == 0, done.stderr
        assert siblings(out) == [".other.partial-x", ".plan.partial-live", "plan"]
    finally:
        os.close(handle)
    done = relocate_process(*small_solve(out, "--force"))
    assert done.returncode == 0, done.stderr
    assert siblings(out) == [".other.partial-x", "plan"]


def test_an_output_that_cannot_be_written_is_refused_before_solving(tmp_path):
    parent = tmp_path / "file"
    parent.write_text("x")
    done = relocate_process(*small_solve(parent / "sub" / "plan"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"relocate: error: {parent / 'sub' / 'plan'}: cannot create the output folder: {parent} is a file"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# ---------------------------------------------------------------------------------------------
# User text cannot run


EVIL_STATES = (
    "code,name,population,capacity\n"
    'AT,"=HYPERLINK(""http://evil.example"",""click"")",9000000,50\n'
    "BE,<script>alert('x')</script>,11000000,50\n"
    "=CZ,+cmd|' /C calc'!A0,10000000,50\n"
    "@DE,-2+3,83000000,80\n"
)
EVIL_CASES = "case_id,size,links,group\n=1+1,2,=CZ,\n@SUM(A1),1,,\n-3,3,,G<b>\nc4,1,,G<b>\n"


def test_user_text_is_neutralised_in_csv_and_escaped_in_html(tmp_path):
    from openpyxl import load_workbook

    (tmp_path / "states.csv").write_text(EVIL_STATES, encoding="utf-8")
    (tmp_path / "cases.csv").write_text(EVIL_CASES, encoding="utf-8")
    out = tmp_path / "plan"
    done = relocate_process("solve", "--states", "states.csv", "--cases", "cases.csv", "-f", "population", "--out", out, "--report", "html,md,xlsx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    states = pd.read_csv(out / "plan_states.csv", dtype=str, keep_default_na=False)
    assert list(states["code"]) == ["AT", "BE", "'=CZ", "'@DE"]
    assert list(states["name"]) == [
        "'=HYPERLINK(\"http://evil.example\",\"click\")",
        "<script>alert('x')</script>",
        "'+cmd|' /C calc'!A0",
        "'-2+3",
    ]
    cases = pd.read_csv(out / "plan_cases.csv", dtype=str, keep_default_na=False)
    assert list(cases["case_id"]) == ["'=1+1", "'@SUM(A1)", "'-3", "c4"]
    assert cases.loc[0, "links"] == "'=CZ"
    for frame in (states, cases):
        for column in frame.columns:
            text = frame[column]
            numeric = pd.to_numeric(text, errors="coerce").notna() | (text == "")
            assert not text[~numeric].str.startswith(("=", "+", "-", "@")).any(), column

    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
    assert "G<b>" not in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in markdown
    workbook = load_workbook(out / "report.xlsx")
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"


# ---------------------------------------------------------------------------------------------
# Inputs are data only


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "input", "breakpoint"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "joblib", "yaml", "subprocess", "runpy", "code"}
FORBIDDEN_ATTRIBUTES = {"read_pickle", "to_pickle", "eval", "query", "system", "popen", "import_module", "load_module", "exec_module"}


def test_inputs_are_data_only():
    """No code path can evaluate or unpickle what a file holds: the package has no eval, exec,
    pickle, YAML, subprocess, DataFrame.query/eval (which evaluate expressions) or np.load."""
    sources = sorted((ROOT / "optimizer").rglob("*.py"))
    assert len(sources) >= 10
    found = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                found.append(f"{where} calls {node.func.id}()")
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
                found.append(f"{where} uses .{node.attr}")
            if isinstance(node, ast.Attribute) and node.attr == "load" and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy", "pickle", "yaml", "torch"):
                found.append(f"{where} uses {node.value.id}.load")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    if name.split(".")[0] in FORBIDDEN_MODULES:
                        found.append(f"{where} imports {name}")
    assert found == []
    # TOML is read with tomllib (data only), CSV cells as text.
    scenario = (ROOT / "optimizer" / "io" / "scenario.py").read_text(encoding="utf-8")
    table = (ROOT / "optimizer" / "io" / "text.py").read_text(encoding="utf-8")
    assert "tomllib.loads" in scenario and "dtype=str" in table
