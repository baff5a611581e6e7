"""Time the phases of one `relocate solve` in-process: read, build, solve, assign, write.

The same steps the command takes (`optimizer.cli.solve`): read the inputs, compute the key, build
and solve the model (`optimizer.pipeline.run`), write the plan files and, unless `--report none`,
the reports. Prints one JSON line. The runner (`python -m benchmarks`) calls this in a fresh
subprocess per instance, so the peak memory is that of one plan.

    python -m benchmarks.phases --states s.csv --cases c.csv --formula pact-2024 --out DIR
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time the phases of one plan; print JSON.")
    parser.add_argument("--states", type=Path, required=True)
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--formula", default="pact-2024")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--report", default="none", help="report formats as for `relocate solve --report`")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    from optimizer import pipeline, report, schema

    t1 = time.perf_counter()
    states = schema.load_states(args.states)
    cases = schema.load_cases(args.cases)
    t2 = time.perf_counter()
    settings = schema.ScenarioSettings(
        states=str(args.states), cases=str(args.cases), formula=args.formula, time_limit=args.time_limit
    )
    result = pipeline.run(settings, name=args.cases.stem, cases=cases, states=states)
    t3 = time.perf_counter()
    with report.staged_output(args.out, force=True) as folder:
        report.write_plan_files(result, folder)
        t4 = time.perf_counter()
        if args.report != "none":
            report.write_reports([result], folder, formats=args.report)
    t5 = time.perf_counter()

    plan = result.plan
    times = plan.times
    modelled = sum(times.values())
    print(
        json.dumps(
            {
                "import_s": t1 - t0,
                "read_s": t2 - t1,
                # key, checks and table building around the model step (pipeline.run minus plan())
                "key_s": (t3 - t2) - modelled,
                "aggregate_s": times.get("aggregate", 0.0),
                "warm_start_s": times.get("warm_start", 0.0),
                "build_s": times.get("build", 0.0),
                "solve_s": times.get("solve", 0.0),
                "assign_s": times.get("assign", 0.0),
                "write_s": t4 - t3,
                "reports_s": t5 - t4,
                "total_s": t5 - t0,
                "status": plan.status,
                "gap": plan.gap,
                "stages": {st.name: {"status": st.status, "objective": st.objective, "seconds": st.seconds} for st in plan.stages},
                "objective": plan.objective.get("total_deviation"),
                "cases": plan.counts.cases,
                "persons": plan.counts.persons,
                "states": len(plan.states),
                "types": plan.counts.case_types,
                "link_classes": plan.counts.link_classes,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
