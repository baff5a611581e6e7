"""A relocation programme over a year: a ledger of committed batches in a real database (SQLite
file or PostgreSQL), batches solved against what the ledger holds, and the Dublin IV corrective
allocation.

    from optimizer.ledger import open_ledger, commit_batch, solve_batch, ledger_status
    ledger = open_ledger("programme.db")                # or "postgresql://user@host/db"
    batch, revision = commit_batch(ledger, ScenarioSettings(...), "week-01")
    ledger_status(ledger).states; ledger.undo("week-01")

Modules: `schema` (tables and numbered migrations), `storage` (the database, transactions, the
write lock), `batches` (solving a batch against the stock; look-ahead), `status` and `export`
(where the programme stands), `corrective` (Dublin IV), `commands` (the CLI).
"""

from .batches import BatchResult, commit_batch, sample_future, solve_batch, with_stock
from .corrective import CorrectiveResult, load_registrations, run_corrective, simulate
from .export import export_ledger
from .status import LedgerStatus, ledger_status
from .storage import BatchRecord, Ledger, LedgerError, StaleLedger, open_ledger

__all__ = [
    "BatchRecord", "BatchResult", "CorrectiveResult", "Ledger", "LedgerError", "LedgerStatus", "StaleLedger",
    "commit_batch", "export_ledger", "ledger_status", "load_registrations", "open_ledger", "run_corrective",
    "sample_future", "simulate", "solve_batch", "with_stock",
]
