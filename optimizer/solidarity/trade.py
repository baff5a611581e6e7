"""Money for places, beyond the Pact: who pays and who receives when some states buy out part of
their fair share and others take more, at given prices.

Two proposals share this arithmetic:

- Dublin IV (COM(2016) 270, a proposal never adopted): a state that opts out of the corrective
  allocation pays EUR 250,000 per applicant it does not accept, to the state that takes the
  applicant instead (DOMAIN.md section 2).
- Tradable refugee-admission quotas (Fernandez-Huertas Moraga and Rapoport): each state holds its
  quota (here: its fair share after deductions) and may sell or buy quota units at the market
  price; a state admitting fewer than its quota pays the price for each unit, one admitting more
  is paid for each.

Places taken are the relocations each state pledged. For each price p: a state below its fair
share pays p per place it buys out; the money goes to the states above theirs, p per extra place,
scaled down in proportion when the extra places outnumber the places bought out (the extra beyond
that is solidarity nobody pays for); places bought out that nobody took stay with the benefitting
states, and so does the money paid for them. The benefitting states neither pay nor take. What is
paid equals what is received plus what goes to the benefitting states (budget balance).

Limits: the prices are given, not found by a market (no reservation prices or bids); the
refugees' own preferences (the matching half of Fernandez-Huertas Moraga and Rapoport's
proposal) are not modelled; the Pact itself sends money to the pool for the benefitting states,
not to states that take more, so "pact-price" here is a counterfactual.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..settings import DUBLIN_IV_EUR_PER_APPLICANT
from .pool import PoolLine

# Where each default price comes from.
PRICE_SOURCES = {
    "pact-price": "the pool's value of one relocation (AMMR Art. 56(2)), as if the money followed the person",
    "dublin-iv": "COM(2016) 270 (Dublin IV proposal, never adopted): EUR 250,000 per applicant not accepted",
}


def default_prices(pool_price: float) -> dict[str, float]:
    return {"pact-price": pool_price, "dublin-iv": float(DUBLIN_IV_EUR_PER_APPLICANT)}


@dataclass(frozen=True)
class Trade:
    """Per state: places due and taken, bought out or taken beyond; per price, EUR paid,
    received and net (`pays:<price>`, `receives:<price>`, `net:<price>`). `lines`: per price, the
    totals (paid, received, to the benefitting states, places nobody took)."""

    prices: dict[str, float]
    states: pd.DataFrame
    lines: list[PoolLine]


def settle(table: pd.DataFrame, prices: dict[str, float]) -> Trade:
    """The settlement of a `pool.state_table` at each price (name -> EUR per place)."""
    contributing = ~table["benefitting"]
    due = table["due_relocations"].where(contributing, 0.0)
    takes = table["pledged_relocations"].where(contributing, 0.0)
    buys_out = (due - takes).clip(lower=0.0)
    takes_more = (takes - due).clip(lower=0.0)
    bought, extra = float(buys_out.sum()), float(takes_more.sum())
    matched = min(bought, extra)
    paid_share = matched / extra if extra > 0 else 0.0
    out = pd.DataFrame(
        {"name": table["name"], "benefitting": table["benefitting"], "due_places": due, "takes": takes, "buys_out": buys_out, "takes_more": takes_more},
        index=table.index,
    )
    lines = [
        PoolLine("trade_bought_out", "Places bought out", bought, "places", "fair share after deductions − relocations pledged", f"{int((buys_out > 1e-9).sum())} states"),
        PoolLine("trade_taken_more", "Places taken beyond the fair share", extra, "places", "relocations pledged − fair share after deductions", f"{int((takes_more > 1e-9).sum())} states"),
        PoolLine("trade_unmatched", "Places bought out that nobody took", bought - matched, "places", "they stay with the benefitting states", ""),
    ]
    for name, price in prices.items():
        pays = buys_out * price
        receives = takes_more * price * paid_share
        out[f"pays:{name}"] = pays
        out[f"receives:{name}"] = receives
        out[f"net:{name}"] = receives - pays
        source = PRICE_SOURCES.get(name, "given")
        lines += [
            PoolLine(f"paid:{name}", f"{name}: paid by states below their fair share", float(pays.sum()), "EUR", source, f"EUR {price:,.2f} per place"),
            PoolLine(f"received:{name}", f"{name}: received by states above theirs", float(receives.sum()), "EUR", source, f"{100 * paid_share:.1f}% of their extra places paid"),
            PoolLine(f"benefitting:{name}", f"{name}: to the benefitting states, for the applicants nobody took", (bought - matched) * price, "EUR", source, ""),
        ]
    return Trade(dict(prices), out, lines)


__all__ = ["PRICE_SOURCES", "Trade", "default_prices", "settle"]
