"""One solidarity run, from settings to the tables: shared by `relocate solidarity` and the API.

The settings are a `ScenarioSettings` (states, only/exclude, formula) with its `pool`
(`settings.PoolSettings`); paths in them are relative to `base_dir` (a scenario's folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..keys import Formula
from ..pipeline import key_for, resolve_path
from ..settings import OffsetRules, PoolSettings, ScenarioSettings
from .inputs import deductions_from_table, load_deductions, load_pledges
from .pool import Pool, PoolLine, check_benefitting, pool_lines, state_table
from .trade import Trade, default_prices, settle

# The key of the pool (Annex I), unless the settings name another.
PACT_FORMULA = "pact-2024"


@dataclass(frozen=True)
class SolidarityResult:
    """A pool's account: per state (`states`, see `pool.state_table`) and for the pool (`lines`,
    each with its article), the settlement at given prices when asked (`trade`), and what it was
    made from."""

    title: str
    pool: Pool
    offsets: OffsetRules
    states: pd.DataFrame
    lines: list[PoolLine]
    formula: Formula
    benefitting: tuple[str, ...]
    inputs: dict[str, str]  # role -> path
    notes: dict[str, str]  # code -> the deduction's note (e.g. "reported, not verified")
    trade: Trade | None = None

    def lines_frame(self, lines: list[PoolLine] | None = None) -> pd.DataFrame:
        return pd.DataFrame([line._asdict() for line in (self.lines if lines is None else lines)])

    def has_pledges(self) -> bool:
        return "pledges" in self.inputs

    def destination_targets(self) -> pd.Series:
        """What each destination should take when relocating from the benefitting states: its
        pledged relocations when pledges are given, else its fair share after deductions; zero
        for the benefitting states themselves."""
        table = self.states
        target = table["pledged_relocations"] if self.has_pledges() else table["due_relocations"]
        return target.where(~table["benefitting"], 0.0).rename("target")


def solidarity(
    settings: ScenarioSettings,
    base_dir: Path | None = None,
    *,
    title: str | None = None,
    trade: bool | dict[str, float] = False,
    scenario: Path | None = None,
    given_on_command_line: frozenset[str] = frozenset(),
) -> SolidarityResult:
    """The pool's account for these settings. `trade`: True for the default prices (the pool's
    and Dublin IV's), or name -> EUR per place. `scenario` and `given_on_command_line` (pool
    fields) only say where a refused value came from."""
    if settings.formula is None and settings.weight_column is None:
        settings = settings.model_copy(update={"formula": PACT_FORMULA})
    states, chosen, key = key_for(settings, base_dir)
    config = settings.pool or PoolSettings()
    pool = Pool.of(config)
    offsets = config.offsets or OffsetRules()

    def origin(field: str) -> dict:
        return {} if field in given_on_command_line or scenario is None else {"file": str(scenario), "key": f"pool.{field}"}

    benefitting = list(config.benefitting or [])
    check_benefitting(benefitting, chosen, states, **origin("benefitting"))
    inputs = {"states": str(resolve_path(settings.states, base_dir))}
    deductions = None
    if isinstance(config.deductions, str):
        path = resolve_path(config.deductions, base_dir)
        deductions, inputs["deductions"] = load_deductions(path, chosen, states), str(path)
    elif config.deductions:
        deductions = deductions_from_table(config.deductions, chosen, states, str(scenario) if scenario else "pool.deductions")
    pledges = None
    if config.pledges:
        path = resolve_path(config.pledges, base_dir)
        pledges, inputs["pledges"] = load_pledges(path, chosen, states), str(path)
    table = state_table(chosen, key.shares, pool, benefitting=benefitting, deductions=deductions, pledges=pledges, offsets=offsets)
    lines = pool_lines(table, pool, offsets)
    notes = {str(code): str(note) for code, note in deductions["note"].items() if note} if deductions is not None else {}
    settled = None
    if trade:
        prices = dict(trade) if isinstance(trade, dict) else {**default_prices(pool.price_eur), **(config.trade_prices or {})}
        settled = settle(table, prices)
    name = title or settings.title or "Solidarity pool"
    return SolidarityResult(name, pool, offsets, table, lines, key.formula, tuple(benefitting), inputs, notes, settled)


__all__ = ["PACT_FORMULA", "SolidarityResult", "solidarity"]
