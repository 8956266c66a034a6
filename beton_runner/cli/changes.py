"""`beton changes`: who entered and left each punch list, run by run."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from ..changes import read_changes, read_runs, select_changes
from ..csvfile import write_csv
from ..project import Project
from . import console
from .console import esc
from .options import csv_path_option, format_option, parse_as_of, raw_csv_option, warehouse_options
from .output import emit_rows
from .punch_list import format_value
from .shell import command


def _then_now(then: object, now: object) -> str:
    a, b = format_value(then), format_value(now)
    if not a:
        return b
    if not b:
        return f"{a} →"
    return b if a == b else f"{a} → {b}"


@command("changes")
@warehouse_options
@click.option("--rule", "rules", multiple=True, help="Only this rule (its key); repeatable.")
@click.option(
    "--since",
    default=None,
    help="Changes of every run after this instant (UTC, e.g. '2026-09-01' or '2026-09-24 12:00'). "
    "Default: the latest run only.",
)
@click.option("--stayed", "include_stayed", is_flag=True, help="Also list the entities that stayed on a list.")
@csv_path_option
@raw_csv_option
@format_option()
def changes_command(
    project: Project,
    rules: tuple[str, ...],
    since: str | None,
    include_stayed: bool,
    csv_path: Path | None,
    raw_csv: bool,
    output_format: str,
) -> None:
    """Who entered and who left each punch list, per run (from insp_finding_changes).

    Every `beton run` records the punch lists at its as_of; a run is compared with the rule's
    run before it. Run `beton run` at least twice (e.g. daily) to see changes.
    """
    kinds = ("entered", "exited", "stayed") if include_stayed else ("entered", "exited")
    since_at = parse_as_of(since) if since else None
    everything = read_changes(project)
    frame = select_changes(everything, rules=rules, since=since_at, kinds=kinds, latest_only=True)
    runs = read_runs(project)
    run_count = runs["as_of"].nunique() if not runs.empty else 0
    rows_out = frame.drop(columns=["input_fingerprint"], errors="ignore")
    machine = output_format != "table"
    if machine:
        emit_rows(rows_out, output_format, raw_csv=raw_csv)
    if run_count == 0:
        console.say("no runs recorded yet: run `beton run` first.", stderr=machine)
        return
    if machine:
        if csv_path is not None:
            write_csv(rows_out, csv_path, raw=raw_csv)
            console.say(f"  wrote {esc(csv_path)}", stderr=True)
        return
    specs = [
        ("run (as_of)", {"no_wrap": True}),
        ("rule", {"no_wrap": True}),
        ("change", {"no_wrap": True}),
        ("entity", {"no_wrap": True}),
        ("name / email", {}),
        ("score", {"justify": "right", "no_wrap": True}),
        ("rank", {"justify": "right", "no_wrap": True}),
        ("days on list", {"justify": "right"}),
    ]
    style = {"entered": "green", "exited": "red", "stayed": "dim"}
    rows = []
    for r in frame.to_dict("records"):
        who = next((v for v in (r.get("email"), r.get("name")) if isinstance(v, str) and v), "")
        rows.append(
            [
                Text(format_value(r["as_of"])),
                Text(str(r["rule_key"])),
                Text(str(r["change"]), style=style.get(r["change"], "")),
                Text(str(r["entity_id"])),
                Text(format_value(who)),
                Text(_then_now(r["previous_score"], r["score"])),
                Text(_then_now(r["previous_rank"], r["rank"])),
                Text(format_value(r["days_on_list"])),
            ]
        )
    scope = f"since {esc(since)}" if since else "latest run"
    console.show(console.table(specs, rows, title_markup=f"Punch-list changes [dim]({scope})[/]"))
    counts = frame["change"].value_counts().to_dict() if not frame.empty else {}
    parts = [f"{counts.get(k, 0)} {k}" for k in kinds]
    console.say(f"  {', '.join(parts)}   ({run_count} run(s) recorded)")
    if csv_path is not None:
        write_csv(rows_out, csv_path, raw=raw_csv)
        console.say(f"  wrote {esc(csv_path)}")
