"""`relocate solidarity`: the pool's account on the terminal (table, CSV or JSON) and, with --out,
in files and reports. Registered on the `relocate` app by `optimizer.cli`.

Options override the scenario's [pool] table; paths given as options are relative to the working
folder, paths in a scenario to the scenario's folder. Every refusal is one line and exit 2, before
anything is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import InputError, show
from ..io.output import to_jsonable
from ..io.scenario import load_scenario
from ..participants import split_codes
from ..pipeline import resolve_path
from ..settings import PoolSettings, ScenarioSettings, validation_problem
from .run import SolidarityResult, solidarity

stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

# Pool settings given as options: option name -> dotted field of PoolSettings.
OFFSET_OPTIONS = {
    "request_at": "--offsets-request-at",
    "offer_at": "--offsets-offer-at",
    "mandatory_below": "--offsets-mandatory-below",
    "mandatory_minimum": "--offsets-mandatory-minimum",
    "reference": "--offsets-reference",
}
# The per-state columns the terminal shows, with their heading and format (the CSV, JSON and files
# hold every column under its own name).
TERMINAL_COLUMNS = {
    "code": ("code", "text", ""),
    "name": ("name", "text", ""),
    "benefitting": ("benefits", "text", ""),
    "share": ("share", "num", ".6f"),
    "fair_relocations": ("fair share", "num", ",.4f"),
    "fair_eur": ("fair EUR", "num", ",.2f"),
    "deducted_relocations": ("deducted", "num", ",.2f"),
    "pledged_relocations": ("relocations", "num", ",.0f"),
    "pledged_financial_eur": ("EUR", "num", ",.0f"),
    "pledged_alternative_eur": ("alternative EUR", "num", ",.0f"),
    "pledge_equivalents": ("pledge", "num", ",.2f"),
    "gap_relocations": ("gap", "num", "+,.2f"),
    "gap_eur": ("gap EUR", "num", "+,.0f"),
}


def parse_prices(values: list[str] | None) -> dict[str, float]:
    """['dublin-iv=250000', ...] -> {name: EUR}."""
    prices = {}
    for value in values or []:
        name, sep, amount = value.partition("=")
        try:
            price = float(amount)
        except ValueError:
            price = float("nan")
        if not sep or not name.strip() or not (0 <= price < 1e15):
            raise InputError(f"--trade-price: expected NAME=EUR with a number >= 0, got {show(value)}")
        prices[name.strip()] = price
    return prices


def pool_settings(base: PoolSettings | None, given: dict, offsets: dict) -> PoolSettings:
    """The scenario's pool with the options given on top, validated; a bad value names its option."""
    data = base.model_dump(exclude_none=True) if base is not None else {}
    data.update({k: v for k, v in given.items() if v is not None})
    if any(v is not None for v in offsets.values()):
        data["offsets"] = {**data.get("offsets", {}), **{k: v for k, v in offsets.items() if v is not None}}
    try:
        return PoolSettings.model_validate(data)
    except ValidationError as err:
        message, key = validation_problem(err)
        parts = (key or "").split(".")
        option = OFFSET_OPTIONS.get(parts[-1]) if parts[0] == "offsets" else "--" + parts[0].replace("_", "-")
        raise InputError(f"{option}: {message}" if key else message) from None


def _settings(source: Path, only, exclude, formula) -> tuple[ScenarioSettings, Path | None, Path | None]:
    """(settings, base folder, scenario path): a scenario .toml, or a states CSV."""
    if source.suffix.lower() == ".toml":
        scenario, base_dir = load_scenario(source)
        settings = ScenarioSettings.model_validate(scenario.model_dump(exclude={"variants"}))
        scenario_path: Path | None = source
    else:
        settings, base_dir, scenario_path = ScenarioSettings(states=str(source)), None, None
    updates = {"only": split_codes(only) or None, "exclude": split_codes(exclude) or None, "formula": formula}
    return settings.model_copy(update={k: v for k, v in updates.items() if v is not None}), base_dir, scenario_path


