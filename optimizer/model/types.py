"""Case types: the case list aggregated into interchangeable units, the model's variables.

The model never sees a case: it counts how many units of each type go to each state. This module
turns the case list (or, in quota mode, a total of one-person cases) into those types, in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..io.cases import case_weights, need_counts
from ..settings import Links, Settings


@dataclass(frozen=True)
class CaseTypes:
    """Interchangeable units, aggregated.

    A unit is a case, or all cases of one `group`. The model only sees a unit's persons, burden,
    persons per need and the states it may go to, so units alike in these form one *base type*:
    the model counts how many of each go to each state (`limit[t, s]` at most).

    Exclusions are pooled too: a unit excluded from one participating state (or from none) joins
    the base type of its persons, burden and needs, and `excluded[t, s]` counts the units of type
    t that may not go to s, so at most `count[t] - excluded[t, s]` go there. That bound is exact:
    units that each miss at most one state can be handed out to any counts within these bounds
    (Hall's condition only binds for single states), and `assign_units` does so. Units that miss
    two or more states keep a type of their own with their exact set of allowed states.

    A family link does not change where a unit may go, only whether it is honoured there, so a
    unit with soft links belongs to its base type too and, in addition, to a *link class* (base
    type, excluded state and links); the model counts separately how many of a link class sit in
    its linked states. A linked unit placed elsewhere is exactly a plain unit of its base type.

    Unit bookkeeping (for handing out case ids afterwards) is kept as arrays: `unit_base`,
    `unit_excluded` (the one state a pooled unit may not go to, -1 for none) and `unit_link` per
    unit, and the member cases of unit u at `unit_members[unit_offsets[u]:unit_offsets[u+1]]`.
    """

    count: np.ndarray  # units per base type
    persons: np.ndarray  # persons per unit
    burden: np.ndarray  # burden units per unit
    group_units: np.ndarray  # units per base type that are groups of several cases
    need_persons: dict[str, np.ndarray]  # need -> persons needing it, per unit
    limit: np.ndarray  # (types x states): most units of the type a state can take (0: not allowed)
    excluded: np.ndarray  # (types x states): pooled units of the type excluded from the state
    no_state_reason: list[str]  # per base type: '' or why no state is allowed
    link_base: np.ndarray  # per link class: its base type
    link_excluded: np.ndarray  # per link class: the state its units may not go to (-1: none)
    link_count: np.ndarray  # per link class: units
    link_states: list[np.ndarray]  # per link class: linked participant positions (allowed ones)
    link_honour: list[np.ndarray]  # per link class: cases honoured per unit at each linked state
    unit_base: np.ndarray | None = None
    unit_excluded: np.ndarray | None = None
    unit_link: np.ndarray | None = None
    unit_of_case: np.ndarray | None = None
    unit_members: np.ndarray | None = None
    unit_offsets: np.ndarray | None = None
    # per unit: its rank by the smallest case id among its members (the order units are handed out
    # in, so that which case goes where does not depend on the order of the rows)
    unit_rank: np.ndarray | None = None
    # Relocation from several origins: the origins (state codes, sorted) and per base type the
    # index of its origin (-1: none). Every unit of a type comes from the same origin.
    origins: tuple[str, ...] = ()
    origin: np.ndarray | None = None

    @property
    def n_types(self) -> int:
        return len(self.count)

    @cached_property
    def allowed(self) -> list[np.ndarray]:
        """Per base type: the participant positions some of its units may go to."""
        types, states = np.nonzero(self.limit > 0)
        return np.split(states, np.cumsum(np.bincount(types, minlength=self.n_types))[:-1])

    def variants(self) -> list[tuple[int, int, int]]:
        """(base type, excluded state or -1, units) for every kind of unit, in type order."""
        if self.unit_base is None:
            return [(t, -1, int(c)) for t, c in enumerate(self.count)]
        n_states = self.limit.shape[1]
        key = self.unit_base * (n_states + 1) + (self.unit_excluded + 1)
        values, counts = np.unique(key, return_counts=True)
        return [(int(v // (n_states + 1)), int(v % (n_states + 1)) - 1, int(c)) for v, c in zip(values, counts)]


def _split(cell: str) -> list[str]:
    return cell.split(";") if cell else []


def _units(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cases -> units: (unit of each case, first case of each unit, members in unit order, offsets)."""
    n = len(group)
    anchor = np.arange(n)
    grouped = np.flatnonzero(group != "")
    if len(grouped):
        codes, _ = pd.factorize(pd.Series(group[grouped], dtype=object), sort=False)
        first = np.full(codes.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, codes, grouped)
        anchor[grouped] = first[codes]
    unit_of_case, firsts = pd.factorize(anchor, sort=False)
    firsts = np.asarray(firsts, dtype=np.int64)
    members = np.argsort(unit_of_case, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(unit_of_case, minlength=len(firsts)))])
    return unit_of_case, firsts, members, offsets


