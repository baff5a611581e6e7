"""Starting the chart worker's process (`chartworker`), as early as the command line allows.

The worker spends most of its time importing matplotlib and loading the map (0.7 s here). Started
by `relocate` before the command imports pandas and the CLI (`optimizer.launch`), it does that on
the second core while the command imports, reads and solves: a 10,000-case plan is solved about
0.6 s after the start, and its reports used to wait for the worker to be ready. Only the
standard library is imported here; what the command line says is read, not parsed: a guess that
turns out wrong costs a process that is ended unused (or, the other way, a worker started later,
as before).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The package's parent folder: the worker imports this very copy of `optimizer`.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# The commands whose reports have charts, and the --report values that have them.
_COMMANDS = ("solve", "compare")
_CHART_FORMATS = ("all", "html", "md", "charts")
# What the callers hold (they need not import subprocess for a name).
WorkerProcess = subprocess.Popen


def spawn() -> subprocess.Popen | None:
    """A `python -m optimizer.report.chartworker` process starting up, or None when none can be
    started (then the command draws in-process)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    debug = bool(os.environ.get("RELOCATE_DEBUG"))
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "optimizer.report.chartworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    except OSError:
        return None


def wants_charts(argv: list[str]) -> bool:
    """Whether `relocate argv` will probably draw charts: `solve` or `compare`, and no --report,
    or one that names a format with charts."""
    words = [word for word in argv if not word.startswith("-")]
    if not words or words[0] not in _COMMANDS or "--help" in argv:
        return False
    for i, word in enumerate(argv):
        if word == "--report" and i + 1 < len(argv):
            value = argv[i + 1]
        elif word.startswith("--report="):
            value = word.split("=", 1)[1]
        else:
            continue
        return any(part.strip().lower() in _CHART_FORMATS for part in value.split(","))
    return True


def early_worker(argv: list[str]) -> subprocess.Popen | None:
    """The worker's process, started now when `argv` will probably want charts (see `wants_charts`)."""
    return spawn() if wants_charts(argv) else None


def end(process: subprocess.Popen | None) -> None:
    """End a worker's process that is still running (one started early and not used)."""
    if process is None:
        return
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            stream.close()
