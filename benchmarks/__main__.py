"""The benchmark runner: `python -m benchmarks` (or `make bench`) from the repository root.

For each instance of the suite it generates the inputs (seeded, cached under the work folder),
then runs, each in a fresh subprocess:

- `benchmarks.phases`: the phases of one plan timed in-process (read, build, solve, assign, write,
  reports) with its status, gap and peak memory;
- the real command, `relocate solve ... --report none` (plan files only), `--repeat` times (the
  median counts), and once more as a user runs it, with every report (the default);
- for quota instances, `benchmarks.quota` (one `optimizer.compare.compare` of many formula
  variants) and the real `relocate compare` on the same variants;
- for baseline instances, `benchmarks.baseline` next to the model on the same instance, same
  solver and time limit, and the speed-up ratio.

It writes `<work>/latest.csv` (one row per instance), `latest.json` (rows, machine, targets) and
`latest.md` (the tables for BENCHMARKS.md), and prints the table and the targets met or missed.
Peak memory is the largest resident set of the subprocess (`os.wait4`, or `getrusage` inside it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATES = ROOT / "inputs" / "eu_efta_2014.csv"  # 32 states, population and GDP (Eurostat) for all
DEFAULT_FORMULA = "pact-2024"
QUOTA_TOTAL = 160_000


@dataclass(frozen=True)
class Instance:
    name: str
    kind: str  # "cases", "quota" or "baseline"
    size: int  # cases, or formula variants for quota


SUITES = {
    "full": [
        Instance("cases-2k", "cases", 2_000),
        Instance("cases-10k", "cases", 10_000),
        Instance("cases-20k", "cases", 20_000),
        Instance("cases-100k", "cases", 100_000),
        Instance("cases-350k", "cases", 350_000),
        Instance("quota-1000", "quota", 1_000),
        Instance("baseline-2k", "baseline", 2_000),
        Instance("baseline-20k", "baseline", 20_000),
    ],
    "quick": [
        Instance("cases-2k", "cases", 2_000),
        Instance("cases-10k", "cases", 10_000),
        Instance("quota-100", "quota", 100),
        Instance("baseline-2k", "baseline", 2_000),
    ],
    # a toy run of every kind, for the test suite (tests/test_benchmarks_smoke.py)
    "smoke": [
        Instance("cases-200", "cases", 200),
        Instance("quota-3", "quota", 3),
        Instance("baseline-20", "baseline", 20),
    ],
}

# (instance, what, limit, unit): the targets, checked after a run.
TARGETS = [
    ("cases-10k", "command_reports_s", 2.0, "s"),
    ("cases-350k", "command_reports_s", 10.0, "s"),
    ("cases-350k", "command_reports_peak_mib", 2048.0, "MiB"),
    ("quota-1000", "compare_s", 10.0, "s"),
]

COLUMNS = [
    "instance", "kind", "cases", "persons", "states", "types", "import_s", "read_s", "key_s", "aggregate_s",
    "warm_start_s", "model_build_s", "build_s", "solve_s", "assign_s", "write_s", "reports_s", "phases_peak_mib",
    "command_s", "command_peak_mib", "command_reports_s", "command_reports_peak_mib", "compute_io_ratio", "status",
    "gap", "objective", "time_limit_s", "variants", "compare_s", "per_variant_ms", "baseline_build_s",
    "baseline_solve_s", "baseline_status", "baseline_gap", "baseline_objective", "baseline_peak_mib", "speedup", "note",
]


# ---------------------------------------------------------------------------------------------
# Subprocesses


def timed(command: list[str], log: Path, stdout: Path | None = None) -> tuple[float, float, int]:
    """Run a command; (wall seconds, peak resident MiB, exit code). Output goes to files."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as err, open(stdout or log.with_suffix(".out"), "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def json_child(module: str, args: list[str], log: Path) -> dict:
    """Run `python -m module args` and read the JSON line it prints."""
    out = log.with_suffix(".json")
    _, peak, code = timed([sys.executable, "-m", module, *args], log, stdout=out)
    if code != 0:
        raise RuntimeError(f"{module} failed (exit {code}); see {log}")
    data = json.loads(out.read_text().strip().splitlines()[-1])
    data.setdefault("peak_mib", peak)
    return data


