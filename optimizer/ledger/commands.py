"""The ledger's commands: `relocate ledger status|undo|export`, `relocate corrective`, and the batch
mode of `relocate solve` (`--ledger L --batch ID [--commit]`). `optimizer.cli` registers them; the
database libraries are imported only when one of them runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import InputError
from ..settings import ScenarioSettings

stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

LedgerOption = Annotated[str, typer.Option("--ledger", "-l", envvar="RELOCATE_LEDGER", help="SQLite file (e.g. programme.db) or postgresql:// URL; default from RELOCATE_LEDGER.")]

ledger_app = typer.Typer(name="ledger", help="A relocation programme's ledger: status, undo a batch, export.", no_args_is_help=True)


def _print(frame: pd.DataFrame, title: str, digits: dict[str, int] | None = None) -> None:
    """A table on stdout; markup off, so names from the data print as written."""
    digits = digits or {}
    table = Table(title=Text(title), title_justify="left")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            if isinstance(value, float):
                cells.append("" if pd.isna(value) else f"{value:,.{digits.get(column, 1)}f}")
            elif isinstance(value, int) and not isinstance(value, bool):
                cells.append(f"{value:,}")
            else:
                cells.append(str(value))
        # Text cells: rich would read [brackets] in names as markup; data never is.
        table.add_row(*(Text(c) for c in cells))
    stdout.print(table)


def _open(location: str, create: bool = False):
    from .storage import open_ledger

    return open_ledger(location, create=create)


@ledger_app.command("status")
def status_command(ledger: LedgerOption) -> None:
    """Each state's cumulative persons against its year-to-date and yearly fair share, capacity left, and the batches."""
    from .status import ledger_status

    status = ledger_status(_open(ledger))
    if status.batches.empty:
        stderr.print("the ledger holds no batches", markup=False)
        return
    states = status.states[["code", "name", "persons", "burden", "ytd_fair_share", "deviation", "yearly_fair_share", "capacity", "capacity_left"]]
    _print(states, f"{len(status.batches)} batches, {int(status.states['persons'].sum()):,} persons placed", {"deviation": 2, "ytd_fair_share": 2})
    _print(status.batches[["seq", "batch_id", "kind", "committed_at", "status", "cases", "persons"]], "Batches")


@ledger_app.command("undo")
def undo_command(batch: Annotated[str, typer.Argument(help="The batch id to remove.")], ledger: LedgerOption) -> None:
    """Remove a committed batch and say what was removed."""
    removed = _open(ledger).undo(batch)
    by_state = ", ".join(f"{code} {n:,}" for code, n in removed.per_state.items()) or "none placed"
    payments = f", {removed.payments} payments" if removed.payments else ""
    stderr.print(f"removed batch {removed.batch_id}: {removed.cases:,} cases, {removed.persons:,} persons ({by_state}){payments}", markup=False)


@ledger_app.command("export")
def export_command(
    ledger: LedgerOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (written all or nothing).")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="Comma-separated: csv,xlsx,html (default: all).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
) -> None:
    """Write the status, batches, cumulative path and placements as CSV, Excel and HTML (a chart per state)."""
    from .export import export_ledger, parse_export_formats
    from .status import ledger_status

    formats = parse_export_formats(fmt)
    from ..io.output import check_output_folder

    check_output_folder(out, force)
    opened = _open(ledger)
    written = export_ledger(ledger_status(opened), opened.placements(), opened.payments(), out, force=force, formats=formats, label=opened.label)
    stderr.print(f"written to {out}: {', '.join(written)}", markup=False)


def solve_batch_command(settings: ScenarioSettings, base_dir: Path | None, name: str, *, ledger: str | None, batch: str | None, commit: bool, replace: bool, lookahead: int, year_total: int | None, out: Path | None, force: bool, report: str | None) -> None:
    """`relocate solve ... --ledger L --batch ID [--commit]`: solve against the ledger's stock;
    commit only with --commit (otherwise a dry run)."""
    from .batches import commit_batch, solve_batch

    if ledger is None or batch is None:
        raise InputError("a batch needs both --ledger and --batch")
    if replace and not commit:
        raise InputError("--replace only applies with --commit")
    if commit or "://" in ledger or Path(ledger).exists():
        opened = _open(ledger, create=commit)
    else:
        opened = _open("sqlite://", create=True)  # a dry run on a ledger not made yet: an empty one, in memory
    if commit:
        result, revision = commit_batch(opened, settings, batch, base_dir, replace=replace, lookahead=lookahead, year_total=year_total, name=name)
    else:
        result, revision = solve_batch(opened, settings, batch, base_dir, lookahead=lookahead, year_total=year_total, name=name), None
    if out is not None:
        from ..report import staged_output, write_plan_files, write_reports

        with staged_output(out, force=force) as folder:
            write_plan_files(result.run, folder)
            write_reports([result.run], folder, formats=report)
    _summarise_batch(result, revision, out)


