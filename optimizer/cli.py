"""The `relocate` command: a thin shell over the pipeline; every command has a Python twin.

Errors the user can fix end in one line on stderr and exit code 2 (bad input) or 3 (no solution),
never a traceback. Set RELOCATE_DEBUG=1 to see one anyway.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import pandas as pd
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .errors import InputError, RelocationError, one_line
from .keys import PRESETS
from .checks import reading, warning_lines
from .pipeline import key_for, merge, run
from .io.scenario import load_scenario
from .participants import split_codes
from .settings import ScenarioSettings, Sensitivity, Solver, choice, validation_problem

if TYPE_CHECKING:
    from .report.workerstart import WorkerProcess

app = typer.Typer(
    name="relocate",
    help="Share refugee relocation fairly among willing states: keys, quotas, family-level plans, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output keeps whole columns: a pipe has no width to wrap to. Names, codes and titles come
# from the user's files: no rich markup or emoji codes in them are ever interpreted ('[/bold]' would
# crash, ':x:' become an emoji), so neither console interprets any; table cells are `Text`.
stdout = Console(highlight=False, markup=False, emoji=False, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


# Options shared by several commands.
FormulaOption = Annotated[
    Optional[str], typer.Option("--formula", "-f", help="Preset name (see `relocate formulas`) or a formula .toml file.")
]
WeightColumnOption = Annotated[
    Optional[str], typer.Option("--weight-column", help="Shares proportional to this numeric column instead of a formula.")
]
OnlyOption = Annotated[Optional[str], typer.Option("--only", help="Comma-separated codes: only these states take part.")]
ExcludeOption = Annotated[Optional[str], typer.Option("--exclude", help="Comma-separated codes of states that do not take part.")]
HostedColumnOption = Annotated[
    Optional[str],
    typer.Option("--hosted-column", help="The states column with what each state already hosts (default 'hosted'); implies --count-hosted."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
DecimalOption = Annotated[
    Optional[str],
    typer.Option("--decimal", help="Decimal mark of the CSV files, . or , (default: each file's numbers decide; an ambiguous file is refused)."),
]


def _settings(**given) -> ScenarioSettings:
    """Command-line settings, validated like a scenario file; a bad value names its option."""
    try:
        return ScenarioSettings(**given)
    except ValidationError as err:
        first = err.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "an option"
        raise InputError(f"{option}: {validation_problem(err)[0]}") from None


def _codes(option: str | None) -> list[str] | None:
    """An --only/--exclude value as codes; None when the option was not given (an empty value is
    given, and `--only ''` is refused rather than read as every state)."""
    return None if option is None else split_codes(option)


# Variants listed on the terminal by `relocate compare` (the files hold them all).
TERMINAL_VARIANTS = 12


def _print_frame(frame: pd.DataFrame, fmt: OutputFormat, title: str | None = None, floats: dict[str, str] | None = None) -> None:
    if fmt is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"))
        return
    if fmt is OutputFormat.json:
        records = json.loads(frame.to_json(orient="records", double_precision=15))
        sys.stdout.write(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
        return
    floats = floats or {}
    table = Table(title=Text(one_line(title)) if title else None, title_justify="left")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        table.add_column(Text(one_line(str(column))), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            if isinstance(value, float):
                cells.append("" if pd.isna(value) else format(value, floats.get(column, ",.2f")))
            elif isinstance(value, int) and not isinstance(value, bool):
                cells.append(f"{value:,}")
            else:
                cells.append(str(value))
        table.add_row(*(Text(one_line(cell)) for cell in cells))
    stdout.print(table)


def _show_version(value: bool) -> None:
    if value:
        stdout.print(f"relocate {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Share refugee relocation fairly among willing states: keys, quotas, family-level plans, reports."""


@app.command()
def formulas() -> None:
    """List the preset distribution keys with their sources and caveats."""
    for formula in PRESETS.values():
        stdout.print(Text.assemble((formula.name, "bold"), f": {formula.title}"))
        parts = []
        for criterion in formula.criteria:
            cap = f", capped at {criterion.cap.factor:g} x ({' + '.join(criterion.cap.of)})" if criterion.cap else ""
            parts.append(f"{criterion.weight:.4g} x {criterion.direction} of {criterion.column}{cap}")
        stdout.print(f"  criteria: {'; '.join(parts)}")
        if any(c.cap for c in formula.criteria):
            stdout.print(f"  remainder spread by: {formula.remainder} {formula.base_weights() if formula.remainder == 'base' else ''}")
        stdout.print(f"  source: {formula.source}")
        if formula.caveats:
            stdout.print(f"  caveats: {formula.caveats}")
        stdout.print("")


