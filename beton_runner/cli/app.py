"""The `beton` group: the shared group options, and every command registered in one place."""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from .options import profile_options
from .shell import Context, LazyGroup, configure_logging

# Every command, as "module:attribute" under beton_runner.cli: imported only when it runs (or
# --help / shell completion lists it), so `beton punch-list` does not import what `beton run` needs.
COMMANDS = {
    "init": "init:init_command",
    "rules": "rules:rules",
    "run": "build:run_command",
    "punch-list": "punch_list:punch_list_command",
    "changes": "changes:changes_command",
    "plan": "plan:plan_command",
    "backtest": "backtest:backtest_command",
    "deliver": "deliver:deliver_command",
    "pipeline": "deliver:pipeline_command",
    "demo": "build:demo",
    "generate": "generate:generate_command",
    "posthog": "posthog:posthog_group",
    "report": "report:report_command",
    "enrich": "enrich:enrich_command",
    "plays": "plays:plays_command",
    "export": "export:export_command",
}
INGEST_COMMANDS = {"posthog": "posthog:ingest_posthog", "files": "posthog:ingest_files"}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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


@cli.group(cls=LazyGroup, lazy_subcommands=INGEST_COMMANDS)
def ingest() -> None:
    """Load data from an external system into the warehouse's input tables."""


def main() -> None:
    cli(prog_name="beton")
