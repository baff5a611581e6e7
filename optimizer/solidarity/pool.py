"""The Pact's Solidarity Pool: each state's fair share, its pledges, deductions and the gap.

Regulation (EU) 2024/1351 (AMMR), as summarised in DOMAIN.md section 2:

- Art. 12(2): a pool of at least 30,000 relocations and EUR 600 million a year; Art. 57: the
  Council fixes it and each state's pledges.
- Art. 66 and Annex I: a state's fair share is the reference key (50% population + 50% GDP, each
  relative to the participants' total) times the pool. It is a number, not persons: it is never
  rounded here.
- Art. 56(2): relocations, financial contributions and alternative measures are "of equal value".
  The pool is one amount counted in two units (the first cycle's decision reads "21,000
  relocations or EUR 420 million"), so a pledge in money counts `price_eur` euros per relocation
  equivalent; by default the price is the ratio of the pool's two figures.
- Art. 61-62: deductions of a state's pledges (here: of its fair share, i.e. of what it is due to
  pledge).
- Art. 63: responsibility offsets, by thresholds kept as parameters (`settings.OffsetRules`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import InputError, show
from ..settings import ART_12_FINANCIAL_EUR, ART_12_RELOCATIONS, OffsetRules, PoolSettings
from .inputs import PLEDGE_COLUMNS, check_codes

AMMR = "AMMR"  # Regulation (EU) 2024/1351, as every line's article says


@dataclass(frozen=True)
class Pool:
    """The pool's size in relocations and euros, and the euro value of one relocation."""

    relocations: int
    financial_eur: float
    price_eur: float
    # where each figure came from: "given" or the default's reason
    origin: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: PoolSettings | None) -> "Pool":
        settings = settings or PoolSettings()
        relocations = settings.relocations if settings.relocations is not None else ART_12_RELOCATIONS
        financial = settings.financial_eur if settings.financial_eur is not None else float(ART_12_FINANCIAL_EUR)
        price = settings.price_eur if settings.price_eur is not None else financial / relocations
        origin = {
            "relocations": "given" if settings.relocations is not None else "default: the Art. 12(2) minimum",
            "financial_eur": "given" if settings.financial_eur is not None else "default: the Art. 12(2) minimum",
            "price_eur": "given" if settings.price_eur is not None else "default: pool euros / pool relocations",
        }
        return cls(int(relocations), float(financial), float(price), origin)


class PoolLine(NamedTuple):
    """One line of the pool's account: a figure, its unit, the article behind it, and a note."""

    key: str
    label: str
    value: float
    unit: str
    article: str
    note: str = ""


def _deducted(fair: pd.Series, fair_eur: pd.Series, deductions: pd.DataFrame | None, price: float) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(share deducted, relocation equivalents deducted, euros deducted) per state. An absolute
    deduction above the state's fair share is refused, naming its row (or scenario key)."""
    share = pd.Series(0.0, index=fair.index)
    relocations = pd.Series(0.0, index=fair.index)
    euros = pd.Series(0.0, index=fair.index)
    if deductions is None or deductions.empty:
        return share, relocations, euros
    source, rows = deductions.attrs.get("source"), deductions.attrs.get("rows")
    for code, row in deductions.iterrows():
        if pd.notna(row["share"]):
            share[code] = float(row["share"])
            relocations[code] = share[code] * fair[code]
            euros[code] = share[code] * fair_eur[code]
            continue
        column = "relocations" if pd.notna(row["relocations"]) else "eur"
        amount = float(row[column])
        equivalents = amount if column == "relocations" else amount / price
        if equivalents > fair[code] * (1 + 1e-12):
            where = {"row": rows.get(code), "column": column} if rows else {"key": f"pool.deductions.{code}.{column}"}
            raise InputError(
                f"deduction above 100% of {code}'s fair share: {amount:,.2f} {'relocations' if column == 'relocations' else 'EUR'} "
                f"against a fair share of {fair[code]:,.4f} relocations (EUR {fair_eur[code]:,.2f})",
                file=source,
                **where,
            )
        relocations[code] = equivalents
        euros[code] = equivalents * price
        share[code] = equivalents / fair[code] if fair[code] > 0 else 0.0
    return share, relocations, euros


