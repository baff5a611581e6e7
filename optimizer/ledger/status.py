"""Where the programme stands: each state's cumulative persons against its fair shares, capacity
left, the batches, and the cumulative path batch by batch (the tables `status` prints and `export`
writes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .storage import Ledger


@dataclass(frozen=True)
class LedgerStatus:
    states: pd.DataFrame  # one row per state of the latest batch
    batches: pd.DataFrame  # one row per batch, in commit order
    cumulative: pd.DataFrame  # per batch and state: cumulative persons and year-to-date fair share
    year_total: int | None


BATCH_COLUMNS = ["seq", "batch_id", "kind", "committed_at", "title", "formula", "status", "cases", "persons", "burden"]


def ledger_status(ledger: Ledger) -> LedgerStatus:
    """The status tables. Shares and yearly capacities are those of the latest batch; the
    year-to-date fair share is share x all burden placed so far (the stock-versus-flow target the
    next batch is solved against), the yearly one share x the year's total (`--year-total`)."""
    per_batch = ledger.batch_states()
    batches = ledger.batches()
    year_total = ledger.year_total()
    if batches.empty:
        empty = pd.DataFrame(columns=["code", "name", "share", "persons", "burden", "cases", "ytd_fair_share", "deviation", "yearly_fair_share", "capacity", "capacity_left"])
        return LedgerStatus(empty, batches.reindex(columns=BATCH_COLUMNS), pd.DataFrame(columns=["seq", "batch_id", "code", "persons", "burden", "ytd_fair_share"]), year_total)
    latest = per_batch[per_batch["seq"] == per_batch["seq"].max()].set_index("state")
    sums = per_batch.groupby("state")[["persons", "burden", "cases"]].sum()
    codes = list(latest.index) + [c for c in dict.fromkeys(per_batch["state"]) if c not in latest.index]
    frame = pd.DataFrame(index=pd.Index(codes, name="code"))
    frame["name"] = latest["name"].reindex(codes).fillna(pd.Series(codes, index=codes))
    frame["share"] = latest["share"].reindex(codes).fillna(0.0)
    for column in ("persons", "cases"):
        frame[column] = sums[column].reindex(codes).fillna(0).astype(np.int64)
    frame["burden"] = sums["burden"].reindex(codes).fillna(0.0)
    total = float(frame["burden"].sum())
    frame["ytd_fair_share"] = frame["share"] * total
    frame["deviation"] = frame["burden"] - frame["ytd_fair_share"]
    frame["yearly_fair_share"] = frame["share"] * year_total if year_total is not None else np.nan
    frame["capacity"] = latest["capacity"].reindex(codes).astype(float)
    frame["capacity_left"] = (frame["capacity"] - frame["persons"]).clip(lower=0.0)
    return LedgerStatus(frame.reset_index(), batches[BATCH_COLUMNS].copy(), _cumulative(per_batch, batches), year_total)


def _cumulative(per_batch: pd.DataFrame, batches: pd.DataFrame) -> pd.DataFrame:
    """After each batch: each state's cumulative persons and burden, and its year-to-date fair
    share then (that batch's shares x the burden placed up to it)."""
    wide_persons = per_batch.pivot_table(index="seq", columns="state", values="persons", aggfunc="sum", fill_value=0).cumsum()
    wide_burden = per_batch.pivot_table(index="seq", columns="state", values="burden", aggfunc="sum", fill_value=0.0).cumsum()
    shares = per_batch.pivot_table(index="seq", columns="state", values="share", aggfunc="first").reindex(columns=wide_burden.columns).fillna(0.0)
    fair = shares.mul(wide_burden.sum(axis=1), axis=0)
    out = pd.DataFrame(
        {
            "persons": wide_persons.stack(),
            "burden": wide_burden.stack(),
            "ytd_fair_share": fair.stack(),
        }
    ).reset_index()
    out = out.rename(columns={"state": "code"})
    out["persons"] = out["persons"].astype(np.int64)
    out.insert(1, "batch_id", out["seq"].map(dict(zip(batches["seq"], batches["batch_id"]))))
    return out.sort_values(["seq", "code"], kind="stable").reset_index(drop=True)
