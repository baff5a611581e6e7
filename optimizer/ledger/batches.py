"""Batches: place this week's cases given everything the ledger already holds.

The year's fair targets are computed on everything placed plus this batch, with what the ledger
holds as the stock: the ledger's burden per state becomes the `hosted` column and the plan is
solved with `count_hosted`, so each state's target for the batch is its share of (stock + batch)
minus its stock, never below zero (`targets.fair_targets`, the stock-versus-flow water level).
Yearly capacities (persons, and persons per need) and minimums are reduced by what was placed.
The batch is then solved by the same placement model as a plain `solve`, proven optimal the same
way; with an empty ledger it is exactly the plain plan.

Look-ahead (optional): early batches can paint the year into a corner (a small state filled with
large families early). With `lookahead=W`, the cases of W future batches are sampled from the
cases seen so far (the ledger's and this batch's; sizes, needs and burden, drawn with replacement
at the average batch size, seeded by the batch id), the batch and the sample are solved together
against the year's targets, and in the states that joint plan fills to capacity the room it gave
the sample is kept free: the batch is then solved alone, against its own year-to-date targets, with
those capacities reduced by it (the joint plan shows the batch still fits). The batch's plan is
proven optimal within the reduced capacities.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, show
from ..io.cases import case_needs, case_weights, load_cases
from ..io.output import sha256
from ..pipeline import RunResult, key_for, resolve_path, run
from ..settings import ScenarioSettings
from .storage import BatchRecord, Ledger, LedgerError, StaleLedger

# Commit attempts when another planner commits (or undoes) in between: each one solves again
# against the new stock.
COMMIT_ATTEMPTS = 3
SAMPLE_PREFIX = "~future-"


@dataclass(frozen=True)
class BatchResult:
    """A solved batch: its plan, what goes into the ledger, and the stock it was solved against."""

    batch_id: str
    run: RunResult
    record: BatchRecord
    base_revision: int
    stock: pd.DataFrame  # per participant: persons, burden placed before this batch
    lookahead_cases: int = 0  # sampled future cases the batch was solved with (0: none)


def with_stock(states: pd.DataFrame, stock: pd.DataFrame, count_hosted: bool) -> pd.DataFrame:
    """The states table as the batch sees it: the stock as `hosted` (plus the file's own hosted
    persons when `count_hosted`), capacities and minimums reduced by what was placed."""
    unknown = sorted(set(stock.index) - set(states.index))
    if unknown:
        raise LedgerError(
            f"the ledger holds placements in state(s) {', '.join(show(c) for c in unknown)} that the states file lacks",
            file=states.attrs.get("source"),
        )
    out = states.copy()
    out.attrs = dict(states.attrs)
    placed = stock.reindex(states.index).fillna(0.0)
    own = states["hosted"].fillna(0.0) if count_hosted and "hosted" in states.columns else 0.0
    out["hosted"] = own + placed["burden"]
    persons = placed["persons"].astype(float)
    if "capacity" in out.columns:
        out["capacity"] = (out["capacity"] - persons).clip(lower=0.0)
    if "minimum" in out.columns:
        out["minimum"] = (out["minimum"] - persons).clip(lower=0.0)
    for column in [c for c in out.columns if c.startswith("capacity_")]:
        used = placed[f"persons_{column.removeprefix('capacity_')}"] if f"persons_{column.removeprefix('capacity_')}" in placed else 0.0
        out[column] = (out[column] - used).clip(lower=0.0)
    return out


def _need_names(states: pd.DataFrame) -> list[str]:
    return [c.removeprefix("capacity_") for c in states.columns if c.startswith("capacity_")]


def _origin(cases: pd.DataFrame) -> np.ndarray:
    if "origin" in cases.columns:
        return cases["origin"].fillna("").astype(str).to_numpy(dtype=object)
    return np.full(len(cases), "", dtype=object)


def sample_future(pool: pd.DataFrame, per_batch: float, weeks: int, seed: int) -> pd.DataFrame:
    """Cases of `weeks` future batches drawn with replacement from `pool` (persons, burden, needs)."""
    n = int(round(per_batch * weeks))
    if n <= 0 or pool.empty:
        return pd.DataFrame(columns=["case_id", "size", "needs", "links", "excluded", "group", "weight"])
    rng = np.random.default_rng(seed)
    drawn = pool.iloc[rng.integers(0, len(pool), size=n)]
    width = len(str(n))
    return pd.DataFrame(
        {
            "case_id": [f"{SAMPLE_PREFIX}{i + 1:0{width}d}" for i in range(n)],
            "size": drawn["persons"].to_numpy(dtype=np.int64),
            "needs": drawn["needs"].to_numpy(dtype=object),
            "links": "",
            "excluded": "",
            "group": "",
            "weight": drawn["burden"].to_numpy(dtype=float),
        }
    )


def _lookahead_states(ledger: Ledger, adjusted: pd.DataFrame, settings: ScenarioSettings, base_dir: Path | None, cases: pd.DataFrame, weeks: int, batch_id: str) -> tuple[pd.DataFrame, int]:
    """The states with the capacity of each state the joint plan (batch + sampled future) fills
    reduced by the room it gave the sample; and how many cases were sampled."""
    past = ledger.placements()
    burden = case_weights(cases, settings.need_weights)
    mine = pd.DataFrame({"persons": cases["size"].to_numpy(), "burden": burden, "needs": cases["needs"].to_numpy()})
    pool = pd.concat([past[["persons", "burden", "needs"]], mine], ignore_index=True)
    per_batch = len(pool) / (ledger.batches().shape[0] + 1)
    future = sample_future(pool, per_batch, weeks, zlib.crc32(batch_id.encode("utf-8")))
    if future.empty:
        return adjusted, 0
    given = cases.drop(columns=[c for c in cases.columns if c not in future.columns]).copy()
    given["weight"] = burden  # the batch's burden as resolved: the sample carries resolved burden too
    joint = pd.concat([given, future], ignore_index=True)
    solved = run(settings, base_dir, name="lookahead", cases=joint, states=adjusted).plan.cases
    placed = solved[solved["state"] != ""]
    sample = placed.iloc[:0] if placed.empty else placed[placed.index >= len(cases)]
    reserved = sample.groupby("state")["size"].sum().reindex(adjusted.index).fillna(0.0)
    used = placed.groupby("state")["size"].sum().reindex(adjusted.index).fillna(0.0)
    out = adjusted.copy()
    out.attrs = dict(adjusted.attrs)
    if "capacity" in out.columns:
        # Room is kept only where the year will be short of it: in the states the joint plan fills
        # to capacity. Elsewhere the batch keeps its own year-to-date targets undisturbed.
        full = used >= out["capacity"]
        out["capacity"] = np.where(full, (out["capacity"] - reserved).clip(lower=0.0), out["capacity"])
    return out, len(future)


def solve_batch(
    ledger: Ledger,
    settings: ScenarioSettings,
    batch_id: str,
    base_dir: Path | None = None,
    *,
    lookahead: int = 0,
    year_total: int | None = None,
    name: str = "batch",
) -> BatchResult:
    """Solve a batch against the ledger's current stock (nothing is written)."""
    if not batch_id or not batch_id.strip() or len(batch_id) > 200:
        raise InputError("--batch: give a batch id of 1 to 200 characters")
    cases_path = resolve_path(settings.cases, base_dir)
    if cases_path is None:
        raise InputError("a batch needs a case list (--cases or `cases` in the scenario); quota totals are not recorded in a ledger")
    if lookahead < 0:
        raise InputError("--lookahead: give a number of future batches, 0 or more")
    states, chosen, key = key_for(settings, base_dir)
    revision, stock = ledger.stock(_need_names(states))
    adjusted = with_stock(states, stock, bool(settings.count_hosted))
    cases = load_cases(cases_path)
    # Need weights are the programme's: a week without a case of some need is no error.
    weights = {k: v for k, v in (settings.need_weights or {}).items() if k in case_needs(cases)} or None
    batch_settings = settings.model_copy(update={"count_hosted": True, "capacity": None, "cases": str(cases_path.resolve()), "need_weights": weights})
    sampled = 0
    if lookahead:
        adjusted, sampled = _lookahead_states(ledger, adjusted, batch_settings, base_dir, cases, lookahead, batch_id)
    result = run(batch_settings, base_dir, name=name, cases=cases, states=adjusted)
    record = _record(batch_id, result, cases, states, settings, year_total, lookahead)
    before = stock.reindex(chosen.index).fillna(0.0)[["persons", "burden"]]
    return BatchResult(batch_id, result, record, revision, before, sampled)


