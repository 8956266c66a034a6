"""`beton posthog test` and `beton ingest posthog` (docs/posthog.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..posthog.accounts import DEFAULT_ACCOUNT_PROPERTY
from ..posthog.batch_files import FORMATS, KINDS, FilesOptions, FileSource, FilesResult, run_files_ingest
from ..posthog.checks import run_checks
from ..posthog.clickhouse_destination import ClickHouseDestination
from ..posthog.client import DEFAULT_SETTINGS, ClientSettings, PostHogClient
from ..posthog.config import PostHogConfig, resolve_config, resolve_project, source_key
from ..posthog.destination import Destination, DuckDBDestination
from ..posthog.ingest import MAX_DAYS, MIN_DAYS, IngestOptions, IngestResult, run_ingest
from ..project import Project
from ..warehouse import clickhouse_arguments
from . import console
from .console import esc
from .options import warehouse_options
from .progress import ingest_reporter
from .shell import command, group


def _destination(project: Project) -> Destination:
    """Where an ingest writes: the input tables of the project's warehouse."""
    if project.engine == "clickhouse":
        connection = clickhouse_arguments(project)
        return ClickHouseDestination(
            database=project.raw_schema, settings=connection["settings"], cluster=connection["cluster"]
        )
    return DuckDBDestination(project.duckdb_path, schema=project.raw_schema)


def _settings() -> ClientSettings:
    return DEFAULT_SETTINGS


def _connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--project-id",
        default=None,
        help="PostHog project id (the number after /project/ in PostHog's address bar). Default: $POSTHOG_PROJECT_ID.",
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


def _config(host: str | None, region: str | None, project_id: str | None) -> PostHogConfig:
    config = resolve_config(host=host, region=region, project_id=project_id)
    for message in config.notes:
        console.say(f"[yellow]Note:[/yellow] {esc(message)}")
    return config


@group(name="posthog")
def posthog_group() -> None:
    """Connect to PostHog (see docs/posthog.md)."""


@posthog_group.command(name="test")
@_connection_options
def posthog_test(host: str | None, region: str | None, project_id: str | None) -> None:
    """Check the PostHog host, API key, project and scopes, and explain any problem."""
    config = _config(host, region, project_id)
    settings = _settings()
    quick = replace(settings, retries=min(settings.retries, 2))
    with PostHogClient(config, quick) as client:
        checks = run_checks(client)
    console.say(esc(f"PostHog connection: {config.host}, project {config.project_id}"))
    for check in checks:
        mark = "[green]  ok  [/green]" if check.ok else "[red]FAILED[/red]"
        console.say(f"{mark} {esc(check.name)}: {esc(check.detail)}")
    failed = [c for c in checks if not c.ok]
    if failed:
        lines = "\n".join(f"  - {c.name}: {c.detail}" for c in failed)
        raise ConfigError(f"The PostHog connection test failed:\n{lines}")
    console.say("[green]PostHog is ready:[/green] run `beton ingest posthog` to load your data.")


@command(name="posthog")
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
@warehouse_options
@click.option(
    "--account-property",
    default=DEFAULT_ACCOUNT_PROPERTY,
    show_default=True,
    help="Person/event property naming the account, used when the project has no company-like group type.",
)
@click.option(
    "--group-type",
    default=None,
    help="PostHog group type that holds accounts. Default: the first named like company, organization or account.",
)
def ingest_posthog(
    project: Project,
    host: str | None,
    region: str | None,
    project_id: str | None,
    days: int,
    max_events: int | None,
    account_property: str,
    group_type: str | None,
) -> None:
    """Load PostHog events, persons and accounts into the warehouse (incrementally)."""
    config = _config(host, region, project_id)
    destination = _destination(project)
    options = IngestOptions(
        days=days,
        max_events=max_events,
        account_property=account_property,
        group_type=group_type,
    )
    reporter = ingest_reporter()
    console.say(esc(f"Loading PostHog project {config.project_id} ({config.host}) into {destination.describe()}"))

    def on_retry(what: str) -> None:
        reporter.note(f"PostHog asked us to slow down or failed ({what}); retrying")

    try:
        with PostHogClient(config, _settings(), on_retry=on_retry) as client:
            destination.open(config.source_key)
            result = run_ingest(client, destination, options, reporter)
    finally:
        reporter.close()
        destination.close()
    _print_summary(result, _next_step(project, destination))


def _next_step(project: Project, destination: Destination) -> str:
    """The `beton run` that builds the punch lists from what was just loaded."""
    if isinstance(destination, ClickHouseDestination):
        command = f"BETON_INPUT=source beton run --target {project.target}"
        if destination.database != project.raw_schema:
            command += f""" --vars '{{"beton_source_schema": "{destination.database}"}}'"""
        return command
    command = "BETON_INPUT=source beton run"
    path = getattr(destination, "path", None)
    default = Project.locate(project.dir, project.target, profile=project.profile, profiles_dir=project.profiles_dir)
    if path is not None and Path(path).resolve() != default.duckdb_path.resolve():
        command = f"BETON_DUCKDB_PATH={path} {command}"
    return command


