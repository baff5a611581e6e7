"""Ctrl-C at any moment: one line, exit code 130, nothing half written.

The `relocate` command (`optimizer.launch`) installs `on_interrupt` before it imports anything heavy (pandas and the
solvers take a second or more to import, and Python's own handler would print a traceback from
inside them). The handler raises `Interrupted`, which click does not catch (it turns
KeyboardInterrupt into a blank line and an abort), so it unwinds every `staged_output` (their
staging folders are removed) and ends in `cli.main` as one line. Only the first Ctrl-C counts: the
clean-up it starts is not interrupted again.

Moving a finished output folder into place must not be cut in half (the old folder moved aside,
the new one not yet there), so `interrupts_deferred` holds Ctrl-C back meanwhile. Once an output
folder is in place the run is as good as done: a Ctrl-C after that does not pretend that nothing
was written (`written`).

This module runs before everything else, so it imports only what the interpreter has loaded
anyway (os, signal, sys): the sooner the handler is in place, the smaller the window in which
Python's own handler would print a traceback.
"""

from __future__ import annotations

import signal

MESSAGE = "relocate: interrupted; no output written"


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) in the `relocate` command. A BaseException, like KeyboardInterrupt, so that
    no `except Exception` swallows it."""


_state = {"installed": False, "fired": False, "deferred": 0, "pending": False}
# Output folders moved into place by this run (the message after a late Ctrl-C names them).
written: list = []


def on_interrupt(signum: int, frame: object) -> None:
    if _state["deferred"]:
        _state["pending"] = True
        return
    if _state["fired"]:
        return  # the clean-up of the first Ctrl-C is under way
    _state["fired"] = True
    raise Interrupted()


def install() -> None:
    """Make Ctrl-C raise `Interrupted`. A SIGINT ignored by whoever started us (a background job,
    nohup) stays ignored, as Python's own handler leaves it."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return
    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:
        return  # not the main thread: signals are delivered there only
    _state["installed"] = True


class interrupts_deferred:
    """`with interrupts_deferred():` holds Ctrl-C back inside the block. Under the command's
    handler a Ctrl-C that came meanwhile is dropped: the block moved an output into place and the
    run is finishing. Under any other handler (the Python API) it is delivered after the block."""

    def __enter__(self) -> None:
        self.previous = None
        current = signal.getsignal(signal.SIGINT)
        if current is not on_interrupt and current is not signal.SIG_IGN:
            try:
                signal.signal(signal.SIGINT, on_interrupt)
                self.previous = current
            except ValueError:
                pass  # not the main thread: no signal arrives here
        _state["deferred"] += 1

    def __exit__(self, *exc: object) -> None:
        _state["deferred"] -= 1
        pending, _state["pending"] = _state["pending"], False
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            if pending and callable(self.previous):
                self.previous(signal.SIGINT, None)


def message() -> str:
    """The one line a Ctrl-C ends the command with."""
    if written:
        return f"relocate: interrupted; the output was already written to {written[-1]}"
    return MESSAGE


__all__ = ["Interrupted", "MESSAGE", "install", "interrupts_deferred", "message", "on_interrupt", "written"]
