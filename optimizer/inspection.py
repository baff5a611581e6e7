"""`relocate check`: every input read and checked as a run would read it, nothing solved.

The states file, the case list and the scenario (with each of its variants) go through the same
loaders and cross-checks as `pipeline.run`: participants, the formula and its key, capacity
overrides, need columns and weights, codes in the case list, the method. What comes back is a short
account, per file, of what the run will use and what it will ignore, for a person to read before a
long solve (or instead of one).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import apportion as apportionment
from .checks import Reading, check_plan_inputs, reading
from .errors import InputError, show
from .io.cases import case_needs, load_cases
from .io.states import CAPACITY_PREFIX, load_states
from .keys import compute_key
from .participants import participants
from .pipeline import DEFAULT_METHOD, apply_capacity_overrides, choose_formula, merge, resolve_path
from .settings import ScenarioSettings, Variant, model_settings


class _Files:
    """Each input file loaded once (variants share them)."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self.loaded: dict[tuple[str, Path], pd.DataFrame] = {}

    def get(self, kind: str, value: str | None, decimal: str | None) -> pd.DataFrame | None:
        path = resolve_path(value, self.base_dir)
        if path is None:
            return None
        key = (kind, path.resolve())
        if key not in self.loaded:
            self.loaded[key] = (load_states if kind == "states" else load_cases)(path, decimal)
        return self.loaded[key]


def inspect(settings: ScenarioSettings, base_dir: Path | None, variants: list[Variant] = ()) -> list[str]:
    """Check the inputs of `settings` and of each variant laid over it, as `solve`/`compare`
    would; the lines of the account. Raises the first problem found (InputError)."""
    files = _Files(base_dir)
    lines: list[str] = []
    runs = [("", settings)] + [(f"variant {show(v.name)}: ", merge(settings, v)) for v in variants]
    readings = []
    for label, given in runs:
        read, summary = _check_run(given, base_dir, files)
        readings.append(read)
        lines.append(label + summary)
    lines[:0] = _files_account(files, readings)
    notes = dict.fromkeys(note for r in readings for note in r.notes)
    lines += [f"note: {note}" for note in notes]
    lines.append("ok: every input is valid (nothing was solved)")
    return lines


def _check_run(settings: ScenarioSettings, base_dir: Path | None, files: _Files) -> tuple[Reading, str]:
    """One run's checks, up to (not including) the solve; its Reading and a line saying what it is."""
    states = files.get("states", settings.states, settings.decimal)
    if states is None:
        raise InputError("no states file given")
    states = apply_capacity_overrides(states, settings.capacity)
    chosen = participants(states, settings.only, settings.exclude)
    formula = choose_formula(settings, base_dir) if settings.formula is not None or settings.weight_column else None
    if formula is not None:
        compute_key(chosen, formula)
    solve_settings = model_settings(settings)
    method = apportionment.canonical_method(settings.method or DEFAULT_METHOD)
    cases = files.get("cases", settings.cases, settings.decimal)
    check_plan_inputs(states, cases, settings.total, method, solve_settings.need_weights)
    what = f"{len(chosen)} of {len(states)} states take part"
    what += f"; formula {formula.name}" if formula is not None else "; no formula given (the key is not checked)"
    if cases is not None:
        what += f"; {len(cases):,} cases, {int(cases['size'].sum()):,} persons to place"
    elif settings.total is not None:
        what += f"; a quota plan of {settings.total:,} persons, method {method}"
    else:
        what += "; nothing to place yet (give a cases file or a total)"
    return reading(states, chosen, formula, cases, solve_settings.need_weights, solve_settings.count_hosted), what


def _files_account(files: _Files, readings: list[Reading]) -> list[str]:
    """Per file: what it is, the columns some run uses, the tool's columns no run uses, and the
    unknown columns (kept as written in the plan files)."""
    lines = []
    for (kind, _), table in files.loaded.items():
        source = table.attrs["source"]
        form = table.attrs.get("format", {})
        rows = f"{len(table):,} {'states' if kind == 'states' else 'cases'}"
        lines.append(f"{kind}: {source}: {rows}; separator {form.get('sep', ',')!r}, decimal mark {form.get('decimal', '.')!r}")
        used = _union(r.used.get(source, []) for r in readings)
        ignored = [c for c in _union(r.ignored.get(source, []) for r in readings) if c not in used]
        unknown = [c for c in _union(r.unused.get(source, []) for r in readings) if c not in used]
        lines.append(f"  used: {', '.join(used) or '-'}")
        if ignored:
            lines.append(f"  ignored (not needed by this run): {', '.join(ignored)}")
        if unknown:
            plan = "plan_states.csv" if kind == "states" else "plan_cases.csv"
            lines.append(f"  not used, kept as written in {plan}: {', '.join(unknown)}")
        if kind == "cases":
            needs = case_needs(table)
            if needs:
                lines.append(f"  needs: {', '.join(needs)} (each limited by a '{CAPACITY_PREFIX}<need>' column where the states file has one)")
    return lines


def _union(lists) -> list[str]:
    return list(dict.fromkeys(c for cells in lists for c in cells))


__all__ = ["inspect"]
