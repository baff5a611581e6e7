"""The programme ledger on SQLite: batches against the stock, commits once, undo, migrations,
status and export. (PostgreSQL: test_ledger_postgres.py; killed and concurrent commits:
test_ledger_processes.py; Dublin IV: test_ledger_corrective.py.)"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from conftest import INPUTS, relocate
from sqlalchemy import create_engine

from optimizer.ledger import BatchRecord, LedgerError, StaleLedger, commit_batch, ledger_status, open_ledger, sample_future, solve_batch
from optimizer.ledger import schema
from optimizer.pipeline import run
from optimizer.settings import ScenarioSettings

PROGRAMME = INPUTS / "programme"
STATES = INPUTS / "example_states_2023.csv"


def _week(n: int) -> ScenarioSettings:
    return ScenarioSettings(states=str(STATES), cases=str(PROGRAMME / f"week-{n:02d}.csv"), formula="pact-2024", need_weights={"medical": 2})


def _tiny(tmp_path, populations, capacities=None, cases=(1, 1, 1, 1)):
    """Two or three states with these populations (formula: population), and a batch of cases of
    these sizes; returns (settings, states path)."""
    codes = "ABC"[: len(populations)]
    lines = ["code,name,population,capacity"]
    for i, code in enumerate(codes):
        cap = "" if capacities is None or capacities[i] is None else str(capacities[i])
        lines.append(f"{code},State {code},{populations[i]},{cap}")
    (tmp_path / "states.csv").write_text("\n".join(lines) + "\n")
    rows = ["case_id,size"] + [f"x{i},{size}" for i, size in enumerate(cases)]
    (tmp_path / "cases.csv").write_text("\n".join(rows) + "\n")
    return ScenarioSettings(states=str(tmp_path / "states.csv"), cases=str(tmp_path / "cases.csv"), formula="population", links="off")


def _record(batch_id: str, placed: dict[str, int], shares: dict[str, float], capacity: dict[str, float] | None = None) -> BatchRecord:
    """A batch of single-person cases, `placed[state]` of them per state."""
    codes = list(shares)
    rows = [(f"{batch_id}-{code}-{i}", code) for code in codes for i in range(placed.get(code, 0))]
    placements = pd.DataFrame({"case_id": [r[0] for r in rows], "state": [r[1] for r in rows], "persons": 1, "burden": 1.0, "needs": "", "origin": ""})
    states = pd.DataFrame(
        {
            "name": [f"State {c}" for c in codes],
            "share": [shares[c] for c in codes],
            "capacity": [np.nan if capacity is None else capacity.get(c, np.nan) for c in codes],
            "persons": [placed.get(c, 0) for c in codes],
            "burden": [float(placed.get(c, 0)) for c in codes],
            "cases": [placed.get(c, 0) for c in codes],
        },
        index=codes,
    )
    return BatchRecord(batch_id, "plan", "test", "population", "optimal", states, placements)


def _persons(batch) -> dict[str, int]:
    return {k: int(v) for k, v in batch.run.plan.states["allocated"].items()}


def test_batch_on_an_empty_ledger_is_the_plain_plan(tmp_path):
    """Real data: week 1 of the shipped programme, solved as a batch on an empty ledger and as a
    plain plan, places every case in the same state."""
    ledger = open_ledger(tmp_path / "p.db")
    batch = solve_batch(ledger, _week(1), "week-01")
    plain = run(_week(1)).plan
    assert batch.run.plan.status == "optimal"
    assert batch.run.plan.cases["state"].tolist() == plain.cases["state"].tolist()
    assert ledger.batches().empty  # a dry run writes nothing


def test_the_year_targets_count_the_stock(tmp_path):
    """Stock A 4, B 0; a batch of 4 singles with equal shares: the year's targets are
    0.5 x 8 - stock = A 0, B 4 (without the stock it would be 2 and 2)."""
    settings = _tiny(tmp_path, [1, 1])
    ledger = open_ledger(tmp_path / "p.db")
    ledger.commit(_record("w1", {"A": 4}, {"A": 0.5, "B": 0.5}))
    batch = solve_batch(ledger, settings, "w2")
    assert _persons(batch) == {"A": 0, "B": 4}
    assert batch.run.plan.states["target"].tolist() == [0.0, 4.0]


def test_yearly_capacity_is_reduced_by_what_was_placed(tmp_path):
    """Shares 0.9/0.1, A's yearly capacity 5 with 4 placed: the batch of 3 singles has targets
    0.9 x 7 - 4 = 2.3 and 0.7, but A has room for 1 only: A 1, B 2."""
    settings = _tiny(tmp_path, [9, 1], capacities=[5, None], cases=(1, 1, 1))
    ledger = open_ledger(tmp_path / "p.db")
    ledger.commit(_record("w1", {"A": 4}, {"A": 0.9, "B": 0.1}, capacity={"A": 5}))
    batch = solve_batch(ledger, settings, "w2")
    assert _persons(batch) == {"A": 1, "B": 2}
    status = ledger_status(ledger)
    assert status.states.set_index("code").loc["A", "capacity_left"] == 1.0


def test_a_batch_is_committed_once_replace_and_undo(tmp_path, capsys):
    db = tmp_path / "p.db"
    args = ["solve", INPUTS / "programme" / "programme.toml", "--cases", PROGRAMME / "week-01.csv", "--ledger", db, "--batch", "week-01"]
    code, _, err = relocate(*args, capsys=capsys)
    assert code == 0 and "dry run" in err and not db.exists()
    code, _, err = relocate(*args, "--commit", "--year-total", "5765", capsys=capsys)
    assert code == 0 and "committed (ledger revision 1)" in err
    code, _, err = relocate(*args, "--commit", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "already in the ledger" in err
    code, _, err = relocate(*args, "--commit", "--replace", capsys=capsys)
    assert code == 0 and "revision 2" in err
    ledger = open_ledger(db)
    assert ledger.batches()["batch_id"].tolist() == ["week-01"] and ledger.integrity() == []
    code, _, err = relocate("ledger", "undo", "week-01", "--ledger", db, capsys=capsys)
    # week 1 of the shipped example: 500 cases, 1,429 persons
    assert code == 0 and err.startswith("removed batch week-01: 500 cases, 1,429 persons (AT 34, BE 43,")
    assert ledger.batches().empty and ledger.placements().empty and ledger.revision() == 3
    code, _, err = relocate("ledger", "undo", "week-01", "--ledger", db, capsys=capsys)
    assert code == 2 and "no batch 'week-01'" in err


def test_status_after_two_real_batches(tmp_path, capsys):
    """Two shipped batches: the cumulative persons are the two plans' sums, the year-to-date fair
    share is share x all burden placed, and the status command prints them."""
    db = tmp_path / "p.db"
    ledger = open_ledger(db)
    first, _ = commit_batch(ledger, _week(1), "week-01", year_total=5765)
    second, revision = commit_batch(ledger, _week(2), "week-02")
    assert revision == 2
    status = ledger_status(ledger).states.set_index("code")
    both = first.run.plan.states["allocated"] + second.run.plan.states["allocated"]
    assert status["persons"].to_dict() == both.to_dict()
    burden = first.run.plan.states["burden"] + second.run.plan.states["burden"]
    assert status["ytd_fair_share"].to_numpy() == pytest.approx(first.run.plan.states["share"].to_numpy() * burden.sum())
    assert status.loc["DE", "yearly_fair_share"] == pytest.approx(status.loc["DE", "share"] * 5765)
    # the second batch brings each state towards its share of everything placed
    assert (status["deviation"].abs() < 3).all()
    code, out, _ = relocate("ledger", "status", "--ledger", db, capsys=capsys)
    assert code == 0 and "2 batches" in out and "week-02" in out


def test_stale_commit_is_refused_and_commit_batch_solves_again(tmp_path, monkeypatch):
    settings = _tiny(tmp_path, [1, 1])
    ledger = open_ledger(tmp_path / "p.db")
    batch = solve_batch(ledger, settings, "late")
    ledger.commit(_record("early", {"A": 4}, {"A": 0.5, "B": 0.5}))
    with pytest.raises(StaleLedger):
        ledger.commit(batch.record, base_revision=batch.base_revision)
    # commit_batch: another planner commits between the solve and the commit once
    import optimizer.ledger.batches as batches

    real, calls = batches.solve_batch, []

    def racing(*args, **kwargs):
        calls.append(1)
        solved = real(*args, **kwargs)
        if len(calls) == 1:
            ledger.commit(_record("sneaked", {"B": 4}, {"A": 0.5, "B": 0.5}))
        return solved

    monkeypatch.setattr(batches, "solve_batch", racing)
    done, _ = batches.commit_batch(ledger, settings, "late")
    assert len(calls) == 2
    # solved against stock A 4, B 4: 2 and 2
    assert _persons(done) == {"A": 2, "B": 2}


def test_migrations_upgrade_and_refuse_newer(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:  # a ledger made by the first version of the schema
        schema.schema_version.create(connection)
        schema.MIGRATIONS[1][1](connection)
        connection.execute(schema.schema_version.insert(), {"version": 1, "description": "v1", "applied_at": "2025"})
        connection.execute(schema.meta.insert(), {"key": "revision", "value": "0"})
    engine.dispose()
    ledger = open_ledger(path)
    assert ledger.schema_version() == schema.LATEST == 2
    assert ledger.payments().empty  # the v2 table exists now
    assert open_ledger(path).migrate() == 2  # nothing left to do
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO ledger_schema_version VALUES (99, 'future', '2030')")
    with pytest.raises(LedgerError, match="schema version 99, newer"):
        open_ledger(path)


def test_bad_ledgers_are_one_line_errors(tmp_path, capsys):
    not_db = tmp_path / "notes.db"
    not_db.write_text("not a database\n" * 100)
    code, _, err = relocate("ledger", "status", "--ledger", not_db, capsys=capsys)
    assert code == 2 and err.startswith("relocate: error: cannot open the ledger") and err.count("\n") == 1
    code, _, err = relocate("ledger", "status", "--ledger", tmp_path / "missing.db", capsys=capsys)
    assert code == 2 and "no ledger at this path" in err and not (tmp_path / "missing.db").exists()
    code, _, err = relocate("ledger", "status", "--ledger", "mysql://x@y/z", capsys=capsys)
    assert code == 2 and "unsupported database 'mysql'" in err
    code, _, err = relocate("solve", "--states", STATES, "--cases", PROGRAMME / "week-01.csv", "-f", "pact-2024", "--out", tmp_path / "o", "--commit", capsys=capsys)
    assert code == 2 and "need --ledger and --batch" in err and not (tmp_path / "o").exists()


def test_export_files_escape_and_are_deterministic(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    settings = _tiny(tmp_path, [1, 1])
    (tmp_path / "states.csv").write_text('code,name,population\nA,<script>alert(1)</script>,1\nB,=cmd(),1\n')
    ledger = open_ledger(tmp_path / "p.db")
    commit_batch(ledger, settings, "w1")
    commit_batch(ledger, settings, "w2")
    outs = []
    for name in ("e1", "e2"):
        code, _, err = relocate("ledger", "export", "--ledger", tmp_path / "p.db", "--out", tmp_path / name, capsys=capsys)
        assert code == 0, err
        outs.append(tmp_path / name)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == ["ledger.html", "ledger.xlsx", "ledger_batches.csv", "ledger_cumulative.csv", "ledger_payments.csv", "ledger_placements.csv", "ledger_states.csv"]
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    page = (outs[0] / "ledger.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("<svg") == 2  # one cumulative chart per state
    states = pd.read_csv(outs[0] / "ledger_states.csv")
    assert states["name"].tolist()[1] == "'=cmd()"
    cumulative = pd.read_csv(outs[0] / "ledger_cumulative.csv")
    assert cumulative["persons"].tolist() == [2, 2, 4, 4]  # A, B after batch 1, then after batch 2
    code, _, err = relocate("ledger", "export", "--ledger", tmp_path / "p.db", "--out", outs[0], capsys=capsys)
    assert code == 2 and "not empty" in err


def test_lookahead_samples_the_future_and_keeps_its_room(tmp_path):
    """Week 2 with a look-ahead of 2 batches: 2 x the average batch (500 cases) are sampled; the
    room the joint plan gave them is kept, so the batch places differently than without."""
    ledger = open_ledger(tmp_path / "p.db")
    commit_batch(ledger, _week(1), "week-01")
    batch = solve_batch(ledger, _week(2), "week-02", lookahead=2)
    assert batch.lookahead_cases == 1000
    assert batch.run.plan.status == "optimal"
    myopic = solve_batch(ledger, _week(2), "week-02")
    assert batch.run.plan.counts.placed_persons == myopic.run.plan.counts.placed_persons
    assert _persons(batch) != _persons(myopic)  # the room kept for the future moved some families


def test_sample_future_draws_from_the_pool():
    pool = pd.DataFrame({"persons": [1, 4], "burden": [1.0, 8.0], "needs": ["", "medical"]})
    sample = sample_future(pool, per_batch=2.5, weeks=2, seed=1)
    assert len(sample) == 5 and set(sample["case_id"]) == {f"~future-{i}" for i in range(1, 6)}
    assert set(zip(sample["size"], sample["weight"], sample["needs"])) <= {(1, 1.0, ""), (4, 8.0, "medical")}
    assert sample_future(pool, 0.0, 3, 1).empty
