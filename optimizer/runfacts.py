"""When a run happened: the one fact, besides wall times, that differs between identical runs.

Every command and every file that records a date asks `run_date`, so SOURCE_DATE_EPOCH (the
reproducible-builds convention: seconds since 1970, UTC) fixes it everywhere at once, and a bad
value is refused by every command before any work (`relocate` checks it first).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from .errors import InputError


def run_date() -> str:
    """Now, or SOURCE_DATE_EPOCH when it is set, as an ISO 8601 UTC timestamp to the second."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        raise InputError(f"SOURCE_DATE_EPOCH {value!r} is not a number of seconds since 1970") from None


__all__ = ["run_date"]
