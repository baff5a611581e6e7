"""Benchmarks for `relocate`: seeded instances, a runner and the baseline formulation.

    python -m benchmarks            # the full suite (make bench); results in benchmarks/results/
    python -m benchmarks --suite quick

- `generate`: seeded generator of realistic case lists and illustrative capacities;
- `phases`: one plan's phases (read, build, solve, assign, write), timed in-process;
- `baseline`: the straightforward one-binary-per-case-and-state formulation;
- `quota`: many formula variants in quota mode in one compare;
- `__main__`: the runner, which calls the others and the real `relocate` command in subprocesses.

See BENCHMARKS.md for the latest results and the machine they ran on.
"""
