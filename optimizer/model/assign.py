"""From counts to cases: unit hand-out, case ids, and why a case (or a whole plan) cannot be placed."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import takewhile

import numpy as np
import pandas as pd

from ..results import column_or_nan
from ..io.states import CAPACITY_PREFIX
from .types import CaseTypes

REASON_NO_STATE = "no allowed state"
REASON_TOO_LARGE = "larger than the capacity of every allowed state"
REASON_NEED = "need capacity ({need}) exhausted in allowed states"
REASON_CAPACITY = "capacity of allowed states exhausted"


def _who(types: CaseTypes, t: int) -> str:
    if types.group_units[t] == 0:
        return "family"
    return "group" if types.group_units[t] == types.count[t] else "family or group"


def _allowed_for(types: CaseTypes, allowed: list[np.ndarray], t: int, excluded: int) -> np.ndarray:
    return allowed[t] if excluded < 0 else allowed[t][allowed[t] != excluded]


def explain_infeasible(states: pd.DataFrame, types: CaseTypes) -> str:
    """Say in words why not every case can be placed; the first reasons found, most basic first."""
    codes = list(states.index)
    capacity = column_or_nan(states, "capacity")
    minimum = np.nan_to_num(column_or_nan(states, "minimum"))
    total_persons = int((types.count * types.persons).sum())
    allowed = types.allowed
    reasons = []
    if not np.isnan(capacity).any():
        short = total_persons - int(capacity.sum())
        if short > 0:
            reasons.append(
                f"total capacity {int(capacity.sum()):,} is short by {short:,} persons "
                f"for {total_persons:,} persons to place"
            )
    if minimum.sum() > total_persons:
        reasons.append(f"the states' minimums add up to {int(minimum.sum()):,}, more than the {total_persons:,} persons to place")
    variants = types.variants()
    for t, excluded, units in variants:
        if types.no_state_reason[t]:
            reasons.append(f"{units} unit(s) of {types.persons[t]} person(s): {types.no_state_reason[t]}")
            continue
        caps = capacity[_allowed_for(types, allowed, t, excluded)]
        if len(caps) and not np.isnan(caps).any() and types.persons[t] > caps.max():
            reasons.append(
                f"a {_who(types, t)} of {types.persons[t]} persons is larger than any state it may go to "
                f"(largest capacity {int(caps.max())})"
            )
    for need, q in types.need_persons.items():
        column = CAPACITY_PREFIX + need
        if column in states.columns:
            cap = column_or_nan(states, column)
            for t, excluded, _ in variants:
                if not q[t]:
                    continue
                allowed_caps = cap[_allowed_for(types, allowed, t, excluded)]
                if len(allowed_caps) and not np.isnan(allowed_caps).any() and q[t] > allowed_caps.max():
                    reasons.append(
                        f"need '{need}': a family of {q[t]} persons needing it exceeds {column} of every "
                        f"state it may go to (largest {int(allowed_caps.max())})"
                    )
            if not np.isnan(cap).any():
                demand = int((q * types.count).sum())
                if demand > cap.sum():
                    reasons.append(
                        f"need '{need}': {demand:,} persons but total {column} is {int(cap.sum()):,} "
                        f"(short by {demand - int(cap.sum()):,})"
                    )
    if not reasons:
        reasons.append(
            "capacities, need capacities, minimums, exclusions and hard links conflict "
            f"for the {len(codes)} participating states"
        )
    return "; ".join(dict.fromkeys(reasons))


def spread(excluded_units: np.ndarray, plain_units: int, places: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand out units that may each not go to one state over places per state.

    `excluded_units[e]` units may go anywhere but state e, `plain_units` anywhere, `places[s]` is
    how many go to state s (the rest stay unplaced). Possible exactly when no state needs more
    than the units that may go there: places[s] + excluded_units[s] <= all units (Hall's condition
    for sets of one state; larger sets hold by themselves). Returns (z, z_plain): z[e, s] units
    excluded from e placed in s, z_plain[s] plain units placed in s.

    Greedy and exact: each step pairs a kind of unit with a state (never its excluded one) and
    moves as many as keep every state's condition true, always serving the states whose condition
    is tight (at most two can be), most constrained first.
    """
    n = len(places)
    # Python ints and lists: a call takes a few dozen steps over a few dozen states, where numpy's
    # per-call overhead is most of the time (3,242 calls at a million cases with weights)
    f = [int(x) for x in excluded_units] + [int(plain_units)]  # kinds: e..., plain
    r = [int(x) for x in places] + [0]  # bins: states..., unplaced
    total = sum(f)
    r[n] = total - sum(r[:n])
    if r[n] < 0 or any(r[s] + f[s] > total for s in range(n)):
        raise ValueError("units cannot be handed out: a state needs more units than may go there")
    z = np.zeros((n + 1, n + 1), dtype=np.int64)
    for _ in range(4 * (n + 2) ** 2):
        if total == 0:
            break
        key = [a + b for a, b in zip(r, f)]  # (the last, the unplaced bin's, is not a state's)
        order = sorted(range(n), key=key.__getitem__, reverse=True)  # stable: ties in state order
        tight = set(takewhile(lambda s: key[s] >= total, order))
        if len(tight) > 2:
            raise ValueError("units cannot be handed out")
        kinds = [s for s in order if f[s] > 0] + ([n] if f[n] > 0 else [])
        bins = [s for s in order if r[s] > 0] + ([n] if r[n] > 0 else [])
        pair = _first_pair(kinds, bins, tight, n)
        if pair is None:
            raise ValueError("units cannot be handed out")
        c, b = pair
        # the largest key of a state not served (keys in descending order already)
        others = next((key[s] for s in order if s != c and s != b), None)
        k = min(f[c], r[b], total - others if others is not None else total)
        z[c, b] += k
        f[c] -= k
        r[b] -= k
        total -= k
    if total:
        raise ValueError("units cannot be handed out")
    return z[:n, :n], z[n, :n]


