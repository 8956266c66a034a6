"""What the report shows, read from the warehouse: data health, the explore views, the
enriched (or plain) accounts and users, every punch list with its summary and SQL (and, from
the findings history, what entered and left it since the rule's run before; from the daily
rollups, each finding's matching events per day of the window), the trends of every rule's
findings per run, and the sales plays on disk. Nothing here renders; ``render.py`` turns a ``ReportData`` into HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from ..changes import CHANGES_TABLE, RUNS_TABLE
from ..errors import WarehouseError
from ..project import Project
from ..punch_lists import Summary, summarise
from ..rules import Rule, load_rules
from ..warehouse import Connection, connect
from .plays import Plays, find_plays
from .sql import rule_sql

DEFAULT_MAX_ROWS = 5000
TRENDS_TABLE = "mart_rule_trends"
FINDINGS_TABLE = "insp_findings"
# The account and user tables, the enriched one first (the plain one before any `beton enrich`).
ACCOUNT_TABLES = ["dim_accounts_enriched", "dim_accounts"]
USER_TABLES = ["dim_users_enriched", "dim_users"]
# What a finding's sparkline reads (besides the daily rollup: a filtered rule's own, else this).
DAILY_ROLLUP = "int_daily_activity"
SPARKLINE_TABLES = {
    "events": ("staging", "stg_posthog__events"),
    "identities": ("staging", "stg_posthog__person_distinct_ids"),
    "account_keys": ("intermediate", "int_account_keys"),
}

# The explore views (models/explore/) and how each is read: (table, order by, descending).
EXPLORE_TABLES = {
    "health": ("explore_data_health", None, False),
    "daily": ("explore_daily_activity", "event_date", False),
    "volume": ("explore_event_volume", "event_date", False),
    "top_events": ("explore_top_events", "event_rank", False),
    "top_users": ("explore_top_users", "activity_rank", False),
    "top_accounts": ("explore_top_accounts", "usage_rank", False),
    "unknown_events": ("explore_unknown_events", "events", True),
}


@dataclass
class TableRead:
    """Rows of one warehouse table: at most ``limit`` of them, and how many there are."""

    schema: str
    table: str
    frame: pd.DataFrame
    total_rows: int

    @property
    def truncated(self) -> bool:
        return len(self.frame) < self.total_rows


@dataclass
class RunChanges:
    """A punch list at its run against the rule's run before on the same input (from
    insp_finding_changes and mart_rule_trends): the entity ids that entered and that left."""

    previous_as_of: pd.Timestamp
    entered: set[str]
    exited: set[str]
    entered_count: int
    exited_count: int


@dataclass
class Activity:
    """A punch list's findings' daily matching events: one count per day of the rule's window
    (``dates``, oldest first, the as_of date last), per entity id; 0 on days without any."""

    dates: list[date]
    counts: dict[str, list[int]]


@dataclass
class PunchList:
    rule: Rule
    table: TableRead | None
    summary: Summary
    sql: str | None
    sql_note: str | None = None
    changes: RunChanges | None = None  # None: no history, or the rule's first run
    activity: Activity | None = None  # each finding's matching events per day of the window

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.frame if self.table is not None else pd.DataFrame()


@dataclass
class ReportData:
    project: Project
    generated_at: datetime
    explore: dict[str, TableRead | None]
    accounts: TableRead | None
    users: TableRead | None
    punch_lists: list[PunchList]
    plays: Plays
    max_rows: int
    notes: list[str] = field(default_factory=list)
    trends: TableRead | None = None  # mart_rule_trends; None when the history is not built
    backtests: TableRead | None = None  # `beton backtest`'s results; None when none was run

    @property
    def trend_runs(self) -> int:
        """How many runs the trends hold (distinct as_of)."""
        if self.trends is None or self.trends.frame.empty:
            return 0
        return int(self.trends.frame["as_of"].nunique())

    @property
    def as_of(self) -> pd.Timestamp | None:
        health = self.explore.get("health")
        if health is not None and len(health.frame):
            return pd.Timestamp(health.frame["as_of"].iloc[0])
        for punch_list in self.punch_lists:
            if punch_list.table is not None and len(punch_list.frame) and "as_of" in punch_list.frame:
                return pd.Timestamp(punch_list.frame["as_of"].iloc[0])
        return None


class TableReader:
    """Reads for one report over one warehouse connection (opening one per table would cost a
    round trip or three each on ClickHouse). Use as a context manager; close it before dbt runs."""

    def __init__(self, project: Project):
        self.project = project
        self._conn: Connection | None = None
        self._columns: dict[tuple[str, str], list[str]] = {}

    def __enter__(self) -> TableReader:
        layers = ("explore", "marts", "inspections", "intermediate", "staging", "backtest")
        schemas = sorted({self.project.relation(layer, "")[0] for layer in layers})
        self._conn = connect(self.project)
        self._columns = self._conn.columns_of(schemas)
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def exists(self, layer: str, table: str) -> bool:
        return self.project.relation(layer, table) in self._columns

    def read(
        self, layer: str, table: str, *, order_by: str | None = None, descending: bool = False, limit: int | None = None
    ) -> TableRead | None:
        """Up to ``limit`` rows of a table (ordered, nulls last), or None when it does not exist."""
        schema, name = self.project.relation(layer, table)
        columns = self._columns.get((schema, name))
        if columns is None or self._conn is None:
            return None
        frame = self._conn.read_table(
            schema, name, order_by=order_by if order_by in columns else None, descending=descending, limit=limit
        )
        total = len(frame) if limit is None or len(frame) < limit else self._conn.count(schema, name)
        return TableRead(schema, name, frame, total)

    def read_all(self, layer: str, table: str) -> pd.DataFrame:
        read = self.read(layer, table)
        return read.frame if read is not None else pd.DataFrame()

    def daily_matching_events(self, rule: Rule, as_of: pd.Timestamp) -> pd.DataFrame | None:
        """Events that pass the rule's event filters per (entity_id, activity_date) over the
        rule's window at ``as_of`` (its days up to the as_of date; on that date only events up to
        as_of), every entity at once: one query per rule, from the daily rollup the rule reads
        (its filtered rollup when it has property filters), users and accounts resolved as the
        rules resolve them. None when a table it needs is not built.

        For a rule with property filters the as_of date counts that day's filtered rollup, the
        whole day (the raw events' properties are not filtered here)."""
        if self._conn is None:
            return None
        filtered = rule.has_property_filters
        rollup = ("intermediate", rule.filtered_table_name if filtered else DAILY_ROLLUP)
        tables = {"rollup": rollup, **SPARKLINE_TABLES}
        names = {key: self.project.relation(*where) for key, where in tables.items()}
        if any(name not in self._columns for key, name in names.items() if not (filtered and key == "events")):
            return None
        t = {key: self._conn.table(*name) for key, name in names.items()}
        as_of = pd.Timestamp(as_of).to_pydatetime()
        as_of_date = as_of.date()
        params: dict = {
            "first_excluded": as_of_date - timedelta(days=rule.window_days),
            "as_of_date": as_of_date,
            "day_start": datetime.combine(as_of_date, datetime.min.time()),
            "as_of": as_of,
        }
        event_names = list(rule.normalised.get("event_names") or [])
        params.update({f"e{i}": name for i, name in enumerate(event_names)})
        names_sql = (
            f" and event_name in ({', '.join(f':e{i}' for i in range(len(event_names)))})" if event_names else ""
        )
        if filtered:  # the filtered rollup holds the as_of date too
            rows = f"""
                select activity_date, distinct_id, account_key, event_count from {t["rollup"]}
                where activity_date > :first_excluded and activity_date <= :as_of_date{names_sql}"""
        else:
            rows = f"""
                select activity_date, distinct_id, account_key, event_count from {t["rollup"]}
                where activity_date > :first_excluded and activity_date < :as_of_date{names_sql}
                union all
                select cast(event_at as date) as activity_date, distinct_id, account_key, 1 as event_count
                from {t["events"]}
                where event_at >= :day_start and event_at <= :as_of{names_sql}"""
        # nullif: ClickHouse fills an unmatched left join with '' unless join_use_nulls is set
        entity = (
            "coalesce(nullif(identities.person_id, ''), r.distinct_id)"
            if rule.level == "user"
            else "nullif(account_keys.account_id, '')"
        )
        frame = self._conn.query(
            f"""
            select entity_id, activity_date, sum(event_count) as events
            from (
                select {entity} as entity_id, r.activity_date as activity_date, r.event_count as event_count
                from ({rows}
                ) as r
                left join {t["identities"]} as identities on r.distinct_id = identities.distinct_id
                left join {t["account_keys"]} as account_keys on r.account_key = account_keys.account_key
            ) as resolved
            where entity_id is not null
            group by entity_id, activity_date
            """,
            params,
        )
        if len(frame):
            frame["activity_date"] = pd.to_datetime(frame["activity_date"]).dt.date
        return frame

    def latest_changes(self) -> pd.DataFrame | None:
        """The findings that entered or exited a punch list at the as_of the punch lists are at
        (those of insp_findings, and the latest recorded run's for lists now empty), or None
        when the history is not built. Only those runs are read: the history grows every run."""
        names = [self.project.relation("inspections", t) for t in (CHANGES_TABLE, RUNS_TABLE, FINDINGS_TABLE)]
        if self._conn is None or any(name not in self._columns for name in names):
            return None
        changes, runs, findings = (self._conn.table(*name) for name in names)
        frame = self._conn.query(
            f"""
            select rule_key, entity_id, change, as_of
            from {changes}
            where change in ('entered', 'exited')
                and as_of in (
                    select as_of from {findings}
                    union all
                    select as_of from {runs} where computed_at = (select max(computed_at) from {runs})
                )
            """
        )
        if len(frame):  # naive UTC wall time, as the tables read by read() give it
            frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True).dt.tz_localize(None)
        return frame


