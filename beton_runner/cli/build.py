"""`beton run` (check, compile, `dbt build`) and `beton demo` (all of it on the mock data)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pandas as pd

from ..changes import CHANGES_TABLE, latest_run
from ..csvfile import write_csv
from ..dbt import DbtResult, run_dbt
from ..enrich import SimulationProvider, run_enrichment
from ..errors import ConfigError
from ..export import ExportSummary, export_all
from ..project import Project, model_name
from ..punch_lists import read_punch_list
from ..rules import Rule
from ..warehouse import read_built_table
from . import console
from .console import esc
from .export import print_summary
from .options import as_of_option, dbt_vars, out_option, raw_csv_option, vars_option, warehouse_options
from .progress import dbt_progress
from .punch_list import print_punch_list
from .rules import compiled_rules
from .shell import command


def build(
    project: Project,
    *,
    select: tuple[str, ...] = (),
    vars: dict | None = None,
    full_refresh: bool = False,
    quiet: bool = False,
) -> DbtResult:
    """`dbt build` (models and their tests) with a progress bar; an empty selection is an error."""
    extra = ["--full-refresh"] if full_refresh else []
    with dbt_progress("dbt build", quiet=quiet) as on_event:
        result = run_dbt(project, ["build"], vars=vars, select=select, extra=extra, on_event=on_event)
    if not result.node_results:
        raise ConfigError(
            f"--select {' '.join(select)} matched no model, seed or test, so nothing was built; select dbt nodes "
            "(e.g. insp_pql_power_users+, tag:beton_inspection) or rule keys (e.g. pql_power_users)"
        )
    return result


_GRAPH_PREFIX = re.compile(r"^(@|\d*\+)?")
_GRAPH_SUFFIX = re.compile(r"(\+\d*)?$")


def rule_selectors(select: tuple[str, ...], rules: list[Rule]) -> tuple[str, ...]:
    """dbt selectors, where a rule key (``pql_power_users``, with dbt's graph operators around it,
    e.g. ``pql_power_users+``) names the rule's punch-list model ``insp_pql_power_users``."""
    models = {rule.key: rule.model_name for rule in rules}

    def translate(atom: str) -> str:
        prefix = _GRAPH_PREFIX.match(atom).group(0)
        suffix = _GRAPH_SUFFIX.search(atom[len(prefix) :]).group(0)
        core = atom[len(prefix) : len(atom) - len(suffix)]
        return f"{prefix}{models[core]}{suffix}" if core in models else atom

    return tuple(" ".join(",".join(translate(a) for a in part.split(",")) for part in s.split()) for s in select)


# The inspections models that are not one rule's punch list.
NOT_PUNCH_LISTS = frozenset({"insp_findings", "insp_rule_runs", "insp_finding_history", "insp_finding_changes"})


def _built_summary(result: DbtResult, project: Project) -> str:
    models = result.built("model")
    punch_lists = sorted(
        r.unique_id.split(".")[-1]
        for r in models
        if r.unique_id.split(".")[-1].startswith("insp_") and r.unique_id.split(".")[-1] not in NOT_PUNCH_LISTS
    )
    tests = result.built("test")
    named = f" ({', '.join(punch_lists)})" if 0 < len(punch_lists) <= 3 else ""
    return (
        f"built {len(punch_lists)} punch list(s) on {project.target}{named}: {len(models)} model(s) built, "
        f"{len(tests)} test(s) passed."
    )


def _rebuilt(result: DbtResult, table: str) -> bool:
    """Whether this build rebuilt the model of ``table`` (a table left by an earlier run describes
    other data)."""
    return any(r.unique_id.split(".")[-1] == model_name(table) for r in result.built("model"))


def _rebuilt_row(project: Project, result: DbtResult, layer: str, model: str) -> pd.Series | None:
    """The one row of a one-row model (a run's facts), when this build rebuilt it. None when it was
    not rebuilt or is empty."""
    if not _rebuilt(result, model):
        return None
    frame = read_built_table(project, layer, model)
    return None if frame.empty else frame.iloc[0]


def data_health_notes(project: Project, result: DbtResult) -> list[str]:
    """What the run's data-health facts say a user must know, read through the warehouse layer
    after the build — only when this build rebuilt explore_data_health (a stale row from an
    earlier run would describe other data). Events after as_of are counted, never read by a rule:
    many of them mean as_of is too early or devices' clocks are wrong."""
    row = _rebuilt_row(project, result, "explore", "explore_data_health")
    if row is None:
        return []
    notes = []
    after = int(row["events_after_as_of"] or 0)
    if after:
        as_of = str(row["as_of"])[:19]
        notes.append(
            f"{after:,} event(s) after as_of {as_of} UTC ignored (timestamps in the future: a clock "
            f"is off, or --as-of is too early); they count once as_of reaches them."
        )
    return notes


