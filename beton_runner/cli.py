"""`beton`: the command line. Shared options live in one place; every ``BetonError`` becomes one
clean message and a non-zero exit (a traceback only with ``--debug``)."""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path
from typing import Callable

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .dbt import compiled_sql, run_dbt
from .errors import BetonError, ConfigError, RuleError, StaleModelsError
from .generate import generate, staleness, write
from .enrich.commands import enrich_command
from .export import export_command, run_demo_extras
from .plays.commands import plays_command
from .posthog.commands import ingest_posthog, posthog_group
from .project import TARGETS, Project
from .report.commands import report_command
from .punch_lists import apply_where, read_punch_list, sort_frame, summarise, write_csv
from .rules import Rule, check_rules, find_rule, load_rules

console = Console()
if not console.is_terminal:  # piped or captured: wide enough that punch lists are not folded
    console = Console(width=200)
err_console = Console(stderr=True)
_HEADERS = {
    "event_count": "events", "distinct_events": "distinct", "active_days": "active days",
    "days_since_last_event": "days since", "last_seen": "last seen", "active_users": "users",
    "account_events": "acct events", "user_id": "user id", "account_id": "account id",
}


class Context:
    def __init__(self, project_dir: str | None, debug: bool):
        self.project_dir = project_dir
        self.debug = debug

    def project(self, target: str | None = None) -> Project:
        return Project.locate(self.project_dir, target)


def handle_errors(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = bool(ctx.find_object(Context) and ctx.find_object(Context).debug)
        try:
            return func(*args, **kwargs)
        except BetonError as exc:
            if debug:
                raise
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)
    return wrapper


target_option = click.option("--target", "-t", type=click.Choice(TARGETS), default=None,
                             help="Warehouse: duckdb (default, env BETON_TARGET) or clickhouse.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--project-dir", envvar="BETON_PROJECT_DIR", default=None, help="The Beton Inspector project (default: the current checkout).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="beton")
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None, debug: bool) -> None:
    """Beton Inspector: inspection rules over product usage -> PQL/PQA punch lists."""
    ctx.obj = Context(project_dir, debug)


# --- rules -------------------------------------------------------------------------------------

def _checked_rules(project: Project, *, print_warnings: bool = True) -> list[Rule]:
    result = check_rules(project.rules_dir, known_events=project.known_events(), display_root=project.dir)
    if print_warnings:
        for warning in result.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if result.issues:
        raise RuleError(result.issues)
    return result.rules


def _compile_rules(project: Project) -> list[Rule]:
    rules = _checked_rules(project)
    before = write(generate(rules, project.dir), project.dir)
    if before.stale:
        for line in before.describe():
            err_console.print(f"[dim]regenerated {line}[/]", highlight=False)
    return rules


@cli.group()
def rules() -> None:
    """Validate, compile and inspect rule files (rules/*.yml)."""


@rules.command("check")
@click.pass_obj
@handle_errors
def rules_check(obj: Context) -> None:
    """Report every problem in every rule file, and stale generated models."""
    project = obj.project()
    result = check_rules(project.rules_dir, known_events=project.known_events(), display_root=project.dir)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if result.issues:
        raise RuleError(result.issues)
    stale = staleness(generate(result.rules, project.dir), project.dir)
    if stale.stale:
        lines = "\n".join(f"  {line}" for line in stale.describe())
        raise StaleModelsError(
            f"generated inspection models are stale:\n{lines}\nRun `beton rules compile` and commit the result."
        )
    console.print(f"[green]ok:[/] {len(result.rules)} rule(s) valid, generated models up to date.")


@rules.command("compile")
@click.pass_obj
@handle_errors
def rules_compile(obj: Context) -> None:
    """Regenerate the dbt models for the rule files (commit the result)."""
    project = obj.project()
    rules_ = _checked_rules(project)
    before = write(generate(rules_, project.dir), project.dir)
    changed = before.describe()
    for line in changed:
        console.print(f"updated {line}", highlight=False)
    console.print(f"[green]ok:[/] {len(rules_)} rule(s); {len(changed) or 'no'} generated file(s) changed.")


@rules.command("list")
@click.pass_obj
@handle_errors
def rules_list(obj: Context) -> None:
    """List the rules."""
    project = obj.project()
    table = Table("key", "name", "level", "window", title="Inspection rules")
    for rule in _checked_rules(project):
        table.add_row(rule.key, rule.name, rule.level, f"{rule.document['time_window_days']}d")
    console.print(table)


