"""Safe outputs: all or nothing, never over a folder without --force, the same bytes for the same
inputs, user text that cannot run in a spreadsheet or a browser, inputs that are data only."""

from __future__ import annotations

import ast
import json
import os
import shutil
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


def atime_moves(folder: Path) -> bool:
    """Whether reading a freshly written file moves its access time here (relatime and strictatime
    do; a noatime mount does not)."""
    probe = folder / "probe"
    probe.write_text("x")
    before = probe.stat().st_atime_ns
    time.sleep(0.01)
    probe.read_text()
    moved = probe.stat().st_atime_ns > before
    probe.unlink()
    return moved


def start_solve(instance, folder: Path, out: Path, *extra, signal_safe: bool = False) -> tuple[subprocess.Popen, float, Path]:
    """Start a solve of the big instance on a fresh copy of its cases; wait until the run has read
    them (the copy's access time moves on the first read: no guessing from the clock). Returns the
    run, that moment and the copy."""
    states, cases = instance
    if not atime_moves(folder):
        pytest.skip("this file system does not record reads (noatime): cannot tell when a run has read its input")
    fresh = folder / "cases.csv"
    shutil.copyfile(cases, fresh)
    written = fresh.stat().st_atime_ns
    run = relocate_process(*big_solve(states, fresh, out, *extra), wait=False)
    deadline = time.monotonic() + 120
    while fresh.stat().st_atime_ns == written:
        if run.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the run never read its cases: {run.communicate()[1]}")
        time.sleep(0.002)
    return run, time.monotonic(), fresh


def staging_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".plan.partial-")]


def wait_for_writing(run: subprocess.Popen, out_dir: Path) -> list[Path]:
    """Wait until the run has written plan_cases.csv into its staging folder (the reports, which
    take seconds for 200,000 cases, are still to come); returns the staging folder."""
    deadline = time.monotonic() + 180
    while run.poll() is None and time.monotonic() < deadline:
        partial = staging_in(out_dir)
        if partial and (partial[0] / "plan_cases.csv").exists():
            return partial
        time.sleep(0.005)
    return []


def test_killed_while_writing_leaves_no_output_and_the_next_run_clears_the_staging(tmp_path, big_instance):
    feed, out_dir = tmp_path / "feed", tmp_path / "out"
    feed.mkdir(), out_dir.mkdir()
    out = out_dir / "plan"
    run, _, _ = start_solve(big_instance, feed, out)
    partial = wait_for_writing(run, out_dir)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert partial and (partial[0] / "plan_states.csv").exists(), "the run never got to writing"
    assert not out.exists(), "a killed run must not leave an output folder"
    # hidden, never the output: the staging folder and the folder's lock file
    assert sorted(p.name for p in out_dir.iterdir()) == [".plan.lock", partial[0].name]
    # The next run for the same output removes what the killed one left.
    done = relocate_process(*small_solve(out))
    assert done.returncode == 0, done.stderr
    assert siblings(out) == ["plan"]


def test_killed_mid_solve_leaves_nothing_but_its_lock(tmp_path, big_instance):
    # How long does this machine take from reading the cases to writing the plan?
    feed, out_dir = tmp_path / "reference", tmp_path / "reference-out"
    feed.mkdir(), out_dir.mkdir()
    run, read, _ = start_solve(big_instance, feed, out_dir / "plan", "--report", "none")
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
        run, read, _ = start_solve(big_instance, feed, out, "--report", "none")
        time.sleep(window / 2)
        solving = run.poll() is None and not staging_in(out_dir)
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
        assert not out.exists()
        if solving:
            break
    assert solving, "could not catch the run between reading its input and writing its plan"
    # The lock taken before the solve stays (a SIGKILL runs no clean-up); the next run takes it over.
    assert os.listdir(out_dir) == [".plan.lock"] and not out.exists()
    assert relocate_process(*small_solve(out)).returncode == 0
    assert siblings(out) == ["plan"]


# ---------------------------------------------------------------------------------------------
# Ctrl-C: one line, exit 130, nothing written, whenever it comes

INTERRUPTED = "relocate: interrupted; no output written\n"


def assert_interrupted(run: subprocess.Popen, out_dir: Path) -> None:
    out, err = run.communicate(timeout=120)
    assert (run.returncode, err) == (130, INTERRUPTED), err
    assert "Traceback" not in out + err
    assert os.listdir(out_dir) == [], "no output, staging folder or lock left behind"