def _print_summary(r: IngestResult, next_step: str) -> None:
    c = r.counts
    source = r.account_source.describe() if r.account_source else ""
    lines = [
        (
            "events",
            c.get("events", 0),
            f"+{r.events_new:,} new ({r.events_fetched:,} read in {r.event_pages:,} pages: "
            + (
                f"received since {r.read_from:%Y-%m-%d %H:%M} UTC)"
                if r.read_from is not None
                else f"the whole window since {r.window_start:%Y-%m-%d %H:%M} UTC)"
            ),
        ),
        ("persons", c.get("persons", 0), "refreshed"),
        ("person_distinct_id", c.get("person_distinct_id", 0), "refreshed"),
        ("accounts", c.get("accounts", 0), f"from {source}"),
    ]
    for table, rows, what in lines:
        console.say(esc(f"  {table:<20}{rows:>12,}  {what}"))
    if r.stopped_at_max:
        console.say(
            "[yellow]Stopped at --max-events.[/yellow] Run again to load the rest; it continues where this run stopped."
        )
    elif r.complete and r.high_water is not None:
        console.say(f"Up to date until {r.high_water:%Y-%m-%d %H:%M:%S} UTC.")
    console.say(
        esc(
            f"{r.rows_per_second:,.0f} events/s, {r.requests:,} requests, {r.retries:,} retries, "
            f"{r.seconds:.1f} s. Next: `{next_step}` builds the punch lists from this data."
        )
    )


@command(name="files")
@click.argument("source")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="File format; auto: by the name (.parquet, .jsonl, each maybe .gz/.br/.zst).",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="auto",
    show_default=True,
    help="PostHog model the files hold; auto: by their columns.",
)
@click.option(
    "--endpoint-url",
    default=None,
    help="S3-compatible endpoint (MinIO, R2...), e.g. http://localhost:9000. Default: $AWS_ENDPOINT_URL_S3, "
    "$AWS_ENDPOINT_URL, else AWS.",
)
@_connection_options
@warehouse_options
@click.option(
    "--account-property",
    default=DEFAULT_ACCOUNT_PROPERTY,
    show_default=True,
    help="Person/event property naming the account, used when the warehouse has no accounts yet.",
)
def ingest_files(
    project: Project,
    source: str,
    fmt: str,
    kind: str,
    endpoint_url: str | None,
    host: str | None,
    region: str | None,
    project_id: str | None,
    account_property: str,
) -> None:
    """Load PostHog batch-export files (Parquet, JSON lines) from a folder or s3://BUCKET/PREFIX.

    For history beyond the query API's limits. Duplicates (by event uuid) are dropped, so running
    it again, or on overlapping files, adds only what is new. See docs/posthog.md."""
    base, project_number, notes = resolve_project(host=host, region=region, project_id=project_id)
    for message in notes:
        console.say(f"[yellow]Note:[/yellow] {esc(message)}")
    files = FileSource(source, endpoint_url)
    destination = _destination(project)
    options = FilesOptions(format=fmt, kind=kind, account_property=account_property)
    reporter = ingest_reporter()
    console.say(
        esc(
            f"Loading PostHog export files of project {project_number} from {files.describe()} into {destination.describe()}"
        )
    )
    try:
        destination.open(source_key(base, project_number))
        result = run_files_ingest(files, destination, options, reporter)
    finally:
        reporter.close()
        destination.close()
    _print_files_summary(result, _next_step(project, destination))


def _print_files_summary(r: FilesResult, next_step: str) -> None:
    for note in r.notes:
        console.say(f"[yellow]Note:[/yellow] {esc(note)}")
    console.say(
        esc(
            f"  files{r.files:>27,}  {r.loaded:,} loaded, {r.unchanged:,} unchanged since they were loaded"
            + (f", {len(r.ignored):,} other files ignored" if r.ignored else "")
        )
    )
    c = r.counts
    lines = [
        (
            "events",
            c.get("events", 0),
            f"+{r.events_new:,} new ({r.events_read:,} read"
            + (f", {r.events_read - r.events_new:,} stored already)" if r.events_read > r.events_new else ")"),
        ),
        ("persons", c.get("persons", 0), "merged" if "persons" in r.snapshots else "unchanged"),
        (
            "person_distinct_id",
            c.get("person_distinct_id", 0),
            "merged" if "person_distinct_id" in r.snapshots else "unchanged",
        ),
        ("accounts", c.get("accounts", 0), "rebuilt" if "accounts" in r.snapshots else "unchanged"),
    ]
    for table, rows, what in lines:
        console.say(esc(f"  {table:<20}{rows:>12,}  {what}"))
    if r.bad_rows:
        console.say(f"[yellow]{r.bad_rows:,} row(s) skipped[/yellow] (not usable as PostHog rows):")
        for bad in r.bad_examples:
            console.say(esc(f"  {bad}"))
        if r.bad_rows > len(r.bad_examples):
            console.say(esc(f"  ... and {r.bad_rows - len(r.bad_examples):,} more"))
    console.say(esc(f"{r.seconds:.1f} s. Next: `{next_step}` builds the punch lists from this data."))
