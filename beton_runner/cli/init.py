"""`beton init DIR [--force]`: a new project from the dbt project the package carries."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from ..errors import RuleError
from ..project import Project
from ..scaffold import init_project
from . import console
from .console import esc
from .rules import compiled_rules
from .shell import command


@command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that is not empty: the project's files replace those of the same name; "
    "rules, README.md and .gitignore already there are kept.",
)
def init_command(directory: Path, force: bool) -> None:
    """Create a Beton Inspector project in DIRECTORY: the dbt project, example rules, profiles.yml,
    destinations.example.yml, a README and a .gitignore."""
    summary = init_project(directory, force=force)
    where = summary.directory
    console.ok(
        f"project written to {esc(where)}: {len(summary.written)} file(s) new"
        + (f", {len(summary.replaced)} replaced" if summary.replaced else "")
        + "."
    )
    if summary.kept:
        console.say(f"  kept: {esc(', '.join(str(p) for p in summary.kept))}")
    if not summary.example_rules:
        # the generated models came with the example rules; make them the models of the rules here
        try:
            compiled_rules(Project.locate(where, resolve=False))
        except RuleError as exc:
            console.warn(f"{exc}\nThen run `beton rules compile` in {where}.")
    try:
        relative = os.path.relpath(where)
    except ValueError:  # another drive (Windows)
        relative = str(where)
    console.say()
    console.say("Next:")
    if relative != ".":
        console.say(f"  cd {esc(shlex.quote(relative))}")
    console.say("  beton demo          # every punch list on the built-in mock data (DuckDB)")
    console.say("  beton rules check   # after editing rules/*.yml")
    console.say("  beton run           # your data: BETON_INPUT=source, see the README")
