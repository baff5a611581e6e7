"""Two commits of this repository timed against each other, interleaved, in one run.

    python -m benchmarks.before_after BEFORE AFTER [--instances cases-10k,cases-350k,quota-100] [--rounds 3]

Each commit is exported (`git archive`) into a temporary folder and run by the same interpreter
with the venv's packages, so that each runs its own code (`python -m optimizer`, the benchmark
runner of its own tree) and nothing else differs. The rounds alternate the two trees instance by
instance, so that a shared machine's changing load falls on both alike; the table gives the
median of the rounds for each phase and the ratio after / before (below 1: faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from benchmarks.__main__ import SUITES

ROOT = Path(__file__).resolve().parents[1]
# instance -> a suite of the runner that holds it (baselines left out: they time another model)
SUITE_OF = {i.name: suite for suite in ("full", "quick") for i in SUITES[suite] if i.kind != "baseline"}


def export(commit: str, into: Path) -> Path:
    tree = into / commit
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def base_interpreter() -> str:
    """The interpreter the venv was made from: no `relocate` script beside it (that script would
    run the installed entry point), so each tree's runner runs `python -m optimizer` of its own."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")


def run_once(tree: Path, instance: str, work: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), sysconfig.get_paths()["purelib"]]))
    command = [base_interpreter(), "-m", "benchmarks", "--suite", SUITE_OF[instance], "--only", instance, "--repeat", "1", "--work", str(work)]
    subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True)
    return json.loads((work / "latest.json").read_text())["rows"][0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--instances", default="cases-10k,cases-350k,quota-100")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    instances = [name.strip() for name in args.instances.split(",")]
    unknown = [name for name in instances if name not in SUITE_OF]
    if unknown:
        parser.error(f"unknown instance(s): {', '.join(unknown)}; choose from {', '.join(SUITE_OF)}")
    with tempfile.TemporaryDirectory(prefix="before-after-") as folder:
        base = Path(folder)
        trees = {label: export(commit, base / label) for label, commit in [("before", args.before), ("after", args.after)]}
        rows: dict[tuple[str, str], list[dict]] = {}
        for round_ in range(args.rounds):
            for instance in instances:
                for label, tree in trees.items():
                    row = run_once(tree, instance, base / f"work-{label}-{instance}")
                    rows.setdefault((instance, label), []).append(row)
                    print(f"round {round_ + 1}: {instance} {label} {row.get('command_s', row.get('compare_s', 0)):.2f} s", file=sys.stderr, flush=True)
    print(f"before {args.before}, after {args.after}; medians of {args.rounds} interleaved rounds\n")
    print("| instance | measure | before | after | after / before |\n|---|---|---:|---:|---:|")
    for instance in instances:
        before, after = rows[(instance, "before")], rows[(instance, "after")]
        for key, value in before[0].items():
            if not isinstance(value, float) or not key.endswith(("_s", "_mib")) or key not in after[0]:
                continue
            b = statistics.median(row[key] for row in before)
            a = statistics.median(row[key] for row in after)
            print(f"| {instance} | {key} | {b:,.3f} | {a:,.3f} | {a / b if b else float('nan'):.2f} |")


if __name__ == "__main__":
    main()
