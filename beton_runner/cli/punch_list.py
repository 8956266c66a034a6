"""`beton punch-list`: one rule's punch list from the warehouse, filtered and sorted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import pandas as pd
from rich.text import Text

from ..columns import SIGNAL_TERM_PREFIX, shown_for
from ..csvfile import write_csv
from ..errors import ConfigError
from ..project import Project
from ..punch_lists import apply_where, read_punch_list, sort_frame, summarise
from ..rules import Rule, find_rule
from . import console
from .console import esc
from .options import csv_path_option, format_option, raw_csv_option, warehouse_options
from .output import emit_rows
from .rules import checked_rules
from .shell import command


def format_value(value: object) -> str:
    """A cell as a person reads it: blanks for nulls, minutes for timestamps, thousands grouped."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.2f}"
    return str(value)


def print_punch_list(rule: Rule, frame: pd.DataFrame, *, limit: int | None = None) -> None:
    """The punch list as a table (the columns of ``beton_runner.columns``) and its summary line."""
    summary = summarise(frame)
    columns = [c for c in shown_for(rule.level) if c.name in frame.columns and rule.shows(c.name)]
    title = (
        f"{esc(rule.name)}  [dim]({esc(rule.key)}, {rule.level} level, "
        f"{rule.document['time_window_days']}-day window)[/]"
    )
    shown = frame if limit is None else frame.head(limit)
    specs = [
        (
            c.header,
            {"justify": "left" if c.kind in ("id", "text", "timestamp") else "right", "no_wrap": c.name != "name"},
        )
        for c in columns
    ]
    rows = [[Text(format_value(record[c.name])) for c in columns] for record in shown.to_dict("records")]
    console.show(console.table(specs, rows, title_markup=title))
    if summary.findings:
        more = f"   (showing {len(shown)})" if len(shown) < summary.findings else ""
        console.say(
            f"  findings: [bold]{summary.findings}[/]   score min {summary.score_min:.2f} / "
            f"median {summary.score_median:.2f} / max {summary.score_max:.2f}{more}"
        )
    else:
        console.say("  findings: [bold]0[/]")


def _term_header(column: str) -> str:
    if column.startswith(SIGNAL_TERM_PREFIX):
        return "signal " + column[len(SIGNAL_TERM_PREFIX) :]
    return column.removeprefix("score_")


def print_explanation(rule: Rule, frame: pd.DataFrame) -> None:
    """Each finding's score terms (they sum to its score) and its `why`: every threshold and
    signal with the finding's value (docs/rules.md, "Score breakdown and why")."""
    terms = [c for c in frame.columns if c.startswith("score_")]
    if "why" not in frame.columns or not terms:
        raise ConfigError(
            f"the punch list of {rule.key} in the warehouse has no score breakdown (built before rule format 2): "
            "run `beton run` to rebuild it, then --explain again"
        )
    entity = "account_id" if rule.level == "account" else "user_id"
    label = "name" if rule.level == "account" else "email"
    specs = [("rank", {"justify": "right"}), (entity.replace("_", " "), {}), ("score", {"justify": "right"})]
    specs += [(_term_header(c), {"justify": "right"}) for c in terms]
    rows = [
        [Text(str(r["rank"])), Text(format_value(r[entity])), Text(f"{r['score']:.2f}")]
        + [Text(f"{r[c] + 0.0:+.2f}") for c in terms]
        for r in frame.to_dict("records")
    ]
    title = f"{esc(rule.name)}  [dim]score breakdown: the terms sum to the score[/]"
    console.show(console.table(specs, rows, title_markup=title))
    for record in frame.to_dict("records"):
        who = format_value(record.get(label))
        console.say(
            f"  [bold]#{record['rank']}[/] {esc(record[entity])}" + (f" ({esc(who)})" if who else "") + " [dim]why:[/]"
        )
        why = json.loads(record["why"])
        for condition in why.get("conditions", []):
            sign = "<=" if condition["condition"].startswith("max_") else ">="
            console.say(
                f"    {_mark(condition['met'])} {esc(condition['condition'])}: {esc(condition['value'])} "
                f"{sign} {esc(condition['threshold'])}"
            )
        for signal in why.get("signals", []):
            points = record.get(SIGNAL_TERM_PREFIX + signal["signal"])
            console.say(
                f"    {_mark(signal['met'])} signal {esc(signal['signal'])}: {esc(signal['count'])} event(s), "
                f"needs {esc(signal['min_count'])}" + (f"; {points:+.2f} points" if points is not None else "")
            )


def _mark(met: bool) -> str:
    return "[green]met[/]" if met else "[dim]not met[/]"


# rows the table shows without --limit: a screenful to act on. Laying out a table costs rich
# about 1 ms a row (5.7 s for a 5,000-row punch list at 10M events, 21 s at 50M); --format
# csv/json and --csv carry every row.
TABLE_ROWS = 50


@command("punch-list")
@click.argument("name")
@warehouse_options
@click.option("--sort", "sort_column", default=None, help="Sort by this column.")
@click.option("--desc/--asc", "descending", default=None, help="Sort direction (default: best first).")
@click.option(
    "--where", "where", multiple=True, help="Filter COLUMN OP VALUE, OP one of = != > >= < <= ~ (contains); repeatable."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help=f"Show at most N rows (the table shows the top {TABLE_ROWS} without it; json and csv every row).",
)
@click.option(
    "--explain", is_flag=True, help="Show each finding's score terms and why (the thresholds and signals it met)."
)
@csv_path_option
@raw_csv_option
@format_option()
def punch_list_command(
    project: Project,
    name: str,
    sort_column: str | None,
    descending: bool | None,
    where: tuple[str, ...],
    limit: int | None,
    explain: bool,
    csv_path: Path | None,
    raw_csv: bool,
    output_format: str,
) -> None:
    """Show one rule's punch list from the warehouse (run `beton run` or `beton demo` first).

    --format json or csv prints every column of the rule's table (insp_<rule>) for the rows kept
    (the score_* terms and why among them); --explain shows them per finding."""
    if explain and output_format != "table":
        raise ConfigError(
            "--explain shows tables; with --format json or csv every row already has its score_* terms and why"
        )
    rule = find_rule(checked_rules(project, print_warnings=False), name)
    frame = read_punch_list(project, rule)
    frame = sort_frame(apply_where(frame, list(where)), sort_column, descending)
    if limit is not None:
        frame = frame.head(limit)
    if output_format == "table":
        shown = frame if limit is not None else frame.head(TABLE_ROWS)
        print_punch_list(rule, frame, limit=len(shown))
        if explain and not shown.empty:
            print_explanation(rule, shown)
        if len(shown) < len(frame):
            console.say(
                f"  [dim]the top {len(shown)} of {len(frame):,}: --limit N for more; --format csv or json, "
                "or --csv FILE, for every row[/]"
            )
    else:
        emit_rows(frame, output_format, raw_csv=raw_csv)
    if csv_path is not None:
        write_csv(frame, csv_path, raw=raw_csv)
        console.say(f"  wrote {esc(csv_path)}", stderr=output_format != "table")
