"""The explorer's form: which data files it offers, and a submitted form read into `Choices`.

Every value is checked the way the CLI checks its options (the same `InputError` texts): a file
must be one of the offered ones, the total a whole number, the method a known one, codes known.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import InputError, show
from .explorer import DEFAULT_TOTAL, Choices, method_choice, parse_exclude, parse_total, preset, sliders
from .session import Session

# A clone's inputs/ folder, beside the package.
_CLONE_INPUTS = Path(__file__).resolve().parents[2] / "inputs"


def inputs_folder(given: Path | None = None) -> Path:
    """The shipped data: `given`, else $RELOCATE_INPUTS, else the clone's inputs/, else ./inputs."""
    if given is not None:
        return Path(given)
    if os.environ.get("RELOCATE_INPUTS"):
        return Path(os.environ["RELOCATE_INPUTS"])
    return _CLONE_INPUTS if _CLONE_INPUTS.is_dir() else Path("inputs")


def _kind(path: Path) -> str | None:
    """'states' or 'cases' by the header row, None for anything else."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            header = handle.readline().lower()
    except (OSError, UnicodeDecodeError):
        return None
    names = [h.strip() for h in header.replace(";", ",").replace("\t", ",").split(",")]
    if "case_id" in names:
        return "cases"
    return "states" if "code" in names else None


def shipped_files(folder: Path, session: Session | None) -> dict[str, list[tuple[str, str]]]:
    """(form value, label) per states file and per cases file the page offers, uploads included."""
    offered: dict[str, list[tuple[str, str]]] = {"states": [], "cases": []}
    if folder.is_dir():
        for path in sorted(folder.glob("*.csv")):
            kind = _kind(path)
            if kind is not None:
                offered[kind].append((f"shipped:{path.name}", path.name))
    if session is not None:
        for role in ("states", "cases"):
            if role in session.uploads:
                offered[role].append(("upload", f"uploaded: {session.uploads[role].name}"))
    return offered


def _file(value: str, role: str, folder: Path, session: Session) -> Path:
    if not value:
        raise InputError(f"no {role} file chosen: upload one, or start relocate serve with --inputs DIR (no data files in {folder})")
    if value == "upload":
        if role not in session.uploads:
            raise InputError(f"no {role} file uploaded yet: upload one or pick a shipped file")
        return session.uploads[role]
    offered = {v for v, _ in shipped_files(folder, None)[role]}
    if value not in offered:
        raise InputError(f"{role}: {show(value)} is not one of the offered files")
    return folder / value.removeprefix("shipped:")


def _weights(form: dict, columns: list[str]) -> dict[str, float]:
    weights = {}
    for column in columns:
        text = str(form.get(f"w:{column}", "0")).strip() or "0"
        try:
            weights[column] = float(text)
        except ValueError:
            raise InputError(f"weight of {column}: not a number: {show(text)}") from None
    return weights


def choices_from_form(form: dict, folder: Path, session: Session) -> tuple[Choices, pd.DataFrame, pd.DataFrame | None, bool]:
    """(choices, states table, cases table or None, whether the sliders start again from the
    preset). The sliders start again when the preset or the states file changed since they were
    drawn (the form's `sliders_for`); untouched sliders mean the preset exactly."""
    states_path = _file(str(form.get("data", "")), "states", folder, session)
    cases_value = str(form.get("cases", "none"))
    cases_path = None if cases_value in ("", "none") else _file(cases_value, "cases", folder, session)
    states = session.table("states", states_path)
    cases = session.table("cases", cases_path) if cases_path is not None else None
    name = str(form.get("preset", ""))
    formula = preset(name)
    drawn_for = f"{name}|{form.get('data', '')}"
    reset = form.get("sliders_for") != drawn_for
    weights = None
    if not reset:
        start = sliders(formula, states)
        weights = _weights(form, [s.column for s in start])
        if all(abs(weights[s.column] - s.percent) < 1e-9 for s in start):
            weights = None
    total_text = str(form.get("total", "")).strip()
    choices = Choices(
        states=states_path,
        cases=cases_path,
        preset=name,
        weights=weights,
        method=method_choice(str(form.get("method", "lp"))),
        total=parse_total(total_text) if total_text else DEFAULT_TOTAL,
        exclude=parse_exclude(str(form.get("exclude", ""))),
        solve=str(form.get("solve", "")) == "1",
    )
    return choices, states, cases, reset
