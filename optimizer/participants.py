"""Which states take part: the willing ones, narrowed by `--only` and `--exclude`.

Kept apart from reading the states file: the table is already valid here, and what can go wrong is
a choice (an unknown or unwilling code in an option), not a cell of a file.
"""

from __future__ import annotations

import pandas as pd

from .errors import InputError, show


def split_codes(text: str | None) -> list[str]:
    """Parse an option like 'DE,FR, IT' into codes."""
    if not text:
        return []
    return [c.strip() for c in text.split(",") if c.strip()]


def participants(
    states: pd.DataFrame, only: list[str] | None = None, exclude: list[str] | None = None
) -> pd.DataFrame:
    """The states that take part: willing, in `only` (when given), not in `exclude`. Input order kept."""
    only = list(only or [])
    exclude = list(exclude or [])
    source = states.attrs.get("source", "the states file")
    for option, codes in (("--only", only), ("--exclude", exclude)):
        unknown = [c for c in codes if c not in states.index]
        if unknown:
            raise InputError(
                f"{option}: unknown state code(s) {', '.join(show(c) for c in unknown)} (not in {source})"
            )
    both = sorted(set(only) & set(exclude))
    if both:
        raise InputError(
            f"state(s) {', '.join(show(c) for c in both)} both required (--only) and excluded (--exclude)"
        )
    unwilling = [c for c in only if not bool(states.at[c, "willing"])]
    if unwilling:
        raise InputError(
            f"state(s) {', '.join(show(c) for c in unwilling)} required (--only) but not willing "
            f"(willing = false in {source})"
        )
    mask = states["willing"].astype(bool)
    if only:
        mask &= states.index.isin(only)
    if exclude:
        mask &= ~states.index.isin(exclude)
    chosen = states[mask]
    if chosen.empty:
        raise InputError("no participating state: every state is unwilling or left out by --only/--exclude")
    chosen.attrs = dict(states.attrs)
    return chosen


__all__ = ["participants", "split_codes"]