def test_ctrl_c_while_starting_solving_or_writing(tmp_path, big_instance):
    states, cases = big_instance
    # While the command is still importing pandas and the solvers (a second or more).
    out_dir = tmp_path / "starting"
    out_dir.mkdir()
    run = relocate_process(*big_solve(states, cases, out_dir / "plan"), wait=False)
    time.sleep(0.3)
    run.send_signal(signal.SIGINT)
    assert_interrupted(run, out_dir)
    # While solving: after the run has read its cases, before it writes anything.
    feed, out_dir = tmp_path / "feed-solving", tmp_path / "solving"
    feed.mkdir(), out_dir.mkdir()
    run, _, _ = start_solve(big_instance, feed, out_dir / "plan")
    time.sleep(0.2)
    assert not staging_in(out_dir), "the solve ended before the interrupt: use a bigger instance"
    run.send_signal(signal.SIGINT)
    assert_interrupted(run, out_dir)
    # While writing: the staging folder holds the plan, the reports are on their way.
    feed, out_dir = tmp_path / "feed-writing", tmp_path / "writing"
    feed.mkdir(), out_dir.mkdir()
    run, _, _ = start_solve(big_instance, feed, out_dir / "plan")
    assert wait_for_writing(run, out_dir), "the run never got to writing"
    run.send_signal(signal.SIGINT)
    assert_interrupted(run, out_dir)


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
    # A place nothing can be written to (procfs): refused before solving, not after.
    done = relocate_process(*small_solve(Path("/proc/relocate-plan")))
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["relocate: error: /proc/relocate-plan: cannot write the output folder (No such file or directory in /proc)"]


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not hold for root")
def test_a_read_only_output_folder_is_refused_before_solving(tmp_path):
    out = tmp_path / "plan"
    (out / "inner").mkdir(parents=True)
    (out / "inner" / "old.csv").write_text("old")
    (out / "inner").chmod(0o555)
    try:
        done = relocate_process(*small_solve(out, "--force"))
    finally:
        (out / "inner").chmod(0o755)
    assert done.returncode == 2 and "cannot replace the output folder: no permission to delete what is in" in done.stderr
    assert siblings(out) == ["plan"] and (out / "inner" / "old.csv").read_text() == "old"


def test_force_never_deletes_a_formula_file_or_a_variant_input(tmp_path):
    """--force replaces the output folder; a formula file, or a file a [[variants]] table names,
    inside it would go with it. Every file a run reads counts as an input."""
    mine = tmp_path / "myf"
    mine.mkdir()
    (mine / "mine.toml").write_text('name = "mine"\n[[criteria]]\ncolumn = "population"\nweight = 1\n', encoding="utf-8")
    args = ["solve", "--states", BAD / "good_states.csv", "--total", "10", "--formula", "myf/mine.toml", "--out", "myf", "--force", "--report", "none"]
    done = relocate_process(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["relocate: error: myf: the output folder holds an input file (myf/mine.toml); choose another --out"]
    assert (mine / "mine.toml").exists()
    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(BAD / "good_states.csv", out / "variant_states.csv")
    (tmp_path / "compare.toml").write_text(
        f'states = "{BAD / "good_states.csv"}"\ntotal = 30\nformula = "population"\n'
        '[[variants]]\nname = "elsewhere"\nstates = "out/variant_states.csv"\n',
        encoding="utf-8",
    )
    done = relocate_process("compare", "compare.toml", "--out", "out", "--force", "--report", "none", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["relocate: error: out: the output folder holds an input file (out/variant_states.csv); choose another --out"]
    assert sorted(p.name for p in out.iterdir()) == ["variant_states.csv"]


def test_a_second_run_for_the_same_folder_is_refused(tmp_path):
    import fcntl

    out = tmp_path / "plan"
    lock = tmp_path / ".plan.lock"
    handle = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a run that is solving for this folder holds it
        done = relocate_process(*small_solve(out))
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"relocate: error: {out}: another relocate run is writing this output folder (it holds {lock}); wait for it to end or choose another --out"
        ]
        assert siblings(out) == [".plan.lock"]
    finally:
        os.close(handle)
    # Two runs started together: one writes its plan, the other is refused; neither says
    # "written" over the other's plan.
    runs = [relocate_process(*small_solve(out), wait=False) for _ in range(2)]
    outcomes = sorted((run.wait(timeout=300), run.communicate()[1]) for run in runs)
    assert [code for code, _ in outcomes] == [0, 2], outcomes
    assert "written to" in outcomes[0][1]
    assert "another relocate run is writing this output folder" in outcomes[1][1] or "output folder is not empty" in outcomes[1][1]
    assert siblings(out) == ["plan"]


def test_a_symlinked_output_folder_is_followed_never_replaced(tmp_path):
    target = tmp_path / "shared" / "plans"
    target.mkdir(parents=True)
    (target / "old.csv").write_text("old plan")
    link = tmp_path / "plan"
    link.symlink_to(target)
    done = relocate_process(*small_solve(link, "--force"))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert sorted(p.name for p in target.iterdir()) == ["metrics.json", "plan_cases.csv", "plan_states.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan", "shared"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["plans"]
    # A link to nowhere: refused before solving, the link left as it is, nothing created.
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "plan")
    done = relocate_process(*small_solve(dangling))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"relocate: error: {dangling}: a symbolic link to {tmp_path / 'nowhere' / 'plan'}, which does not exist; create that folder or choose another --out"
    ]
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()


