"""A call that cannot outlast its time limit: run in a forked copy of this process, which is killed
when the limit has passed.

HiGHS looks at its time limit only between steps of its own choosing. While it sets up, presolves
or separates cuts at the root of a large MIP it does not look, and no callback runs there either
(`cancelSolve` works through the callbacks): BENCHMARKS.md, the hard families, measured 80 s past a
3.4 s limit. A thread cannot be stopped from outside; a process can. The copy is made by `fork`, so
the model is not copied or sent anywhere (copy-on-write), and only the answer comes back, pickled
through a pipe. Where `fork` is missing (Windows) the call runs here, as before.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from typing import Callable, TypeVar

T = TypeVar("T")

# Seconds past the limit before the copy is killed: HiGHS, when it does look at its limit, needs a
# moment to stop and hand back its best plan, which is worth more than that moment.
GRACE_SECONDS = 0.25


class Overrun(Exception):
    """The call had not returned when its time was up (its copy was killed)."""


def call_bounded(call: Callable[[], T], seconds: float | None) -> T:
    """`call()`, its value or its exception, or `Overrun` when it takes more than `seconds` (+
    GRACE_SECONDS). Runs here when `seconds` is None or the platform cannot fork. The call must
    not change anything the caller reads afterwards: its side effects stay in the copy."""
    if seconds is None or not hasattr(os, "fork"):
        return call()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: answer, then leave without running the parent's clean-up
        os.close(read_end)
        _answer(call, write_end)
    os.close(write_end)
    try:
        answer = _read(read_end, time.perf_counter() + max(seconds, 0.0) + GRACE_SECONDS)
    finally:
        os.close(read_end)
        _end(pid)
    if answer is None:
        raise Overrun()
    if not answer:
        raise RuntimeError("the process that ran the call ended without an answer")
    ok, value = pickle.loads(answer)
    if not ok:
        raise value
    return value


def _answer(call: Callable[[], object], write_end: int) -> None:
    code = 0
    try:
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C is the parent's to handle
        except ValueError:
            pass
        try:
            payload = pickle.dumps((True, call()), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # handed to the parent, which raises it
            payload = pickle.dumps((False, error), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _read(read_end: int, deadline: float) -> bytes | None:
    """Everything the copy writes (empty if it died first), or None when it is not all there by
    `deadline`."""
    chunks = []
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        ready, _, _ = select.select([read_end], [], [], left)
        if not ready:
            return None
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _end(pid: int) -> None:
    """Kill the copy if it is still running, and collect it (no zombie left behind)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