def _print_table(frame: pd.DataFrame, formats: dict[str, tuple[str, str, str]], title: str) -> None:
    """`formats`: column -> (heading, 'num' or 'text', format pattern); other columns as text."""
    table = Table(title=Text(title), title_justify="left")
    for column in frame.columns:
        heading, kind, _ = formats.get(column, (str(column), "text", ""))
        table.add_column(Text(heading), justify="right" if kind == "num" else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            _, kind, pattern = formats.get(column, (str(column), "text", ""))
            text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else (format(value, pattern) if kind == "num" else str(value))
            cells.append(Text(text))  # Text, not markup: names and notes are the user's
        table.add_row(*cells)
    stdout.print(table)


def _lines(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[["label", "value", "unit", "article", "note"]].copy()
    out["value"] = [f"{v:,.2f}" if not float(v).is_integer() else f"{v:,.0f}" for v in out["value"]]
    return out.rename(columns={"label": "what"})


def show_result(result: SolidarityResult, fmt: str) -> None:
    """The result on stdout: a table (then the pool lines), CSV (per state; the pool lines go to
    stderr), or JSON (everything)."""
    from ..report.solidarity import solidarity_document

    states = result.states.reset_index()
    if fmt == "json":
        sys.stdout.write(json.dumps(to_jsonable(solidarity_document(result)), indent=2, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        sys.stdout.write(states.to_csv(index=False, lineterminator="\n", float_format="%.10g"))
        for line in result.lines:
            stderr.print(f"{line.label}: {line.value:,.2f} {line.unit} ({line.article}){'; ' + line.note if line.note else ''}", markup=False)
        return
    states["benefitting"] = states["benefitting"].map({True: "yes", False: ""})
    title = f"{result.title}: fair share, pledge and gap per state (in relocations unless EUR; gap = due after deductions - pledge)"
    _print_table(states[list(TERMINAL_COLUMNS)], TERMINAL_COLUMNS, title)
    _print_table(_lines(result.lines_frame()), {"value": ("value", "num", "")}, "The pool, line by line")
    if result.trade is not None:
        trade = result.trade.states.reset_index()
        trade = trade[~trade["benefitting"]].drop(columns=["benefitting"])
        _print_table(trade, {c: (c, "num", ",.2f") for c in trade.columns if c not in ("code", "name")}, "Money for places: per state (EUR; net = received - paid)")
        _print_table(_lines(result.lines_frame(result.trade.lines)), {"value": ("value", "num", "")}, "Money for places: totals")
    for code, note in result.notes.items():
        stderr.print(f"deduction {code}: {note}", markup=False)


def solidarity_command(
    source: Annotated[Path, typer.Argument(help="States CSV, or a scenario TOML with a \\[pool] table.")],
    relocations: Annotated[Optional[int], typer.Option("--relocations", help="Pool: relocations (default 30,000, the Art. 12(2) minimum).")] = None,
    financial_eur: Annotated[Optional[float], typer.Option("--financial-eur", help="Pool: financial contributions in EUR (default 600 million, Art. 12(2)).")] = None,
    price_eur: Annotated[Optional[float], typer.Option("--price-eur", help="EUR per relocation equivalent (default: financial / relocations).")] = None,
    benefitting: Annotated[Optional[str], typer.Option("--benefitting", help="Comma-separated codes of the benefitting states.")] = None,
    deductions: Annotated[Optional[Path], typer.Option("--deductions", help="Deductions CSV: code and one of share (0-1), relocations, eur.")] = None,
    pledges: Annotated[Optional[Path], typer.Option("--pledges", help="Pledges CSV: code, relocations, financial_eur, alternative_eur.")] = None,
    formula: Annotated[Optional[str], typer.Option("--formula", "-f", help="The key (default pact-2024: 50% population + 50% GDP, Annex I).")] = None,
    only: Annotated[Optional[str], typer.Option("--only", help="Comma-separated codes: only these states take part in the key.")] = None,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Comma-separated codes left out of the key.")] = None,
    request_at: Annotated[Optional[float], typer.Option("--offsets-request-at", help="Art. 63(1) threshold (default 0.5; unverified).")] = None,
    offer_at: Annotated[Optional[float], typer.Option("--offsets-offer-at", help="Art. 63(2)(b) threshold (default 0.5; unverified).")] = None,
    mandatory_below: Annotated[Optional[float], typer.Option("--offsets-mandatory-below", help="Mandatory offsets below this share of the proposal (default 0.6; unverified).")] = None,
    mandatory_minimum: Annotated[Optional[int], typer.Option("--offsets-mandatory-minimum", help="... or below this many relocations pledged (default 30,000; 0: off).")] = None,
    reference: Annotated[Optional[int], typer.Option("--offsets-reference", help="Relocations in the Commission's proposal (default: the pool's).")] = None,
    trade: Annotated[bool, typer.Option("--trade", help="Money for places: who pays and receives at the pool's price and Dublin IV's EUR 250,000.")] = False,
    trade_price: Annotated[Optional[list[str]], typer.Option("--trade-price", help="NAME=EUR per place (repeat); implies --trade.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the tables and reports into this folder.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    report: Annotated[Optional[str], typer.Option("--report", help="With --out: html,md,xlsx,json,charts or none (default: all).")] = None,
) -> None:
    """The Pact's Solidarity Pool: fair shares (key x pool), pledges, deductions, gaps, offsets; money for places."""
    from ..report import parse_formats
    from ..report.solidarity_output import write_solidarity

    if fmt not in ("table", "csv", "json"):
        raise InputError(f"--format: choose table, csv or json, not {show(fmt)}")
    if report is not None and out is None:
        raise InputError("--report needs --out DIR (the folder to write the reports into)")
    formats = parse_formats(report)
    prices = parse_prices(trade_price)
    settings, base_dir, scenario = _settings(source, only, exclude, formula)
    given = {
        "relocations": relocations,
        "financial_eur": financial_eur,
        "price_eur": price_eur,
        "benefitting": split_codes(benefitting) if benefitting is not None else None,
        "deductions": str(deductions.resolve()) if deductions is not None else None,
        "pledges": str(pledges.resolve()) if pledges is not None else None,
    }
    offsets = {"request_at": request_at, "offer_at": offer_at, "mandatory_below": mandatory_below, "mandatory_minimum": mandatory_minimum, "reference": reference}
    settings = settings.model_copy(update={"pool": pool_settings(settings.pool, given, offsets)})
    if out is not None:
        pool = settings.pool
        named = [settings.states, pool.pledges, pool.deductions if isinstance(pool.deductions, str) else None]
        _check_out(out, force, [source] + [resolve_path(p, base_dir) for p in named if p])
    from_cli = frozenset(k for k, v in given.items() if v is not None)
    result = solidarity(settings, base_dir, trade=prices or trade, scenario=scenario, given_on_command_line=from_cli)
    if out is not None:
        write_solidarity(result, out, formats, force=force)
    show_result(result, fmt)
    if out is not None:
        stderr.print(f"written to {out}", markup=False)


def _check_out(out: Path, force: bool, inputs: list[Path]) -> None:
    """Refuse an output folder before any work: a non-empty one without --force, the working
    folder itself, or one holding an input file."""
    from ..io.output import check_output_folder

    target = out.resolve()
    if target == Path.cwd().resolve() or target in Path.cwd().resolve().parents:
        raise InputError("the output folder would replace the current folder (or one containing it); choose another --out", file=out)
    for path in inputs:
        if target in path.resolve().parents:
            raise InputError(f"the output folder holds an input file ({path}); choose another --out", file=out)
    check_output_folder(out, force)


__all__ = ["parse_prices", "pool_settings", "show_result", "solidarity_command"]
