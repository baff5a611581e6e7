"""The solidarity section of a report, format-neutral: the pool's account, each state's fair share,
pledge and gap, the settlement at given prices, and a chart.

Built once from an `optimizer.solidarity.SolidarityResult`; `html`, `markdown` and `excel` lay it
out (in a plan's report when its scenario has a [pool], and in the report of `relocate
solidarity`, see `solidarity_output`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from ..io.output import records
from ..solidarity import SolidarityResult
from .charts import Chart, solidarity as solidarity_chart
from .document import Table
from .formatting import fmt

# (column, label, kind) of the per-state table the reports show (the CSV holds every column).
STATE_COLUMNS = [
    ("code", "Code", "text"),
    ("name", "State", "text"),
    ("benefitting", "Benefitting", "bool"),
    ("share", "Key share", "pct"),
    ("fair_relocations", "Fair share (relocations)", "f2"),
    ("fair_eur", "Fair share (EUR)", "f2"),
    ("deducted_relocations", "Deducted", "f2"),
    ("pledged_relocations", "Pledged: relocations", "int"),
    ("pledged_financial_eur", "Pledged: EUR", "f0"),
    ("pledged_alternative_eur", "Pledged: alternative (EUR)", "f0"),
    ("pledge_equivalents", "Pledge (relocation equivalents)", "f2"),
    ("gap_relocations", "Gap (relocations)", "sf2"),
    ("gap_eur", "Gap (EUR)", "sf0"),
]
LINE_COLUMNS = ["What", "Value", "Unit", "Article", "Note"]


def _value(value: float, unit: str) -> str:
    if unit == "EUR":
        return fmt(value, "f2")
    if unit in ("states", "applications") or float(value).is_integer():
        return fmt(value, "int") if float(value).is_integer() else fmt(value, "f2")
    return fmt(value, "f2")


def lines_table(lines) -> Table:
    rows = [[line.label, _value(line.value, line.unit), line.unit, line.article, line.note] for line in lines]
    return Table(LINE_COLUMNS, rows, ["text", "num", "text", "text", "text"])


@dataclass
class SolidaritySection:
    result: SolidarityResult

    @property
    def title(self) -> str:
        return self.result.title

    def lead(self) -> str:
        r = self.result
        pool = r.pool
        benefitting = ", ".join(r.benefitting) or "none named"
        return (
            f"Solidarity pool of {pool.relocations:,} relocations or EUR {pool.financial_eur:,.0f} "
            f"(EUR {pool.price_eur:,.2f} per relocation) shared by the key {r.formula.name} over {len(r.states)} "
            f"participants; benefitting states: {benefitting}. Fair shares are key x pool, not rounded; a gap "
            "is the fair share after deductions minus the pledge in relocation equivalents (positive: short)."
        )

    def pool_rows(self) -> Table:
        return lines_table(self.result.lines)

    def state_rows(self) -> Table:
        table = self.result.states.reset_index()
        columns = [c for c in STATE_COLUMNS if c[0] != "deducted_relocations" or table[c[0]].abs().sum() > 0]
        rows = [[fmt(row[c], kind) for c, _, kind in columns] for _, row in table.iterrows()]
        return Table([label for _, label, _ in columns], rows, [kind for _, _, kind in columns])

    def trade_rows(self) -> Table | None:
        trade = self.result.trade
        if trade is None:
            return None
        table = trade.states.reset_index()
        table = table[~table["benefitting"]]
        columns = [("code", "Code", "text"), ("name", "State", "text"), ("due_places", "Fair share (places)", "f2"), ("takes", "Takes", "int"), ("buys_out", "Buys out", "f2"), ("takes_more", "Takes beyond", "f2")]
        columns += [(f"net:{name}", f"Net EUR at {name}", "sf0") for name in trade.prices]
        rows = [[fmt(row[c], kind) for c, _, kind in columns] for _, row in table.iterrows()]
        return Table([label for _, label, _ in columns], rows, [kind for _, _, kind in columns])

    def trade_lines(self) -> Table | None:
        return lines_table(self.result.trade.lines) if self.result.trade is not None else None

    def notes(self) -> list[str]:
        """What a reader must know: deductions' notes (reported, assumed) and the unverified parts."""
        out = [f"Deduction {code}: {note}" for code, note in self.result.notes.items()]
        out.append(
            "Art. 63 thresholds are parameters: request at "
            f"{100 * self.result.offsets.request_at:g}%, offer at {100 * self.result.offsets.offer_at:g}%, mandatory below "
            f"{100 * self.result.offsets.mandatory_below:g}% or {self.result.offsets.mandatory_minimum:,} relocations; all UNVERIFIED against the Official Journal."
        )
        return out

    def provenance_items(self) -> list[tuple[str, str]]:
        from ..io.output import sha256

        r = self.result
        items = [("Formula", f"{r.formula.name}: {r.formula.title}"), ("Source", r.formula.source), ("Participants", ", ".join(r.states.index))]
        items += [(f"Pool: {k}", v) for k, v in r.pool.origin.items()]
        items += [(f"Input: {role}", f"{path} (SHA-256 {sha256(path)})") for role, path in r.inputs.items()]
        return items

    @cached_property
    def chart(self) -> Chart:
        """Drawn on first use (matplotlib is slow to import)."""
        return solidarity_chart(self.result.states, self.result.pool.price_eur)


def solidarity_frames(result: SolidarityResult) -> dict[str, pd.DataFrame]:
    """The tables as numbers (CSV, Excel): states, pool lines, and the trade when settled."""
    frames = {"pool": result.lines_frame(), "states": result.states.reset_index()}
    if result.trade is not None:
        frames["trade_pool"] = result.lines_frame(result.trade.lines)
        frames["trade_states"] = result.trade.states.reset_index()
    return frames


def solidarity_document(result: SolidarityResult) -> dict:
    """Everything machine-readable (report.json's `solidarity`, solidarity.json)."""
    frames = solidarity_frames(result)
    out = {
        "title": result.title,
        "pool": {"relocations": result.pool.relocations, "financial_eur": result.pool.financial_eur, "price_eur": result.pool.price_eur, "origin": result.pool.origin},
        "offsets": result.offsets.model_dump(),
        "formula": {"name": result.formula.name, "title": result.formula.title, "source": result.formula.source},
        "benefitting": list(result.benefitting),
        "inputs": dict(result.inputs),
        "deduction_notes": dict(result.notes),
        "states": records(frames["states"]),
        "lines": records(frames["pool"]),
    }
    if result.trade is not None:
        out["trade"] = {"prices": result.trade.prices, "states": records(frames["trade_states"]), "lines": records(frames["trade_pool"])}
    return out


__all__ = ["SolidaritySection", "lines_table", "solidarity_document", "solidarity_frames"]