@rules.command("show")
@click.argument("name")
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL the rule compiles to.")
@target_option
@click.option("--as-of", default=None, help="Evaluate at this UTC instant (YYYY-MM-DD HH:MM:SS).")
@click.pass_obj
@handle_errors
def rules_show(obj: Context, name: str, show_sql: bool, target: str | None, as_of: str | None) -> None:
    """Show one rule (by key, model name or name); --sql prints its compiled SQL."""
    project = obj.project(target)
    rules_ = _compile_rules(project)
    rule = find_rule(rules_, name)
    if not show_sql:
        console.print(f"[bold]{rule.name}[/]  ({rule.key}, {rule.level} level, model {rule.model_name})", highlight=False)
        if rule.document.get("description"):
            console.print(rule.document["description"], highlight=False)
        console.print(json.dumps(rule.document, indent=2, ensure_ascii=False), highlight=False, markup=False)
        return
    sql = compiled_sql(project, rule.model_name, vars=_vars(as_of, None))
    click.echo(sql, nl=False)


# --- dbt ---------------------------------------------------------------------------------------

def _vars(as_of: str | None, raw_vars: str | None) -> dict:
    out: dict = {}
    if raw_vars:
        try:
            out = json.loads(raw_vars)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--vars is not JSON ({exc.msg} at column {exc.colno}); e.g. --vars '{{\"beton_input\": \"source\"}}'") from None
        if not isinstance(out, dict):
            raise ConfigError("--vars must be a JSON object, e.g. --vars '{\"beton_input\": \"source\"}'")
    if as_of:
        out["beton_as_of"] = as_of
    return out


def _build(project: Project, *, select: tuple[str, ...] = (), vars: dict | None = None, full_refresh: bool = False,
           quiet: bool = False) -> None:
    """dbt build with a progress bar."""
    extra = ["--full-refresh"] if full_refresh else []
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[node]}")]
    with Progress(*columns, console=err_console, transient=quiet, disable=not err_console.is_terminal and quiet) as progress:
        task = progress.add_task("dbt build", total=None, node="")

        def on_event(event: dict) -> None:
            data = event.get("data", {})
            name = event.get("info", {}).get("name", "")
            if name.endswith("Result") and "total" in data and "index" in data:
                node = (data.get("node_info") or {}).get("node_name", "")
                progress.update(task, total=data["total"], completed=data["index"], node=node)

        run_dbt(project, ["build"], vars=vars, select=select, extra=extra, on_event=on_event)
        progress.update(task, node="done")


@cli.command("run")
@target_option
@click.option("--select", "-s", "select", multiple=True, help="dbt node selection (repeatable), e.g. -s insp_pql_power_users+")
@click.option("--as-of", default=None, help="Evaluate rules at this UTC instant (YYYY-MM-DD HH:MM:SS).")
@click.option("--vars", "raw_vars", default=None, help="Extra dbt vars as JSON, e.g. '{\"beton_input\": \"source\"}'.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.pass_obj
@handle_errors
def run_command(obj: Context, target: str | None, select: tuple[str, ...], as_of: str | None, raw_vars: str | None,
                full_refresh: bool) -> None:
    """Check and compile the rules, then `dbt build` (models and their tests)."""
    project = obj.project(target)
    rules_ = _compile_rules(project)
    _build(project, select=select, vars=_vars(as_of, raw_vars), full_refresh=full_refresh)
    console.print(f"[green]ok:[/] built {len(rules_)} punch list(s) on {project.target}.")


# --- punch lists -------------------------------------------------------------------------------

_USER_DISPLAY = ["rank", "score", "user_id", "email", "name", "event_count", "distinct_events", "active_days",
                 "days_since_last_event", "last_seen"]
_ACCOUNT_DISPLAY = ["rank", "score", "account_id", "name", "domain", "segment", "arr", "event_count", "active_users",
                    "active_days", "days_since_last_event", "last_seen"]


def _format(value) -> str:
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        pass
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.2f}"
    return str(value)


def _print_punch_list(rule: Rule, frame, *, limit: int | None = None) -> None:
    summary = summarise(frame)
    columns = [c for c in (_ACCOUNT_DISPLAY if rule.level == "account" else _USER_DISPLAY) if c in frame.columns]
    title = f"{rule.name}  [dim]({rule.key}, {rule.level} level, {rule.document['time_window_days']}-day window)[/]"
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        numeric = column not in ("user_id", "email", "name", "account_id", "domain", "segment", "last_seen")
        table.add_column(_HEADERS.get(column, column), justify="right" if numeric else "left", no_wrap=column != "name")
    shown = frame if limit is None else frame.head(limit)
    for row in shown.itertuples(index=False):
        record = row._asdict()
        table.add_row(*(_format(record[c]) for c in columns))
    console.print(table)
    if summary.findings:
        console.print(
            f"  findings: [bold]{summary.findings}[/]   score min {summary.score_min:.2f} / "
            f"median {summary.score_median:.2f} / max {summary.score_max:.2f}"
            + (f"   (showing {len(shown)})" if len(shown) < summary.findings else ""),
            highlight=False,
        )
    else:
        console.print("  findings: [bold]0[/]", highlight=False)


