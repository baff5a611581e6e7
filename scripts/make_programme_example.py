"""Split the shipped illustrative case list into the four batches of the programme example.

    .venv/bin/python scripts/make_programme_example.py

inputs/example_cases_2023.csv (2,000 generated cases, illustrative) is cut into four batches of
about 500 cases each, in file order; a cut never falls inside an extended family (`group`), so a
family arrives in one batch. The same input gives the same files, byte for byte.

It also writes inputs/programme/registrations-2024.csv for `relocate corrective`: 3,000
ILLUSTRATIVE registrations over 2024 (seed 2024), each lodged in a state drawn in proportion to its
asylum applicants in 2023 (the sourced `asylum_applicants_2023` column of
inputs/example_states_2023.csv), family sizes 1-6.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "inputs" / "example_cases_2023.csv"
OUT = ROOT / "inputs" / "programme"
BATCHES = 4
STATES = ROOT / "inputs" / "example_states_2023.csv"
REGISTRATIONS = 3000


def registrations() -> None:
    with STATES.open(newline="", encoding="utf-8") as handle:
        states = list(csv.DictReader(handle))
    codes = [s["code"] for s in states]
    pull = np.array([float(s["asylum_applicants_2023"] or 0) for s in states])
    rng = np.random.default_rng(2024)
    days = np.sort(rng.integers(0, 366, size=REGISTRATIONS))
    lodged = rng.choice(len(codes), size=REGISTRATIONS, p=pull / pull.sum())
    sizes = rng.choice(np.arange(1, 7), size=REGISTRATIONS, p=[0.4, 0.2, 0.15, 0.12, 0.08, 0.05])
    path = OUT / "registrations-2024.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "date", "state", "persons"])
        for i, (day, state, size) in enumerate(zip(days, lodged, sizes)):
            date = dt.date(2024, 1, 1) + dt.timedelta(days=int(day))
            writer.writerow([f"R{i + 1:05d}", date.isoformat(), codes[state], int(size)])
    print(f"{path.relative_to(ROOT)}: {REGISTRATIONS} registrations")


def main() -> None:
    with SOURCE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    group = header.index("group")
    cuts, size = [0], len(body) / BATCHES
    for k in range(1, BATCHES):
        cut = round(k * size)
        while 0 < cut < len(body) and body[cut][group] and body[cut][group] == body[cut - 1][group]:
            cut += 1  # move the cut past the end of a family
        cuts.append(cut)
    cuts.append(len(body))
    for k in range(BATCHES):
        path = OUT / f"week-{k + 1:02d}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(body[cuts[k] : cuts[k + 1]])
        print(f"{path.relative_to(ROOT)}: {cuts[k + 1] - cuts[k]} cases")
    registrations()


if __name__ == "__main__":
    main()