def _rules_of(project: Project) -> list[Rule]:
    return load_rules(project.rules_dir, known_events=project.known_events(), display_root=project.dir)


def collect(
    project: Project,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    plays_dir: Path | None = None,
    compile_missing_sql: bool = True,
) -> ReportData:
    """Everything the report shows. Missing tables become notes, not errors; a missing
    warehouse is an error (nothing to report)."""
    if project.engine == "duckdb" and not project.duckdb_path.exists():
        raise WarehouseError(f"no warehouse at {project.duckdb_path}: run `beton demo` or `beton run` first")
    notes: list[str] = []
    rules = _rules_of(project)

    with TableReader(project) as reader:
        explore: dict[str, TableRead | None] = {}
        for key, (table, order_by, descending) in EXPLORE_TABLES.items():
            explore[key] = reader.read("explore", table, order_by=order_by, descending=descending, limit=max_rows)
        missing = [EXPLORE_TABLES[k][0] for k, v in explore.items() if v is None]
        if missing:
            notes.append(f"explore views not built ({', '.join(missing)}): run `beton run` to add them")

        accounts = _first_table(reader, ACCOUNT_TABLES, "events_30d", max_rows)
        users = _first_table(reader, USER_TABLES, "events_30d", max_rows)
        if accounts is None or users is None:
            notes.append("marts not built (beton_marts.dim_accounts / dim_users): run `beton run`")

        punch_lists: list[PunchList] = []
        for rule in rules:
            table = reader.read("inspections", rule.model_name, order_by="rank", limit=max_rows)
            if table is None:
                notes.append(f"punch list {rule.model_name} not built: run `beton run`")
                summary = Summary(0, None, None, None)
            else:  # over every finding, also when the table shows only the first max_rows
                summary = summarise(
                    table.frame if not table.truncated else reader.read_all("inspections", rule.model_name)
                )
            punch_list = PunchList(rule, table, summary, None)
            punch_list.activity = _activity(reader, punch_list)
            punch_lists.append(punch_list)

        trends = reader.read("marts", TRENDS_TABLE)
        if trends is not None:
            trends.frame = trends.frame.sort_values(["rule_key", "as_of"], kind="stable").reset_index(drop=True)
            changes = reader.latest_changes()
            if changes is not None:
                default_as_of = _as_of(explore, punch_lists)
                for punch_list in punch_lists:
                    punch_list.changes = _run_changes(punch_list, trends.frame, changes, default_as_of)

        backtests = reader.read("backtest", "backtests")
        if backtests is not None:
            backtests.frame = backtests.frame.sort_values(["rule_key", "as_of"], kind="stable").reset_index(drop=True)

    # the reader is closed: dbt may open the DuckDB file now
    as_of = _as_of_text(explore, punch_lists)
    sql, sql_note = rule_sql(
        project,
        [p.rule.model_name for p in punch_lists if p.table is not None],
        as_of=as_of,
        compile_missing=compile_missing_sql,
    )
    for punch_list in punch_lists:
        punch_list.sql = sql.get(punch_list.rule.model_name)
        if punch_list.sql is None:
            punch_list.sql_note = sql_note or "the compiled SQL is not available: run `beton run`"

    plays = find_plays(
        plays_dir if plays_dir is not None else project.plays_dir,
        accounts.frame if accounts is not None else None,
    )
    return ReportData(
        project=project,
        generated_at=datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None),
        explore=explore,
        accounts=accounts,
        users=users,
        punch_lists=punch_lists,
        plays=plays,
        max_rows=max_rows,
        notes=notes,
        trends=trends,
        backtests=backtests,
    )


