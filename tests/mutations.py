"""Switch each feature off and check that its test notices.

    .venv/bin/python tests/mutations.py [NAME ...]     all mutations, or the ones named
    .venv/bin/python tests/mutations.py --list         what each switches off, and where

The mutations are conftest.MUTATIONS; where each one patches is conftest.TARGETS. Every mutation runs
its tests in a child pytest with RELOCATE_TEST_MUTATION=NAME, and conftest.py switches the feature
off for that whole run. A mutation is "killed" when one of its tests fails and "SURVIVED" when they
all pass. First the same tests run with nothing switched off: they must pass, or no verdict means
anything. Exit status 1 when a mutation survived or a run went wrong, else 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

from conftest import MUTATION_VARIABLE, MUTATIONS, where  # noqa: E402 (the path above first)


def run_pytest(tests: tuple[str, ...], mutation: str | None) -> tuple[int, str, float]:
    """(pytest's exit code, the end of its output, seconds) for these node ids."""
    env = {k: v for k, v in os.environ.items() if k != MUTATION_VARIABLE}
    if mutation:
        env[MUTATION_VARIABLE] = mutation
    command = [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", *(f"tests/{t}" for t in tests)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return done.returncode, tail, time.perf_counter() - started


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        for name, mutation in MUTATIONS.items():
            print(f"{name:15} {mutation.what}\n{'':15} at {where(mutation.target)}; tests: {', '.join(mutation.tests)}")
        return 0
    unknown = [a for a in argv if a not in MUTATIONS]
    if unknown:
        print(f"unknown mutation(s) {', '.join(unknown)}; --list shows them", file=sys.stderr)
        return 2
    chosen = {name: MUTATIONS[name] for name in (argv or MUTATIONS)}

    every_test = tuple(dict.fromkeys(t for m in chosen.values() for t in m.tests))
    code, tail, seconds = run_pytest(every_test, None)
    if code != 0:
        print(f"the tests fail with nothing switched off (pytest exit {code}, {seconds:.0f} s):\n{tail}")
        return 1
    print(f"unmutated: {len(every_test)} tests pass ({seconds:.0f} s)\n")

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        runs = dict(zip(chosen, pool.map(lambda name: run_pytest(chosen[name].tests, name), chosen)))
    failed = False
    print(f"{'mutation':15} {'result':9} {'time':>5}  what is switched off (where)")
    for name, (code, tail, seconds) in runs.items():
        verdict = {1: "killed", 0: "SURVIVED"}.get(code, f"ERROR {code}")
        failed |= verdict != "killed"
        mutation = chosen[name]
        print(f"{name:15} {verdict:9} {seconds:4.0f}s  {mutation.what} ({where(mutation.target)})")
        if verdict != "killed":
            print(f"{'':15} tests: {', '.join(mutation.tests)}")
            if code not in (0, 1):
                print("\n".join(f"{'':15} | {line}" for line in tail.splitlines()))
    print(f"\n{sum(c == 1 for c, _, _ in runs.values())} of {len(runs)} mutations killed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