def state_table(
    participants: pd.DataFrame,
    shares: pd.Series,
    pool: Pool,
    *,
    benefitting: list[str] | tuple[str, ...] = (),
    deductions: pd.DataFrame | None = None,
    pledges: pd.DataFrame | None = None,
    offsets: OffsetRules | None = None,
) -> pd.DataFrame:
    """One row per participant (index `code`, input order): fair share, deduction, pledges, gap.

    fair_relocations = share x pool relocations and fair_eur = share x pool euros (not rounded);
    due = fair - deducted; pledge_equivalents = relocations + (financial + alternative) / price;
    gap_relocations = due - pledge_equivalents (positive: short of the fair share), gap_eur = gap x
    price; may_offer_offsets: relocations pledged >= offer_at x fair share (Art. 63(2)(b))."""
    offsets = offsets or OffsetRules()
    fair = shares * pool.relocations
    fair_eur = shares * pool.financial_eur
    deducted_share, deducted, deducted_eur = _deducted(fair, fair_eur, deductions, pool.price_eur)
    given = pledges if pledges is not None else pd.DataFrame(columns=list(PLEDGE_COLUMNS))
    pledged = {c: given[c].reindex(fair.index).fillna(0.0).astype(float) if c in given.columns else pd.Series(0.0, index=fair.index) for c in PLEDGE_COLUMNS}
    equivalents = pledged["relocations"] + (pledged["financial_eur"] + pledged["alternative_eur"]) / pool.price_eur
    due = fair - deducted
    gap = due - equivalents
    with np.errstate(divide="ignore", invalid="ignore"):
        relocated_share = np.where(fair > 0, pledged["relocations"] / fair, np.nan)
    table = pd.DataFrame(
        {
            "name": participants["name"],
            "benefitting": participants.index.isin(list(benefitting)),
            "share": shares,
            "fair_relocations": fair,
            "fair_eur": fair_eur,
            "deduction_share": deducted_share,
            "deducted_relocations": deducted,
            "deducted_eur": deducted_eur,
            "due_relocations": due,
            "due_eur": fair_eur - deducted_eur,
            "pledged_relocations": pledged["relocations"],
            "pledged_financial_eur": pledged["financial_eur"],
            "pledged_alternative_eur": pledged["alternative_eur"],
            "pledge_equivalents": equivalents,
            "gap_relocations": gap,
            "gap_eur": gap * pool.price_eur,
            "relocations_of_fair_share": relocated_share,
            "may_offer_offsets": pd.Series(relocated_share, index=fair.index).fillna(0.0) >= offsets.offer_at,
        },
        index=pd.Index(fair.index, name="code"),
    )
    return table


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def pool_lines(table: pd.DataFrame, pool: Pool, offsets: OffsetRules | None = None) -> list[PoolLine]:
    """The pool's account, line by line, each with the article behind it (see the module notes)."""
    offsets = offsets or OffsetRules()
    r, f, p = pool.relocations, pool.financial_eur, pool.price_eur
    deducted = float(table["deducted_relocations"].sum())
    due = float(table["due_relocations"].sum())
    pledged_r = float(table["pledged_relocations"].sum())
    pledged_f = float(table["pledged_financial_eur"].sum())
    pledged_eq = float(table["pledge_equivalents"].sum())
    benefitting = table[table["benefitting"]]
    below = "" if r >= ART_12_RELOCATIONS else f"; below the annual minimum of {ART_12_RELOCATIONS:,} (a shorter cycle?)"
    lines = [
        PoolLine("pool_relocations", "Pool: relocations", r, "relocations", f"{AMMR} Art. 12(2) (at least {ART_12_RELOCATIONS:,} a year); fixed by the Council, Art. 57", pool.origin.get("relocations", "") + below),
        PoolLine("pool_financial_eur", "Pool: financial contributions", f, "EUR", f"{AMMR} Art. 12(2) (at least EUR {ART_12_FINANCIAL_EUR:,} a year)", pool.origin.get("financial_eur", "")),
        PoolLine("price_eur", "Value of one relocation", p, "EUR", f"{AMMR} Art. 56(2): the kinds of contribution are of equal value", pool.origin.get("price_eur", "") + "; EUR 20,000 is reported by the press, no article found"),
        PoolLine("fair_shares", "Fair shares, sum", float(table["fair_relocations"].sum()), "relocations", f"{AMMR} Art. 66 and Annex I: key x pool", f"{len(table)} participants; EUR {table['fair_eur'].sum():,.2f}"),
        PoolLine("benefitting_fair_shares", "Fair shares of the benefitting states", float(benefitting["fair_relocations"].sum()), "relocations", f"{AMMR} Annex I (the key runs over every participant)", (", ".join(benefitting.index) or "none named") + "; due like any other unless deducted (Art. 61-62)"),
        PoolLine("deducted", "Removed by deductions", deducted, "relocation equivalents", f"{AMMR} Art. 61-62", f"EUR {table['deducted_eur'].sum():,.2f}; {int((table['deducted_relocations'] > 0).sum())} states"),
        PoolLine("due", "Due after deductions", due, "relocation equivalents", f"{AMMR} Art. 61-62", f"{_pct(due, r)} of the pool"),
        PoolLine("pledged_relocations", "Pledged: relocations", pledged_r, "relocations", f"{AMMR} Art. 56(2)(a), Art. 57", f"{_pct(pledged_r, r)} of the pool's relocations"),
        PoolLine("pledged_financial_eur", "Pledged: financial contributions", pledged_f, "EUR", f"{AMMR} Art. 56(2)(b), Art. 57", f"{_pct(pledged_f, f)} of the pool's euros"),
        PoolLine("pledged_alternative_eur", "Pledged: alternative solidarity measures", float(table["pledged_alternative_eur"].sum()), "EUR", f"{AMMR} Art. 56(2)(c)", "counted at their stated value in euros"),
        PoolLine("pledged_equivalents", "Pledged in all", pledged_eq, "relocation equivalents", f"{AMMR} Art. 56(2)", f"{_pct(pledged_eq, due)} of what is due"),
        PoolLine("gap", "Gap: due − pledged", due - pledged_eq, "relocation equivalents", f"{AMMR} Art. 57", f"EUR {(due - pledged_eq) * p:,.2f}; the sum of the states' gaps"),
        PoolLine("gap_benefitting", "of which the benefitting states' gaps", float(benefitting["gap_relocations"].sum()), "relocation equivalents", f"{AMMR} Art. 61-62", "what deducting their own fair shares would remove"),
        PoolLine("shortfall", "Short of their fair share: sum of their gaps", float(table["gap_relocations"].clip(lower=0).sum()), "relocation equivalents", f"{AMMR} Art. 57", f"{int((table['gap_relocations'] > 1e-9).sum())} states"),
        PoolLine("surplus", "Above their fair share: sum of their surplus", float((-table["gap_relocations"]).clip(lower=0).sum()), "relocation equivalents", f"{AMMR} Art. 57", f"{int((table['gap_relocations'] < -1e-9).sum())} states"),
    ]
    return lines + offset_lines(table, pool, offsets)


