"""A child process for the ledger's process tests: commit one batch of single-person cases, and
optionally stop inside the transaction, after the placements are inserted and before the commit.

    python tests/ledger_child.py LEDGER BATCH CASES [PAUSE_MARKER GO_FILE [AT]]

With a marker it writes PAUSE_MARKER when the transaction runs the statement starting with AT
(default: the insert of the placements, so they are in but uncommitted; `SELECT LEDGER_META.VALUE`
is the commit's first read, of the revision) and waits until GO_FILE exists (a test kills it
there, or lets it go on). With LEDGER_CHILD_READY=PATH it writes PATH just before the commit
starts. Prints 'committed' or the error, exit 0/2.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.errors import RelocationError  # noqa: E402
from optimizer.ledger import BatchRecord, open_ledger  # noqa: E402


def record(batch_id: str, n: int) -> BatchRecord:
    codes = ["A", "B", "C"]
    placed = pd.DataFrame({"case_id": [f"{batch_id}-{i}" for i in range(n)], "state": [codes[i % 3] for i in range(n)], "persons": 1, "burden": 1.0, "needs": "", "origin": ""})
    counts = placed.groupby("state").size().reindex(codes).fillna(0).astype(int)
    states = pd.DataFrame({"name": codes, "share": [0.5, 0.3, 0.2], "capacity": float("nan"), "persons": counts, "burden": counts.astype(float), "cases": counts}, index=codes)
    return BatchRecord(batch_id, "plan", "child", "population", "optimal", states, placed)


def main() -> int:
    location, batch_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ledger = open_ledger(location)
    if len(sys.argv) > 4:
        marker, go = Path(sys.argv[4]), Path(sys.argv[5])
        at = sys.argv[6] if len(sys.argv) > 6 else "INSERT INTO LEDGER_PLACEMENTS"

        @event.listens_for(ledger.engine, "after_cursor_execute")
        def pause(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith(at) and not marker.exists():
                marker.write_text("inside the transaction\n")
                while not go.exists():
                    time.sleep(0.02)

    ready = os.environ.get("LEDGER_CHILD_READY")
    if ready:  # tells the test that start-up is over and the commit begins now
        Path(ready).write_text("committing\n")
    try:
        ledger.commit(record(batch_id, n))
    except RelocationError as err:
        print(f"refused: {err}", flush=True)
        return 2
    print("committed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
