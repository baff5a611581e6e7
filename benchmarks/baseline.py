"""The baseline: the straightforward formulation of the same problem, to show what the model buys.

One binary variable per case and allowed state (x[i, s] = 1: case i goes to state s), members of a
group tied together (x[i, s] = x[j, s]), capacity, need capacity and minimum rows, and the same
lexicographic objective as `optimizer.model`: everyone placed if capacity allows (else as many
persons as possible), then the least total absolute deviation from the targets, then the most soft
family links honoured. Same solver (HiGHS through PuLP, one thread, relative gap 1e-6) and the same
time limit for all stages together. No aggregation, no envelope cuts, no warm start: what a first
model written from the problem statement looks like (DOMAIN.md section 6).

Run one instance (prints one JSON line; the benchmark runner calls this in a subprocess):

    python -m benchmarks.baseline --states s.csv --cases c.csv --formula pact-2024 --time-limit 60
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pulp

from optimizer.keys import compute_key, resolve_formula
from optimizer.model import silence_highs_banner
from optimizer.targets import state_targets
from optimizer.schema import CAPACITY_PREFIX, case_weights, load_cases, load_states, participants

GAP = 1e-6


def _column(states: pd.DataFrame, column: str) -> np.ndarray:
    if column not in states.columns:
        return np.full(len(states), np.nan)
    return pd.to_numeric(states[column], errors="coerce").to_numpy(dtype=float)


def _stage(prob: pulp.LpProblem, name: str, time_left: float) -> dict:
    """Solve one stage; 'optimal' only when HiGHS proved it (PuLP's sol_status 1)."""
    silence_highs_banner()
    solver = pulp.HiGHS(msg=False, gapRel=GAP, timeLimit=max(time_left, 0.01), threads=1)
    start = time.perf_counter()
    prob.solve(solver)
    seconds = time.perf_counter() - start
    gap = None
    info = prob.solverModel.getInfo() if getattr(prob, "solverModel", None) is not None else None
    if info is not None and math.isfinite(getattr(info, "mip_gap", math.inf)):
        gap = max(float(info.mip_gap), 0.0)
    if prob.sol_status == pulp.LpSolutionOptimal:
        status = "optimal"
    elif prob.sol_status == pulp.LpSolutionIntegerFeasible:
        status = "feasible"
    elif prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        status = "infeasible"
    else:
        status = "no solution"
    value = pulp.value(prob.objective) if status in ("optimal", "feasible") else None
    return {"name": name, "status": status, "gap": gap, "objective": value, "seconds": seconds}


def solve_baseline(states: pd.DataFrame, shares: pd.Series, cases: pd.DataFrame, time_limit: float, links: str = "soft") -> dict:
    """Build and solve the per-case model; returns timings, stages, status and gap."""
    t0 = time.perf_counter()
    codes = list(states.index)
    n_states = len(codes)
    weights = case_weights(cases)
    size = cases["size"].to_numpy(dtype=np.int64)
    # the fair targets the model is held to (water-filled under capacities and minimums)
    per_person = float(weights.sum()) / max(float(size.sum()), 1.0)
    target = state_targets(states, shares, float(weights.sum()), per_person=per_person).fair
    capacity = _column(states, "capacity")
    minimum = _column(states, "minimum")

    prob = pulp.LpProblem("baseline", pulp.LpMinimize)
    x: list[dict[int, pulp.LpVariable]] = []
    per_state: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    per_state_burden: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_states)]
    need_terms: dict[str, list[list[tuple[pulp.LpVariable, float]]]] = {}
    placed, honour = [], []
    for i, row in enumerate(cases.itertuples(index=False)):
        excluded = set(row.excluded.split(";")) if row.excluded else set()
        linked = set(row.links.split(";")) if row.links else set()
        allowed = [s for s, code in enumerate(codes) if code not in excluded and (links != "hard" or not linked or code in linked)]
        variables = {}
        for s in allowed:
            var = prob.add_variable(f"x_{i}_{s}", 0, 1, pulp.LpBinary)
            variables[s] = var
            per_state[s].append((var, float(size[i])))
            per_state_burden[s].append((var, float(weights[i])))
            placed.append((var, float(size[i])))
            if links == "soft" and codes[s] in linked:
                honour.append((var, 1.0))
            for need in row.needs.split(";") if row.needs else []:
                need_terms.setdefault(need, [[] for _ in range(n_states)])[s].append((var, float(size[i])))
        x.append(variables)
        if variables:
            prob += pulp.lpSum(variables.values()) <= 1, f"once_{i}"
    # A group goes to one state or stays unplaced, whole.
    for members in cases.reset_index(drop=True).groupby("group", sort=False).indices.values():
        if not cases["group"].iloc[members[0]]:
            continue
        first = members[0]
        for j in members[1:]:
            for s in set(x[first]) | set(x[j]):
                a, b = x[first].get(s), x[j].get(s)
                if a is not None and b is not None:
                    prob += a - b == 0, f"group_{first}_{j}_{s}"
                else:
                    prob += (a if a is not None else b) == 0, f"group_{first}_{j}_{s}"
    for s in range(n_states):
        persons = pulp.LpAffineExpression(per_state[s])
        if not math.isnan(capacity[s]):
            prob += persons <= capacity[s], f"capacity_{s}"
        if not math.isnan(minimum[s]) and minimum[s] > 0:
            prob += persons >= minimum[s], f"minimum_{s}"
        for need, terms in need_terms.items():
            cap = _column(states, CAPACITY_PREFIX + need)[s]
            if not math.isnan(cap):
                prob += pulp.LpAffineExpression(terms[s]) <= cap, f"need_{need}_{s}"
    deviation = [prob.add_variable(f"d_{s}", 0) for s in range(n_states)]
    for s in range(n_states):
        burden = pulp.LpAffineExpression(per_state_burden[s])
        prob += deviation[s] >= burden - float(target[s]), f"over_{s}"
        prob += deviation[s] >= float(target[s]) - burden, f"under_{s}"
    total_deviation = pulp.lpSum(deviation)
    placed_expr = pulp.LpAffineExpression(placed)
    total_persons = int(size.sum())
    build = time.perf_counter() - t0

    def left() -> float:
        return time_limit - (time.perf_counter() - t0 - build)

    stages = []
    prob += placed_expr >= total_persons, "everyone_placed"
    prob.setObjective(total_deviation)
    stage = _stage(prob, "total_deviation", left())
    if stage["status"] == "infeasible":
        prob.get_constraint_by_name("everyone_placed").changeRHS(0)
        prob.sense = pulp.LpMaximize
        prob.setObjective(placed_expr)
        first = _stage(prob, "persons_placed", left())
        stages.append(first)
        if first["objective"] is not None:
            prob += placed_expr >= first["objective"] - 1e-6, "persons_fixed"
            prob.sense = pulp.LpMinimize
            prob.setObjective(total_deviation)
            stage = _stage(prob, "total_deviation", left())
    else:
        stages.append({"name": "persons_placed", "status": "optimal", "gap": 0.0, "objective": float(total_persons), "seconds": 0.0})
    stages.append(stage)
    if links == "soft" and honour and stage["objective"] is not None and left() > 0.01:
        prob += total_deviation <= stage["objective"] * (1 + 1e-7) + 1e-9, "deviation_fixed"
        prob.sense = pulp.LpMaximize
        prob.setObjective(pulp.LpAffineExpression(honour))
        stages.append(_stage(prob, "links_honoured", left()))
    statuses = [st["status"] for st in stages]
    if all(s == "optimal" for s in statuses) and len(stages) == (3 if links == "soft" and honour else 2):
        status = "optimal"
    elif all(s in ("optimal", "feasible") for s in statuses):
        status = "feasible" if len(stages) > 1 else "no solution"
    else:
        status = "no solution" if "no solution" in statuses else statuses[-1]
    gaps = [st["gap"] for st in stages]
    gap = None if status == "no solution" or any(g is None for g in gaps) else max(gaps)
    return {
        "build_s": build,
        "solve_s": sum(st["seconds"] for st in stages),
        "variables": len(prob.variables()),
        "constraints": len(prob.constraints),
        "status": status,
        "gap": gap,
        "stages": stages,
        "objective": next((st["objective"] for st in stages if st["name"] == "total_deviation"), None),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Solve one instance with the baseline formulation; print JSON.")
    parser.add_argument("--states", type=Path, required=True)
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--formula", default="pact-2024")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    states = participants(load_states(args.states), None, None)
    cases = load_cases(args.cases)
    read = time.perf_counter() - start
    shares = compute_key(states, resolve_formula(args.formula)).shares
    result = solve_baseline(states, shares, cases, args.time_limit)
    result.update(
        read_s=read,
        cases=len(cases),
        persons=int(cases["size"].sum()),
        states=len(states),
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        time_limit_s=args.time_limit,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
