"""The ledger under real processes, on SQLite and on a real PostgreSQL server: a process killed
(SIGKILL) inside its commit leaves the ledger as it was, and two processes committing at once are
serialised (both end in the ledger, one after the other, or the same batch id is refused once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import INPUTS, ROOT, relocate_process
from pg_server import pg_server, pg_url  # noqa: F401 (fixtures)

from optimizer.ledger import open_ledger

CHILD = Path(__file__).resolve().parent / "ledger_child.py"


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "programme.db")
    return request.getfixturevalue("pg_url")


# The commit's first statement after taking the write lock: its read of the revision.
FIRST_READ = "SELECT LEDGER_META.VALUE"


def _child(location: str, batch: str, cases: int, pause: Path | None = None, at: str | None = None, ready: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, str(CHILD), location, batch, str(cases)]
    if pause is not None:
        args += [str(pause), str(pause.with_suffix(".go"))] + ([at] if at else [])
    env = dict(os.environ, LEDGER_CHILD_READY=str(ready)) if ready else None
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the child never reached its pause"
        time.sleep(0.02)


def test_a_process_killed_mid_commit_commits_nothing(location, tmp_path):
    done = _child(location, "before", 300)
    assert done.wait(60) == 0
    ledger = open_ledger(location)
    revision = ledger.revision()
    child = _child(location, "killed", 2000, tmp_path / "pause")
    _wait_for(tmp_path / "pause", child)  # its 2,000 placements are inserted, not committed
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert ledger.integrity() == []
    assert ledger.batches()["batch_id"].tolist() == ["before"]
    assert len(ledger.placements()) == 300 and ledger.revision() == revision
    # the write lock died with the process: the next commit goes through
    after = _child(location, "after", 10)
    assert after.wait(60) == 0, after.communicate()
    assert ledger.batches()["batch_id"].tolist() == ["before", "after"]


def test_concurrent_commits_are_serialised_never_interleaved(location, tmp_path):
    open_ledger(location)  # create the schema first: both children then only commit
    # first stops right after its transaction began and read the revision: it holds the write
    # lock before writing anything, so second must wait at its BEGIN, not read the same revision
    first = _child(location, "first", 500, tmp_path / "pause", at=FIRST_READ)
    _wait_for(tmp_path / "pause", first)
    second = _child(location, "second", 500, ready=tmp_path / "ready")
    _wait_for(tmp_path / "ready", second)  # its start-up is over: it is committing now
    time.sleep(1.5)  # ample for a commit of 500 rows
    assert second.poll() is None  # waiting for the lock, not writing beside the first
    (tmp_path / "pause.go").write_text("go")
    assert first.wait(60) == 0 and second.wait(60) == 0, (first.communicate(), second.communicate())
    ledger = open_ledger(location)
    batches = ledger.batches()
    assert batches["batch_id"].tolist() == ["first", "second"] and batches["seq"].tolist() == [1, 2]
    placed = ledger.placements()
    rows = placed.groupby("batch_id")["row_id"].agg(["min", "max", "count"])
    assert rows.loc["first", "count"] == rows.loc["second", "count"] == 500
    assert rows.loc["first", "max"] < rows.loc["second", "min"]  # one block after the other
    assert ledger.integrity() == [] and ledger.revision() == 2


def test_the_same_batch_committed_twice_at_once_lands_once(location, tmp_path):
    open_ledger(location)
    first = _child(location, "week", 200, tmp_path / "pause", at=FIRST_READ)
    _wait_for(tmp_path / "pause", first)
    second = _child(location, "week", 200, ready=tmp_path / "ready")
    _wait_for(tmp_path / "ready", second)
    time.sleep(1.5)
    assert second.poll() is None
    (tmp_path / "pause.go").write_text("go")
    assert first.wait(60) == 0
    assert second.wait(60) == 2
    assert "already in the ledger" in second.communicate()[0]
    ledger = open_ledger(location)
    assert ledger.batches()["batch_id"].tolist() == ["week"] and len(ledger.placements()) == 200


def test_two_planners_commit_real_batches_at_once(tmp_path):
    """Two `relocate solve --commit` processes on the shipped weeks 1 and 2 at the same moment:
    both land, and the one committed second was solved (again, if need be) against the first's
    stock, so the cumulative plan is the same as committing them one after the other."""
    db = tmp_path / "p.db"
    scenario = INPUTS / "programme" / "programme.toml"

    def solve(week: str, ledger: Path):
        return relocate_process("solve", scenario, "--cases", INPUTS / "programme" / f"{week}.csv", "--ledger", ledger, "--batch", week, "--commit", wait=False)

    runs = [solve("week-01", db), solve("week-02", db)]
    for process in runs:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    ledger = open_ledger(db)
    order = ledger.batches()["batch_id"].tolist()
    assert sorted(order) == ["week-01", "week-02"] and ledger.integrity() == []
    serial = tmp_path / "serial.db"
    for week in order:
        assert solve(week, serial).wait(300) == 0
    got = ledger.placements().sort_values("case_id")["state"].tolist()
    expected = open_ledger(serial).placements().sort_values("case_id")["state"].tolist()
    assert got == expected