@cli.command("punch-list")
@click.argument("name")
@target_option
@click.option("--sort", "sort_column", default=None, help="Sort by this column.")
@click.option("--desc/--asc", "descending", default=None, help="Sort direction (default: best first).")
@click.option("--where", "where", multiple=True, help="Filter COLUMN OP VALUE, OP one of = != > >= < <= ~ (contains); repeatable.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N rows.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the rows to this CSV file.")
@click.pass_obj
@handle_errors
def punch_list_command(obj: Context, name: str, target: str | None, sort_column: str | None, descending: bool | None,
                       where: tuple[str, ...], limit: int | None, csv_path: Path | None) -> None:
    """Show one rule's punch list from the warehouse (run `beton run` or `beton demo` first)."""
    project = obj.project(target)
    rule = find_rule(_checked_rules(project, print_warnings=False), name)
    frame = read_punch_list(project, rule)
    frame = sort_frame(apply_where(frame, list(where)), sort_column, descending)
    if limit is not None:
        frame = frame.head(limit)
    _print_punch_list(rule, frame)
    if csv_path is not None:
        write_csv(frame, csv_path)
        console.print(f"  wrote {csv_path}", highlight=False)


@cli.command("demo")
@target_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the punch-list CSVs (default: output/ in the project).")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Rows shown per punch list.")
@click.pass_obj
@handle_errors
def demo(obj: Context, target: str | None, out_dir: Path | None, limit: int) -> None:
    """Build everything with the built-in mock data (DuckDB unless --target) and show every punch list."""
    project = obj.project(target or "duckdb")
    rules_ = _compile_rules(project)
    where = project.duckdb_path if project.target == "duckdb" else f"ClickHouse databases {project.schema}_*"
    console.print(f"Building {len(rules_)} inspection rule(s) on the mock data into {where} …", highlight=False)
    _build(project, vars={"beton_input": "mock"}, quiet=True)
    out_dir = out_dir or project.dir / "output"
    for rule in rules_:
        frame = read_punch_list(project, rule)
        console.print()
        _print_punch_list(rule, frame, limit=limit)
        path = write_csv(frame, out_dir / "punch_lists" / f"{rule.key}.csv")
        console.print(f"  csv: {path}", highlight=False)
    console.print()
    console.print(f"[green]ok:[/] {len(rules_)} punch list(s) built; CSVs in {out_dir / 'punch_lists'}.", highlight=False)
    run_demo_extras(project, out_dir, console)


@cli.command("generate")
@target_option
@click.option("--events", "n_events", type=click.IntRange(min=1), required=True, help="How many events (e.g. 1000000).")
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True, help="Days the events span, ending 2026-10-01 12:00 UTC.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option("--append-days", type=click.IntRange(min=1), default=None,
              help="Instead of replacing the tables, append this many new days of events after the existing ones.")
@click.pass_obj
@handle_errors
def generate_command(obj: Context, target: str | None, n_events: int, days: int, seed: int, append_days: int | None) -> None:
    """Write deterministic synthetic PostHog-style data into the input tables (beton_raw).

    Build on it with `BETON_INPUT=source beton run` (as_of defaults to now: pass
    --as-of '2026-10-01 12:00:00' for the generated period)."""
    from .datagen.synthetic import Shape, write
    from .warehouse import connect

    project = obj.project(target)
    shape = Shape.for_events(n_events, days=days, seed=seed)
    raw = project.raw_schema
    with err_console.status(f"generating {n_events:,} events into {raw} ({project.target}) …"):
        with connect(project, write=True, create=True) as conn:
            counts = write(conn, project.dir, shape, schema=raw, append_days=append_days or 0)
    console.print("  ".join(f"{table}: {count:,}" for table, count in counts.items()), highlight=False)


@cli.group()
def ingest() -> None:
    """Load data from an external system into the warehouse's input tables."""


# Commands that live in their own modules.
cli.add_command(posthog_group)
ingest.add_command(ingest_posthog, "posthog")
cli.add_command(report_command)
cli.add_command(enrich_command)
cli.add_command(plays_command)
cli.add_command(export_command)


def main() -> None:
    cli(prog_name="beton")


if __name__ == "__main__":  # pragma: no cover
    main()
