"""A good first plan, fast, for the solver to start from (part of the model step).

The model's LP relaxation, with the integer envelope cuts, is tight: its bound is the best total
deviation any plan can reach. What costs the solver time is finding a plan that meets it. This
module builds one greedily in bulk: restricted units first, then the largest families, each state
filled up to its target without overshooting, the smallest units closing the gaps (which for
one-person units is exactly largest-remainder rounding); then single moves and pairwise exchanges
while they lower the deviation; then family links honoured where the plan allows. The solver still
proves the result optimal or improves it: nothing here is reported without the solver's word.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .bulk import in_bulk, place_all, place_links_all, place_shares
from .honour import honour_given
from .packing import Packing

if TYPE_CHECKING:
    from .types import CaseTypes


def links_exchanged(types: CaseTypes, counts: np.ndarray, honoured: np.ndarray, capacity: np.ndarray, need_capacity: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A plan with more links honoured and every deviation (per state and per cell) as it is: the
    trades of `Packing.exchange_for_links` from `counts` with `honoured` pinned."""
    packing = Packing(types, capacity, need_capacity, np.zeros(counts.shape[1]))
    every = np.arange(counts.shape[1])
    for t in range(types.n_types):
        packing.add(t, every, counts[t])
    for l, s in zip(*np.nonzero(honoured)):
        packing.pin(int(l), int(s), int(honoured[l, s]))
    packing.exchange_for_links()
    return packing.counts, honour_given(types, packing.counts, packing.honoured)


def warm_start(types: CaseTypes, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], target: np.ndarray, deadline: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(units per base type and state, honoured link-class units per state) of a good plan. The
    improvement rounds stop at `deadline` (a `time.perf_counter` value; the plan is complete
    before them)."""
    per_person = types.burden / np.maximum(types.persons, 1)
    varies = bool(len(per_person)) and per_person.max() > per_person.min() * (1 + 1e-9)
    # With many types and burden per person varying (weights), the packing with shares alone: on
    # the weights family it was the better one at every size (5,000-500,000 cases: 4,052 against
    # 326,068 at 500,000), and the other costs a second and a half there.
    packing = _packed(types, capacity, need_capacity, target, shares=varies and in_bulk(types))
    if varies and not in_bulk(types) and packing.total_deviation() > SHARES_RETRY * float(np.abs(target).sum()):
        # Burden per person differs between types (weights) and filling the states type by type
        # left them far from their targets: once more with every type shared out first.
        shared = _packed(types, capacity, need_capacity, target, shares=True)
        if shared.total_deviation() < packing.total_deviation():
            packing = shared
    for _ in range(10):
        if not (packing.single_moves(deadline) | packing.swaps(deadline=deadline)):
            break
    packing.exchange_for_links()
    return packing.counts, honour_given(types, packing.counts, packing.honoured)


# The total deviation of the first packing, as a part of the total target, above which a packing
# with shares (`Packing.place_share`) is tried too.
SHARES_RETRY = 0.05


def _packed(types: CaseTypes, capacity: np.ndarray, need_capacity: dict[str, np.ndarray], target: np.ndarray, shares: bool) -> Packing:
    """Every unit placed greedily: linked units first, then restricted and needy units (they have
    fewer places to go), then the largest first; with `shares`, a first share of every type in
    every state before."""
    packing = Packing(types, capacity, need_capacity, target)
    restricted = (types.limit == 0).any(axis=1)
    needy = np.zeros(types.n_types, dtype=bool)
    for q in types.need_persons.values():
        needy |= q > 0
    tier_keys = [-types.burden, -types.persons, ~needy, ~restricted]
    order = np.lexsort(tier_keys)
    many = in_bulk(types)
    place_links_all(packing, many)
    if shares:
        place_shares(packing, order, many)
    place_all(packing, order, tier_keys, many)
    packing.place_leftovers()
    return packing
