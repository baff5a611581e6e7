"""The `relocate` console script and `python -m optimizer`: the Ctrl-C handler first, then the
command, whose imports (pandas, the solvers) can take a second; see `optimizer.interrupts`."""

from __future__ import annotations

import os
import sys

from .interrupts import MESSAGE, Interrupted, install


def main() -> None:
    install()
    try:
        from .cli import entry
    except Interrupted:
        sys.stderr.write(MESSAGE + "\n")
        sys.stderr.flush()
        os._exit(130)
    entry()
