"""The benchmark runner works end to end on toy sizes (no timing is asserted: that is BENCHMARKS.md's job)."""

from __future__ import annotations

import csv
import subprocess
import sys

from conftest import ROOT


def test_benchmark_runner_smoke(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--suite", "smoke", "--repeat", "1", "--no-reports", "--time-limit", "20", "--work", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with open(tmp_path / "latest.csv", newline="") as handle:
        rows = {row["instance"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"cases-200", "quota-3", "baseline-20"}
    cases = rows["cases-200"]
    assert cases["status"] == "optimal" and int(cases["cases"]) == 200
    for phase in ("read_s", "build_s", "solve_s", "assign_s", "write_s", "command_s", "command_peak_mib"):
        assert float(cases[phase]) >= 0, phase
    assert rows["quota-3"]["status"] == "optimal" and int(rows["quota-3"]["variants"]) == 3
    baseline = rows["baseline-20"]
    assert baseline["baseline_status"] in ("optimal", "feasible", "no solution")
    assert float(baseline["speedup"]) > 0
    assert "Case plans" in (tmp_path / "latest.md").read_text()
    assert "written:" in done.stdout
