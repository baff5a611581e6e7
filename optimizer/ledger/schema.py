"""The ledger's tables and the numbered migrations that create and change them.

Why our own migration table and not Alembic: the schema is five small tables owned by this package
alone, opened by a command-line tool on SQLite or PostgreSQL, never by a team running `alembic
upgrade` by hand. Alembic would add a dependency plus a script folder (env.py, versions/) to ship
as package data and to keep in step with these definitions; what we need from it is one thing:
apply each numbered step once, in order, recorded in the same transaction as the step itself.
Both SQLite and PostgreSQL have transactional DDL, so a migration killed half way leaves the
previous version intact, and the write lock the ledger takes for every change (see `storage`)
makes two processes opening a new ledger at once apply each step exactly once.

A ledger written by a newer version of this tool (a higher schema version than `MIGRATIONS`
knows) is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

metadata = MetaData()

# One row per applied migration: the schema version is the largest.
schema_version = Table(
    "ledger_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", String(40), nullable=False),
)

# Key-value facts about the programme: its revision (bumped by every commit and undo, so a
# planner knows whether the stock it solved against is still the stock) and the yearly total.
meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

batches = Table(
    "ledger_batches",
    metadata,
    Column("batch_id", String(200), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),  # commit order, 1, 2, ...
    Column("kind", String(20), nullable=False),  # "plan" (a solved batch) or "corrective"
    Column("committed_at", String(40), nullable=False),
    Column("title", Text, nullable=False),
    Column("formula", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("cases", Integer, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("burden", Float, nullable=False),
    Column("inputs", Text, nullable=False),  # JSON: role -> {path, sha256}
    Column("settings", Text, nullable=False),  # JSON: the settings the batch was solved with
)

# Per batch and state: the key share and yearly capacity in force when the batch was committed
# (the status reads the latest batch's), and what the batch gave the state.
batch_states = Table(
    "ledger_batch_states",
    metadata,
    Column("batch_id", String(200), ForeignKey("ledger_batches.batch_id", ondelete="CASCADE"), nullable=False),
    Column("state", String(64), nullable=False),
    Column("position", Integer, nullable=False),  # the states file's order, kept for the tables
    Column("name", Text, nullable=False),
    Column("share", Float, nullable=False),
    Column("capacity", Float, nullable=True),  # persons for the year; NULL: no limit
    Column("persons", Integer, nullable=False),
    Column("burden", Float, nullable=False),
    Column("cases", Integer, nullable=False),
    UniqueConstraint("batch_id", "state"),
)

placements = Table(
    "ledger_placements",
    metadata,
    # The insertion order, kept so a test (and an auditor) can see that no two commits interleaved.
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), ForeignKey("ledger_batches.batch_id", ondelete="CASCADE"), nullable=False),
    Column("case_id", Text, nullable=False),
    Column("state", String(64), nullable=True),  # NULL: left unplaced in this batch
    Column("persons", Integer, nullable=False),
    Column("burden", Float, nullable=False),
    Column("needs", Text, nullable=False),  # 'medical;...' as in the cases file
    Column("origin", Text, nullable=False),  # where the case comes from ('' when not known)
    UniqueConstraint("batch_id", "case_id"),
)
Index("ledger_placements_state", placements.c.state)

payments = Table(
    "ledger_payments",
    metadata,
    Column("payment_id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), ForeignKey("ledger_batches.batch_id", ondelete="CASCADE"), nullable=False),
    Column("date", String(10), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("persons", Integer, nullable=False),
    Column("amount_eur", Float, nullable=False),
    Column("case_id", Text, nullable=False),
)


def _v1(connection: Connection) -> None:
    for table in (meta, batches, batch_states, placements):
        table.create(connection)


def _v2(connection: Connection) -> None:
    payments.create(connection)


# version -> (what it does, the step). Append only: a released step is never edited.
MIGRATIONS: dict[int, tuple[str, Callable[[Connection], None]]] = {
    1: ("batches, their states and placements; programme facts", _v1),
    2: ("Dublin IV corrective payments", _v2),
}
LATEST = max(MIGRATIONS)


def current_version(connection: Connection) -> int:
    """The schema version of the ledger (0 for an empty database)."""
    if not connection.dialect.has_table(connection, schema_version.name):
        return 0
    found = connection.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).first()
    return int(found[0]) if found else 0
