"""Write the ILLUSTRATIVE case list and capacities of the origins example (relocation from the four
benefitting states of the Pact's first Solidarity Pool cycle).

    .venv/bin/python scripts/make_origins_example.py

- inputs/pact-2026/origins-cases-ILLUSTRATIVE.csv: 3,000 family cases drawn by the shipped
  generator (`benchmarks.generate`, seed 2026: sizes 1-9 skewed small, 4% with a medical need, 6%
  with family links, 3% with an exclusion, extended families in groups) over the 23 destinations
  (the EU-27 without the benefitting states), plus an `origin` column: the benefitting state where
  the family is, CY, GR, ES or IT (Commission Implementing Decision (EU) 2025/2323), drawn per
  family (an extended family comes from one place) in proportion to each one's asylum applicants
  in 2023 (the sourced `asylum_applicants_2023` column of inputs/eu_plus_2023.csv). Generated,
  not real cases.
- the `[capacity]` table of inputs/scenarios/pact-2026-origins.toml is printed for pasting:
  ILLUSTRATIVE capacities of about 1.3 x each destination's Pact key share of the persons, three
  states tight (75-90% of it). Not sourced.

The same inputs give the same files, byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate_cases  # noqa: E402 (the path above first)
from optimizer.keys import PRESETS, compute_key  # noqa: E402
from optimizer.schema import load_states  # noqa: E402

STATES = ROOT / "inputs" / "eu_plus_2023.csv"
OUT = ROOT / "inputs" / "pact-2026" / "origins-cases-ILLUSTRATIVE.csv"
BENEFITTING = ["CY", "GR", "ES", "IT"]
CASES = 3000
SEED = 2026


def main() -> None:
    states = load_states(STATES)
    eu = states[states["group"] == "EU27"]
    destinations = eu.drop(index=BENEFITTING)
    cases = generate_cases(destinations, CASES, SEED)
    rng = np.random.default_rng(SEED)
    pull = eu.loc[BENEFITTING, "asylum_applicants_2023"].to_numpy(dtype=float)
    family = np.where(cases["group"] != "", cases["group"], cases["case_id"])
    families, of_case = np.unique(family, return_inverse=True)
    drawn = rng.choice(len(BENEFITTING), size=len(families), p=pull / pull.sum())
    cases.insert(1, "origin", np.array(BENEFITTING, dtype=object)[drawn][of_case])
    cases.to_csv(OUT, index=False, lineterminator="\n")

    persons = int(cases["size"].sum())
    shares = compute_key(destinations, PRESETS["pact-2024"]).shares
    factor = np.full(len(destinations), 1.3)
    tight = rng.choice(len(destinations), size=3, replace=False)
    factor[tight] = rng.uniform(0.75, 0.9, size=3)
    capacity = np.maximum(np.ceil(shares.to_numpy() * persons * factor), 20).astype(int)
    print(f"# {CASES:,} cases, {persons:,} persons written to {OUT.relative_to(ROOT)}")
    print("[capacity]  # ILLUSTRATIVE")
    for code, value in zip(destinations.index, capacity):
        print(f"{code} = {value}")


if __name__ == "__main__":
    main()