def offset_lines(table: pd.DataFrame, pool: Pool, offsets: OffsetRules) -> list[PoolLine]:
    """Art. 63: whether responsibility offsets are triggered, and for how many applications (the
    relocations not pledged). Every threshold is a parameter and unverified (DOMAIN.md)."""
    reference = offsets.reference or pool.relocations
    pledged = float(table["pledged_relocations"].sum())
    missing = max(0.0, pool.relocations - pledged)
    ratio = pledged / reference
    request = ratio >= offsets.request_at
    mandatory = ratio < offsets.mandatory_below or pledged < offsets.mandatory_minimum
    offering = list(table.index[table["may_offer_offsets"] & ~table["benefitting"]])
    why = f"relocation pledges {pledged:,.0f} = {100 * ratio:.1f}% of {reference:,}"
    minimum = f" or below {offsets.mandatory_minimum:,}" if offsets.mandatory_minimum else ""
    return [
        PoolLine("relocation_shortfall", "Relocations not pledged", missing, "relocations", f"{AMMR} Art. 63", "what responsibility offsets could stand in for"),
        PoolLine(
            "offsets_request",
            "Offsets a benefitting state may request" + ("" if request else " (not triggered)"),
            missing if request else 0.0,
            "applications",
            f"{AMMR} Art. 63(1); threshold UNVERIFIED (read in a copy of the text)",
            f"{why}; triggered at {100 * offsets.request_at:g}% or more",
        ),
        PoolLine(
            "offsets_offer",
            "Contributing states that may offer offsets",
            float(len(offering)),
            "states",
            f"{AMMR} Art. 63(2)(b); threshold UNVERIFIED (read in a copy of the text)",
            f"relocations pledged: {100 * offsets.offer_at:g}% of their fair share or more: {', '.join(offering) or 'none'}",
        ),
        PoolLine(
            "offsets_mandatory",
            "Mandatory offsets" + ("" if mandatory else " (not triggered)"),
            missing if mandatory else 0.0,
            "applications",
            f"{AMMR} Art. 63; our reading, thresholds UNVERIFIED",
            f"{why}; triggered below {100 * offsets.mandatory_below:g}%{minimum}",
        ),
    ]


def check_benefitting(benefitting: list[str], participants: pd.DataFrame, states: pd.DataFrame, *, what: str = "--benefitting", file: str | None = None, key: str | None = None) -> None:
    """Benefitting states must take part in the key (the pool's fair shares run over them too):
    `what` names the option, or `file` and `key` the scenario setting, in a refusal."""
    twice = sorted({code for code in benefitting if benefitting.count(code) > 1})
    if twice:
        where = {"file": file, "key": key} if key else {}
        raise InputError(f"{'' if key else what + ': '}benefitting state {show(twice[0])} named twice", **where)
    check_codes(benefitting, participants, states, what=what, file=file, key=key)


__all__ = ["Pool", "PoolLine", "check_benefitting", "offset_lines", "pool_lines", "state_table"]
