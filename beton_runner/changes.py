"""Reading punch-list changes (``insp_finding_changes``) out of the warehouse.

The changes table is built by dbt from the findings history (models/inspections/history/):
per run, per rule, per entity, ``entered``, ``exited`` or ``stayed``. This module selects from
it what `beton changes` prints and what `beton deliver` sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from .errors import ConfigError
from .project import Project
from .warehouse import connect, read_built_table, require

CHANGES_TABLE = "insp_finding_changes"
RUNS_TABLE = "insp_rule_runs"
CHANGE_ORDER = {"entered": 0, "exited": 1, "stayed": 2}


def read_changes(project: Project) -> pd.DataFrame:
    """Every change, in (as_of, rule, change, rank) order."""
    frame = read_built_table(project, "inspections", CHANGES_TABLE)
    return sort_changes(frame)


@dataclass(frozen=True)
class LatestRun:
    """The latest recorded run (the as_of of the newest dbt invocation's runs) and what changed at
    it; ``first``: no run is recorded at an earlier as_of."""

    as_of: pd.Timestamp
    first: bool
    entered: int
    exited: int


def latest_run(project: Project) -> LatestRun | None:
    """What `beton run` says after a build: counted in the warehouse, in one query, so it costs
    the same after a year of daily runs as after the first (the history tables only grow).
    None when no run is recorded."""
    with connect(project) as conn:
        runs = conn.table(*require(conn, project, "inspections", RUNS_TABLE, "run `beton run` first"))
        changes = conn.table(*require(conn, project, "inspections", CHANGES_TABLE, "run `beton run` first"))
        latest = f"(select max(as_of) from {runs} where computed_at = (select max(computed_at) from {runs}))"
        row = conn.rows(
            f"select (select count(*) from {runs}) as runs, {latest} as as_of, "
            f"(select min(as_of) from {runs}) as first_as_of, "
            f"(select count(*) from {changes} where as_of = {latest} and change = 'entered') as entered, "
            f"(select count(*) from {changes} where as_of = {latest} and change = 'exited') as exited"
        )[0]
    recorded, as_of, first_as_of, entered, exited = row
    if not recorded:
        return None
    return LatestRun(pd.Timestamp(as_of), as_of == first_as_of, int(entered), int(exited))


def read_runs(project: Project) -> pd.DataFrame:
    return read_built_table(project, "inspections", RUNS_TABLE).sort_values(["as_of", "rule_key"], kind="stable")


def sort_changes(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame.reset_index(drop=True)
    order = frame["change"].map(CHANGE_ORDER).fillna(9)
    rank = frame["rank"].where(frame["rank"].notna(), frame["previous_rank"]).astype(float)
    keyed = frame.assign(_change=order, _rank=rank)
    keyed = keyed.sort_values(["as_of", "rule_key", "_change", "_rank", "entity_id"], kind="stable")
    return keyed.drop(columns=["_change", "_rank"]).reset_index(drop=True)


def select_changes(
    frame: pd.DataFrame,
    *,
    rules: tuple[str, ...] = (),
    since: datetime | None = None,
    kinds: tuple[str, ...] = ("entered", "exited"),
    latest_only: bool = False,
) -> pd.DataFrame:
    """The changes of these rules (all when empty) and kinds, of runs after ``since`` (or of the
    latest run only)."""
    if rules:
        known = set(frame["rule_key"]) if not frame.empty else set()
        unknown = [r for r in rules if r not in known]
        if unknown and not frame.empty:
            raise ConfigError(
                f"no changes recorded for rule(s) {', '.join(unknown)}; rules with history: "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        frame = frame[frame["rule_key"].isin(rules)]
    if since is not None:
        frame = frame[frame["as_of"] > pd.Timestamp(since)]
    elif latest_only and not frame.empty:
        frame = frame[frame["as_of"] == frame["as_of"].max()]
    frame = frame[frame["change"].isin(kinds)]
    return frame.reset_index(drop=True)
