"""The closed-form methods: Hamilton (largest remainder), the divisor methods, the quota method."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .problem import REL_TOL, Tie, _Problem, _bounded_quota_function, _make_tie, _number, _water_level


# --------------------------------------------------------------------------------------------
# Hamilton (largest remainder)
# --------------------------------------------------------------------------------------------


def _hamilton_method(problem: _Problem) -> tuple[np.ndarray, list[Tie]]:
    """Floors of the bounded quotas, then one more unit to each of the largest remainders."""
    tol = problem.tol
    quotas = _bounded_quota_function(problem)(problem.total)
    floors = np.clip(np.floor(quotas + tol), problem.lower, problem.upper).astype(np.int64)
    remainders = np.where(floors < problem.upper, np.maximum(quotas - floors, 0.0), -np.inf)
    left = problem.total - int(floors.sum())
    allocated = floors.copy()
    if left == 0:
        return allocated, []

    cut = np.sort(remainders)[::-1][left - 1]
    if not cut > tol:
        raise RuntimeError("internal error: more units left over than positive remainders")
    sure = np.flatnonzero(remainders > cut + tol)
    at_cut = np.flatnonzero(np.abs(remainders - cut) <= tol)
    winners_at_cut = at_cut[: left - len(sure)]
    allocated[sure] += 1
    allocated[winners_at_cut] += 1

    ties = []
    if len(at_cut) > len(winners_at_cut):
        ties.append(_make_tie(problem, at_cut, winners_at_cut, f"equal remainder {_number(cut)}"))
    return allocated, ties


# --------------------------------------------------------------------------------------------
# Divisor methods and the quota method: seat by seat
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Divisor:
    """d(k), the divisor for a state holding k seats, and its continuous inverse (y -> k)."""

    divisor: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


_DIVISORS: dict[str, _Divisor] = {
    "jefferson": _Divisor(lambda k: k + 1.0, lambda y: y - 1.0),
    "webster": _Divisor(lambda k: k + 0.5, lambda y: y - 0.5),
    "huntington-hill": _Divisor(
        lambda k: np.sqrt(k * (k + 1.0)),
        lambda y: (np.sqrt(1.0 + 4.0 * y * y) - 1.0) / 2.0,
    ),
    "adams": _Divisor(lambda k: k.astype(float), lambda y: y),
    "dean": _Divisor(
        lambda k: 2.0 * k * (k + 1.0) / (2.0 * k + 1.0),
        lambda y: ((2.0 * y - 2.0) + np.sqrt((2.0 - 2.0 * y) ** 2 + 8.0 * y)) / 4.0,
    ),
}


def _divisor_method(
    problem: _Problem, method: str, *, head_start: bool = True
) -> tuple[np.ndarray, list[Tie]]:
    """Bounded divisor method: from the minimums, each next seat goes to the highest w_i / d(a_i)
    among states below capacity.

    This sequential form is the same as a_i = clamp(round_d(w_i / D), min_i, cap_i) with a suitable
    divisor D, but it never has to search for D and it sees every tie. `head_start` skips the seats
    that are certain anyway (see `_divisor_head_start`); it changes the speed, not the result.
    """
    divisor = _DIVISORS[method].divisor
    start = _divisor_head_start(problem, method) if head_start else problem.lower.copy()

    def priority(seats: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: zero weight, never eligible
            return np.where(divisor(seats) > 0, problem.weights / divisor(seats), np.inf)

    def eligible(seats: np.ndarray, house: int) -> np.ndarray:
        return seats < problem.upper

    return _assign_seat_by_seat(problem, start, priority, eligible)


def _divisor_head_start(problem: _Problem, method: str) -> np.ndarray:
    """Seats every state is sure to hold in the final allocation, so that only about 2n + 1 seats
    remain to be assigned one by one however large the total is.

    At a threshold x, state i holds N_i(x) = #{k >= 0 : w_i / d(k) > x} seats (clamped to its
    bounds). If those counts sum to less than the total, x lies above the final cut, so each count
    is a lower bound of the final allocation. The counts come from the continuous inverse of d in
    floating point and may be one off either way, so every state gives one seat back and the
    threshold keeps 2n + 1 seats to spare.
    """
    size = problem.size
    goal = problem.total - 2 * size - 1
    if goal <= int(problem.lower.sum()):
        return problem.lower.copy()
    inverse = _DIVISORS[method].inverse

    def sure_seats(scale: float) -> np.ndarray:
        counts = np.ceil(np.maximum(inverse(problem.weights * scale), 0.0))
        counts = np.where(problem.weights > 0, counts - 1.0, 0.0)
        return np.clip(counts, problem.lower, problem.upper)

    low, high = 0.0, 1.0 / problem.weights.sum()
    for _ in range(2000):
        if sure_seats(high).sum() > goal:
            break
        low, high = high, 2.0 * high
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle <= low or middle >= high:
            break
        if sure_seats(middle).sum() > goal:
            high = middle
        else:
            low = middle
    return sure_seats(low).astype(np.int64)


def _quota_method(problem: _Problem, *, head_start: bool = True) -> tuple[np.ndarray, list[Tie]]:
    """Balinski-Young quota method: Jefferson seat by seat, but a state may take the seat of house
    size h + 1 only while it holds fewer than its upper quota ceil(q_i(h + 1)).

    With bounds, q_i is the bounded quota (see `_bounded_quota_function`), which guarantees that
    some state below capacity is always eligible. `head_start` starts the seat-by-seat loop a few
    seats before the end, from the allocation the loop would have reached there (see
    `_quota_head_start`); it changes the speed, not the result.
    """
    level_at = _water_level(problem)
    tol = problem.tol

    def priority(seats: np.ndarray) -> np.ndarray:
        return problem.weights / (seats + 1.0)

    def eligible(seats: np.ndarray, house: int) -> np.ndarray:
        # seats < ceil(clamp(s * L, min, cap)) reduces to s * L > seats for a state below capacity
        return (seats < problem.upper) & (problem.shares * level_at(house) > seats + tol)

    tail = 2 * problem.size + 1
    while True:
        start = _quota_head_start(problem, level_at, tail) if head_start else problem.lower.copy()
        seats, ties = _assign_seat_by_seat(problem, start, priority, eligible)
        if start.sum() == problem.lower.sum() or not _tie_before(problem, level_at, start, seats):
            return seats, ties
        # A tie for a seat given before the loop started would go unreported: start earlier.
        tail *= 4


def _tie_before(problem: _Problem, level_at: Callable[[float], float], start: np.ndarray, seats: np.ndarray) -> bool:
    """Whether some state's last seat, given before the loop started (at `start`), had the same
    priority as the next seat of a state still eligible at the end: the seat-by-seat loop would
    have reported that tie (a state that loses a tie and never gets another seat), this one
    cannot have seen it."""
    owed = _released(problem, level_at, np.array([problem.total]))[:, 0]
    waiting = (seats < owed) & (problem.weights > 0)
    settled = (seats > problem.lower) & (start >= seats)
    if not waiting.any() or not settled.any():
        return False
    following = problem.weights[waiting] / (seats[waiting] + 1.0)
    last = problem.weights[settled] / seats[settled]
    return bool(np.any(np.abs(last[:, None] - following[None, :]) <= REL_TOL * np.maximum(last[:, None], following[None, :])))


def _quota_head_start(problem: _Problem, level_at: Callable[[float], float], tail: int) -> np.ndarray:
    """The quota method's allocation at house size D = total - `tail`, computed without giving the
    seats one by one, so that the work does not grow with the total.

    Seen as a schedule, the method gives one seat per house size to the highest-priority seat that
    is "released": state i's k-th seat has priority w_i / k and is released at the first house size
    where k <= U_i(h), its upper quota (`_released`). Giving unit jobs with release times by
    highest priority first yields, at every house size D, the highest-priority set of seats that
    can all be given by D: the greedy basis of the matroid of such sets. A set of seats a (prefixes
    per state, as every state's seats are) can be given by D when, for every h <= D, the seats
    released after h fit into the D - h house sizes left (`_schedulable`). The method keeps quota,
    so a_i is the floor of the bounded quota or one more: the floors are all in the basis, and the
    few seats left go, by priority, to the states whose extra seat keeps the set schedulable.
    Checked against the seat-by-seat loop on random bounded and unbounded problems, ties included
    (tests/test_apportion.py).
    """
    size = problem.size
    house = problem.total - tail
    if house <= int(problem.lower.sum()):
        return problem.lower.copy()
    quotas = _bounded_quota_function(problem)(house)
    released = _released(problem, level_at, np.array([house]))[:, 0]
    floors = np.minimum(np.clip(np.floor(quotas + problem.tol), problem.lower, problem.upper).astype(np.int64), released)
    left = house - int(floors.sum())
    candidates = [i for i in range(size) if floors[i] < released[i]]
    if left < 0 or left > len(candidates):
        return problem.lower.copy()  # not the shape the method guarantees: give every seat in turn
    candidates.sort(key=lambda i: (-problem.weights[i] / (floors[i] + 1.0), i))
    candidates = _ties_in_input_order(problem, floors, candidates)
    seats = floors.copy()
    for i in candidates:
        if left == 0:
            break
        seats[i] += 1
        if _schedulable(problem, level_at, seats, house):
            left -= 1
        else:
            seats[i] -= 1
    return seats if left == 0 else problem.lower.copy()


def _ties_in_input_order(problem: _Problem, floors: np.ndarray, order: list[int]) -> list[int]:
    """`order` (by priority) with priorities equal within REL_TOL put in input order, as the loop
    breaks such ties."""
    out: list[int] = []
    while order:
        level = problem.weights[order[0]] / (floors[order[0]] + 1.0)
        same = [i for i in order if problem.weights[i] / (floors[i] + 1.0) >= _lowest_equal_priority(level)]
        out += sorted(same)
        order = [i for i in order if i not in same]
    return out


def _released(problem: _Problem, level_at: Callable[[float], float], houses: np.ndarray) -> np.ndarray:
    """U_i(h) for each house size h (columns): the seats state i may hold at house size h under
    the quota method, clamp(ceil(s_i L(h) - tol), min_i, cap_i)."""
    if problem.unbounded:
        levels = houses.astype(float)
    else:
        levels = np.fromiter((level_at(float(h)) for h in houses), dtype=float, count=len(houses))
    owed = np.ceil(np.maximum(problem.shares[:, None] * levels[None, :] - problem.tol, 0.0))
    return np.clip(owed, problem.lower[:, None], problem.upper[:, None])


# House sizes checked per step of `_schedulable` (bounds the memory: n states x this many floats).
_CHUNK = 1 << 16


def _schedulable(problem: _Problem, level_at: Callable[[float], float], seats: np.ndarray, house: int) -> bool:
    """Whether the seats `seats` (at most `house` of them) can all be given by house size `house`:
    for every h, the seats released after h, sum_i max(0, a_i - U_i(h)), fit into the house - h
    sizes left. As sum_i U_i(h) >= h (some state is always eligible), that can only fail once some
    state's next seat, beyond a_i, is released; so only house sizes from there on are checked:
    fewer than 1 / (smallest share) of them, however large the house."""
    first = house
    for i in np.flatnonzero(seats < problem.upper):
        low, high = int(problem.lower.sum()), house
        if _released(problem, level_at, np.array([high]))[i, 0] <= seats[i]:
            continue
        while low < high:  # the first house size at which state i's next seat is released
            middle = (low + high) // 2
            if _released(problem, level_at, np.array([middle]))[i, 0] > seats[i]:
                high = middle
            else:
                low = middle + 1
        first = min(first, low)
    for begin in range(first, house + 1, _CHUNK):
        houses = np.arange(begin, min(begin + _CHUNK, house + 1))
        late = np.maximum(seats[:, None] - _released(problem, level_at, houses), 0.0).sum(axis=0)
        if np.any(late > house - houses):
            return False
    return True


def _assign_seat_by_seat(
    problem: _Problem,
    start: np.ndarray,
    priority: Callable[[np.ndarray], np.ndarray],
    eligible: Callable[[np.ndarray, int], np.ndarray],
) -> tuple[np.ndarray, list[Tie]]:
    """Give the seats from sum(start) + 1 to total one at a time to the eligible state with the
    highest priority; equal priorities go to the state listed first and are logged as ties.

    This loop runs once per seat for the quota method, so it sticks to a few whole-array numpy
    operations per seat.
    """
    seats = start.astype(np.int64).copy()
    log = _TieLog()
    for house in range(int(seats.sum()) + 1, problem.total + 1):
        claims = np.where(eligible(seats, house), priority(seats), -np.inf)
        best = float(claims.max())
        if best == -math.inf:
            raise RuntimeError(f"internal error: no state can take seat {house}")
        contenders = claims >= _lowest_equal_priority(best)
        winner = int(contenders.argmax())
        if np.count_nonzero(contenders) > 1:
            log.record(best, np.flatnonzero(contenders), seats)
        else:
            log.record(best, (winner,), seats)
        seats[winner] += 1
    return seats, log.ties(problem, seats)


def _lowest_equal_priority(level: float) -> float:
    """The smallest claim that still counts as equal to `level` (infinite claims only equal each
    other)."""
    return level if math.isinf(level) else level - REL_TOL * abs(level)


class _TieLog:
    """Collects the seats given while other states had the same priority.

    Consecutive seats at one priority level form a group. A group is a tie only if some competitor
    ended up without the seat it competed for: in the divisor methods a tie for an early seat is
    harmless, because the loser gets the next seat at the same priority anyway.
    """

    def __init__(self) -> None:
        self._groups: list[tuple[float, dict[int, int], list[int]]] = []

    def record(self, level: float, contenders: Sequence[int], seats: np.ndarray) -> None:
        """Note that the seat went to contenders[0] though all of them claimed it at `level`."""
        if not self._groups or not self._same_level(level, self._groups[-1][0]):
            self._groups.append((level, {}, []))
        _, competitors, winners = self._groups[-1]
        for i in contenders:
            competitors.setdefault(int(i), int(seats[i]))
        winners.append(int(contenders[0]))

    @staticmethod
    def _same_level(a: float, b: float) -> bool:
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= REL_TOL * max(abs(a), abs(b))

    def ties(self, problem: _Problem, final: np.ndarray) -> list[Tie]:
        found = []
        for level, competitors, winners in self._groups:
            left_out = [
                i for i, held in competitors.items() if i not in winners and final[i] == held
            ]
            if left_out:
                reason = (
                    "each is still owed a first seat"
                    if math.isinf(level)
                    else f"equal priority {_number(level)}"
                )
                found.append(_make_tie(problem, winners + left_out, winners, reason))
        return found


