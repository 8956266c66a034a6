"""The `beton` group: the shared group options, and every command registered in one place."""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from .backtest import backtest_command
from .build import demo, run_command
from .changes import changes_command
from .deliver import deliver_command, pipeline_command
from .enrich import enrich_command
from .export import export_command
from .generate import generate_command
from .init import init_command
from .options import profile_options
from .plan import plan_command
from .plays import plays_command
from .posthog import ingest_files, ingest_posthog, posthog_group
from .punch_list import punch_list_command
from .report import report_command
from .rules import rules
from .shell import Context, configure_logging, group


@group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--project-dir",
    envvar="BETON_PROJECT_DIR",
    default=None,
    help="The Beton Inspector project (default: the folder with dbt_project.yml at or above the current one; "
    "env BETON_PROJECT_DIR). `beton init DIR` creates one.",
)
@profile_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="beton")
@click.pass_context
def cli(
    ctx: click.Context,
    project_dir: str | None,
    profiles_dir: Path | None,
    profile: str | None,
    target: str | None,
    debug: bool,
) -> None:
    """Beton Inspector: inspection rules over product usage -> PQL/PQA punch lists.

    The warehouse is the dbt profile target dbt would use (--profiles-dir, --profile, --target
    here or on a command; DBT_PROFILES_DIR, DBT_PROFILE, DBT_TARGET); every dbt command beton
    runs gets the same."""
    ctx.obj = Context(project_dir, debug, profiles_dir=profiles_dir, profile=profile, target=target)
    configure_logging(debug)


@cli.group()
def ingest() -> None:
    """Load data from an external system into the warehouse's input tables."""


ingest.add_command(ingest_posthog, "posthog")
ingest.add_command(ingest_files, "files")
for _command in (
    init_command,
    rules,
    run_command,
    punch_list_command,
    changes_command,
    plan_command,
    backtest_command,
    deliver_command,
    pipeline_command,
    demo,
    generate_command,
    posthog_group,
    report_command,
    enrich_command,
    plays_command,
    export_command,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="beton")
