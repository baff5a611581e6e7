"""The whole command against the floor of any tool that reads the cases and writes a plan.

    python -m benchmarks.floor [--cases 350000] [--rounds 3] [--work DIR]

The floor: a fresh Python process that imports pandas, reads the cases CSV (every column as text)
and writes a plan CSV of the same rows with one more column; nothing checked, nothing solved, no
report. The command: `relocate solve` on the same cases (the benchmark suite's generated instance,
32 states of inputs/eu_efta_2014.csv, key pact-2024), with every report (the default) and, as a
second line, with plan files only (`--report none`). Each round runs the three one after the other
(interleaved, so that the machine's load hits them alike); medians of the rounds. Then the phases
of one command with every report, in-process (`benchmarks.phases`): where the time goes. Prints
markdown and writes `<work>/floor.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.__main__ import DEFAULT_FORMULA, DEFAULT_STATES, ROOT, Instance, case_files

FLOOR = """
import sys
import pandas as pd
cases = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
cases.assign(state="XX").to_csv(sys.argv[2], index=False)
"""


def _wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=350_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    cases, states = case_files(Instance(f"cases-{args.cases}", "cases", args.cases), args.work, DEFAULT_STATES, args.seed)
    out = args.work / "floor"
    out.mkdir(parents=True, exist_ok=True)
    solve = [sys.executable, "-m", "optimizer", "solve", "--states", str(states), "--cases", str(cases), "-f", DEFAULT_FORMULA, "--force"]
    commands = {
        "floor": [sys.executable, "-c", FLOOR, str(cases), str(out / "floor_plan.csv")],
        "command, every report": [*solve, "--out", str(out / "reports")],
        "command, plan files only": [*solve, "--out", str(out / "plan"), "--report", "none"],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            seconds[name].append(_wall(command))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    phases = json.loads(subprocess.run([sys.executable, "-m", "benchmarks.phases", "--states", str(states), "--cases", str(cases), "--formula", DEFAULT_FORMULA, "--out", str(out / "phases"), "--report", "html,md,xlsx,json,charts"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    (args.work / "floor.json").write_text(json.dumps({"cases": args.cases, "rounds": args.rounds, "seconds": seconds, "medians": medians, "phases": phases}, indent=2) + "\n")
    print(f"| {args.cases:,} cases | median of {args.rounds} s | / floor |\n|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} | {value / medians['floor']:.2f} |")
    print("\nphases of one command with every report, in-process (s): " + ", ".join(f"{k[:-2]} {v:.2f}" for k, v in phases.items() if k.endswith("_s")))


if __name__ == "__main__":
    main()