def _code_masks(cells: np.ndarray, code_pos: dict[str, int], n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct 'a;b' cells -> (index of each cell's distinct value, distinct x states 0/1 matrix)."""
    inverse, distinct = pd.factorize(pd.Series(cells, dtype=object), sort=False)
    masks = np.zeros((len(distinct), n_states), dtype=np.int64)
    for k, cell in enumerate(distinct):
        for code in _split(cell):
            if code in code_pos:
                masks[k, code_pos[code]] = 1
    return inverse, masks


_REASONS = (
    "",
    "excluded from every participating state",
    "hard family links only to states that do not take part",
    "group members' hard links have no common participating state",
    "no participating state allowed",
)


def _allowed_states(cases: pd.DataFrame, excluded: np.ndarray, unit_of_case: np.ndarray, cases_in_unit: np.ndarray, code_pos: dict[str, int], hard_links: bool) -> tuple[np.ndarray, np.ndarray]:
    """(units x states) where each unit may go, and per unit the index of the reason in `_REASONS`
    why it may go nowhere (0: it may go somewhere). Not where a member is excluded (`excluded`,
    per case); with hard links, only where every member with links has one."""
    n_units, n_states = len(cases_in_unit), len(code_pos)
    allowed = np.ones((n_units, n_states), dtype=bool)
    rows = np.flatnonzero(excluded != "")
    if len(rows):
        inverse, masks = _code_masks(excluded[rows], code_pos, n_states)
        row, state, _ = _entries(inverse, masks)
        allowed[unit_of_case[rows][row], state] = False
    reason = np.where(allowed.any(axis=1), 0, 1)
    if hard_links:
        links = cases["links"].to_numpy(dtype=object)
        rows = np.flatnonzero(links != "")
        if len(rows):
            inverse, masks = _code_masks(links[rows], code_pos, n_states)
            np.logical_and.at(allowed, unit_of_case[rows], masks[inverse] > 0)
        no_link_state = (reason == 0) & ~allowed.any(axis=1)
        reason[no_link_state] = np.where(cases_in_unit[no_link_state] > 1, 3, 2)
    reason[(reason == 0) & ~allowed.any(axis=1)] = 4
    return allowed, reason


def _entries(inverse: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero entries of masks[inverse] as (row, state, value), without making that dense
    (rows x states) array: a case names a few states, a state table may have hundreds."""
    held_row, held_state = np.nonzero(masks)
    per_mask = np.bincount(held_row, minlength=len(masks))
    first = np.concatenate([[0], np.cumsum(per_mask)[:-1]])
    k = per_mask[inverse]
    row = np.repeat(np.arange(len(inverse)), k)
    entry = np.repeat(first[inverse], k) + (np.arange(len(row)) - np.repeat(np.cumsum(k) - k, k))
    return row, held_state[entry], masks[held_row[entry], held_state[entry]]


@dataclass(frozen=True)
class _LinkClasses:
    base: np.ndarray
    excluded: np.ndarray
    count: np.ndarray
    states: list[np.ndarray]
    honour: list[np.ndarray]
    unit_link: np.ndarray | None  # per unit: its link class, -1 for none


_NO_LINKS = _LinkClasses(*(np.zeros(0, dtype=np.int64),) * 3, [], [], None)


def _link_classes(links: np.ndarray, unit_of_case: np.ndarray, allowed: np.ndarray, unit_base: np.ndarray, unit_excluded: np.ndarray, code_pos: dict[str, int]) -> _LinkClasses:
    """Link classes: units of one base type, excluded state and links, honourable in an allowed state."""
    n_states = len(code_pos)
    rows = np.flatnonzero(links != "")
    if not len(rows):
        return _NO_LINKS
    inverse, masks = _code_masks(links[rows], code_pos, n_states)
    linked_units, where = np.unique(unit_of_case[rows], return_inverse=True)
    honour = np.zeros((len(linked_units), n_states), dtype=np.int64)
    row, state, value = _entries(inverse, masks)
    np.add.at(honour, (where[row], state), value)
    honour *= allowed[linked_units]
    keep = honour.any(axis=1)
    linked_units, honour = linked_units[keep], honour[keep]
    if not len(linked_units):
        return _NO_LINKS
    # sorted keys: the classes (and so the model's columns) do not depend on the order of the rows
    classes = row_groups([unit_base[linked_units], unit_excluded[linked_units], *honour.T])
    unit_link = np.full(len(unit_base), -1, dtype=np.int64)
    unit_link[linked_units] = classes
    first = np.unique(classes, return_index=True)[1]
    return _LinkClasses(
        base=unit_base[linked_units[first]],
        excluded=unit_excluded[linked_units[first]],
        count=np.bincount(classes).astype(np.int64),
        states=[np.flatnonzero(row) for row in honour[first]],
        honour=[row[row > 0] for row in honour[first]],
        unit_link=unit_link,
    )


def _origins(cases: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(the origins, sorted; each case's origin index, -1 for none; each case's excluded states
    with its origin added). A case is not relocated to the state it is in: its origin is one more
    state it may not go to."""
    excluded = cases["excluded"].to_numpy(dtype=object)
    if "origin" not in cases.columns:
        return (), np.full(len(cases), -1, dtype=np.int64), excluded
    origin = cases["origin"].to_numpy(dtype=object)
    origins = tuple(sorted({o for o in origin if o}))
    if not origins:
        return (), np.full(len(cases), -1, dtype=np.int64), excluded
    index = pd.Series(origin).map({o: i for i, o in enumerate(origins)}).fillna(-1).to_numpy(dtype=np.int64)
    given = origin != ""
    excluded = np.where(given, np.where(excluded != "", excluded + ";" + origin, origin), excluded)
    return origins, index, excluded


def build_types(cases: pd.DataFrame, codes: list[str], settings: Settings) -> CaseTypes:
    """Aggregate the case list into base types and link classes (in bulk: no loop over cases)."""
    weights = case_weights(cases, settings.need_weights)
    size = cases["size"].to_numpy(dtype=np.int64)
    links = cases["links"].to_numpy(dtype=object)
    group = cases["group"].to_numpy(dtype=object)
    n_states = len(codes)
    code_pos = {code: i for i, code in enumerate(codes)}

    unit_of_case, firsts, members, offsets = _units(group)
    n_units = len(firsts)
    cases_in_unit = np.diff(offsets)
    persons = np.bincount(unit_of_case, weights=size, minlength=n_units).astype(np.int64)
    burden = np.bincount(unit_of_case, weights=weights, minlength=n_units)
    unit_need = {
        n: np.bincount(unit_of_case, weights=persons_with, minlength=n_units).astype(np.int64)
        for n, persons_with in need_counts(cases).items()
    }

    origins, case_origin, excluded = _origins(cases)
    unit_origin = case_origin[firsts]  # a group's cases share one origin (checked when read)
    allowed, reason = _allowed_states(cases, excluded, unit_of_case, cases_in_unit, code_pos, settings.links == Links.HARD)

    # Pooled units miss at most one state; the others keep their exact allowed set as part of the type.
    n_allowed = allowed.sum(axis=1)
    pooled = (reason == 0) & (n_allowed >= n_states - 1)
    unit_excluded = np.where(pooled & (n_allowed < n_states), np.argmin(allowed, axis=1), -1).astype(np.int64)
    pattern = np.full(n_units, -1, dtype=np.int64)
    apart = np.flatnonzero((reason == 0) & ~pooled)
    if len(apart):
        pattern[apart] = _pattern_numbers(np.packbits(allowed[apart], axis=1))
    key = {"origin": unit_origin} if origins else {}
    key.update({"persons": persons, "burden": burden, "pattern": pattern, "reason": reason})
    key.update({f"need:{n}": q for n, q in unit_need.items()})
    # sorted keys: the types (and so the model's columns) do not depend on the order of the rows
    unit_base = row_groups(list(key.values()))
    n_types = int(unit_base.max()) + 1 if n_units else 0
    first_unit = np.unique(unit_base, return_index=True)[1]

    count = np.bincount(unit_base, minlength=n_types).astype(np.int64)
    type_pooled = pooled[first_unit]
    excl = np.zeros((n_types, n_states), dtype=np.int64)
    marked = unit_excluded >= 0
    if marked.any():
        excl = np.bincount(
            unit_base[marked] * n_states + unit_excluded[marked], minlength=n_types * n_states
        ).reshape(n_types, n_states).astype(np.int64)
    limit = np.where(type_pooled[:, None], count[:, None] - excl, count[:, None] * allowed[first_unit]).astype(np.int64)

    link = _link_classes(links, unit_of_case, allowed, unit_base, unit_excluded, code_pos) if settings.links == Links.SOFT else _NO_LINKS
    unit_link = link.unit_link if link.unit_link is not None else np.full(n_units, -1, dtype=np.int64)
    return CaseTypes(
        count=count,
        persons=persons[first_unit],
        burden=burden[first_unit],
        group_units=np.bincount(unit_base, weights=cases_in_unit > 1, minlength=n_types).astype(np.int64),
        need_persons={n: q[first_unit] for n, q in unit_need.items()},
        limit=limit,
        excluded=excl,
        no_state_reason=[_REASONS[r] for r in reason[first_unit]],
        link_base=link.base,
        link_excluded=link.excluded,
        link_count=link.count,
        link_states=link.states,
        link_honour=link.honour,
        unit_base=unit_base,
        unit_excluded=unit_excluded,
        unit_link=unit_link,
        unit_of_case=unit_of_case,
        unit_members=members,
        unit_offsets=offsets,
        unit_rank=_unit_rank(cases["case_id"].to_numpy(dtype=str), unit_of_case, n_units),
        origins=origins,
        origin=unit_origin[first_unit] if origins else None,
    )


def _pattern_numbers(packed: np.ndarray) -> np.ndarray:
    """Per row of bytes, the number of its distinct value, values numbered in sorted (bytewise)
    order. Up to 8 bytes (64 states) a row is one big-endian integer, in the same order."""
    if packed.shape[1] <= 8:
        wide = np.zeros((len(packed), 8), dtype=np.uint8)
        wide[:, : packed.shape[1]] = packed
        return np.unique(wide.view(">u8").ravel(), return_inverse=True)[1].ravel()
    return pd.factorize(pd.Series([row.tobytes() for row in packed], dtype=object), sort=True)[0]


def row_groups(columns: list[np.ndarray]) -> np.ndarray:
    """Per row, the number of its distinct tuple of values (one per column), tuples numbered in
    sorted order: a sorted groupby's `ngroup`, with one stable lexsort instead of a factorisation
    per column (a link class key has a column per state)."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(columns[::-1])  # the first column is the primary key
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for column in columns:
        ordered = column[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    groups = np.empty(n, dtype=np.int64)
    groups[order] = np.cumsum(new) - 1
    return groups


def _unit_rank(case_ids: np.ndarray, unit_of_case: np.ndarray, n_units: int) -> np.ndarray:
    """Each unit's place (1, 2, ...) in the order of its smallest case id: the order in which
    case ids are handed out, whatever the order of the rows. Case ids are unique, so no ties."""
    ids = pd.Series(case_ids, dtype=object)
    # already in order (case ids are unique), as most case lists are: no sort of a million strings
    order = np.arange(len(ids)) if ids.is_monotonic_increasing else pd.factorize(ids, sort=True)[0]
    smallest = np.full(n_units, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, unit_of_case, order)
    rank = np.empty(n_units, dtype=np.int64)
    rank[np.argsort(smallest, kind="stable")] = np.arange(1, n_units + 1)
    return rank


def quota_types(total: int, n_states: int) -> CaseTypes:
    """Quota mode: `total` interchangeable one-person cases that may go anywhere."""
    return CaseTypes(
        count=np.array([total], dtype=np.int64),
        persons=np.array([1], dtype=np.int64),
        burden=np.array([1.0]),
        group_units=np.zeros(1, dtype=np.int64),
        need_persons={},
        limit=np.full((1, n_states), total, dtype=np.int64),
        excluded=np.zeros((1, n_states), dtype=np.int64),
        no_state_reason=[""],
        link_base=np.zeros(0, dtype=np.int64),
        link_excluded=np.zeros(0, dtype=np.int64),
        link_count=np.zeros(0, dtype=np.int64),
        link_states=[],
        link_honour=[],
    )


def hall_rows(types: CaseTypes) -> np.ndarray:
    """(types x states): where the pooled exclusions need a row once link classes are counted:
    types with link classes and a state some but not all of their units are excluded from."""
    with_links = np.zeros(types.n_types, dtype=bool)
    with_links[types.link_base] = True
    return with_links[:, None] & (types.excluded > 0) & (types.limit > 0)
