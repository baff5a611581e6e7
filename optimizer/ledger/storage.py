"""The ledger's storage: one database (SQLite file or PostgreSQL URL), written only in transactions.

Every change (a migration, a commit, an undo) runs in one transaction that first takes the
ledger's write lock: `BEGIN IMMEDIATE` on SQLite (the database's single writer lock, taken at the
start rather than at the first write, so two committers queue instead of failing half way), and a
transaction-scoped advisory lock on PostgreSQL. Two planners committing at once are therefore
serialised, never interleaved, and a process killed mid-commit commits nothing: the database rolls
back the open transaction (SQLite from its journal on the next open, PostgreSQL when the
connection drops).

Each change bumps the programme's `revision`. A batch is solved against the stock of one revision;
its commit names that revision and is refused (`StaleLedger`) when another commit or undo came in
between, so no batch is ever committed against a stock it was not solved for.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ..errors import InputError, RelocationError, show
from .schema import LATEST, MIGRATIONS, batch_states, batches, current_version, meta, payments, placements
from .schema import schema_version as version_table

# The PostgreSQL advisory lock key of every ledger write ("RELOC" in ASCII): one programme per
# database, so one key.
PG_LOCK_KEY = 0x52454C4F43
# Seconds a committer waits for another's write lock before giving up (SQLite's busy timeout).
LOCK_WAIT_SECONDS = 120


class LedgerError(InputError):
    """A ledger that cannot be opened, or a change it refuses (exit 2)."""


class StaleLedger(RelocationError):
    """The ledger changed since the batch was solved against it: solve again."""


def now_text() -> str:
    """The commit time, UTC; SOURCE_DATE_EPOCH fixes it (reproducible examples and tests)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ledger_url(location: str) -> str:
    """A database URL from what `--ledger` was given: a URL, or a path to an SQLite file."""
    if "://" not in location:
        path = Path(location).expanduser().absolute()
        if path.is_dir():
            raise LedgerError("the ledger is a folder; give a file name such as programme.db", file=location)
        if not path.parent.is_dir():
            raise LedgerError(f"the ledger's folder {show(str(path.parent))} does not exist", file=location)
        return f"sqlite:///{path}"
    try:
        url = make_url(location)
    except ArgumentError:
        raise LedgerError(f"--ledger: {show(location)} is neither a file name nor a database URL") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise LedgerError(f"--ledger: unsupported database '{backend}'; use an SQLite file or a postgresql:// URL")
    if backend == "postgresql" and url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3; SQLAlchemy's default is psycopg2
    return url.render_as_string(hide_password=False)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": LOCK_WAIT_SECONDS})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's begin() decide when a transaction starts (pysqlite would defer it to
        # the first write, too late to queue behind another writer).
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("ledger_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@dataclass
class BatchRecord:
    """One batch as it goes into the ledger."""

    batch_id: str
    kind: str  # "plan" or "corrective"
    title: str
    formula: str
    status: str
    states: pd.DataFrame  # index code; name, share, capacity (NaN: none), persons, burden, cases
    placements: pd.DataFrame  # case_id, state ('' unplaced), persons, burden, needs, origin
    inputs: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    payments: pd.DataFrame | None = None  # date, payer, payee, persons, amount_eur, case_id
    year_total: int | None = None


@dataclass(frozen=True)
class Removed:
    """What an undo removed."""

    batch_id: str
    cases: int
    persons: int
    per_state: dict[str, int]
    payments: int


class Ledger:
    """A programme's ledger. Open with `open_ledger`; every method opens its own connection."""

    def __init__(self, engine: Engine, label: str) -> None:
        self.engine = engine
        self.label = label  # for messages: the path or the URL without its password

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction holding the ledger's write lock; committed when the block ends cleanly."""
        with self.engine.connect() as connection:
            connection.execution_options(ledger_write=True)
            with connection.begin():
                if self.backend == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
                yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            with connection.begin():
                yield connection

    # -- schema -------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema to the latest version; returns the version it was at. Reads first, so
        opening an up-to-date ledger takes no write lock."""
        with self._read() as connection:
            found = current_version(connection)
        if found == LATEST:
            return found
        with self._write() as connection:
            version_table.create(connection, checkfirst=True)
            found = current_version(connection)
            if found > LATEST:
                raise LedgerError(
                    f"the ledger has schema version {found}, newer than this tool knows ({LATEST}); upgrade relocate",
                    file=self.label,
                )
            for version in range(found + 1, LATEST + 1):
                description, step = MIGRATIONS[version]
                step(connection)
                connection.execute(insert(version_table), {"version": version, "description": description, "applied_at": now_text()})
            if found == 0:
                connection.execute(insert(meta), {"key": "revision", "value": "0"})
        return found

    def schema_version(self) -> int:
        with self._read() as connection:
            return current_version(connection)

    # -- reading -------------------------------------------------------------------------------

    def revision(self) -> int:
        with self._read() as connection:
            return _revision(connection)

    def year_total(self) -> int | None:
        with self._read() as connection:
            found = connection.execute(select(meta.c.value).where(meta.c.key == "year_total")).scalar()
        return None if found is None else int(found)

    def batches(self) -> pd.DataFrame:
        """One row per committed batch, in commit order."""
        with self._read() as connection:
            rows = connection.execute(select(batches).order_by(batches.c.seq)).mappings().all()
        frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in batches.columns])
        return frame

    def batch_states(self) -> pd.DataFrame:
        """Per batch and state: share, capacity and what the batch gave (with the batch's seq)."""
        query = select(batch_states, batches.c.seq).join(batches, batches.c.batch_id == batch_states.c.batch_id)
        with self._read() as connection:
            rows = connection.execute(query.order_by(batches.c.seq, batch_states.c.position)).mappings().all()
        columns = [c.name for c in batch_states.columns] + ["seq"]
        return pd.DataFrame([dict(r) for r in rows], columns=columns)

    def placements(self, batch_id: str | None = None) -> pd.DataFrame:
        """Every placement (or one batch's), in insertion order."""
        query = select(placements).order_by(placements.c.row_id)
        if batch_id is not None:
            query = query.where(placements.c.batch_id == batch_id)
        with self._read() as connection:
            rows = connection.execute(query).all()
        return pd.DataFrame(rows, columns=[c.name for c in placements.columns])

    def payments(self) -> pd.DataFrame:
        with self._read() as connection:
            rows = connection.execute(select(payments).order_by(payments.c.payment_id)).all()
        return pd.DataFrame(rows, columns=[c.name for c in payments.columns])

    def stock(self, need_names: list[str] = ()) -> tuple[int, pd.DataFrame]:
        """(revision, per state: persons, burden, cases placed so far and persons per need), read in
        one transaction so the revision is the one of the stock."""
        with self._read() as connection:
            revision = _revision(connection)
            query = (
                select(
                    placements.c.state,
                    func.sum(placements.c.persons).label("persons"),
                    func.sum(placements.c.burden).label("burden"),
                    func.count().label("cases"),
                )
                .where(placements.c.state.is_not(None))
                .group_by(placements.c.state)
            )
            frame = pd.DataFrame(connection.execute(query).all(), columns=["state", "persons", "burden", "cases"])
            for need in need_names:
                # needs are stored canonical ('a;b', sorted, no spaces): match the whole item
                cell = func.concat(";", placements.c.needs, ";") if self.backend == "postgresql" else (";" + placements.c.needs + ";")
                q = (
                    select(placements.c.state, func.sum(placements.c.persons))
                    .where(placements.c.state.is_not(None), cell.like(f"%;{need};%"))
                    .group_by(placements.c.state)
                )
                found = dict(connection.execute(q).all())
                frame[f"persons_{need}"] = frame["state"].map(found).fillna(0)
        frame = frame.set_index("state")
        frame[["persons", "cases"]] = frame[["persons", "cases"]].astype(np.int64)
        frame["burden"] = frame["burden"].astype(float)
        return revision, frame

    # -- writing -------------------------------------------------------------------------------

    def commit(self, record: BatchRecord, *, replace: bool = False, base_revision: int | None = None) -> int:
        """Record a batch in one transaction; returns the new revision.

        Refused when the batch id is already committed (unless `replace`, which removes the old
        batch in the same transaction) and, with `base_revision`, when the ledger changed since.
        """
        with self._write() as connection:
            revision = _revision(connection)
            if base_revision is not None and revision != base_revision:
                raise StaleLedger(f"the ledger changed (revision {base_revision} -> {revision}) since the batch was solved")
            exists = connection.execute(select(batches.c.seq).where(batches.c.batch_id == record.batch_id)).first()
            if exists and not replace:
                raise LedgerError(f"batch {show(record.batch_id)} is already in the ledger; use --replace to replace it, or `relocate ledger undo` first", file=self.label)
            if exists:
                _delete_batch(connection, record.batch_id)
            seq = (connection.execute(select(func.max(batches.c.seq))).scalar() or 0) + 1
            connection.execute(insert(batches), _batch_row(record, seq))
            connection.execute(insert(batch_states), _state_rows(record))
            rows = _placement_rows(record)
            if rows:
                connection.execute(insert(placements), rows)
            if record.payments is not None and len(record.payments):
                connection.execute(insert(payments), _payment_rows(record))
            if record.year_total is not None:
                _set_meta(connection, "year_total", str(int(record.year_total)))
            return _bump(connection)

    def undo(self, batch_id: str) -> Removed:
        """Remove a batch (its placements, states and payments) in one transaction."""
        with self._write() as connection:
            if connection.execute(select(batches.c.seq).where(batches.c.batch_id == batch_id)).first() is None:
                raise LedgerError(f"no batch {show(batch_id)} in the ledger", file=self.label)
            per_state = dict(
                connection.execute(
                    select(placements.c.state, func.sum(placements.c.persons))
                    .where(placements.c.batch_id == batch_id, placements.c.state.is_not(None))
                    .group_by(placements.c.state)
                    .order_by(placements.c.state)
                ).all()
            )
            cases = connection.execute(select(func.count()).where(placements.c.batch_id == batch_id)).scalar()
            paid = connection.execute(select(func.count()).where(payments.c.batch_id == batch_id)).scalar()
            _delete_batch(connection, batch_id)
            _bump(connection)
        per_state = {k: int(v) for k, v in per_state.items()}
        return Removed(batch_id, int(cases), sum(per_state.values()), per_state, int(paid))

    def integrity(self) -> list[str]:
        """Problems found (empty when sound): the database's own check on SQLite, and on every
        backend that each batch's totals equal its placements."""
        problems = []
        with self._read() as connection:
            if self.backend == "sqlite":
                result = [r[0] for r in connection.exec_driver_sql("PRAGMA integrity_check").all()]
                if result != ["ok"]:
                    problems.extend(result)
            sums = connection.execute(
                select(batches.c.batch_id, batches.c.cases, batches.c.persons, func.count(placements.c.row_id), func.coalesce(func.sum(placements.c.persons), 0))
                .select_from(batches.outerjoin(placements, placements.c.batch_id == batches.c.batch_id))
                .group_by(batches.c.batch_id, batches.c.cases, batches.c.persons)
            ).all()
        for batch_id, cases, persons, found_cases, found_persons in sums:
            if (cases, persons) != (found_cases, found_persons):
                problems.append(f"batch {batch_id}: {cases} cases, {persons} persons recorded, {found_cases}, {found_persons} found")
        return problems


def _revision(connection: Connection) -> int:
    found = connection.execute(select(meta.c.value).where(meta.c.key == "revision")).scalar()
    return int(found or 0)


def _set_meta(connection: Connection, key: str, value: str) -> None:
    if connection.execute(select(meta.c.key).where(meta.c.key == key)).first():
        connection.execute(update(meta).where(meta.c.key == key).values(value=value))
    else:
        connection.execute(insert(meta), {"key": key, "value": value})


def _bump(connection: Connection) -> int:
    revision = _revision(connection) + 1
    _set_meta(connection, "revision", str(revision))
    return revision


def _delete_batch(connection: Connection, batch_id: str) -> None:
    # Explicit deletes, child tables first: no reliance on each backend's cascade settings.
    for table in (payments, placements, batch_states):
        connection.execute(delete(table).where(table.c.batch_id == batch_id))
    connection.execute(delete(batches).where(batches.c.batch_id == batch_id))


def _batch_row(record: BatchRecord, seq: int) -> dict:
    placed = record.placements
    return {
        "batch_id": record.batch_id,
        "seq": seq,
        "kind": record.kind,
        "committed_at": now_text(),
        "title": record.title,
        "formula": record.formula,
        "status": record.status,
        "cases": int(len(placed)),
        "persons": int(placed["persons"].sum()) if len(placed) else 0,
        "burden": float(placed["burden"].sum()) if len(placed) else 0.0,
        "inputs": json.dumps(record.inputs, sort_keys=True),
        "settings": json.dumps(record.settings, sort_keys=True, default=str),
    }


def _state_rows(record: BatchRecord) -> list[dict]:
    s = record.states
    capacity = s["capacity"].to_numpy(dtype=float)
    return [
        {
            "batch_id": record.batch_id,
            "state": str(code),
            "position": position,
            "name": str(name),
            "share": float(share),
            "capacity": None if np.isnan(cap) else float(cap),
            "persons": int(persons),
            "burden": float(burden),
            "cases": int(cases),
        }
        for position, (code, name, share, cap, persons, burden, cases) in enumerate(
            zip(s.index, s["name"], s["share"], capacity, s["persons"], s["burden"], s["cases"])
        )
    ]


def _placement_rows(record: BatchRecord) -> list[dict]:
    p = record.placements
    states = [None if s == "" else str(s) for s in p["state"]]
    return [
        {"batch_id": record.batch_id, "case_id": str(c), "state": s, "persons": int(n), "burden": float(b), "needs": str(nd), "origin": str(o)}
        for c, s, n, b, nd, o in zip(p["case_id"], states, p["persons"], p["burden"], p["needs"], p["origin"])
    ]


def _payment_rows(record: BatchRecord) -> list[dict]:
    p = record.payments
    return [
        {"batch_id": record.batch_id, "date": str(d), "payer": str(a), "payee": str(b), "persons": int(n), "amount_eur": float(m), "case_id": str(c)}
        for d, a, b, n, m, c in zip(p["date"], p["payer"], p["payee"], p["persons"], p["amount_eur"], p["case_id"])
    ]


def open_ledger(location: str | Path, *, create: bool = True) -> Ledger:
    """Open (and, with `create`, create or migrate) the ledger at a path or URL."""
    location = str(location)
    url = ledger_url(location)
    if not create and url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise LedgerError("no ledger at this path", file=location)
    label = location if "://" not in location else make_url(url).render_as_string(hide_password=True)
    try:
        engine = _sqlite_engine(url) if url.startswith("sqlite") else create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as err:
        raise LedgerError(f"cannot open the ledger {label}: the database driver is missing ({err}); install relocation-optimizer[postgres]") from None
    ledger = Ledger(engine, label)
    deadline = time.monotonic() + 5
    while True:
        try:
            ledger.migrate()
            return ledger
        except DBAPIError as err:
            reason = " ".join(str(err.orig).split())
            if "database is locked" in reason and time.monotonic() < deadline:
                continue
            raise LedgerError(f"cannot open the ledger {label}: {reason}") from None