@app.command()
def key(
    states: Annotated[Path, typer.Argument(help="States CSV.")],
    formula: FormulaOption = None,
    weight_column: WeightColumnOption = None,
    only: OnlyOption = None,
    exclude: ExcludeOption = None,
    fmt: FormatOption = OutputFormat.table,
    decimal: DecimalOption = None,
) -> None:
    """Print each participating state's share under a formula, and what each criterion contributed."""
    settings = _settings(
        states=str(states), formula=formula, weight_column=weight_column, only=_codes(only), exclude=_codes(exclude), decimal=decimal
    )
    all_states, chosen, result = key_for(settings)
    frame = pd.DataFrame({"code": chosen.index, "name": chosen["name"].to_numpy(), "share": result.shares.to_numpy()})
    for column in result.contributions.columns:
        if column == "remainder" and not (result.contributions[column].abs() > 1e-15).any():
            continue
        frame[column] = result.contributions[column].to_numpy()
    floats = {c: ".6f" for c in frame.columns}
    _print_frame(frame, fmt, title=f"{result.formula.name}: {result.formula.title}", floats=floats)
    _warn([reading(all_states, chosen, result.formula, None)])


def _warn(readings: list, carried: dict[str, str] | None = None) -> None:
    """After a command succeeded: one line per input file with columns it did not read, and each
    note on a setting that had no effect (nothing the user gave is dropped without a word)."""
    for line in warning_lines(readings, carried):
        stderr.print(f"relocate: warning: {line}")


@app.command(name="apportion")
def apportion_command(
    states: Annotated[Path, typer.Argument(help="States CSV.")],
    total: Annotated[int, typer.Option("--total", "-n", min=0, help="Persons to distribute.")],
    formula: FormulaOption = None,
    weight_column: WeightColumnOption = None,
    method: Annotated[str, typer.Option("--method", "-m", help="lp, hamilton, jefferson (dhondt), webster (sainte-lague), huntington-hill, adams, dean, quota.")] = "lp",
    only: OnlyOption = None,
    exclude: ExcludeOption = None,
    count_hosted: Annotated[bool, typer.Option("--count-hosted", help="Fair shares of total + already hosted, minus what each hosts.")] = False,
    hosted_column: HostedColumnOption = None,
    solver: Annotated[str, typer.Option("--solver", help="highs or cbc (method lp).")] = "highs",
    fmt: FormatOption = OutputFormat.table,
    decimal: DecimalOption = None,
) -> None:
    """Whole-person quotas: each state's fair share of a total, rounded by a method, within capacities."""
    solver = choice(Solver, solver, "solver")
    settings = _settings(
        states=str(states),
        total=total,
        formula=formula,
        weight_column=weight_column,
        method=method,
        only=_codes(only),
        exclude=_codes(exclude),
        count_hosted=count_hosted or bool(hosted_column),
        hosted_column=hosted_column,
        solver=solver,
        decimal=decimal,
    )
    result = run(settings)
    plan = result.plan
    table = plan.states.reset_index()
    frame = table[["code", "name", "share", "target", "allocated", "deviation"]]
    floats = {"share": ".6f", "target": ",.3f", "deviation": "+,.3f"}
    _print_frame(frame, fmt, title=f"{result.formula.name}, {result.method}, total {total:,} ({plan.status})", floats=floats)
    for tie in plan.ties:
        stderr.print(f"tie: {tie}")
    _warn([result.reading])


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="STATES.csv [CASES.csv] [SCENARIO.toml], in any order of CSV then TOML.")],
    formula: FormulaOption = None,
    weight_column: WeightColumnOption = None,
    only: OnlyOption = None,
    exclude: ExcludeOption = None,
    total: Annotated[Optional[int], typer.Option("--total", min=0, help="Quota plan: persons to place, instead of a case list.")] = None,
    decimal: DecimalOption = None,
) -> None:
    """Check inputs without solving: read and cross-check every file as solve would, and say what will be used and what ignored."""
    from .inspection import inspect

    scenarios = [f for f in files if f.suffix.lower() == ".toml"]
    tables = [f for f in files if f.suffix.lower() != ".toml"]
    if len(scenarios) > 1 or len(tables) > 2:
        raise InputError("relocate check takes STATES.csv, then optionally CASES.csv and one SCENARIO.toml")
    cli = _settings(
        states=str(tables[0]) if tables else None,
        cases=str(tables[1]) if len(tables) > 1 else None,
        total=total,
        formula=formula,
        weight_column=weight_column,
        only=_codes(only),
        exclude=_codes(exclude),
        decimal=decimal,
    )
    settings, base_dir, variants = _scenario_settings(scenarios[0] if scenarios else None, cli)
    for line in inspect(settings, base_dir, variants):
        stdout.print(Text(one_line(line)))