def _run_changes(
    punch_list: PunchList, trends: pd.DataFrame, changes: pd.DataFrame, default_as_of: pd.Timestamp | None
) -> RunChanges | None:
    """What entered and left a punch list at its as_of, when the rule has a run before it."""
    frame = punch_list.frame
    as_of = pd.Timestamp(frame["as_of"].iloc[0]) if len(frame) and "as_of" in frame.columns else default_as_of
    if as_of is None or trends.empty:
        return None
    runs = trends[trends["rule_key"] == punch_list.rule.key]
    run = runs[runs["as_of"] == as_of]
    if run.empty or int(run["run_number"].iloc[0]) < 2:
        return None
    previous = runs[runs["run_number"] == int(run["run_number"].iloc[0]) - 1]
    if previous.empty:
        return None
    mine = changes[(changes["rule_key"] == punch_list.rule.key) & (changes["as_of"] == as_of)]
    return RunChanges(
        previous_as_of=pd.Timestamp(previous["as_of"].iloc[0]),
        entered=set(mine.loc[mine["change"] == "entered", "entity_id"].astype(str)),
        exited=set(mine.loc[mine["change"] == "exited", "entity_id"].astype(str)),
        entered_count=int(run["entered"].iloc[0]),
        exited_count=int(run["exited"].iloc[0]),
    )