def _first_pair(kinds: list[int], bins: list[int], tight: set[int], n: int) -> tuple[int, int] | None:
    """The first (kind, state) in `spread`'s order that is not a kind's own excluded state and
    serves every tight state."""
    for c in kinds:
        for b in bins:
            if c == b and c < n:
                continue
            if tight <= {c, b}:
                return c, b
    return None


def assign_units(types: CaseTypes, counts: np.ndarray, honoured: np.ndarray) -> np.ndarray:
    """State position per unit (-1: unplaced). Within a base type, honoured linked units go first to
    their linked states; the rest, in case id order, fill the remaining places in state order (units
    excluded from a state are handed out first, never to that state: `spread`)."""
    n_states = counts.shape[1]
    state = np.full(len(types.unit_base), -1, dtype=np.int64)
    slots = counts.astype(np.int64).copy()
    _honoured_units(types, honoured, state, slots)
    slots = np.maximum(slots, 0)
    order = np.lexsort((types.unit_rank, types.unit_base))
    rest = order[state[order] < 0]
    pooled = types.excluded.any(axis=1)
    plain = rest[~pooled[types.unit_base[rest]]]
    _in_state_order(types.unit_base[plain], plain, slots, state)
    # Pooled types: per type and kind of unit (plain, or excluded from one state) the places
    # `spread` gives, then every kind's units into its places in state order at once.
    units = rest[pooled[types.unit_base[rest]]]
    where = np.cumsum(pooled) - 1  # a pooled type's number among them
    group = where[types.unit_base[units]] * (n_states + 1) + types.unit_excluded[units] + 1
    per_kind = np.bincount(group, minlength=int(pooled.sum()) * (n_states + 1)).reshape(-1, n_states + 1)
    places = np.zeros((len(per_kind) * (n_states + 1), n_states), dtype=np.int64)
    for i, t in enumerate(np.flatnonzero(pooled).tolist()):
        z, z_plain = spread(per_kind[i, 1:], int(per_kind[i, 0]), slots[t])
        places[i * (n_states + 1)] = z_plain
        places[i * (n_states + 1) + 1 : (i + 1) * (n_states + 1)] = z
    order = np.argsort(group, kind="stable")  # by type and kind, case id order within
    _in_state_order(group[order], units[order], places, state)
    return state


def _honoured_units(types: CaseTypes, honoured: np.ndarray, state: np.ndarray, slots: np.ndarray) -> None:
    """Each link class's honoured units, in case id order, to its states in state order (the
    class's count there); their places taken from `slots`."""
    linked = np.flatnonzero(types.unit_link >= 0)
    if not len(linked) or not honoured.any():
        return
    members = linked[np.lexsort((types.unit_rank[linked], types.unit_link[linked]))]
    first = np.searchsorted(types.unit_link[members], np.arange(honoured.shape[0]))
    classes, states = np.nonzero(honoured)  # by class, then state
    k = honoured[classes, states]
    given_class = np.repeat(classes, k)
    # where each class's run begins among the units given out (classes in order)
    runs = np.concatenate([[0], np.cumsum(np.bincount(classes, weights=k, minlength=honoured.shape[0]).astype(np.int64))])
    within = np.arange(len(given_class)) - runs[given_class]
    state[members[first[given_class] + within]] = np.repeat(states, k)
    np.subtract.at(slots, (types.link_base[classes], states), k)


def _in_state_order(base: np.ndarray, units: np.ndarray, slots: np.ndarray, state: np.ndarray) -> None:
    """Units (grouped by base type, in case id order within) into their type's slots, state by
    state: the i-th unit of type t goes to the first state whose running count of t's slots
    exceeds i; units beyond the slots stay unplaced."""
    if not len(units):
        return
    n_types, n_states = slots.shape
    first = np.searchsorted(base, np.arange(n_types))
    position = np.arange(len(units)) - first[base]
    running = np.cumsum(slots, axis=1)
    step = int(running[:, -1].max()) + 1 if n_states else 1
    keys = (running + np.arange(n_types)[:, None] * step).reshape(-1)
    at = np.searchsorted(keys, base * step + position, side="right") - base * n_states
    placed = at < n_states
    state[units[placed]] = at[placed]