def _scenario_settings(
    scenario: Path | None,
    cli: ScenarioSettings,
) -> tuple[ScenarioSettings, Path | None, list]:
    if scenario is None:
        return cli, None, []
    loaded, base_dir = load_scenario(scenario)
    # Paths given on the command line are relative to the working directory, not the scenario.
    merged = merge(ScenarioSettings.model_validate(loaded.model_dump(exclude={"variants"})), cli)
    if cli.states:
        merged = merged.model_copy(update={"states": str(Path(cli.states).resolve())})
    if cli.cases:
        merged = merged.model_copy(update={"cases": str(Path(cli.cases).resolve())})
    return merged, base_dir, loaded.variants


@app.command()
def solve(
    ctx: typer.Context,
    scenario: Annotated[Optional[Path], typer.Argument(help="Scenario TOML (optional: flags can say it all).")] = None,
    states: Annotated[Optional[Path], typer.Option("--states", help="States CSV.")] = None,
    cases: Annotated[Optional[Path], typer.Option("--cases", help="Cases CSV (family cases to place).")] = None,
    total: Annotated[Optional[int], typer.Option("--total", min=0, help="Quota plan: persons to place, instead of a case list.")] = None,
    formula: FormulaOption = None,
    weight_column: WeightColumnOption = None,
    only: OnlyOption = None,
    exclude: ExcludeOption = None,
    links: Annotated[Optional[str], typer.Option("--links", help="hard, soft (default) or off.")] = None,
    objective: Annotated[Optional[str], typer.Option("--objective", help="deviation (default) or minimax.")] = None,
    solver: Annotated[Optional[str], typer.Option("--solver", help="highs (default) or cbc.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Seconds for the solver, all stages together.")] = None,
    gap: Annotated[Optional[float], typer.Option("--gap", help="Relative MIP gap counted as optimal (default 1e-6).")] = None,
    require_all: Annotated[Optional[bool], typer.Option("--require-all/--allow-unplaced", help="Fail (exit 3) unless every case is placed.")] = None,
    count_hosted: Annotated[Optional[bool], typer.Option("--count-hosted/--no-count-hosted", help="Targets count persons already hosted.")] = None,
    hosted_column: HostedColumnOption = None,
    method: Annotated[Optional[str], typer.Option("--method", "-m", help="Quota plans only: rounding method (default lp).")] = None,
    decimal: DecimalOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder, written only when the solve succeeds (default: outputs/<scenario name>).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    report: Annotated[Optional[str], typer.Option("--report", help="Comma-separated report formats: html,md,xlsx,json,charts or none (default: all).")] = None,
    ledger: Annotated[Optional[str], typer.Option("--ledger", "-l", help="Batch mode: the programme's ledger (SQLite file or postgresql:// URL); the batch is solved against what it holds.")] = None,
    batch: Annotated[Optional[str], typer.Option("--batch", help="Batch mode: this batch's id (committed once).")] = None,
    commit: Annotated[bool, typer.Option("--commit", help="Batch mode: record the batch in the ledger (otherwise a dry run).")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Batch mode: replace a committed batch with the same id.")] = False,
    lookahead: Annotated[int, typer.Option("--lookahead", min=0, help="Batch mode: sample this many future batches from past cases and keep room for them (0: off).")] = 0,
    year_total: Annotated[Optional[int], typer.Option("--year-total", min=0, help="Batch mode: persons planned for the year (the yearly fair share in `relocate ledger status`).")] = None,
) -> None:
    """Solve a plan: place family cases (or a quota total) in willing states, never splitting a family."""
    cli = _settings(
        states=str(states) if states else None,
        cases=str(cases) if cases else None,
        total=total,
        formula=formula,
        weight_column=weight_column,
        only=_codes(only),
        exclude=_codes(exclude),
        links=links,
        objective=objective,
        solver=solver,
        time_limit=time_limit,
        gap=gap,
        require_all=require_all,
        count_hosted=True if hosted_column else count_hosted,
        hosted_column=hosted_column,
        method=method,
        decimal=decimal,
    )
    settings, base_dir, _ = _scenario_settings(scenario, cli)
    if ledger is not None or batch is not None:
        # Batch mode (optimizer.ledger): --out is optional, the ledger is the record.
        from .ledger.commands import solve_batch_command
        from .report import parse_formats

        parse_formats(report)
        if out is not None:
            _check_out(out, force, _input_paths(scenario, settings, base_dir))
        name = settings.title or (scenario.stem if scenario else "batch")
        solve_batch_command(settings, base_dir, name, ledger=ledger, batch=batch, commit=commit, replace=replace, lookahead=lookahead, year_total=year_total, out=out, force=force, report=report)
        return
    if commit or replace or lookahead or year_total is not None:
        raise InputError("--commit, --replace, --lookahead and --year-total need --ledger and --batch")
    out = _out_folder(out, scenario, "plan")
    from .report import charts_drawn_meanwhile, parse_formats, staged_output, write_plan_files, write_reports

    parse_formats(report)  # a typo fails now, not after the solve
    _check_out(out, force, _input_paths(scenario, settings, base_dir))
    with charts_drawn_meanwhile(report, ctx.obj) as charts_worker:
        # A scenario with a [pool]: its solidarity account goes into the reports (before solving, so a bad pool fails first).
        pool = solidarity_account(settings, base_dir, scenario=scenario) if settings.pool is not None else None
        result = run(settings, base_dir, name=(settings.title or (scenario.stem if scenario else "plan")), destinations=_pledged(pool))
        if charts_worker is not None:
            charts_worker.submit([result])
        with staged_output(out, force=force) as folder:
            write_plan_files(result, folder)
            write_reports([result], folder, formats=report, solidarity=pool, drawn_by=charts_worker)
    _summarise(result, out)
    _warn([result.reading], {result.inputs.get("states"): "plan_states.csv", result.inputs.get("cases"): "plan_cases.csv"})


def _out_folder(out: Path | None, scenario: Path | None, what: str) -> Path:
    if out is not None:
        return out
    if scenario is None:
        raise InputError(f"--out DIR is required without a scenario file: the folder to write the {what} into")
    return Path("outputs") / scenario.stem


def _pledged(pool):
    """The relocations pledged per state when the scenario's [pool] gives pledges (the targets of
    the destinations when the cases come from several origins; `pipeline.run`), else None."""
    return pool.destination_targets() if pool is not None and pool.has_pledges() else None


def _check_out(out: Path, force: bool, inputs: list[Path] = ()) -> None:
    """Before solving, not after: the output folder may be written, --force would not delete the
    folder we run in or an input, and no other run writes it (its lock is taken now and held until
    the command ends; see `io.output.prepare_output`)."""
    from .io.output import prepare_output

    prepare_output(out, force, inputs)


def _input_paths(scenario: Path | None, settings: ScenarioSettings, base_dir: Path | None, variants: list = ()) -> list[Path]:
    """Every file the run reads, which --force must never delete: the scenario, the states and
    cases files and any formula file, of the base and of every variant."""
    from .pipeline import resolve_path

    paths = [scenario]
    for given in (settings, *variants):
        paths += [resolve_path(given.states, base_dir), resolve_path(given.cases, base_dir)]
        if isinstance(given.formula, str) and given.formula not in PRESETS:
            paths += [resolve_path(given.formula, base_dir), Path(given.formula)]
    return [p for p in paths if p is not None]


def _summarise(result, out: Path) -> None:
    plan = result.plan
    counts = plan.counts
    gap = "" if plan.status in ("optimal", "exact") else f", gap {plan.gap if plan.gap is not None else 'unknown'}"
    cells = "" if plan.origins is None else f"; cell deviation {plan.origins['deviation'].abs().sum():,.2f} ({len(plan.origins):,} origin x destination cells)"
    stderr.print(
        f"{plan.status}{gap}: placed {counts.placed_persons:,} of {counts.persons:,} persons "
        f"({counts.placed_cases:,} of {counts.cases:,} cases) in {len(plan.states)} states; "
        f"total deviation {plan.states['deviation'].abs().sum():,.2f}{cells}; written to {out}"
    )
    for tie in plan.ties:
        stderr.print(f"tie: {tie}")


# The programme's ledger and the Dublin IV corrective mode (optimizer.ledger; the database
# libraries load only when one of these runs).
from .ledger.commands import corrective_command, ledger_app  # noqa: E402 (beside the commands it joins)

app.add_typer(ledger_app, name="ledger")
app.command(name="corrective")(corrective_command)


# The Pact's Solidarity Pool and money for places (optimizer.solidarity).
from .solidarity import solidarity as solidarity_account  # noqa: E402
from .solidarity.command import solidarity_command  # noqa: E402 (beside the commands it joins)

app.command(name="solidarity")(solidarity_command)


@app.command(name="compare")
def compare_command(
    ctx: typer.Context,
    scenario: Annotated[Optional[Path], typer.Argument(help="Scenario TOML; its \\[\\[variants]] tables are the variants, its own settings the base.")] = None,
    states: Annotated[Optional[Path], typer.Option("--states", help="States CSV.")] = None,
    cases: Annotated[Optional[Path], typer.Option("--cases", help="Cases CSV (family cases to place).")] = None,
    total: Annotated[Optional[int], typer.Option("--total", min=0, help="Quota plans: persons to place, instead of a case list.")] = None,
    formula: Annotated[Optional[list[str]], typer.Option("--formula", "-f", help="A variant per formula (repeat the option); replaces the scenario's \\[\\[variants]].")] = None,
    method: Annotated[Optional[str], typer.Option("--method", "-m", help="Quota plans only: rounding method (default lp).")] = None,
    only: OnlyOption = None,
    exclude: ExcludeOption = None,
    links: Annotated[Optional[str], typer.Option("--links", help="hard, soft (default) or off.")] = None,
    solver: Annotated[Optional[str], typer.Option("--solver", help="highs (default) or cbc.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Seconds for the solver per run.")] = None,
    sensitivity: Annotated[str, typer.Option("--sensitivity", help="allocation (re-solve each +/-10% weight move), targets (fair shares only, no solve) or none.")] = "allocation",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder, written only when every run succeeds (default: outputs/<scenario name>).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output folder.")] = False,
    report: Annotated[Optional[str], typer.Option("--report", help="Comma-separated report formats: html,md,xlsx,json,charts or none (default: all).")] = None,
    decimal: DecimalOption = None,
) -> None:
    """Compare formula variants side by side: allocations, fairness metrics, weight sensitivity, reports."""
    from .compare import compare as run_comparison, variants_from_formulas
    from .report import charts_drawn_meanwhile, parse_formats, staged_output, write_comparison_files, write_reports

    sensitivity = choice(Sensitivity, sensitivity, "--sensitivity")
    parse_formats(report)  # a typo fails now, not after the runs
    cli = _settings(
        states=str(states) if states else None,
        cases=str(cases) if cases else None,
        total=total,
        only=_codes(only),
        exclude=_codes(exclude),
        method=method,
        links=links,
        solver=solver,
        time_limit=time_limit,
        decimal=decimal,
    )
    base, base_dir, variants = _scenario_settings(scenario, cli)
    if formula:
        variants = variants_from_formulas(formula)
    if not variants:
        raise InputError("nothing to compare: give --formula NAME (repeat it) or a scenario with [[variants]] tables")
    out = _out_folder(out, scenario, "comparison")
    _check_out(out, force, _input_paths(scenario, base, base_dir, variants))
    with charts_drawn_meanwhile(report, ctx.obj) as charts_worker:
        comparison = _with_progress(run_comparison, base, variants, base_dir, sensitivity)
        if charts_worker is not None:
            charts_worker.submit(comparison.results, comparison)
        with staged_output(out, force=force) as folder:
            write_comparison_files(comparison, folder)
            write_reports(comparison.results, folder, report, comparison, title=base.title, drawn_by=charts_worker)

    # The terminal gets what a terminal can show; every variant is in the files.
    shown = comparison.names[:TERMINAL_VARIANTS]
    table = comparison.wide()
    columns = ["code", "name"] + [f"allocated:{name}" for name in shown]
    frame = table[columns].rename(columns={f"allocated:{name}": name for name in shown})
    _print_frame(frame, OutputFormat.table, title="Persons per state and variant", floats={name: ",.0f" for name in shown})
    if len(comparison.names) > len(shown):
        stderr.print(f"(the first {len(shown)} of {len(comparison.names):,} variants; all of them are in {out / 'comparison.csv'} and {out / 'metrics.json'})", markup=False)
    for result, metrics in zip(comparison.results[: len(shown)], comparison.metrics):
        o = metrics.overall
        stderr.print(
            f"{result.name}: {result.plan.status}, placed {o.persons_placed:,} of {o.persons:,} persons, "
            f"total deviation {o.total_absolute_deviation:,.2f}, Loosemore-Hanby {o.loosemore_hanby:.4f}",
            markup=False,
        )
    for note in comparison.notes:
        stderr.print(f"note: {note}", markup=False)
    stderr.print(f"written to {out}", markup=False)
    _warn([r.reading for r in comparison.results])


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port to listen on.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; the default keeps the explorer to this machine.")] = "127.0.0.1",
    inputs: Annotated[Optional[Path], typer.Option("--inputs", help="Folder of data files the page offers (default: the clone's inputs/).")] = None,
) -> None:
    """A local web page (the explorer): move the weights and watch key, quotas, metrics, chart and map change.

    Python twin: optimizer.web.app.create_app() (a Starlette app) or optimizer.web.serve()."""
    from .web import serve as serve_explorer

    serve_explorer(host=host, port=port, inputs=inputs)