def test_source_date_epoch_fixes_the_date_of_every_command(tmp_path):
    """One function says when a run happened; SOURCE_DATE_EPOCH fixes it in every file of solve
    and compare, and a value that is not a number of seconds is refused by every command."""
    from openpyxl import load_workbook

    epoch = {"SOURCE_DATE_EPOCH": "86400"}
    solve = relocate_process(*small_solve(tmp_path / "solve"), "--report", "md,xlsx", env=epoch)
    compare = relocate_process(
        "compare", "--states", BAD / "good_states.csv", "--total", "30", "-f", "population", "-f", "pact-2024", "--out", tmp_path / "compare", "--report", "md,xlsx", "--sensitivity", "none", env=epoch
    )
    assert solve.returncode == 0 and compare.returncode == 0, solve.stderr + compare.stderr
    for folder in (tmp_path / "solve", tmp_path / "compare"):
        assert json.loads((folder / "metrics.json").read_text())["run"]["created"] == "1970-01-02T00:00:00+00:00"
        assert "- Created: 1970-01-02T00:00:00+00:00" in (folder / "report.md").read_text(encoding="utf-8")
        assert load_workbook(folder / "report.xlsx").properties.created.isoformat() == "1970-01-02T00:00:00"
    for command in (["formulas"], ["key", BAD / "good_states.csv", "-f", "population"], small_solve(tmp_path / "never")):
        done = relocate_process(*command, env={"SOURCE_DATE_EPOCH": "yesterday"})
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == ["relocate: error: SOURCE_DATE_EPOCH 'yesterday' is not a number of seconds since 1970"]
    assert not (tmp_path / "never").exists()


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
# The one child process the package starts, with a fixed command line and JSON both ways.
# the chart worker's fixed command (started by workerstart); the answer of the solver's own fork, through a pipe it made
ALLOWED_IMPORTS = {("workerstart.py", "subprocess"), ("bounded.py", "pickle")}
FORBIDDEN_ATTRIBUTES = {"read_pickle", "to_pickle", "eval", "query", "system", "popen", "import_module", "load_module", "exec_module"}


def test_inputs_are_data_only():
    """No code path can evaluate or unpickle what a file holds: the package has no eval, exec,
    pickle (but a forked solver's answer, through its own pipe), YAML, subprocess (but the chart
    worker's fixed command), DataFrame.query/eval (which
    evaluate expressions) or np.load."""
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
                    if name.split(".")[0] in FORBIDDEN_MODULES and (path.name, name) not in ALLOWED_IMPORTS:
                        found.append(f"{where} imports {name}")
    assert found == []
    # TOML is read with tomllib (data only), CSV cells as text.
    toml = (ROOT / "optimizer" / "io" / "tomlfile.py").read_text(encoding="utf-8")
    table = (ROOT / "optimizer" / "io" / "text.py").read_text(encoding="utf-8")
    assert "tomllib.loads" in toml and "dtype=str" in table
