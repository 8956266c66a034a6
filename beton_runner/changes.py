"""Reading punch-list changes (``insp_finding_changes``) out of the warehouse.

The changes table is built by dbt from the findings history (models/inspections/history/):
per run, per rule, per entity, ``entered``, ``exited`` or ``stayed``. This module selects from
it what `beton changes` prints and what `beton deliver` sends.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from .errors import ConfigError
from .project import Project
from .warehouse import read_built_table

CHANGES_TABLE = "insp_finding_changes"
RUNS_TABLE = "insp_rule_runs"
CHANGE_ORDER = {"entered": 0, "exited": 1, "stayed": 2}


def read_changes(project: Project) -> pd.DataFrame:
    """Every change, in (as_of, rule, change, rank) order."""
    frame = read_built_table(project, "inspections", CHANGES_TABLE)
    return sort_changes(frame)


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