def _record(batch_id: str, result: RunResult, cases: pd.DataFrame, states: pd.DataFrame, settings: ScenarioSettings, year_total: int | None, lookahead: int) -> BatchRecord:
    plan = result.plan
    table = plan.states
    yearly = states["capacity"] if "capacity" in states.columns else pd.Series(np.nan, index=states.index)
    state_rows = pd.DataFrame(
        {
            "name": table["name"],
            "share": table["share"],
            "capacity": yearly.reindex(table.index).astype(float),
            "persons": table["allocated"].astype(np.int64),
            "burden": table["burden"].astype(float),
            "cases": table["cases"].astype(np.int64),
        },
        index=table.index,
    )
    placed = plan.cases
    placements = pd.DataFrame(
        {
            "case_id": placed["case_id"].to_numpy(),
            "state": placed["state"].to_numpy(),
            "persons": placed["size"].to_numpy(dtype=np.int64),
            "burden": placed["weight"].to_numpy(dtype=float),
            "needs": cases["needs"].to_numpy(dtype=object),
            "origin": _origin(cases),
        }
    )
    inputs = {role: {"path": path, "sha256": sha256(path)} for role, path in result.inputs.items() if path}
    given = settings.model_dump(mode="json", exclude_none=True)
    given["lookahead"] = lookahead
    return BatchRecord(
        batch_id=batch_id,
        kind="plan",
        title=settings.title or result.name,
        formula=result.formula.name,
        status=str(plan.status),
        states=state_rows,
        placements=placements,
        inputs=inputs,
        settings=given,
        year_total=year_total,
    )


def commit_batch(
    ledger: Ledger,
    settings: ScenarioSettings,
    batch_id: str,
    base_dir: Path | None = None,
    *,
    replace: bool = False,
    lookahead: int = 0,
    year_total: int | None = None,
    name: str = "batch",
) -> tuple[BatchResult, int]:
    """Solve and commit a batch: (the batch, the ledger's new revision). When another planner
    commits in between, the batch is solved again against the new stock (up to COMMIT_ATTEMPTS)."""
    for attempt in range(COMMIT_ATTEMPTS):
        batch = solve_batch(ledger, settings, batch_id, base_dir, lookahead=lookahead, year_total=year_total, name=name)
        try:
            return batch, ledger.commit(batch.record, replace=replace, base_revision=batch.base_revision)
        except StaleLedger:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise LedgerError(f"the ledger kept changing while batch {show(batch_id)} was solved ({COMMIT_ATTEMPTS} attempts); try again") from None
    raise AssertionError("unreachable")
