"""A relocation programme over a year, batch by batch against a ledger, against the hindsight
optimum; and the cost of a commit to a large ledger.

    .venv/bin/python -m benchmarks.programme                 # 52 weeks x 200 cases, both modes
    .venv/bin/python -m benchmarks.programme --weeks 8 --per-week 50 --skip-commit   # a quick look

The year: `--weeks` x `--per-week` generated cases (benchmarks.generate, seeded; ILLUSTRATIVE)
over the states of inputs/example_states_2023.csv (population and GDP sourced, Pact 2024 key), with
illustrative yearly capacities (`with_capacities`, a quarter of the states tight). Three plans:

- hindsight: every case of the year placed at once (one plain solve), the best any batching can do;
- weekly: each week's cases committed as a batch against the ledger (`commit_batch`);
- look-ahead: the same, each week sampling the remaining weeks from the cases seen so far.

The measure is the deviation of what was placed from the fair shares within the yearly capacities
(`deviation`): sum_i |b_i - q_i| over states (b_i burden placed in state i; q_i its key share of
all burden placed, a state whose yearly capacity that exceeds held at its capacity and the rest
sharing the difference by their keys); after the last week (final) and the largest after any
week, the year to date (worst week). Writes benchmarks/results/programme.json.

Commit cost: a ledger filled with 100 batches of 1,000 cases (100,000 placements), then one more
batch of 1,000 committed, `--repeat` times (each undone again); the median and the largest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.io.states import load_states
from optimizer.ledger import BatchRecord, commit_batch, open_ledger
from optimizer.pipeline import run
from optimizer.settings import ScenarioSettings
from optimizer.targets import bounded_quotas

from .generate import generate_cases, with_capacities

ROOT = Path(__file__).resolve().parents[1]
STATES = ROOT / "inputs" / "example_states_2023.csv"
RESULTS = ROOT / "benchmarks" / "results" / "programme.json"


def make_year(work: Path, weeks: int, per_week: int, seed: int) -> tuple[Path, list[Path], Path]:
    """(states with capacities, weekly case files, the whole year's file)."""
    states = pd.read_csv(STATES, dtype={"code": str}, keep_default_na=False).set_index("code")
    cases = generate_cases(states, weeks * per_week, seed)
    # groups are consecutive rows: a week never cuts one (the cut moves past its end)
    group = cases["group"].to_numpy()
    cuts = [0]
    for k in range(1, weeks):
        cut = k * per_week
        while 0 < cut < len(cases) and group[cut] and group[cut] == group[cut - 1]:
            cut += 1
        cuts.append(cut)
    cuts.append(len(cases))
    files = []
    for k in range(weeks):
        path = work / f"week-{k + 1:02d}.csv"
        cases.iloc[cuts[k] : cuts[k + 1]].to_csv(path, index=False, lineterminator="\n")
        files.append(path)
    year = work / "year.csv"
    cases.to_csv(year, index=False, lineterminator="\n")
    states_path = work / "states.csv"
    capacity = with_capacities(states.drop(columns=["capacity", "capacity_medical"]), int(cases["size"].sum()), slack=1.1, seed=seed)
    capacity.reset_index().to_csv(states_path, index=False, lineterminator="\n")
    return states_path, files, year


def deviation(burden: pd.Series, persons: float, shares: pd.Series, capacity: pd.Series) -> float:
    """sum_i |b_i - q_i|: the deviation of what was placed from the fair shares within the yearly
    capacities, q = clamp(s_i x L, 0, capacity_i) at the level L where they sum to all burden placed
    (a full state is held at its capacity, the rest share what it cannot take by their keys).
    Capacities count persons: burden units at the placed burden per person."""
    burden = burden.reindex(shares.index).fillna(0.0)
    total = float(burden.sum())
    per_person = total / persons if persons else 1.0
    upper = capacity.reindex(shares.index).fillna(np.inf).to_numpy(dtype=float) * per_person
    fair = bounded_quotas(shares.to_numpy(dtype=float), np.zeros(len(shares)), upper, total)
    return float(np.abs(burden.to_numpy() - fair).sum())


def settings_for(states: Path, cases: Path) -> ScenarioSettings:
    return ScenarioSettings(states=str(states), cases=str(cases), formula="pact-2024", need_weights={"medical": 2}, time_limit=60)


def hindsight(states: Path, year: Path) -> dict:
    started = time.perf_counter()
    plan = run(settings_for(states, year)).plan
    return {
        "final_deviation": deviation(plan.states["burden"], plan.counts.placed_persons, plan.states["share"], load_states(states)["capacity"]),
        "placed_persons": plan.counts.placed_persons,
        "status": str(plan.status),
        "seconds": time.perf_counter() - started,
    }


def weekly(states: Path, files: list[Path], ledger_path: Path, lookahead: bool) -> dict:
    ledger = open_ledger(ledger_path)
    capacity = load_states(states)["capacity"]
    path, seconds, statuses, placed = [], [], [], 0
    shares = None
    for k, week in enumerate(files):
        started = time.perf_counter()
        ahead = len(files) - k - 1 if lookahead else 0
        batch, _ = commit_batch(ledger, settings_for(states, week), f"week-{k + 1:02d}", lookahead=ahead)
        seconds.append(time.perf_counter() - started)
        statuses.append(str(batch.run.plan.status))
        placed += batch.run.plan.counts.placed_persons
        shares = batch.run.plan.states["share"]
        cumulative = ledger.placements().groupby("state")["burden"].sum()
        path.append(deviation(cumulative, placed, shares, capacity))
    return {
        "final_deviation": path[-1],
        "worst_week_deviation": max(path),
        "worst_week": int(np.argmax(path)) + 1,
        "placed_persons": placed,
        "all_optimal": all(s == "optimal" for s in statuses),
        "seconds_per_batch_median": statistics.median(seconds),
        "seconds_per_batch_max": max(seconds),
        "deviation_by_week": path,
    }


def _synthetic(batch_id: str, n: int, codes: list[str]) -> BatchRecord:
    rng = np.random.default_rng(len(batch_id))
    sizes = rng.integers(1, 7, size=n)
    state = np.array(codes, dtype=object)[rng.integers(0, len(codes), size=n)]
    placed = pd.DataFrame({"case_id": [f"{batch_id}-{i:05d}" for i in range(n)], "state": state, "persons": sizes, "burden": sizes.astype(float), "needs": "", "origin": ""})
    grouped = placed.groupby("state")
    table = pd.DataFrame({"name": codes, "share": 1.0 / len(codes), "capacity": np.nan}, index=codes)
    table["persons"] = grouped["persons"].sum().reindex(codes).fillna(0).astype(int)
    table["burden"] = grouped["burden"].sum().reindex(codes).fillna(0.0)
    table["cases"] = grouped.size().reindex(codes).fillna(0).astype(int)
    return BatchRecord(batch_id, "plan", "benchmark", "pact-2024", "optimal", table, placed)


def commit_cost(location: str, repeat: int) -> dict:
    codes = list(load_states(STATES).index)
    ledger = open_ledger(location)
    for b in range(100):
        ledger.commit(_synthetic(f"fill-{b:03d}", 1000, codes))
    held = len(ledger.placements())
    commits, stock_reads = [], []
    for r in range(repeat):
        record = _synthetic("timed", 1000, codes)
        started = time.perf_counter()
        ledger.commit(record)
        commits.append(time.perf_counter() - started)
        started = time.perf_counter()
        ledger.stock(["medical"])
        stock_reads.append(time.perf_counter() - started)
        ledger.undo("timed")
    return {"backend": ledger.backend, "placements_held": held, "commit_seconds_median": statistics.median(commits), "commit_seconds_max": max(commits), "stock_read_seconds_median": statistics.median(stock_reads)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--per-week", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=5, help="timed commits")
    parser.add_argument("--pg-url", help="also time the commit on this PostgreSQL database (emptied first: use a throwaway one)")
    parser.add_argument("--skip-commit", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: dict = {"weeks": args.weeks, "per_week": args.per_week, "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="relocate-programme-") as tmp:
        work = Path(tmp)
        states, files, year = make_year(work, args.weeks, args.per_week, args.seed)
        results["hindsight"] = hindsight(states, year)
        print(f"hindsight: final deviation {results['hindsight']['final_deviation']:.2f}", flush=True)
        for name, ahead in (("weekly", False), ("lookahead", True)):
            results[name] = weekly(states, files, work / f"{name}.db", ahead)
            r = results[name]
            print(f"{name}: final {r['final_deviation']:.2f}, worst week {r['worst_week_deviation']:.2f} (week {r['worst_week']}), {r['seconds_per_batch_median']:.2f} s per batch", flush=True)
        if not args.skip_commit:
            results["commit"] = [commit_cost(str(work / "big.db"), args.repeat)]
            if args.pg_url:
                results["commit"].append(commit_cost(args.pg_url, args.repeat))
            for c in results["commit"]:
                print(f"commit 1,000 cases to {c['placements_held']:,} on {c['backend']}: median {c['commit_seconds_median']:.3f} s, max {c['commit_seconds_max']:.3f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