def _case_table(cases: pd.DataFrame, case_state: np.ndarray, codes: list[str], weights: np.ndarray, reasons: np.ndarray) -> pd.DataFrame:
    code_array = np.array(list(codes) + [""], dtype=object)
    state_codes = code_array[case_state]
    links = cases["links"].to_numpy(dtype=object)
    honoured = np.full(len(cases), "", dtype=object)
    rows = np.flatnonzero(links != "")
    if len(rows):
        # each distinct list of links split once (a million cases have a few hundred)
        which, distinct = pd.factorize(links[rows])
        position = {code: i for i, code in enumerate(codes)}
        linked = np.zeros((len(distinct), len(codes) + 1), dtype=bool)  # last column: unplaced
        for j, text in enumerate(distinct):
            linked[j, [position[code] for code in text.split(";") if code in position]] = True
        honoured[rows] = np.where(linked[which, case_state[rows]], "true", "false")
    return pd.DataFrame(
        {
            "case_id": cases["case_id"].to_numpy(),
            "state": state_codes,
            "size": cases["size"].to_numpy(),
            "weight": weights,
            "group": cases["group"].to_numpy(),
            "links": links,
            "link_honoured": honoured,
            "reason": reasons,
        }
    )


def _unplaced_reasons(types: CaseTypes, unit_state: np.ndarray, states: pd.DataFrame) -> np.ndarray:
    """Why each unplaced unit is unplaced, in words (per unit; '' when placed)."""
    reasons = np.full(len(unit_state), "", dtype=object)
    unplaced = np.flatnonzero(unit_state < 0)
    if not len(unplaced):
        return reasons
    capacity = column_or_nan(states, "capacity")
    allowed = types.allowed
    n_states = types.limit.shape[1]
    key = types.unit_base[unplaced] * (n_states + 1) + types.unit_excluded[unplaced] + 1
    values, which = np.unique(key, return_inverse=True)
    whys = np.full(len(values), "", dtype=object)
    for i, value in enumerate(values.tolist()):
        t, excluded = int(value // (n_states + 1)), int(value % (n_states + 1)) - 1
        if types.no_state_reason[t]:
            why = f"{REASON_NO_STATE}: {types.no_state_reason[t]}"
        else:
            where = _allowed_for(types, allowed, t, excluded)
            caps = capacity[where]
            why = REASON_CAPACITY
            if not np.isnan(caps).any() and types.persons[t] > caps.max():
                why = REASON_TOO_LARGE
            else:
                for need, q in types.need_persons.items():
                    need_caps = column_or_nan(states, CAPACITY_PREFIX + need)[where]
                    if q[t] and not np.isnan(need_caps).any():
                        why = REASON_NEED.format(need=need)
                        break
        whys[i] = why
    reasons[unplaced] = whys[which.ravel()]
    return reasons


@dataclass(frozen=True)
class CasePlan:
    """The cases placed: one row per case, and what the per-state table and the counts need."""

    table: pd.DataFrame
    persons: np.ndarray  # per state
    burden: np.ndarray
    cases: np.ndarray
    links_honoured: np.ndarray
    cases_with_links: int
    groups: int
    groups_kept_together: int
    groups_split: int


def assign_cases(cases: pd.DataFrame, weights: np.ndarray, types: CaseTypes, counts: np.ndarray, honoured: np.ndarray, states: pd.DataFrame) -> CasePlan:
    """Hand out the counts to cases (deterministically: units in case id order) and tally the result."""
    n_states = len(states)
    unit_state = assign_units(types, counts, honoured)
    case_state = unit_state[types.unit_of_case]
    reasons = _unplaced_reasons(types, unit_state, states)[types.unit_of_case]
    table = _case_table(cases, case_state, list(states.index), weights, reasons)
    placed = case_state >= 0
    where = case_state[placed]
    size = cases["size"].to_numpy()
    honoured_case = (table["link_honoured"] == "true").to_numpy()
    in_group = table[table["group"] != ""]
    per_group = in_group.groupby("group", sort=False)["state"].nunique()
    return CasePlan(
        table=table,
        persons=np.bincount(where, weights=size[placed], minlength=n_states).astype(np.int64),
        burden=np.bincount(where, weights=weights[placed], minlength=n_states),
        cases=np.bincount(where, minlength=n_states).astype(np.int64),
        links_honoured=np.bincount(case_state[honoured_case], minlength=n_states).astype(np.int64),
        cases_with_links=int((table["links"] != "").sum()),
        groups=len(per_group),
        groups_kept_together=int((per_group == 1).sum()),
        groups_split=int((per_group > 1).sum()),
    )
