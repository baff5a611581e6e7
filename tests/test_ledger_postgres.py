"""The same ledger code on a real PostgreSQL server (a throwaway cluster, tests/pg_server.py):
real batches give the same ledger as on SQLite; commit once, undo, the stale-stock check and the
migrations behave alike; and the CLI takes a postgresql:// URL."""

from __future__ import annotations

import pytest
from conftest import INPUTS, relocate
from pg_server import pg_server, pg_url  # noqa: F401 (fixtures)
from sqlalchemy import create_engine, text

from optimizer.ledger import LedgerError, StaleLedger, commit_batch, ledger_status, open_ledger, solve_batch
from optimizer.ledger import schema
from optimizer.settings import ScenarioSettings

STATES = INPUTS / "example_states_2023.csv"


def _week(n: int) -> ScenarioSettings:
    return ScenarioSettings(states=str(STATES), cases=str(INPUTS / "programme" / f"week-{n:02d}.csv"), formula="pact-2024", need_weights={"medical": 2})


def test_real_batches_on_postgresql_match_sqlite(pg_url, tmp_path):
    pg, lite = open_ledger(pg_url), open_ledger(tmp_path / "p.db")
    assert pg.backend == "postgresql"
    for ledger in (pg, lite):
        commit_batch(ledger, _week(1), "week-01", year_total=5765)
        commit_batch(ledger, _week(2), "week-02")
    a, b = ledger_status(pg), ledger_status(lite)
    assert a.states.to_dict() == b.states.to_dict()
    assert a.cumulative.to_dict() == b.cumulative.to_dict()
    assert pg.placements().drop(columns="row_id").to_dict() == lite.placements().drop(columns="row_id").to_dict()
    assert pg.integrity() == []
    stale = solve_batch(pg, _week(3), "week-03")
    removed = pg.undo("week-02")
    assert removed.cases == 500 and removed.persons == int(b.cumulative.query("batch_id == 'week-02'")["persons"].sum() - b.cumulative.query("batch_id == 'week-01'")["persons"].sum())
    with pytest.raises(StaleLedger):
        pg.commit(stale.record, base_revision=stale.base_revision)
    with pytest.raises(LedgerError, match="already in the ledger"):
        pg.commit(solve_batch(pg, _week(1), "week-01").record)


def test_postgresql_migrations_and_the_cli(pg_url, capsys):
    url = pg_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    with engine.begin() as connection:  # a ledger of schema version 1
        schema.schema_version.create(connection)
        schema.MIGRATIONS[1][1](connection)
        connection.execute(schema.schema_version.insert(), {"version": 1, "description": "v1", "applied_at": "2025"})
        connection.execute(schema.meta.insert(), {"key": "revision", "value": "0"})
    code, _, err = relocate("solve", INPUTS / "programme" / "programme.toml", "--cases", INPUTS / "programme" / "week-01.csv", "--ledger", pg_url, "--batch", "week-01", "--commit", capsys=capsys)
    assert code == 0, err
    with engine.connect() as connection:
        assert connection.execute(text("SELECT max(version) FROM ledger_schema_version")).scalar() == 2
    code, out, _ = relocate("ledger", "status", "--ledger", pg_url, capsys=capsys)
    assert code == 0 and "1 batches, 1,429 persons placed" in out
    engine.dispose()
    code, _, err = relocate("ledger", "status", "--ledger", pg_url.rsplit("/", 1)[0] + "/no_such_db", capsys=capsys)
    assert code == 2 and "cannot open the ledger" in err and err.count("\n") == 1