def _activity(reader: TableReader, punch_list: PunchList) -> Activity | None:
    """The sparklines' numbers: per finding shown, its matching events on each day of the window."""
    frame = punch_list.frame
    entity = "user_id" if punch_list.rule.level == "user" else "account_id"
    if frame.empty or entity not in frame.columns or "as_of" not in frame.columns:
        return None
    as_of = pd.Timestamp(frame["as_of"].iloc[0])
    daily = reader.daily_matching_events(punch_list.rule, as_of)
    if daily is None:
        return None
    days = punch_list.rule.window_days
    dates = [as_of.date() - timedelta(days=days - 1 - i) for i in range(days)]
    position = {d: i for i, d in enumerate(dates)}
    shown = set(frame[entity].astype(str))
    counts = {e: [0] * days for e in shown}
    for entity_id, day, events in daily.itertuples(index=False, name=None):
        key = str(entity_id)
        if key in counts and day in position:
            counts[key][position[day]] += int(events)
    return Activity(dates, counts)


def _first_table(reader: TableReader, tables: list[str], order_by: str, limit: int) -> TableRead | None:
    for table in tables:
        read = reader.read("marts", table, order_by=order_by, descending=True, limit=limit)
        if read is not None:
            return read
    return None


def _as_of(explore: dict[str, TableRead | None], punch_lists: list[PunchList]) -> pd.Timestamp | None:
    frames = [t.frame for t in [explore.get("health")] if t is not None]
    frames += [p.frame for p in punch_lists if p.table is not None]
    for frame in frames:
        if len(frame) and "as_of" in frame.columns and pd.notna(frame["as_of"].iloc[0]):
            return pd.Timestamp(frame["as_of"].iloc[0])
    return None


def _as_of_text(explore: dict[str, TableRead | None], punch_lists: list[PunchList]) -> str | None:
    as_of = _as_of(explore, punch_lists)  # to the microsecond: the SQL shown is the SQL that ran
    if as_of is None:
        return None
    return as_of.strftime("%Y-%m-%d %H:%M:%S.%f" if as_of.microsecond else "%Y-%m-%d %H:%M:%S")


__all__ = [
    "DEFAULT_MAX_ROWS",
    "Activity",
    "PunchList",
    "ReportData",
    "RunChanges",
    "TableRead",
    "TableReader",
    "collect",
]
