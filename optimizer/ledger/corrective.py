"""The Dublin IV corrective allocation mechanism (COM(2016) 270, Art. 34-37; a proposal, never
adopted), simulated over a year of registrations.

The rules as implemented (the proposal's wording leaves choices; each is stated here):

- Each registration (a family: date, state where it was lodged, persons) counts, in persons, for
  the state responsible for it. A state's *reference number* is its key share x all applications
  registered in the rolling period (the 365 days up to and including the day, before the
  registration being decided).
- When a registration is lodged in a state whose applications exceed `threshold` (150%) of its
  reference number, the family is allocated, whole, to a state below 100% of its own, in
  proportion to the keys: the eligible state with the smallest (persons it has been allocated so
  far + this family) / key share; ties go to the state listed first. The allocated state becomes
  responsible. With no eligible state the family stays where it was lodged.
- A state that opted out (for 12 months from the date given) still has its turn in that rule, so
  its count of applicants not accepted follows its key; when its turn comes the family goes to the
  next eligible state by the same rule (whose own count then grows too; with none, the family
  stays where it was lodged), and the opted-out state pays EUR 250,000 per person to the state that takes them (Art. 37).
- Triggers: a state *enters* corrective allocation at the first registration lodged there while
  above the threshold, and *leaves* at the first registration lodged there while at or below it.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, show
from ..io.text import MAX_PERSONS, check_identifiers, first_row, missing_column, parse_numbers, read_csv_table

THRESHOLD = 1.5
WINDOW_DAYS = 365
PAYMENT_EUR = 250_000
OPT_OUT_DAYS = 365  # "12 months"


@dataclass(frozen=True)
class CorrectiveResult:
    """Per state, per registration, the triggers and the payments of one simulated period."""

    states: pd.DataFrame
    registrations: pd.DataFrame
    events: pd.DataFrame
    payments: pd.DataFrame


def load_registrations(path: str | Path, known_states: list[str]) -> pd.DataFrame:
    """Read a registrations CSV: `date` (YYYY-MM-DD), `state` (a code of the states file),
    `persons` (whole, >= 1), optional `id` (unique). Index: spreadsheet row numbers."""
    raw = read_csv_table(path)
    file = raw.attrs["source"]
    for required in ("date", "state", "persons"):
        if required not in raw.columns:
            raise missing_column(raw, required)
    dates = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    if (row := first_row(dates.isna(), raw["date"])) is not None:
        raise InputError(f"not a date of the form YYYY-MM-DD: {show(raw.at[row, 'date'])}", file=file, row=row, column="date")
    unknown = ~raw["state"].isin(known_states)
    if (row := first_row(unknown, raw["state"])) is not None:
        raise InputError(f"unknown state code {show(raw.at[row, 'state'])} (not in the states file)", file=file, row=row, column="state")
    persons = parse_numbers(raw["persons"], file=file, column="persons", decimal=".", integer=True, allow_empty=False, maximum=MAX_PERSONS)
    if (row := first_row(persons < 1, raw["persons"])) is not None:
        raise InputError(f"persons must be at least 1, not {show(raw.at[row, 'persons'])}", file=file, row=row, column="persons")
    if "id" in raw.columns:
        check_identifiers(raw["id"], file=file, column="id", noun="registration id", short="id")
        ids = raw["id"].to_numpy(dtype=object)
    else:
        ids = np.array([f"row-{r}" for r in raw.index], dtype=object)
    out = pd.DataFrame({"id": ids, "date": dates.dt.date.to_numpy(), "state": raw["state"].to_numpy(dtype=object), "persons": persons.to_numpy(dtype=np.int64)}, index=raw.index)
    out.attrs["source"] = file
    # Decided in date order; the file's order among registrations of one day.
    return out.sort_values("date", kind="stable")


def parse_opt_outs(values: list[str], known_states: list[str]) -> dict[str, dt.date]:
    """'CODE:YYYY-MM-DD' -> {code: first day of the 12 months}."""
    out = {}
    for value in values:
        code, _, day = value.partition(":")
        code = code.strip()
        if code not in known_states:
            raise InputError(f"--opt-out: unknown state code {show(code)} in {show(value)} (expected CODE:YYYY-MM-DD)")
        try:
            out[code] = dt.date.fromisoformat(day.strip())
        except ValueError:
            raise InputError(f"--opt-out: {show(value)} is not CODE:YYYY-MM-DD") from None
    return out


class _Window:
    """Persons each state is responsible for over the rolling period, registration by registration."""

    def __init__(self, n_states: int, days: int) -> None:
        self.responsible = np.zeros(n_states, dtype=np.int64)
        self.entries: deque[tuple[dt.date, int, int]] = deque()
        self.days = days

    def advance(self, day: dt.date) -> None:
        first = day - dt.timedelta(days=self.days - 1)
        while self.entries and self.entries[0][0] < first:
            _, state, persons = self.entries.popleft()
            self.responsible[state] -= persons

    def add(self, day: dt.date, state: int, persons: int) -> None:
        self.entries.append((day, state, persons))
        self.responsible[state] += persons


def _choose(eligible: np.ndarray, received: np.ndarray, key: np.ndarray, persons: int) -> int | None:
    """The eligible state with the smallest (received + persons) / key; the first one on ties."""
    candidates = np.flatnonzero(eligible)
    if not len(candidates):
        return None
    load = (received[candidates] + persons) / key[candidates]
    return int(candidates[np.argmin(load)])


def simulate(
    registrations: pd.DataFrame,
    shares: pd.Series,
    opt_outs: dict[str, dt.date] | None = None,
    *,
    threshold: float = THRESHOLD,
    window_days: int = WINDOW_DAYS,
    payment_eur: float = PAYMENT_EUR,
) -> CorrectiveResult:
    """Run the corrective mechanism over `registrations` (see the module's rules)."""
    codes = list(shares.index)
    pos = {c: i for i, c in enumerate(codes)}
    key = shares.to_numpy(dtype=float)
    n = len(codes)
    outside = [c for c in registrations["state"].unique() if c not in pos]
    if outside:
        raise InputError(f"registrations lodged in state(s) that do not take part: {', '.join(show(c) for c in sorted(outside))}", file=registrations.attrs.get("source"), column="state")
    opt_outs = opt_outs or {}
    window = _Window(n, window_days)
    received = np.zeros(n, dtype=np.int64)  # allocation turns taken (opted-out turns included)
    active = np.zeros(n, dtype=bool)  # in corrective allocation
    rows, events, paid = [], [], []
    for reg in registrations.itertuples(index=True):
        window.advance(reg.date)
        lodged = pos[reg.state]
        reference = key * window.responsible.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(reference > 0, window.responsible / reference, 0.0)
        over = bool(ratio[lodged] > threshold)
        if over != active[lodged]:
            active[lodged] = over
            events.append((reg.date, reg.state, "enters" if over else "leaves", float(ratio[lodged])))
        responsible, refused_by = lodged, ""
        if over:
            eligible = (ratio < 1.0) & (key > 0)
            eligible[lodged] = False
            closed = np.array([c in opt_outs and opt_outs[c] <= reg.date < opt_outs[c] + dt.timedelta(days=OPT_OUT_DAYS) for c in codes])
            turn = _choose(eligible, received, key, reg.persons)
            if turn is not None:
                received[turn] += reg.persons
                if closed[turn]:
                    refused_by = codes[turn]
                    turn = _choose(eligible & ~closed, received, key, reg.persons)
                    if turn is not None:
                        received[turn] += reg.persons  # the taker's receipts count for its turns too
                    taker = codes[lodged] if turn is None else codes[turn]
                    paid.append((reg.date, refused_by, taker, reg.persons, reg.persons * payment_eur, reg.id))
                responsible = lodged if turn is None else turn
        window.add(reg.date, responsible, reg.persons)
        rows.append((reg.Index, reg.id, reg.date, reg.state, reg.persons, float(ratio[lodged]), over, codes[responsible] if responsible != lodged else "", refused_by))
    return _tables(codes, key, registrations, rows, events, paid, window)


def _tables(codes, key, registrations, rows, events, paid, window) -> CorrectiveResult:
    regs = pd.DataFrame(rows, columns=["row", "id", "date", "lodged", "persons", "ratio_at_lodging", "corrective", "allocated_to", "refused_by"])
    events = pd.DataFrame(events, columns=["date", "state", "event", "ratio"])
    payments = pd.DataFrame(paid, columns=["date", "payer", "payee", "persons", "amount_eur", "case_id"])
    moved = regs[regs["allocated_to"] != ""]
    total = int(window.responsible.sum())
    states = pd.DataFrame(index=pd.Index(codes, name="code"))
    states["key"] = key
    states["lodged"] = regs.groupby("lodged")["persons"].sum().reindex(codes).fillna(0).astype(np.int64)
    states["allocated_away"] = moved.groupby("lodged")["persons"].sum().reindex(codes).fillna(0).astype(np.int64)
    states["received"] = moved.groupby("allocated_to")["persons"].sum().reindex(codes).fillna(0).astype(np.int64)
    states["responsible_in_period"] = window.responsible
    states["reference_number"] = key * total
    with np.errstate(divide="ignore", invalid="ignore"):
        states["ratio"] = np.where(states["reference_number"] > 0, window.responsible / states["reference_number"], np.nan)
    states["triggers"] = events[events["event"] == "enters"].groupby("state").size().reindex(codes).fillna(0).astype(np.int64)
    states["not_accepted"] = payments.groupby("payer")["persons"].sum().reindex(codes).fillna(0).astype(np.int64)
    states["pays_eur"] = payments.groupby("payer")["amount_eur"].sum().reindex(codes).fillna(0.0)
    states["receives_eur"] = payments.groupby("payee")["amount_eur"].sum().reindex(codes).fillna(0.0)
    return CorrectiveResult(states.reset_index(), regs, events, payments)


def corrective_placements(result: CorrectiveResult) -> pd.DataFrame:
    """The reallocated families as ledger placements (origin: the state where they were lodged)."""
    moved = result.registrations[result.registrations["allocated_to"] != ""]
    return pd.DataFrame(
        {
            "case_id": moved["id"].astype(str).to_numpy(),
            "state": moved["allocated_to"].to_numpy(),
            "persons": moved["persons"].to_numpy(dtype=np.int64),
            "burden": moved["persons"].to_numpy(dtype=float),
            "needs": "",
            "origin": moved["lodged"].to_numpy(),
        }
    )


@dataclass(frozen=True)
class CorrectiveRun:
    """A simulation with what it was made from (for the ledger record)."""

    result: CorrectiveResult
    shares: pd.Series
    names: pd.Series
    formula: str
    inputs: dict
    threshold: float


def run_corrective(registrations: Path, states: Path, formula: str, only: str | None, exclude: str | None, opt_outs: list[str], threshold: float = THRESHOLD) -> CorrectiveRun:
    """Load the states and registrations, compute the reference key and simulate."""
    from ..io.output import sha256
    from ..participants import split_codes
    from ..pipeline import key_for
    from ..settings import ScenarioSettings

    settings = ScenarioSettings(states=str(states), formula=formula, only=split_codes(only) or None, exclude=split_codes(exclude) or None)
    every, chosen, key = key_for(settings)
    table = load_registrations(registrations, list(every.index))
    result = simulate(table, key.shares, parse_opt_outs(opt_outs, list(chosen.index)), threshold=threshold)
    inputs = {"states": {"path": str(states), "sha256": sha256(states)}, "registrations": {"path": str(registrations), "sha256": sha256(registrations)}}
    return CorrectiveRun(result, key.shares, chosen["name"], key.formula.name, inputs, threshold)


def record_corrective(ledger, run: CorrectiveRun, batch_id: str, replace: bool) -> int:
    """Commit the reallocated families and the payments as one ledger batch; the new revision."""
    from .storage import BatchRecord

    placed = corrective_placements(run.result)
    states = pd.DataFrame({"name": run.names, "share": run.shares, "capacity": np.nan}, index=run.shares.index)
    by_state = placed.groupby("state")
    states["persons"] = by_state["persons"].sum().reindex(states.index).fillna(0).astype(np.int64)
    states["burden"] = by_state["burden"].sum().reindex(states.index).fillna(0.0)
    states["cases"] = by_state.size().reindex(states.index).fillna(0).astype(np.int64)
    payments = run.result.payments.assign(date=run.result.payments["date"].astype(str))
    record = BatchRecord(
        batch_id=batch_id,
        kind="corrective",
        title="Dublin IV corrective allocation",
        formula=run.formula,
        status="exact",
        states=states,
        placements=placed,
        inputs=run.inputs,
        settings={"threshold": run.threshold, "window_days": WINDOW_DAYS, "payment_eur": PAYMENT_EUR},
        payments=payments,
    )
    return ledger.commit(record, replace=replace)
