"""Run the `relocate` CLI in-process, as the console script would, for tests that read its output."""

from __future__ import annotations

import sys

from optimizer.cli import main


def relocate(*args, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `relocate ARGS`, with pytest's capsys capturing the streams."""
    saved = sys.argv
    sys.argv = ["relocate", *map(str, args)]
    code = 0
    try:
        main()
    except SystemExit as done:
        code = done.code or 0
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err
