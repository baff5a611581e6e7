"""The `relocate` console script and `python -m optimizer`: the Ctrl-C handler first, then the
chart worker when the command will probably draw charts (`report.workerstart`: it imports matplotlib
on the second core while this process imports pandas), then the command, whose imports (pandas,
the solvers) can take a second; see `optimizer.interrupts`."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from .interrupts import MESSAGE, Interrupted, install

if TYPE_CHECKING:
    from .report.workerstart import WorkerProcess


def main() -> None:
    install()
    chart_worker = None
    try:
        from .report.workerstart import early_worker, end

        chart_worker = early_worker(sys.argv[1:])
        from . import cli  # noqa: F401  the heavy imports, under the Ctrl-C handler
    except Interrupted:
        if chart_worker is not None:
            end(chart_worker)
        sys.stderr.write(MESSAGE + "\n")
        sys.stderr.flush()
        os._exit(130)
    entry(chart_worker)


def entry(chart_worker: WorkerProcess | None = None) -> None:
    """The console script and `python -m optimizer`: `main()`, then leave without the interpreter's
    teardown. Freeing every pandas, matplotlib and HiGHS object at exit takes about 0.2 s, a tenth
    of a 10,000-case run, for memory the system reclaims anyway; every file is closed by then, and
    stdout and stderr are flushed here. `chart_worker`: see `main`; ended here if still running."""
    from .cli import main
    from .interrupts import message as interrupted
    from .report.workerstart import end

    try:
        main(chart_worker)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
    except Interrupted:  # Ctrl-C while main was already printing its last line
        print(interrupted(), file=sys.stderr)
        code = 130
    end(chart_worker)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is over: a Ctrl-C now changes nothing
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)  # a profiler or coverage is watching: let it write its results at exit
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader left (e.g. `| head`): not an error of ours
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)
