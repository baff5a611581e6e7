"""Instances where aggregation helps little, and how far each is still proven optimal.

    python -m benchmarks.hard [--families all] [--time-limit 10] [--wall 60] [--work DIR]

Each family changes one thing about the generated case list of `benchmarks.generate` (seeded; 32
states of inputs/eu_efta_2014.csv, or 200 regions made from them):

- `exclusions-3`: every case excludes 3 random states (types split by exclusion pattern);
- `weights`: every case has its own burden weight, 1.00-3.00 in hundredths (types split by weight);
- `needs-5`: five need dimensions at realistic rates, each with a capacity, plus the usual links
  and groups;
- `hard-links-2` / `soft-links-2`: two family links per case, as constraints or as a stage;
- `minimax`: the usual cases, `--objective minimax`;
- `regions-200`: the usual cases over 200 regions (each state cut into population-weighted parts).

For each family a ladder of sizes is run through the real command (`relocate solve --time-limit S
--report none`), smallest first, until two sizes in a row are not proven optimal within the limit
after one that is (before any is, it goes on); the command's
wall time is recorded to show whether the limit was kept (a run still going after `--wall` seconds
is stopped and reported as such). Prints a markdown table and writes `<work>/hard.json`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.generate import generate_cases, with_capacities

ROOT = Path(__file__).resolve().parents[1]
STATES = ROOT / "inputs" / "eu_efta_2014.csv"
LADDER = (20, 60, 200, 500, 1_500, 5_000, 15_000, 50_000, 150_000, 200_000, 500_000, 1_000_000)
NEEDS = {"medical": 0.04, "wheelchair": 0.01, "minor": 0.05, "elderly": 0.03, "trauma": 0.02}


def _states() -> pd.DataFrame:
    return pd.read_csv(STATES, dtype={"code": str}, keep_default_na=False).set_index("code")


def _regions(states: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """n regions: each state cut into parts of random sizes (at least one part each)."""
    rng = np.random.default_rng(seed)
    population = pd.to_numeric(states["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    parts = np.maximum(1, np.round(n * population / population.sum())).astype(int)
    while parts.sum() > n:
        parts[np.argmax(parts)] -= 1
    while parts.sum() < n:
        parts[np.argmax(population / parts)] += 1
    rows = []
    for (code, row), k in zip(states.iterrows(), parts):
        weights = rng.dirichlet(np.ones(k))
        for j, w in enumerate(weights):
            rows.append({"code": f"{code}{j + 1:02d}", "name": f"{row['name']} {j + 1}", "population": round(float(row["population"]) * w), "gdp_meur": round(float(row["gdp_meur"]) * w, 1)})
    return pd.DataFrame(rows).set_index("code")


def instance(family: str, n_cases: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The states (with capacities), the cases and the extra command options of one instance."""
    rng = np.random.default_rng(seed + 17)
    states = _regions(_states(), 200, seed) if family == "regions-200" else _states()
    cases = generate_cases(states, n_cases, seed)
    codes = np.array(states.index, dtype=object)
    options: list[str] = []
    if family == "exclusions-3":
        cases["excluded"] = [";".join(sorted(rng.choice(codes, 3, replace=False))) for _ in range(n_cases)]
        cases["links"] = [";".join(sorted(set(l.split(";")) - set(e.split(";")))) if l else "" for l, e in zip(cases["links"], cases["excluded"])]
    elif family == "weights":
        cases["weight"] = np.round(rng.uniform(1.0, 3.0, n_cases), 2)
    elif family == "needs-5":
        drawn = {need: rng.random(n_cases) < rate for need, rate in NEEDS.items()}
        cases["needs"] = [";".join(need for need in NEEDS if drawn[need][i]) for i in range(n_cases)]
    elif family in ("hard-links-2", "soft-links-2"):
        pairs = [sorted(rng.choice(codes, 2, replace=False)) for _ in range(n_cases)]
        cases["links"] = [";".join(pair) for pair in pairs]
        cases["excluded"] = ""
        cases["group"] = ""
        options = ["--links", "hard" if family == "hard-links-2" else "soft"]
    elif family == "minimax":
        options = ["--objective", "minimax"]
    persons = int(cases["size"].sum())
    states = with_capacities(states, persons, seed=seed)
    if family == "needs-5":
        for need, rate in NEEDS.items():
            states[f"capacity_{need}"] = np.maximum(np.ceil(states["capacity"] * rate * 2.0), 3).astype(np.int64)
    return states, cases, options