def relocate() -> list[str]:
    """The installed `relocate` command next to this Python, else the module."""
    script = Path(sys.executable).with_name("relocate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "optimizer"]


# ---------------------------------------------------------------------------------------------
# Instances


def case_files(instance: Instance, work: Path, states_file: Path, seed: int) -> tuple[Path, Path]:
    """Generate (once) the cases and the states with illustrative capacities for an instance."""
    folder = work / "instances"
    folder.mkdir(parents=True, exist_ok=True)
    cases = folder / f"cases-{instance.size}-seed{seed}.csv"
    states = folder / f"states-{instance.size}-seed{seed}-{states_file.stem}.csv"
    if not (cases.exists() and states.exists()):
        from benchmarks.generate import main as generate

        generate(["--states", str(states_file), "--cases", str(instance.size), "--seed", str(seed), "--out", str(cases), "--states-out", str(states)])
    return cases, states


def quota_states(work: Path, states_file: Path, seed: int) -> Path:
    path = work / "instances" / f"states-quota-{QUOTA_TOTAL}-seed{seed}-{states_file.stem}.csv"
    if not path.exists():
        import pandas as pd

        from benchmarks.generate import with_capacities

        path.parent.mkdir(parents=True, exist_ok=True)
        states = pd.read_csv(states_file, dtype={"code": str}, keep_default_na=False).set_index("code")
        with_capacities(states, QUOTA_TOTAL, seed=seed).reset_index().to_csv(path, index=False, lineterminator="\n")
    return path


def run_cases(instance: Instance, args, work: Path) -> dict:
    cases, states = case_files(instance, work, args.states, args.seed)
    runs = work / "runs" / instance.name
    common = ["--states", str(states), "--cases", str(cases), "--formula", args.formula, "--time-limit", str(args.time_limit)]
    phases = json_child("benchmarks.phases", [*common, "--out", str(runs / "phases"), "--report", "all"], runs / "phases.log")
    row = _phase_row(instance, phases)
    solve = [*relocate(), "solve", *common]
    walls, peaks = [], []
    for i in range(args.repeat):
        seconds, peak, code = timed([*solve, "--out", str(runs / "plan"), "--force", "--report", "none"], runs / f"command-{i}.log")
        if code != 0:
            raise RuntimeError(f"relocate solve failed (exit {code}); see {runs / f'command-{i}.log'}")
        walls.append(seconds)
        peaks.append(peak)
    row.update(command_s=statistics.median(walls), command_peak_mib=max(peaks))
    if not args.no_reports:
        walls, peaks = [], []
        for i in range(args.repeat):
            seconds, peak, code = timed([*solve, "--out", str(runs / "full"), "--force"], runs / f"command-reports-{i}.log")
            if code != 0:
                raise RuntimeError(f"relocate solve failed (exit {code}); see {runs / f'command-reports-{i}.log'}")
            walls.append(seconds)
            peaks.append(peak)
        row.update(command_reports_s=statistics.median(walls), command_reports_peak_mib=max(peaks))
    return row


def _phase_row(instance: Instance, phases: dict) -> dict:
    build = phases["aggregate_s"] + phases["warm_start_s"] + phases["build_s"]
    io = phases["read_s"] + phases["write_s"]
    return {
        "instance": instance.name,
        "kind": instance.kind,
        "cases": phases["cases"],
        "persons": phases["persons"],
        "states": phases["states"],
        "types": phases["types"],
        "import_s": phases["import_s"],
        "read_s": phases["read_s"],
        "key_s": phases["key_s"],
        "aggregate_s": phases["aggregate_s"],
        "warm_start_s": phases["warm_start_s"],
        "model_build_s": phases["build_s"],
        "build_s": build,
        "solve_s": phases["solve_s"],
        "assign_s": phases["assign_s"],
        "write_s": phases["write_s"],
        "reports_s": phases["reports_s"],
        "phases_peak_mib": phases["peak_mib"],
        "compute_io_ratio": (build + phases["solve_s"] + phases["assign_s"]) / io if io > 0 else None,
        "status": phases["status"],
        "gap": phases["gap"],
        "objective": phases["objective"],
    }


def run_quota(instance: Instance, args, work: Path) -> dict:
    states = quota_states(work, args.states, args.seed)
    runs = work / "runs" / instance.name
    scenario = runs / "variants.toml"
    runs.mkdir(parents=True, exist_ok=True)
    data = json_child(
        "benchmarks.quota",
        ["--states", str(states), "--variants", str(instance.size), "--total", str(QUOTA_TOTAL), "--seed", str(args.seed), "--scenario-out", str(scenario)],
        runs / "quota.log",
    )
    row = {
        "instance": instance.name,
        "kind": instance.kind,
        "persons": QUOTA_TOTAL,
        "states": data["states"],
        "types": 1,
        "import_s": data["import_s"],
        "variants": data["variants"],
        "compare_s": data["compare_s"],
        "per_variant_ms": data["per_variant_ms"],
        "phases_peak_mib": data["peak_mib"],
        "status": data["status"],
        "note": f"{data['how']}; {data['optimal']} of {data['variants']} optimal",
    }
    command = [*relocate(), "compare", str(scenario), "--sensitivity", "none", "--out", str(runs / "compare"), "--force"]
    seconds, peak, code = timed([*command, "--report", "none"], runs / "command.log")
    if code == 0:
        row.update(command_s=seconds, command_peak_mib=peak)
    else:
        row["note"] += f"; relocate compare failed (exit {code}), see {runs / 'command.log'}"
    return row


def run_baseline(instance: Instance, args, work: Path) -> dict:
    cases, states = case_files(instance, work, args.states, args.seed)
    runs = work / "runs" / instance.name
    common = ["--states", str(states), "--cases", str(cases), "--formula", args.formula, "--time-limit", str(args.time_limit)]
    ours = json_child("benchmarks.phases", [*common, "--out", str(runs / "phases"), "--report", "none"], runs / "phases.log")
    row = _phase_row(instance, ours)
    base = json_child("benchmarks.baseline", common, runs / "baseline.log")
    model_seconds = row["build_s"] + row["solve_s"]
    baseline_seconds = base["build_s"] + base["solve_s"]
    ratio = baseline_seconds / model_seconds if model_seconds > 0 else None
    proven = base["status"] == "optimal"
    row.update(
        time_limit_s=args.time_limit,
        baseline_build_s=base["build_s"],
        baseline_solve_s=base["solve_s"],
        baseline_status=base["status"],
        baseline_gap=base["gap"],
        baseline_objective=base["objective"],
        baseline_peak_mib=base["peak_mib"],
        speedup=ratio,
        note=(
            f"baseline {base['variables']:,} binaries and {base['constraints']:,} rows; "
            + ("speed-up is exact (both proven optimal)" if proven else "baseline stopped at the time limit: the speed-up is a lower bound")
        ),
    )
    return row


# ---------------------------------------------------------------------------------------------
# Output


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform()}
    info["nproc"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
        meminfo = Path("/proc/meminfo").read_text()
        kb = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal"))
        info["ram_gib"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    info["load_average_at_start"] = os.getloadavg()
    for package in ("highspy", "pulp", "numpy", "pandas"):
        try:
            from importlib.metadata import version

            info[package] = version(package)
        except Exception:  # noqa: BLE001 (informational only)
            info[package] = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "optimizer", "benchmarks"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        info["commit"] = commit + (" (+ uncommitted changes)" if dirty else "")
    except OSError:
        info["commit"] = "?"
    info["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    return info


def fmt(value, digits: int = 2) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        if value != value:  # nan
            return ""
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def tables(rows: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the printed and markdown tables."""
    out = []
    plans = [r for r in rows if r["kind"] == "cases"]
    if plans:
        header = ["instance", "cases", "persons", "types", "read s", "build s", "solve s", "assign s", "write s", "reports s",
                  "command s", "peak MiB", "command+reports s", "peak MiB", "status", "gap"]
        body = [[r["instance"], fmt(r["cases"]), fmt(r["persons"]), fmt(r["types"]), fmt(r["read_s"]), fmt(r["build_s"]),
                 fmt(r["solve_s"]), fmt(r["assign_s"]), fmt(r["write_s"]), fmt(r["reports_s"]), fmt(r["command_s"]),
                 fmt(r["command_peak_mib"], 0), fmt(r.get("command_reports_s")), fmt(r.get("command_reports_peak_mib"), 0),
                 r["status"], fmt(r["gap"], 6)] for r in plans]
        out.append(("Case plans (pact-2024 key, links soft)", header, body))
    quotas = [r for r in rows if r["kind"] == "quota"]
    if quotas:
        header = ["instance", "variants", "states", "persons each", "compare() s", "per variant ms", "peak MiB", "relocate compare s", "status"]
        body = [[r["instance"], fmt(r["variants"]), fmt(r["states"]), fmt(r["persons"]), fmt(r["compare_s"]),
                 fmt(r["per_variant_ms"], 1), fmt(r["phases_peak_mib"], 0), fmt(r.get("command_s")), r["status"]] for r in quotas]
        out.append(("Quota mode: formula variants in one compare", header, body))
    baselines = [r for r in rows if r["kind"] == "baseline"]
    if baselines:
        header = ["instance", "cases", "time limit s", "model build+solve s", "model status", "baseline build s",
                  "baseline solve s", "baseline status", "baseline gap", "baseline peak MiB", "speed-up"]
        body = []
        for r in baselines:
            ratio = r.get("speedup")
            shown = "" if ratio is None else (f"{ratio:,.0f}x" if r["baseline_status"] == "optimal" else f">= {ratio:,.0f}x")
            body.append([r["instance"], fmt(r["cases"]), fmt(r["time_limit_s"], 0), fmt(r["build_s"] + r["solve_s"]), r["status"],
                         fmt(r["baseline_build_s"]), fmt(r["baseline_solve_s"]), r["baseline_status"], fmt(r["baseline_gap"], 4),
                         fmt(r["baseline_peak_mib"], 0), shown])
        out.append(("Baseline: one binary per case and state, same objective, solver and time limit", header, body))
    return out


def check_targets(rows: list[dict]) -> list[str]:
    by_name = {r["instance"]: r for r in rows}
    lines = []
    for name, key, limit, unit in TARGETS:
        row = by_name.get(name)
        if row is None or row.get(key) in (None, ""):
            continue
        value = float(row[key])
        proven = row.get("status") == "optimal"
        met = value < limit and proven
        lines.append(f"{name}: {key} = {value:,.2f} {unit} (target < {limit:,.0f} {unit}{', proven optimal' if name.startswith('cases') else ''}): {'met' if met else 'MISSED'}"
                     + ("" if proven else f" (status {row.get('status')})"))
        if key == "compare_s" and row.get("command_s") is not None:
            command = float(row["command_s"])
            lines.append(f"{name}: relocate compare (the whole command, --report none) = {command:,.2f} s: {'met' if command < limit else 'MISSED'}")
        if key == "command_reports_s" and row.get("command_s") is not None:
            plan_only = float(row["command_s"])
            lines.append(f"{name}: command_s (plan files only, --report none) = {plan_only:,.2f} s: {'met' if plan_only < limit and proven else 'MISSED'}")
    big = by_name.get("cases-350k")
    if big and big.get("compute_io_ratio") is not None:
        lines.append(f"cases-350k: (build + solve + assign) / (read + write) = {big['compute_io_ratio']:.2f} (target: a few): {'met' if big['compute_io_ratio'] <= 3 else 'MISSED'}")
    for row in rows:
        if row["kind"] == "baseline" and row.get("speedup") is not None:
            bound = "" if row["baseline_status"] == "optimal" else ">= "
            lines.append(f"{row['instance']}: speed-up {bound}{row['speedup']:,.0f}x (baseline {row['baseline_status']} after {row['baseline_build_s'] + row['baseline_solve_s']:,.1f} s; model {row['status']} in {row['build_s'] + row['solve_s']:,.2f} s)")
    return lines


def render_text(title: str, header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]
    lines = [title, "  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in body]
    return "\n".join(lines)


def render_markdown(title: str, header: list[str], body: list[list[str]]) -> str:
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def write_outputs(rows: list[dict], info: dict, targets: list[str], csv_path: Path) -> None:
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else (round(row[k], 6) if isinstance(row.get(k), float) else row[k])) for k in COLUMNS})
    csv_path.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows, "targets": targets}, indent=2) + "\n")
    machine_line = (
        f"Machine: {info.get('cpu', '?')}, {info.get('nproc', '?')} cores available, {info.get('ram_gib', '?')} GiB RAM; "
        f"Python {info['python']}, highspy {info['highspy']}, PuLP {info['pulp']}, numpy {info['numpy']}, pandas {info['pandas']}; "
        f"commit {info['commit']}; {info['date']}; load average at start {', '.join(f'{x:.2f}' for x in info['load_average_at_start'])}."
    )
    parts = [machine_line, ""]
    for title, header, body in tables(rows):
        parts += [render_markdown(title, header, body), ""]
    parts += ["**Targets**", ""] + [f"- {line}" for line in targets] + [""]
    csv_path.with_suffix(".md").write_text("\n".join(parts))


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="full")
    parser.add_argument("--only", help="comma-separated instance names of the suite to run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the median counts (default 3)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver seconds per plan, model and baseline alike (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--states", type=Path, default=DEFAULT_STATES, help="states file the instances are drawn on")
    parser.add_argument("--formula", default=DEFAULT_FORMULA)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "results", help="folder for instances, runs and results")
    parser.add_argument("--out", type=Path, help="results CSV (default <work>/latest.csv)")
    parser.add_argument("--no-reports", action="store_true", help="skip the run of the command with every report")
    args = parser.parse_args(argv)
    args.states = args.states.resolve()
    work = args.work.resolve()
    out = (args.out or work / "latest.csv").resolve()

    instances = SUITES[args.suite]
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - {i.name for i in instances}
        if unknown:
            parser.error(f"not in suite '{args.suite}': {', '.join(sorted(unknown))}")
        instances = [i for i in instances if i.name in wanted]

    info = machine()
    print(f"benchmarks: suite {args.suite}, {len(instances)} instance(s); {info.get('cpu', '')}, {info.get('nproc')} cores; work folder {work}", flush=True)
    rows, failed = [], 0
    runners = {"cases": run_cases, "quota": run_quota, "baseline": run_baseline}
    for instance in instances:
        start = time.perf_counter()
        print(f"  {instance.name} ...", end="", flush=True)
        try:
            row = runners[instance.kind](instance, args, work)
        except Exception as err:  # noqa: BLE001 (one instance failing must not lose the others)
            failed += 1
            row = {"instance": instance.name, "kind": instance.kind, "status": "error", "note": str(err)}
            print(f" error: {err}", flush=True)
        else:
            print(f" {row.get('status')} ({time.perf_counter() - start:,.1f} s)", flush=True)
        rows.append(row)

    done = [r for r in rows if r.get("status") != "error"]
    targets = check_targets(done)
    write_outputs(rows, info, targets, out)
    print()
    for title, header, body in tables(done):
        print(render_text(title, header, body))
        print()
    if targets:
        print("Targets")
        for line in targets:
            print(f"  {line}")
    print(f"\nwritten: {out} (and .json, .md)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
