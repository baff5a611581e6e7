"""The Pact's annual Solidarity Pool and money for places (`relocate solidarity`).

- `run.solidarity(settings)`: each participant's fair share of the pool (key x pool, not
  rounded), its pledges in places, money and alternative measures, deductions and the gap, and
  the pool's account line by line with the article of Regulation (EU) 2024/1351 behind each;
- `pool`: the arithmetic (`state_table`, `pool_lines`, the Art. 63 offsets);
- `inputs`: the pledges and deductions files;
- `trade.settle`: who pays and who receives at given prices per place (Dublin IV, tradable quotas);
- `origins.biproportional`: the fair origin x destination targets for relocation from several states.
"""

from __future__ import annotations

from .origins import allowed_cells, biproportional, people_by_origin
from .inputs import deductions_from_table, load_deductions, load_pledges
from .pool import Pool, PoolLine, pool_lines, state_table
from .run import PACT_FORMULA, SolidarityResult, solidarity
from .trade import Trade, default_prices, settle

__all__ = [
    "PACT_FORMULA",
    "Pool",
    "PoolLine",
    "SolidarityResult",
    "Trade",
    "allowed_cells",
    "biproportional",
    "deductions_from_table",
    "default_prices",
    "load_deductions",
    "load_pledges",
    "people_by_origin",
    "pool_lines",
    "settle",
    "solidarity",
    "state_table",
]