def run(family: str, n_cases: int, args: argparse.Namespace) -> dict:
    folder = args.work / family / str(n_cases)
    folder.mkdir(parents=True, exist_ok=True)
    states, cases, options = instance(family, n_cases, args.seed)
    states.reset_index().to_csv(folder / "states.csv", index=False, lineterminator="\n")
    cases.to_csv(folder / "cases.csv", index=False, lineterminator="\n")
    out = folder / "out"
    command = [sys.executable, "-m", "optimizer", "solve", "--states", str(folder / "states.csv"), "--cases", str(folder / "cases.csv"), "-f", "pact-2024", "--time-limit", str(args.time_limit), "--report", "none", "--out", str(out), "--force", *options]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.wall)
        seconds = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        return {"family": family, "cases": n_cases, "status": f"stopped after {args.wall:.0f} s", "seconds": float(args.wall), "gap": None}
    row = {"family": family, "cases": n_cases, "persons": int(cases["size"].sum()), "seconds": seconds, "exit": done.returncode}
    if done.returncode == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        row.update(status=metrics["status"], gap=metrics.get("gap"), types=metrics.get("counts", {}).get("case_types"))
    else:
        row.update(status=f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}", gap=None)
    return row


def main(argv: list[str] | None = None) -> None:
    families = ("exclusions-3", "weights", "needs-5", "hard-links-2", "soft-links-2", "minimax", "regions-200")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="all", help=f"comma-separated, of: {', '.join(families)}")
    parser.add_argument("--sizes", help="comma-separated case counts (default: the ladder %s)" % (LADDER,))
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--wall", type=float, default=120.0, help="stop a run after this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "results" / "hard")
    args = parser.parse_args(argv)
    chosen = families if args.families == "all" else tuple(f.strip() for f in args.families.split(","))
    unknown = [f for f in chosen if f not in families]
    if unknown:
        parser.error(f"unknown famil(ies): {', '.join(unknown)}")
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else LADDER
    rows = []
    for family in chosen:
        for n_cases in sizes:
            row = run(family, n_cases, args)
            rows.append(row)
            print(f"{family} {n_cases:,}: {row['status']} in {row['seconds']:.1f} s", file=sys.stderr, flush=True)
            statuses = [r["status"] for r in rows if r["family"] == family]
            if _ladder_ends(statuses):
                break
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "hard.json").write_text(json.dumps({"time_limit": args.time_limit, "rows": rows}, indent=2) + "\n")
    print(table(rows, chosen, args.time_limit))


def _ladder_ends(statuses: list[str]) -> bool:
    """Whether a family's ladder stops: two sizes in a row not proven after a proven one (larger
    ones will not be either). Before any is proven it goes on: small instances can be the hard
    ones (a few families over many states leave most states empty, where the relaxation's bound
    is weak)."""
    if "optimal" not in statuses:
        return False
    return len(statuses) - 1 - max(i for i, status in enumerate(statuses) if status == "optimal") >= 2


def table(rows: list[dict], families, limit: float = 10.0) -> str:
    """One line per family: the largest size proven optimal with the whole command within `limit`
    seconds, the largest proven at all, the sizes not proven (with status and gap), and the
    longest command (the limit kept or not)."""
    lines = [f"| family | largest proven optimal, command <= {limit:g} s (cases) | largest proven optimal (cases) | its command s | not proven (cases: status) | longest command s |", "|---|---:|---:|---:|---|---:|"]
    for family in families:
        runs = [r for r in rows if r["family"] == family]
        proven = [r for r in runs if r["status"] == "optimal"]
        within = [r for r in proven if r["seconds"] <= limit]
        best = proven[-1] if proven else None
        failed = []
        for r in runs:
            if r["status"] != "optimal":
                gap = "" if r.get("gap") is None else f", gap {r['gap']:.2g}"
                failed.append(f"{r['cases']:,}: {r['status']}{gap}")
        longest = max((r["seconds"] for r in runs), default=0.0)
        fast = f"{within[-1]['cases']:,}" if within else "none"
        left = f"| {family} | {fast} | {best['cases']:,} | {best['seconds']:.1f} |" if best else f"| {family} | {fast} | none | |"
        lines.append(f"{left} {'; '.join(failed) or 'none'} | {longest:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
