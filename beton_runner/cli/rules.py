"""`beton rules check | compile | list | show`: the rule files (rules/*.yml)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from ..errors import RuleError, RuleIssue, RuleTestFailed, StaleModelsError
from ..project import Project
from ..rules import CheckResult, Rule, check_rules, find_rule
from ..rules.compile import Staleness, generate, rule_sql, staleness, write
from ..rules.testing import check_test_files
from . import console
from .console import esc
from .options import as_of_option, current_project, dbt_vars, format_option, raw_csv_option, warehouse_options
from .output import emit_csv, emit_json, emit_rows
from .shell import group


def _check(project: Project, rules_dir: Path | None = None) -> CheckResult:
    return check_rules(rules_dir or project.rules_dir, known_events=project.known_events(), display_root=project.dir)


def _target_options(command):
    """``--project-dir`` and ``--rules-dir`` of `rules check` and `rules compile`: compile into a
    host dbt project that installs Beton as a package (docs/dbt-package.md)."""
    command = click.option(
        "--rules-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The rule files (default: rules/ in the project).",
    )(command)
    return click.option(
        "--project-dir",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The dbt project: Beton's own, or a host project with Beton as a dbt package (its rule models go "
        "to models/beton_rules/). Default: beton's --project-dir.",
    )(command)


def _target_project(project_dir: Path | None) -> Project:
    """The project --project-dir names (a host project too), else the current one; rules
    commands never touch the warehouse, so no dbt profile is resolved."""
    if project_dir is not None:
        return Project.locate(project_dir, resolve=False)
    return current_project(warehouse=False)


def checked_rules(project: Project, rules_dir: Path | None = None, *, print_warnings: bool = True) -> list[Rule]:
    """Every rule file, validated; all problems at once as a ``RuleError``."""
    result = _check(project, rules_dir)
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


def _stale_issues(stale: Staleness) -> list[RuleIssue]:
    """Stale generated files as problems of those files (for --format json|csv|github)."""
    advice = "run `beton rules compile` and commit the result"
    return (
        [RuleIssue(str(p), None, None, f"generated model is missing; {advice}") for p in stale.missing]
        + [RuleIssue(str(p), None, None, f"generated model is out of date; {advice}") for p in stale.changed]
        + [RuleIssue(str(p), None, None, f"no rule file generates it any more; {advice}") for p in stale.orphaned]
    )


def _issue_object(issue: RuleIssue) -> dict:
    return {"file": issue.file, "line": issue.line, "field": issue.field, "message": issue.message}


def repository_root(start: Path) -> Path | None:
    """The git checkout holding ``start`` (a folder with ``.git``, a folder or a worktree's file)."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / ".git").exists():
            return folder
    return None


def repository_path(project_dir: Path, file: str) -> str:
    """``file`` (relative to the project, as rule checks report it) relative to the repository
    root, where GitHub looks for it; relative to the project when there is no checkout."""
    path = Path(file)
    if path.is_absolute():
        absolute = path
    else:
        absolute = project_dir.resolve() / path
    root = repository_root(project_dir)
    try:
        return absolute.relative_to(root).as_posix() if root is not None else path.as_posix()
    except ValueError:
        return path.as_posix()


# GitHub Actions workflow commands: `::error file=F,line=L,title=T::MESSAGE`, sent over stdout.
# Syntax: https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
# (the page gives the format but not the escaping, see github/docs#11713); the escaping is the
# runner toolkit's escapeData / escapeProperty in
# https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts :
# data: % -> %25, CR -> %0D, LF -> %0A; a property also : -> %3A and , -> %2C.
def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(kind: str, issue: RuleIssue, project_dir: Path) -> str:
    """One workflow command (``kind``: error or warning) for one problem."""
    properties = [f"file={escape_property(repository_path(project_dir, issue.file))}"]
    if issue.line is not None:
        properties.append(f"line={issue.line}")
    properties.append(f"title={escape_property('beton rules check')}")
    message = f"{issue.field}: {issue.message}" if issue.field else issue.message
    return f"::{kind} {','.join(properties)}::{escape_data(message)}"


@rules.command("check")
@_target_options
@format_option("github")
@raw_csv_option
def rules_check(project_dir: Path | None, rules_dir: Path | None, output_format: str, raw_csv: bool) -> None:
    """Report every problem in every rule file, and stale generated models.

    --format json: {"ok", "rules" (valid rules), "problems", "warnings"}, each problem
    {file, line, field, message}; csv: one row per problem and warning; github: one GitHub
    Actions annotation per problem and warning. The exit code is non-zero when there is a problem."""
    project = _target_project(project_dir)
    result = _check(project, rules_dir)
    # Staleness only means something once every rule file is valid (a broken file generates nothing).
    stale = None if result.issues else staleness(generate(result.rules, project.dir), project.dir)
    # the rule tests (rules/tests/*.yml) are read and checked too, without running them
    _, test_issues = check_test_files(project.dir, rules_dir or project.rules_dir, result.rules)
    problems = list(result.issues) + test_issues + (_stale_issues(stale) if stale is not None else [])
    if output_format == "table":
        for warning in result.warnings:
            console.warn(str(warning))
    elif output_format == "json":
        emit_json(
            {
                "ok": not problems,
                "rules": len(result.rules),
                "problems": [_issue_object(i) for i in problems],
                "warnings": [_issue_object(w) for w in result.warnings],
            }
        )
    elif output_format == "csv":
        rows = [{"severity": "error", **_issue_object(i)} for i in problems]
        rows += [{"severity": "warning", **_issue_object(w)} for w in result.warnings]
        frame = pd.DataFrame(rows, columns=["severity", "file", "line", "field", "message"])
        emit_csv(frame.astype({"line": "Int64"}), raw=raw_csv)
    else:
        for issue in problems:
            click.echo(github_annotation("error", issue, project.dir))
        for warning in result.warnings:
            click.echo(github_annotation("warning", warning, project.dir))
    # Errors still end through the one error handler: the message on stderr, a non-zero exit.
    if result.issues or test_issues:
        raise RuleError(result.issues + test_issues)
    if stale is not None and stale.stale:
        lines = "\n".join(f"  {line}" for line in stale.describe())
        raise StaleModelsError(
            f"generated inspection models are stale:\n{lines}\nRun `beton rules compile` and commit the result."
        )
    console.ok(f"{len(result.rules)} rule(s) valid, generated models up to date.", stderr=output_format != "table")


@rules.command("compile")
@_target_options
def rules_compile(project_dir: Path | None, rules_dir: Path | None) -> None:
    """Regenerate the dbt models for the rule files (commit the result).

    In a host dbt project (--project-dir HOST, a project other than Beton's own that installs it
    as a dbt package), the rule models go to HOST/models/beton_rules/."""
    project = _target_project(project_dir)
    valid = checked_rules(project, rules_dir)
    changed = write(generate(valid, project.dir), project.dir).describe()
    for line in changed:
        console.say(f"updated {esc(line)}")
    console.ok(f"{len(valid)} rule(s); {len(changed) or 'no'} generated file(s) changed.")


@rules.command("list")
@format_option()
@raw_csv_option
def rules_list(output_format: str, raw_csv: bool) -> None:
    """List the rules (json and csv add each rule's model, file and description)."""
    project = current_project(warehouse=False)
    valid = checked_rules(project)
    if output_format == "table":
        rows = [(r.key, r.name, r.level, f"{r.document['time_window_days']}d") for r in valid]
        console.show(console.table(("key", "name", "level", "window"), rows, title="Inspection rules"))
        return
    frame = pd.DataFrame(
        [
            {
                "key": r.key,
                "name": r.name,
                "level": r.level,
                "time_window_days": r.document["time_window_days"],
                "model": r.model_name,
                "file": r.path.resolve().relative_to(project.dir.resolve()).as_posix(),
                "description": r.document.get("description"),
            }
            for r in valid
        ],
        columns=["key", "name", "level", "time_window_days", "model", "file", "description"],
    )
    emit_rows(frame, output_format, raw_csv=raw_csv)


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


@rules.command("test")
@click.argument("names", nargs=-1)
@format_option()
@raw_csv_option
def rules_test(names: tuple[str, ...], output_format: str, raw_csv: bool) -> None:
    """Run the rule tests (rules/tests/*.yml): all, or those NAMES (a test file's stem or a rule
    it tests) pick.

    Each file's inline events, persons and accounts are written to a throwaway DuckDB file and
    the real models are built on it (dbt run --select +insp_<rule>); the punch lists are then
    compared with the file's expectations. The project's own warehouse is not touched. The exit
    code is non-zero when an expectation fails, naming the test file and line."""
    from ..rules.testing import read_test_files, run_tests

    project = current_project(warehouse=False)
    valid = checked_rules(project)
    tests = read_test_files(project, valid, names)
    if not tests:
        console.warn(f"no rule tests in {project.rules_dir / 'tests'}; see docs/rules.md, 'Testing rules'")
        return
    stderr = output_format != "table"

    def on_result(result) -> None:
        mark = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
        rules_tested = ", ".join(result.punch_lists)
        console.say(f"{mark} {esc(result.test.display)}  ({esc(rules_tested)}; {result.seconds:.1f}s)", stderr=stderr)
        for mismatch in result.mismatches:
            console.say(f"  [red]-[/] {esc(mismatch)}", stderr=stderr)

    results = run_tests(project, valid, tests, on_result=on_result)
    rows = [
        {
            "file": r.test.display,
            "rule": rule,
            "passed": not [m for m in r.mismatches if m.rule == rule],
            "findings": len(frame),
            "mismatches": [str(m) for m in r.mismatches if m.rule == rule],
            "seconds": round(r.seconds, 2),
        }
        for r in results
        for rule, frame in r.punch_lists.items()
    ]
    if output_format == "table":
        table_rows = [
            (row["file"], row["rule"], "pass" if row["passed"] else "FAIL", row["findings"], len(row["mismatches"]))
            for row in rows
        ]
        console.show(
            console.table(("test file", "rule", "result", "findings", "mismatches"), table_rows, title="Rule tests")
        )
    elif output_format == "json":
        emit_json(rows)
    else:
        frame = pd.DataFrame(rows).assign(mismatches=lambda f: f["mismatches"].map("\n".join))
        emit_csv(frame, raw=raw_csv)
    failed = [m for r in results for m in r.mismatches]
    if failed:
        lines = "\n".join(f"  {m}" for m in failed)
        raise RuleTestFailed(
            f"{len(failed)} expectation(s) failed in {sum(not r.passed for r in results)} rule test file(s):\n{lines}"
        )
    console.ok(f"{len(results)} rule test file(s), {len(rows)} punch list(s) as expected.", stderr=stderr)