@command("run")
@warehouse_options
@click.option(
    "--select",
    "-s",
    "select",
    multiple=True,
    help="dbt node selection or rule keys (repeatable), e.g. -s pql_power_users -s tag:beton_inspection",
)
@as_of_option
@vars_option
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
def run_command(
    project: Project, select: tuple[str, ...], as_of: str | None, raw_vars: str | None, full_refresh: bool
) -> None:
    """Check and compile the rules, then `dbt build` (models and their tests)."""
    rules = compiled_rules(project)
    result = build(
        project, select=rule_selectors(select, rules), vars=dbt_vars(as_of, raw_vars), full_refresh=full_refresh
    )
    for message in data_health_notes(project, result):
        console.note(message)
    console.ok(esc(_built_summary(result, project)))
    note = dropped_events_note(project, result)
    if note:
        console.note(note)
    note = changes_note(project, result)
    if note:
        console.say(note)


def changes_note(project: Project, result: DbtResult) -> str | None:
    """What changed on the punch lists at this run (insp_finding_changes), when this build rebuilt
    it: "changes at <as_of>: 3 entered, 1 exited (`beton changes`)"."""
    if not _rebuilt(result, CHANGES_TABLE):
        return None
    latest = latest_run(project)
    if latest is None:
        return None
    when = f"{str(latest.as_of)[:19]} UTC"
    if latest.first:  # also a backfill before every recorded run
        return f"  history: first recorded run at {when}; later runs list who entered and left (`beton changes`)."
    return (
        f"  changes at {when}: {latest.entered} entered, {latest.exited} exited since the run before (`beton changes`)."
    )


def dropped_events_note(project: Project, result: DbtResult) -> str | None:
    """What the staging left out of the events input (null keys, repeated uuids), read from
    stg_posthog__event_quality when this build rebuilt it; None when nothing was dropped. The
    punch lists are right without those rows, but a load that sends them is worth knowing about."""
    row = _rebuilt_row(project, result, "staging", "stg_posthog__event_quality")
    if row is None:
        return None
    schema, table = project.relation("staging", "stg_posthog__event_quality")
    null_key, duplicates = int(row["null_key_rows"]), int(row["duplicate_rows"])
    if not null_key and not duplicates:
        return None
    parts = []
    if null_key:
        which = [
            f"{int(row[f'null_{c}_rows'])} without {c.replace('_', ' ')}"
            for c in ("uuid", "event", "distinct_id", "timestamp")
            if int(row[f"null_{c}_rows"])
        ]
        parts.append(f"{null_key} with a null key ({', '.join(which)})")
    if duplicates:
        parts.append(f"{duplicates} repeating an event uuid already kept")
    return (
        f"left out {null_key + duplicates} of {int(row['input_rows'])} input event row(s): {'; '.join(parts)}. "
        f'Counts in {schema}.{table} and explore_data_health; see docs/rules.md, "Events".'
    )


@command("demo")
@warehouse_options(default_target="duckdb")
@out_option("output/ in the project")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Rows shown per punch list.")
@raw_csv_option
def demo(project: Project, out: Path | None, limit: int, raw_csv: bool) -> None:
    """Build everything with the built-in mock data (DuckDB unless --target) and show every punch list,
    then enrich, write the sales plays and export everything."""
    rules = compiled_rules(project)
    where = project.duckdb_path if project.engine == "duckdb" else f"ClickHouse databases {project.schema}_*"
    console.say(f"Building {len(rules)} inspection rule(s) on the mock data into {esc(where)} …")
    build(project, vars={"beton_input": "mock"}, quiet=True)
    out_dir = out or project.dir / "output"
    for rule in rules:
        frame = read_punch_list(project, rule)
        console.say()
        print_punch_list(rule, frame, limit=limit)
        path = write_csv(frame, out_dir / "punch_lists" / f"{rule.key}.csv", raw=raw_csv)
        console.say(f"  csv: {esc(path)}")
    console.say()
    console.ok(f"{len(rules)} punch list(s) built; CSVs in {esc(out_dir / 'punch_lists')}.")
    demo_extras(project, out_dir, raw_csv=raw_csv)


def demo_extras(project: Project, out_dir: Path, *, raw_csv: bool = False) -> ExportSummary:
    """The end of `beton demo`, what a rep gets: every account enriched (simulation) and the
    enriched marts rebuilt, the sales plays into ``<out_dir>/plays`` (with the default out_dir,
    output/, where `beton report` looks for them: ``Project.plays_dir``), and the rest exported
    to ``<out_dir>/export``."""
    result = run_enrichment(project, SimulationProvider(), refresh_marts=True, vars={"beton_input": "mock"})
    console.say()
    console.say(
        f"Enriched {result.accounts} account(s) and {result.users} person(s) with simulated CRM data "
        f"({result.intent_signals} intent signals, {result.tech_items} tech-stack entries)."
    )
    summary = export_all(
        project, out_dir / "export", warn_fn=console.warn, raw_csv=raw_csv, plays_dir=out_dir / "plays"
    )
    print_summary(summary)
    return summary
