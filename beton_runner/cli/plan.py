"""`beton plan`: what the working copy's rule files would do to each punch list, before a build."""

from __future__ import annotations

import click
import pandas as pd
from rich.text import Text

from ..plan import Plan, RulePlan, compute_plan
from ..project import Project
from ..rules import find_rule
from . import console
from .console import esc
from .options import dbt_vars, format_option, raw_csv_option, vars_option, warehouse_options
from .output import emit_csv, emit_json, records
from .punch_list import format_value
from .rules import checked_rules
from .shell import command

_STATUS_STYLE = {"added": "green", "removed": "red", "changed": "yellow", "unchanged": "dim"}


def _document(plan: Plan) -> dict:
    return {
        "as_of": plan.as_of,
        "changed_rules": plan.changes,
        "rules": [
            {
                "rule": p.key,
                "status": p.status,
                "level": p.level,
                "findings_before": p.before,
                "findings_after": p.after,
                "entered": records(p.entered),
                "left": records(p.left),
                "rescored": records(p.rescored),
                "note": p.note,
            }
            for p in plan.rules
        ],
    }


def _detail_rows(p: RulePlan) -> list[tuple]:
    rows = [("enters", e.entity_id, f"→ {e.rank}", f"→ {format_value(e.score)}") for e in p.entered.itertuples()]
    rows += [
        ("leaves", e.entity_id, f"{e.previous_rank} →", f"{format_value(e.previous_score)} →")
        for e in p.left.itertuples()
    ]
    rows += [
        (
            "rescored",
            e.entity_id,
            f"{e.rank_before} → {e.rank_after}",
            f"{format_value(e.score_before)} → {format_value(e.score_after)}",
        )
        for e in p.rescored.itertuples()
    ]
    return rows


def _change_rows(plan: Plan) -> pd.DataFrame:
    """--format csv: one row per entity that would enter, leave or be rescored."""
    columns = ["rule", "change", "entity_id", "rank_before", "rank_after", "score_before", "score_after"]
    frames = []
    for p in plan.rules:
        frames += [
            p.entered.rename(columns={"rank": "rank_after", "score": "score_after"}).assign(change="enters"),
            p.left.rename(columns={"previous_rank": "rank_before", "previous_score": "score_before"}).assign(
                change="leaves"
            ),
            p.rescored.assign(change="rescored"),
        ]
        frames = [f.assign(rule=p.key) if "rule" not in f.columns else f for f in frames]
    rows = [f for f in frames if not f.empty]
    return pd.concat(rows, ignore_index=True).reindex(columns=columns) if rows else pd.DataFrame(columns=columns)


@command("plan")
@warehouse_options
@click.option("--rule", "only", multiple=True, help="Only this rule (key, model or name); repeatable.")
@click.option("--limit", default=20, show_default=True, help="Entities shown per rule and kind of change (table).")
@vars_option
@format_option()
@raw_csv_option
def plan_command(
    project: Project, only: tuple[str, ...], limit: int, raw_vars: str | None, output_format: str, raw_csv: bool
) -> None:
    """What the rule files as they are now would do to each punch list, before building.

    Every rule file is evaluated at the as_of of the last run (insp_rule_runs) over the data
    already built, as a select: nothing in the warehouse is created or replaced. Lists, per
    rule, whether it is added, removed, changed or unchanged, the entities that would enter or
    leave its punch list and the rank and score changes of those that stay. Pass the --vars
    the build was run with (e.g. beton_input). --format json gives
    every entity, --format csv one row per entity that would change."""
    rules = checked_rules(project)
    if only:
        rules = [find_rule(rules, name) for name in dict.fromkeys(only)]
    plan = compute_plan(project, rules, vars=dbt_vars(None, raw_vars))
    if only:
        keys = {r.key for r in rules}
        plan.rules = [p for p in plan.rules if p.key in keys]
    if output_format == "json":
        emit_json(_document(plan))
        return
    if output_format == "csv":
        emit_csv(_change_rows(plan), raw=raw_csv)
        return
    summary = [
        (
            Text(p.key),
            Text(p.status, style=_STATUS_STYLE[p.status]),
            p.before,
            p.after,
            len(p.entered),
            len(p.left),
            len(p.rescored),
        )
        for p in plan.rules
    ]
    console.show(
        console.table(
            ("rule", "status", "findings now", "after", "enter", "leave", "rescored"),
            summary,
            title=f"Plan: the rule files at as_of {plan.as_of} (the last run's), against the built punch lists",
        )
    )
    for p in plan.rules:
        if p.note:
            console.note(f"{p.key}: {p.note}")
        rows = _detail_rows(p)
        if not rows:
            continue
        shown = rows[: limit * 3] if limit else rows
        console.show(
            console.table(
                ("change", "entity", "rank", "score"),
                shown,
                title_markup=f"[bold]{esc(p.key)}[/] ({esc(p.status)})",
            )
        )
        if len(shown) < len(rows):
            console.say(f"[dim]… {len(rows) - len(shown)} more (--limit, or --format json for all)[/]")
    if plan.changes:
        console.say(f"{plan.changes} punch list(s) would change; `beton run` builds them.")
    else:
        console.ok("no punch list would change.")
