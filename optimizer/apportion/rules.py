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


def _quota_method(problem: _Problem) -> tuple[np.ndarray, list[Tie]]:
    """Balinski-Young quota method: Jefferson seat by seat, but a state may take the seat of house
    size h + 1 only while it holds fewer than its upper quota ceil(q_i(h + 1)).

    With bounds, q_i is the bounded quota (see `_bounded_quota_function`), which guarantees that
    some state below capacity is always eligible.
    """
    level_at = _water_level(problem)
    tol = problem.tol

    def priority(seats: np.ndarray) -> np.ndarray:
        return problem.weights / (seats + 1.0)

    def eligible(seats: np.ndarray, house: int) -> np.ndarray:
        # seats < ceil(clamp(s * L, min, cap)) reduces to s * L > seats for a state below capacity
        return (seats < problem.upper) & (problem.shares * level_at(house) > seats + tol)

    return _assign_seat_by_seat(problem, problem.lower.copy(), priority, eligible)


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


