"""`beton rules check | compile | list | show`: the rule files (rules/*.yml)."""

from __future__ import annotations

import json

import click

from ..errors import RuleError, StaleModelsError
from ..project import Project
from ..rules import Rule, check_rules, find_rule
from ..rules.compile import generate, rule_sql, staleness, write
from . import console
from .console import esc
from .options import as_of_option, current_project, dbt_vars, warehouse_options
from .shell import group


def checked_rules(project: Project, *, print_warnings: bool = True) -> list[Rule]:
    """Every rule file, validated; all problems at once as a ``RuleError``."""
    result = check_rules(project.rules_dir, known_events=project.known_events(), display_root=project.dir)
    if print_warnings:
        for warning in result.warnings:
            console.warn(str(warning))
    if result.issues:
        raise RuleError(result.issues)
    return result.rules


def compiled_rules(project: Project) -> list[Rule]:
    """Validate the rules and bring the generated models up to date (what `beton run` does first)."""
    rules = checked_rules(project)
    before = write(generate(rules, project.dir), project.dir)
    for line in before.describe():
        console.say(f"[dim]regenerated {esc(line)}[/]", stderr=True)
    return rules


@group()
def rules() -> None:
    """Validate, compile and inspect rule files (rules/*.yml)."""


@rules.command("check")
def rules_check() -> None:
    """Report every problem in every rule file, and stale generated models."""
    project = current_project()
    valid = checked_rules(project)
    stale = staleness(generate(valid, project.dir), project.dir)
    if stale.stale:
        lines = "\n".join(f"  {line}" for line in stale.describe())
        raise StaleModelsError(
            f"generated inspection models are stale:\n{lines}\nRun `beton rules compile` and commit the result."
        )
    console.ok(f"{len(valid)} rule(s) valid, generated models up to date.")


@rules.command("compile")
def rules_compile() -> None:
    """Regenerate the dbt models for the rule files (commit the result)."""
    project = current_project()
    valid = checked_rules(project)
    changed = write(generate(valid, project.dir), project.dir).describe()
    for line in changed:
        console.say(f"updated {esc(line)}")
    console.ok(f"{len(valid)} rule(s); {len(changed) or 'no'} generated file(s) changed.")


@rules.command("list")
def rules_list() -> None:
    """List the rules."""
    rows = [(r.key, r.name, r.level, f"{r.document['time_window_days']}d") for r in checked_rules(current_project())]
    console.show(console.table(("key", "name", "level", "window"), rows, title="Inspection rules"))


@rules.command("show")
@click.argument("name")
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL the rule compiles to.")
@warehouse_options
@as_of_option
def rules_show(project: Project, name: str, show_sql: bool, as_of: str | None) -> None:
    """Show one rule (by key, model name or name); --sql prints its compiled SQL."""
    rule = find_rule(checked_rules(project), name)  # reads rules/ only: showing never writes models/
    if not show_sql:
        console.say(f"[bold]{esc(rule.name)}[/]  ({esc(rule.key)}, {rule.level} level, model {esc(rule.model_name)})")
        if rule.document.get("description"):
            console.text(rule.document["description"])
        console.text(json.dumps(rule.document, indent=2, ensure_ascii=False))
        return
    click.echo(rule_sql(project, rule, vars=dbt_vars(as_of, None)), nl=False)
