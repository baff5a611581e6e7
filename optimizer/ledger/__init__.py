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

from ..lazy import lazy_names

# Where each name lives, loaded on first use (`lazy`): the package holds the `relocate ledger`
# commands, and `relocate solve` should not pay a third of a second for SQLAlchemy it never uses.
_EXPORTS = {
    "batches": ("BatchResult", "commit_batch", "sample_future", "solve_batch", "with_stock"),
    "corrective": ("CorrectiveResult", "load_registrations", "run_corrective", "simulate"),
    "export": ("export_ledger",),
    "status": ("LedgerStatus", "ledger_status"),
    "storage": ("BatchRecord", "Ledger", "LedgerError", "StaleLedger", "open_ledger"),
}


def _module(name: str):
    if name == "batches":
        from . import batches as module
    elif name == "corrective":
        from . import corrective as module
    elif name == "export":
        from . import export as module
    elif name == "status":
        from . import status as module
    else:
        from . import storage as module
    return module


__all__, __getattr__ = lazy_names(globals(), _EXPORTS, _module)
