"""Seeded generator of realistic case lists (and capacities) for examples and benchmarks.

Shapes, not data: family sizes 1-9 skewed small, a few percent with a medical need, with family links
to states that already host many applicants, with exclusions, and extended families split over
several cases that share a `group`. The same seed gives the same file, byte for byte.

    python -m benchmarks.generate --states inputs/eu_plus_2023.csv --cases 2000 --seed 7 --out cases.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

# Share of cases by family size 1..9: mostly single adults and small families.
SIZE_PROBABILITIES = np.array([0.34, 0.17, 0.15, 0.13, 0.09, 0.06, 0.03, 0.02, 0.01])
NEED_RATE = 0.04
LINK_RATE = 0.06
EXCLUSION_RATE = 0.03
GROUP_RATE = 0.03  # share of cases that belong to an extended family (group of 2-3 cases)


def generate_cases(states: pd.DataFrame, n_cases: int, seed: int = 0) -> pd.DataFrame:
    """A case list over the codes of `states` (links drawn by `asylum_applicants*` or population)."""
    rng = np.random.default_rng(seed)
    codes = np.array(list(states.index), dtype=object)
    pull_column = next((c for c in states.columns if c.startswith("asylum_applicants")), "population")
    pull = pd.to_numeric(states[pull_column], errors="coerce").fillna(0).to_numpy(dtype=float) + 1.0
    pull = pull / pull.sum()

    size = rng.choice(np.arange(1, 10), size=n_cases, p=SIZE_PROBABILITIES)
    needs = np.where(rng.random(n_cases) < NEED_RATE, "medical", "")
    links = np.full(n_cases, "", dtype=object)
    linked = np.flatnonzero(rng.random(n_cases) < LINK_RATE)
    for i in linked:
        k = 1 if rng.random() < 0.8 else 2
        links[i] = ";".join(sorted(rng.choice(codes, size=k, replace=False, p=pull)))
    excluded = np.full(n_cases, "", dtype=object)
    for i in np.flatnonzero(rng.random(n_cases) < EXCLUSION_RATE):
        choice = rng.choice(codes)
        if choice not in links[i].split(";"):
            excluded[i] = choice
    group = np.full(n_cases, "", dtype=object)
    i, g = 0, 0
    in_group = rng.random(n_cases) < GROUP_RATE
    while i < n_cases:
        if in_group[i] and i + 1 < n_cases:
            members = int(rng.integers(2, 4))
            g += 1
            group[i : i + members] = f"G{g:05d}"
            # An extended family shares its links and exclusions.
            links[i : i + members] = links[i]
            excluded[i : i + members] = excluded[i]
            i += members
        else:
            i += 1
    width = max(6, len(str(n_cases)))
    return pd.DataFrame(
        {
            "case_id": [f"C{n:0{width}d}" for n in range(1, n_cases + 1)],
            "size": size,
            "needs": needs,
            "links": links,
            "excluded": excluded,
            "group": group,
        }
    )


def with_capacities(states: pd.DataFrame, persons: int, slack: float = 1.25, seed: int = 0) -> pd.DataFrame:
    """Illustrative capacities: about `slack` x each state's population share of `persons`, a few
    states tight (60-90% of it), and a medical capacity of ~6% of it. Not sourced: assumptions."""
    rng = np.random.default_rng(seed + 1)
    population = pd.to_numeric(states["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    base = persons * population / population.sum()
    factor = np.full(len(states), slack)
    tight = rng.random(len(states)) < 0.25
    factor[tight] = rng.uniform(0.6, 0.9, tight.sum())
    out = states.copy()
    out["capacity"] = np.maximum(np.ceil(base * factor), 20).astype(np.int64)
    out["capacity_medical"] = np.maximum(np.ceil(base * slack * 0.06), 5).astype(np.int64)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=Path, required=True)
    parser.add_argument("--cases", type=int, required=True, help="number of cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="cases CSV to write")
    parser.add_argument("--states-out", type=Path, help="also write the states with illustrative capacities")
    args = parser.parse_args(argv)
    states = pd.read_csv(args.states, dtype={"code": str}, keep_default_na=False).set_index("code")
    cases = generate_cases(states, args.cases, args.seed)
    cases.to_csv(args.out, index=False, lineterminator="\n")
    if args.states_out:
        with_capacities(states, int(cases["size"].sum()), seed=args.seed).reset_index().to_csv(
            args.states_out, index=False, lineterminator="\n"
        )


if __name__ == "__main__":
    main()
