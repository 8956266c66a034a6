"""`beton backtest`: whom a rule would have flagged at past as_of dates, and who converted."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.text import Text

from ..backtest import Backtest, as_of_dates, lift_note, parse_days, run_backtests, store
from ..csvfile import write_csv
from ..errors import ConfigError
from ..project import Project
from ..rules import find_rule
from . import console
from .console import esc
from .options import (
    dbt_vars,
    format_option,
    parse_as_of,
    raw_csv_option,
    vars_option,
    warehouse_options,
)
from .output import emit_rows
from .rules import checked_rules
from .shell import command

MACHINE_COLUMNS = [
    "rule_key",
    "as_of",
    "eligible",
    "flagged",
    "flagged_converted",
    "not_flagged",
    "not_flagged_converted",
    "precision",
    "base_rate",
    "lift",
    "lift_note",
    "recall",
    "median_lead_days",
    "horizon_complete",
    "conversion_events",
    "within_days",
]


def _percent(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"


def _number(value: object, digits: int = 2) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def _row_cells(label: str, r: dict) -> list[Text]:
    note = lift_note(r)
    return [
        Text(label),
        Text(f"{r['eligible']:,}"),
        Text(f"{r['flagged']:,}"),
        Text(f"{r['flagged_converted']:,}"),
        Text(_percent(r["precision"])),
        Text(f"{r['not_flagged']:,}"),
        Text(f"{r['not_flagged_converted']:,}"),
        Text(_percent(r["base_rate"])),
        Text(note, style="dim") if note else Text(f"{float(r['lift']):.2f}×", style="bold"),
        Text(_percent(r["recall"])),
        Text(_number(r.get("median_lead_days"), 1)),
    ]


@command("backtest")
@click.argument("rule_names", metavar="RULE...", nargs=-1, required=True)
@click.option("--from", "start", required=True, metavar="TS", help="The first as_of (UTC; a date alone is 00:00).")
@click.option("--to", "end", required=True, metavar="TS", help="The last as_of at most (inclusive).")
@click.option("--every", default="7d", show_default=True, help="Step between as_of dates: days (7d) or weeks (1w).")
@click.option(
    "--converted",
    "converted",
    required=True,
    multiple=True,
    metavar="EVENT",
    help="The conversion event (repeat, or comma-separate, for several: any of them counts).",
)
@click.option("--within", default="30d", show_default=True, help="The horizon after each as_of: 30d, 4w.")
@vars_option
@click.option("--no-store", is_flag=True, help="Do not keep the result in the warehouse (for the report).")
@click.option(
    "--csv",
    "--output",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the rows to this CSV file (--output: the same).",
)
@raw_csv_option
@format_option()
@warehouse_options
def backtest_command(
    project: Project,
    rule_names: tuple[str, ...],
    start: str,
    end: str,
    every: str,
    converted: tuple[str, ...],
    within: str,
    raw_vars: str | None,
    no_store: bool,
    csv_path: Path | None,
    raw_csv: bool,
    output_format: str,
) -> None:
    """Replay each RULE at past as_of dates: whom it flagged, how many of them fired a conversion
    event within the horizon, against the eligible users (or accounts) it did not flag — lift,
    precision, recall, lead time (docs/backtest.md).

    Reads the tables `beton run` built (one dbt compile, then one query per rule and as_of; no
    build per as_of). E.g. on the mock data: beton backtest pql_power_users --from '2026-09-01 12:00'
    --to '2026-09-29 12:00' --every 1d --within 14d --converted upgraded_plan,added_seat
    """
    known = checked_rules(project, print_warnings=False)
    rules = list({r.key: r for r in (find_rule(known, name) for name in rule_names)}.values())
    events = [e.strip() for item in converted for e in item.split(",") if e.strip()]
    if not events:
        raise ConfigError("--converted names no event; e.g. --converted upgraded_plan")
    every_days = parse_days(every, "--every")
    within_days = parse_days(within, "--within")
    as_ofs = as_of_dates(parse_as_of(start), parse_as_of(end), every_days)
    results = run_backtests(project, rules, as_ofs, events, within_days, every_days, vars=dbt_vars(None, raw_vars))
    machine = output_format != "table"
    frame = pd.concat([r.rows for r in results], ignore_index=True)
    frame = frame.assign(lift_note=[lift_note(r) for r in frame.to_dict("records")])[MACHINE_COLUMNS]
    if machine:
        emit_rows(frame, output_format, raw_csv=raw_csv)
    else:
        for result in results:
            _print(result)
        console.say(
            f"  converted = fired {esc(' or '.join(events))} within {within_days} day(s) after as_of; "
            "eligible = the users (accounts) with any event in the rule's window at as_of; "
            f"{len(as_ofs)} as_of date(s), every {every_days} day(s); lift = precision / base rate"
        )
    for note in dict.fromkeys(n for r in results for n in r.notes):
        console.say(f"  note: {esc(note)}", stderr=machine)
    if not no_store:
        table = store(project, results)
        console.say(f"  kept in {esc(table)} (`beton report` charts it)", stderr=machine)
    if csv_path is not None:
        write_csv(frame, csv_path, raw=raw_csv)
        console.say(f"  wrote {esc(csv_path)}", stderr=machine)


def _print(result: Backtest) -> None:
    rule = result.rule
    specs = [
        ("as_of", {"no_wrap": True}),
        ("eligible", {"justify": "right"}),
        ("flagged", {"justify": "right"}),
        ("flagged → converted", {"justify": "right"}),
        ("precision", {"justify": "right"}),
        ("not flagged", {"justify": "right"}),
        ("not flagged → converted", {"justify": "right"}),
        ("base rate", {"justify": "right"}),
        ("lift", {"justify": "right", "no_wrap": True}),
        ("recall", {"justify": "right"}),
        ("median lead (days)", {"justify": "right"}),
    ]
    rows = []
    for r in result.rows.to_dict("records"):
        mark = "" if r["horizon_complete"] else " *"
        rows.append(_row_cells(f"{pd.Timestamp(r['as_of']):%Y-%m-%d %H:%M}{mark}", r))
    rows.append(_row_cells("all (pooled)", result.total))
    title = f"Backtest: {esc(rule.name)}  [dim]({esc(rule.key)}, {rule.level} level, {rule.window_days}-day window)[/]"
    console.show(console.table(specs, rows, title_markup=title))