def _summarise_batch(result, revision: int | None, out: Path | None) -> None:
    plan = result.run.plan
    counts = plan.counts
    table = plan.states
    before = result.stock.reindex(table.index).fillna(0.0)
    frame = pd.DataFrame(
        {
            "code": table.index,
            "name": table["name"].to_numpy(),
            "before": before["persons"].astype(int).to_numpy(),
            "batch": table["allocated"].astype(int).to_numpy(),
            "after": (before["persons"] + table["allocated"]).astype(int).to_numpy(),
            "target": table["target"].to_numpy(dtype=float),
            "deviation": table["deviation"].to_numpy(dtype=float),
            "capacity_left": (table["capacity"] - table["allocated"]).to_numpy(dtype=float) if "capacity" in table else float("nan"),
        }
    )
    _print(frame, f"batch {result.batch_id} ({plan.status}); target: the batch's part of the year's fair share", {"target": 2, "deviation": 2, "capacity_left": 0})
    look = f"; look-ahead over {result.lookahead_cases:,} sampled future cases" if result.lookahead_cases else ""
    done = f"committed (ledger revision {revision})" if revision is not None else "dry run, not committed (add --commit)"
    where = f"; written to {out}" if out is not None else ""
    stderr.print(
        f"{plan.status}: batch {result.batch_id} placed {counts.placed_persons:,} of {counts.persons:,} persons "
        f"({counts.placed_cases:,} of {counts.cases:,} cases); total deviation {table['deviation'].abs().sum():,.2f}{look}; {done}{where}",
        markup=False,
    )


def corrective_command(
    registrations: Annotated[Path, typer.Argument(help="Registrations CSV: date (YYYY-MM-DD), state, persons, optional id.")],
    states: Annotated[Path, typer.Option("--states", help="States CSV.")],
    formula: Annotated[str, typer.Option("--formula", "-f", help="Reference key (default: Dublin IV, 50% population + 50% GDP).")] = "dublin-2016",
    only: Annotated[Optional[str], typer.Option("--only", help="Comma-separated codes: only these states take part.")] = None,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Comma-separated codes of states that do not take part.")] = None,
    opt_out: Annotated[Optional[list[str]], typer.Option("--opt-out", help="CODE:YYYY-MM-DD, a state opting out for 12 months from that day (repeat).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", min=1.0, max=10.0, help="Trigger: applications above this multiple of the reference number.")] = 1.5,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write corrective_*.csv here (all or nothing).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    ledger: Annotated[Optional[str], typer.Option("--ledger", "-l", help="Record the allocations and payments in this ledger (with --batch and --commit).")] = None,
    batch: Annotated[Optional[str], typer.Option("--batch", help="Batch id for the ledger.")] = None,
    commit: Annotated[bool, typer.Option("--commit", help="Commit to the ledger (otherwise nothing is recorded).")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a batch with the same id.")] = False,
) -> None:
    """Dublin IV corrective allocation: simulate a period of registrations; triggers, allocations and payments per state."""
    from .corrective import record_corrective, run_corrective

    if (ledger is not None or batch is not None or commit) and not (ledger and batch and commit):
        raise InputError("recording in a ledger needs --ledger, --batch and --commit together")
    if out is not None:
        from ..io.output import check_output_folder

        check_output_folder(out, force)
    run = run_corrective(registrations, states, formula, only, exclude, opt_out or [], threshold)
    result = run.result
    shown = result.states[["code", "key", "lodged", "allocated_away", "received", "responsible_in_period", "reference_number", "ratio", "triggers", "not_accepted", "pays_eur", "receives_eur"]]
    _print(shown, f"Dublin IV corrective allocation, {len(result.registrations):,} registrations, threshold {threshold:.0%}", {"key": 4, "reference_number": 1, "ratio": 2, "pays_eur": 0, "receives_eur": 0})
    if out is not None:
        from ..io.output import staged_output, write_csv

        with staged_output(out, force=force) as folder:
            write_csv(result.states, folder / "corrective_states.csv")
            write_csv(result.registrations, folder / "corrective_registrations.csv")
            write_csv(result.events, folder / "corrective_events.csv")
            write_csv(result.payments, folder / "corrective_payments.csv")
    if commit:
        revision = record_corrective(_open(ledger, create=True), run, batch, replace)
        stderr.print(f"committed batch {batch} (ledger revision {revision})", markup=False)
    moved = int(result.states["received"].sum())
    stderr.print(f"{len(result.events[result.events['event'] == 'enters'])} triggers; {moved:,} persons allocated; EUR {result.payments['amount_eur'].sum():,.0f} in payments", markup=False)