def _with_progress(run_comparison, base, variants, base_dir, sensitivity):
    """The comparison, with a progress bar when stderr is a terminal. markup=False: the bar's
    description holds variant names as the user's scenario writes them."""
    if not sys.stderr.isatty():
        return run_comparison(base, variants, base_dir, sensitivity=sensitivity)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("comparing", total=None)

        def progress(done: int, steps: int, what: str) -> None:
            bar.update(task, completed=done, total=steps, description=one_line(what))

        return run_comparison(base, variants, base_dir, sensitivity=sensitivity, progress=progress)


def _is_usage_error(err: Exception) -> bool:
    """Click's usage errors (typer vendors click in recent versions, so match by shape, not class)."""
    return callable(getattr(err, "format_message", None)) and isinstance(getattr(err, "exit_code", None), int)


def main(chart_worker: WorkerProcess | None = None) -> None:
    """Entry point: run the app, turning our errors into one line and an exit code.
    `chart_worker`: a chart worker's process started before the imports (`optimizer.launch`)."""
    from .interrupts import Interrupted, message as interrupted
    from .io.output import release_outputs
    from .runfacts import run_date

    try:
        run_date()  # a bad SOURCE_DATE_EPOCH fails every command at once, not after its work
        code = app(standalone_mode=False, obj=chart_worker)
    except (KeyboardInterrupt, Interrupted):
        stderr.print(interrupted())
        sys.exit(130)
    except RelocationError as err:
        if os.environ.get("RELOCATE_DEBUG"):
            raise
        stderr.print(f"relocate: error: {err}", markup=False)
        sys.exit(err.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        stderr.print("relocate: aborted", markup=False)
        sys.exit(130)
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped listening: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as err:  # the promise is: never a traceback
        if _is_usage_error(err):
            message = " ".join(err.format_message().split())
            stderr.print(f"relocate: error: {message} (see relocate --help)", markup=False)
            sys.exit(err.exit_code)
        if os.environ.get("RELOCATE_DEBUG"):
            raise
        stderr.print(
            f"relocate: internal error ({type(err).__name__}: {err}); please report it with the inputs "
            "(RELOCATE_DEBUG=1 shows the traceback)",
            markup=False,
        )
        sys.exit(1)
    finally:
        release_outputs()  # the output folder's lock, taken before the work (io.output.prepare_output)
    sys.exit(code if isinstance(code, int) else 0)
