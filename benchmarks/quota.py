"""Quota mode at scale: many formula variants over the same states in one compare.

Variants are seeded random mixes of the four criteria of the 2015 relocation key (population and
GDP as shares, unemployment and past asylum applications per million as inverse shares), weights
drawn from a flat Dirichlet. Every variant places the same total in whole persons (the placement
model in quota mode, `--method lp`), within the states' illustrative capacities.

    python -m benchmarks.quota --states s.csv --variants 1000 --total 160000 [--scenario-out x.toml]

Prints one JSON line: the wall time of `optimizer.compare.compare` (sensitivity off; the
allocation sensitivity re-solves four more plans per variant), per variant, and the statuses.
With --scenario-out it also writes the same comparison as a scenario file for `relocate compare`.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

CRITERIA = (("population", "share"), ("gdp_meur", "share"), ("unemployment_pct", "inverse"), ("asylum_per_million", "inverse"))


def formulas(n: int, seed: int = 0) -> list[dict]:
    """n formula tables (as in a scenario's [[variants]]), seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        weights = rng.dirichlet(np.ones(len(CRITERIA)))
        out.append(
            {
                "name": f"mix-{i:04d}",
                "criteria": [{"column": c, "weight": round(float(w), 6), "direction": d} for (c, d), w in zip(CRITERIA, weights)],
            }
        )
    return out


def scenario_text(states: Path, total: int, tables: list[dict]) -> str:
    """A scenario TOML with one [[variants]] table per formula."""
    lines = [f'title = "{len(tables)} formula variants, quota mode"', f"states = {json.dumps(str(states))}", f"total = {total}", 'method = "lp"', ""]
    for table in tables:
        criteria = ", ".join(
            f'{{ column = "{c["column"]}", weight = {c["weight"]}, direction = "{c["direction"]}" }}' for c in table["criteria"]
        )
        lines += ["[[variants]]", f'name = "{table["name"]}"', f'formula = {{ name = "{table["name"]}", criteria = [{criteria}] }}', ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compare many formula variants in quota mode; print JSON.")
    parser.add_argument("--states", type=Path, required=True)
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--total", type=int, default=160_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario-out", type=Path, help="also write the comparison as a scenario TOML")
    args = parser.parse_args(argv)

    tables = formulas(args.variants, args.seed)
    if args.scenario_out:
        args.scenario_out.write_text(scenario_text(args.states.resolve(), args.total, tables), encoding="utf-8")
    t0 = time.perf_counter()
    from optimizer.schema import ScenarioSettings, Variant

    base = ScenarioSettings(states=str(args.states), total=args.total, method="lp")
    variants = [Variant(name=t["name"], formula=t) for t in tables]
    try:
        from optimizer.compare import compare
    except ImportError:  # no compare module yet: the same runs one by one
        compare = None
    t1 = time.perf_counter()
    if compare is not None:
        results = compare(base, variants, sensitivity="none").results
        how = "optimizer.compare.compare(sensitivity='none')"
    else:
        from optimizer.pipeline import merge, run

        results = [run(merge(base, v), name=v.name) for v in variants]
        how = "optimizer.pipeline.run per variant"
    t2 = time.perf_counter()
    statuses = [r.plan.status for r in results]
    print(
        json.dumps(
            {
                "how": how,
                "variants": len(results),
                "states": len(results[0].plan.states) if results else 0,
                "total": args.total,
                "import_s": t1 - t0,
                "compare_s": t2 - t1,
                "per_variant_ms": 1000 * (t2 - t1) / max(len(results), 1),
                "optimal": sum(s == "optimal" for s in statuses),
                "status": "optimal" if all(s == "optimal" for s in statuses) else "/".join(sorted(set(statuses))),
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
