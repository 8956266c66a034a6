"""Click commands: ``beton posthog test`` and ``beton ingest posthog``.

The CLI registers them: ``cli.add_command(posthog_group)`` and
``ingest.add_command(ingest_posthog)`` (this command is named ``posthog``). Both raise
``BetonError`` subclasses, which the CLI turns into one clean message and a non-zero exit.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from beton_runner.errors import ConfigError
from beton_runner.posthog.accounts import DEFAULT_ACCOUNT_PROPERTY
from beton_runner.posthog.checks import run_checks
from beton_runner.posthog.clickhouse_destination import ClickHouseDestination
from beton_runner.posthog.client import DEFAULT_SETTINGS, ClientSettings, PostHogClient
from beton_runner.posthog.config import PostHogConfig, resolve_config
from beton_runner.posthog.destination import Destination, DuckDBDestination
from beton_runner.posthog.ingest import MAX_DAYS, MIN_DAYS, IngestOptions, IngestResult, run_ingest
from beton_runner.posthog.progress import RichReporter

# Warehouses an ingest can write to: target name -> factory(click context, --duckdb value).
DESTINATION_FACTORIES: dict[str, Callable[[click.Context, str | None], Destination]] = {}


def project_dir(ctx: click.Context | None) -> Path:
    """The Beton project folder: the CLI's ``project_dir`` if it set one, else BETON_PROJECT_DIR,
    else the nearest folder upwards holding dbt_project.yml, else the current folder."""
    root = ctx.find_root() if ctx is not None else None
    obj = root.obj if root is not None else None
    for value in (
        obj.get("project_dir") if isinstance(obj, dict) else getattr(obj, "project_dir", None),
        os.environ.get("BETON_PROJECT_DIR"),
    ):
        if value:
            return Path(value)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "dbt_project.yml").exists():
            return folder
    return here


def duckdb_path(ctx: click.Context | None, option: str | None) -> Path:
    if option:
        return Path(option)
    env = os.environ.get("BETON_DUCKDB_PATH")
    if env:
        path = Path(env)
        return path if path.is_absolute() else project_dir(ctx) / path
    return project_dir(ctx) / "beton.duckdb"


def _duckdb_factory(ctx: click.Context, option: str | None) -> Destination:
    return DuckDBDestination(duckdb_path(ctx, option))


def _clickhouse_factory(ctx: click.Context, option: str | None) -> Destination:
    if option:
        raise ConfigError(
            "--duckdb is for --target duckdb; with --target clickhouse the data goes to the "
            "database <CLICKHOUSE_DATABASE>_raw of the server in CLICKHOUSE_HOST/CLICKHOUSE_PORT."
        )
    return ClickHouseDestination()


DESTINATION_FACTORIES["duckdb"] = _duckdb_factory
DESTINATION_FACTORIES["clickhouse"] = _clickhouse_factory


def _settings() -> ClientSettings:
    return DEFAULT_SETTINGS


def _connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--project-id",
        default=None,
        help="PostHog project id (the number after /project/ in PostHog's address bar). "
        "Default: $POSTHOG_PROJECT_ID.",
    )(func)
    func = click.option(
        "--region",
        type=click.Choice(["us", "eu"], case_sensitive=False),
        default=None,
        help="PostHog Cloud region: us (us.posthog.com) or eu (eu.posthog.com).",
    )(func)
    func = click.option(
        "--host",
        default=None,
        help="PostHog address, e.g. https://eu.posthog.com or your self-hosted URL. "
        "Default: $POSTHOG_HOST, else https://us.posthog.com.",
    )(func)
    return func


def _config(
    host: str | None, region: str | None, project_id: str | None, console: Console
) -> PostHogConfig:
    config = resolve_config(host=host, region=region, project_id=project_id)
    for note in config.notes:
        console.print(f"[yellow]Note:[/yellow] {note}", soft_wrap=True)
    return config


@click.group(name="posthog")
def posthog_group() -> None:
    """Connect to PostHog (see docs/posthog.md)."""


@posthog_group.command(name="test")
@_connection_options
def posthog_test(host: str | None, region: str | None, project_id: str | None) -> None:
    """Check the PostHog host, API key, project and scopes, and explain any problem."""
    console = Console()
    config = _config(host, region, project_id, console)
    settings = _settings()
    quick = replace(settings, retries=min(settings.retries, 2))
    with PostHogClient(config, quick) as client:
        checks = run_checks(client)
    console.print(f"PostHog connection: {config.host}, project {config.project_id}")
    for check in checks:
        mark = "[green]  ok  [/green]" if check.ok else "[red]FAILED[/red]"
        console.print(f"{mark} {check.name}: {check.detail}", soft_wrap=True, highlight=False)
    failed = [c for c in checks if not c.ok]
    if failed:
        lines = "\n".join(f"  - {c.name}: {c.detail}" for c in failed)
        raise ConfigError(f"The PostHog connection test failed:\n{lines}")
    console.print("[green]PostHog is ready:[/green] run `beton ingest posthog` to load your data.")


@click.command(name="posthog")
@_connection_options
@click.option(
    "--days",
    type=click.IntRange(MIN_DAYS, MAX_DAYS),
    default=30,
    show_default=True,
    help="Load events of the last N days (1-90). Later runs load only what is new.",
)
@click.option(
    "--max-events",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many events (oldest first); the next run continues from there.",
)
@click.option(
    "--duckdb",
    "duckdb_option",
    type=click.Path(dir_okay=False),
    default=None,
    help="DuckDB file to load into. Default: $BETON_DUCKDB_PATH, else beton.duckdb in the "
    "project folder.",
)
@click.option(
    "--target",
    default=lambda: os.environ.get("BETON_TARGET", "duckdb"),
    show_default="$BETON_TARGET or duckdb",
    help="Warehouse to load into: duckdb, or clickhouse (database <CLICKHOUSE_DATABASE>_raw, "
    "connection from the CLICKHOUSE_* variables).",
)
@click.option(
    "--account-property",
    default=DEFAULT_ACCOUNT_PROPERTY,
    show_default=True,
    help="Person/event property naming the account, used when the project has no "
    "company-like group type.",
)
@click.option(
    "--group-type",
    default=None,
    help="PostHog group type that holds accounts. Default: the first named like company, "
    "organization or account.",
)
@click.pass_context
def ingest_posthog(
    ctx: click.Context,
    host: str | None,
    region: str | None,
    project_id: str | None,
    days: int,
    max_events: int | None,
    duckdb_option: str | None,
    target: str,
    account_property: str,
    group_type: str | None,
) -> None:
    """Load PostHog events, persons and accounts into the warehouse (incrementally)."""
    console = Console()
    config = _config(host, region, project_id, console)
    factory = DESTINATION_FACTORIES.get(target)
    if factory is None:
        raise ConfigError(
            f"--target {target} is not available for PostHog ingestion; choose one of: "
            f"{', '.join(sorted(DESTINATION_FACTORIES))}."
        )
    destination = factory(ctx, duckdb_option)
    options = IngestOptions(
        days=days,
        max_events=max_events,
        account_property=account_property,
        group_type=group_type,
    )
    reporter = RichReporter(Console(stderr=True))
    console.print(
        f"Loading PostHog project {config.project_id} ({config.host}) into {destination.describe()}",
        soft_wrap=True,
        highlight=False,
    )

    def on_retry(what: str) -> None:
        reporter.note(f"PostHog asked us to slow down or failed ({what}); retrying")

    try:
        with PostHogClient(config, _settings(), on_retry=on_retry) as client:
            destination.open(config.source_key)
            result = run_ingest(client, destination, options, reporter)
    finally:
        reporter.close()
        destination.close()
    _print_summary(console, result, _next_step(ctx, destination))


def _next_step(ctx: click.Context, destination: Destination) -> str:
    """The `beton run` that builds the punch lists from what was just loaded."""
    if isinstance(destination, ClickHouseDestination):
        command = "BETON_INPUT=source beton run --target clickhouse"
        if destination.database != "beton_raw":
            command += f""" --vars '{{"beton_source_schema": "{destination.database}"}}'"""
        return command
    command = "BETON_INPUT=source beton run"
    path = getattr(destination, "path", None)
    if path is not None and Path(path).resolve() != duckdb_path(ctx, None).resolve():
        command = f"BETON_DUCKDB_PATH={path} {command}"
    return command


def _print_summary(console: Console, r: IngestResult, next_step: str) -> None:
    c = r.counts
    source = r.account_source.describe() if r.account_source else ""
    lines = [
        (
            "events",
            c.get("events", 0),
            f"+{r.events_new:,} new ({r.events_fetched:,} read in {r.event_pages:,} pages since "
            f"{r.read_from:%Y-%m-%d %H:%M} UTC)",
        ),
        ("persons", c.get("persons", 0), "refreshed"),
        ("person_distinct_id", c.get("person_distinct_id", 0), "refreshed"),
        ("accounts", c.get("accounts", 0), f"from {source}"),
    ]
    for table, rows, what in lines:
        console.print(f"  {table:<20}{rows:>12,}  {what}", soft_wrap=True, highlight=False)
    if r.stopped_at_max:
        console.print(
            "[yellow]Stopped at --max-events.[/yellow] Run again to load the rest; it continues "
            "where this run stopped.",
            soft_wrap=True,
        )
    elif r.complete and r.high_water is not None:
        console.print(f"Up to date until {r.high_water:%Y-%m-%d %H:%M:%S} UTC.", highlight=False)
    console.print(
        f"{r.rows_per_second:,.0f} events/s, {r.requests:,} requests, {r.retries:,} retries, "
        f"{r.seconds:.1f} s. Next: `{next_step}` builds the punch lists from this data.",
        soft_wrap=True,
        highlight=False,
    )
