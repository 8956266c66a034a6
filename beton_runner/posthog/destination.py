"""Where an ingest writes: the input data model in ``beton_raw``, plus the sync state.

:class:`Destination` is what the exporter needs from a warehouse. :class:`DuckDBDestination`
implements it for a DuckDB file; :class:`~beton_runner.posthog.clickhouse_destination.ClickHouseDestination`
for ClickHouse.

Rows arrive as pages of plain Python lists in the column order of the ``*_COLUMNS`` tuples of
:mod:`beton_runner.posthog.hogql`: ids and names as strings, timestamps as ISO-8601 strings as
PostHog sends them (with or without a UTC offset; without one they are UTC), properties as
JSON text. The destination turns timestamps into naive UTC. An events page carries
``created_at`` as a last column: the exporter's cursor, not stored with the events.

Contract for loss-free, duplicate-free loading:

* :meth:`Destination.write_events` inserts the page's events whose ``uuid`` is not stored yet
  and saves the stream's cursor, so that a run killed at any moment leaves a saved cursor
  that never runs ahead of the stored events. DuckDB does both in one transaction (cursor and
  events always match); ClickHouse, which has no multi-statement transactions, writes the
  page idempotently and then the cursor (it may lag one page behind; the re-read skips what
  is stored), see :mod:`beton_runner.posthog.clickhouse_destination`.
* persons, distinct ids and accounts are snapshots: pages go to a staging table and
  :meth:`Destination.finish_snapshot` swaps it in atomically; a killed run leaves the
  previous snapshot in place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from beton_runner.errors import ConfigError, WarehouseError
from beton_runner.posthog.stream import (  # noqa: F401 - StreamState/Destination re-exported
    STATE_TABLE,
    TABLE_COLUMNS,
    Destination,
    StreamState,
    parse_timestamp,
    time_spans,
)
from beton_runner.profile import shipped
from beton_runner.project import raw_schema
from beton_runner.warehouse.duckdb import DuckDBConnection

# DuckDB's own cache during an ingest; pages are small, so this keeps memory flat.
DEFAULT_MEMORY_LIMIT = "512MB"

_DDL = {
    "events": """
        create table if not exists {s}.events (
            uuid varchar,
            event varchar,
            distinct_id varchar,
            timestamp timestamp,
            properties varchar,
            person_id varchar
        )""",
    "persons": """
        create table if not exists {s}.{t} (
            id varchar,
            created_at timestamp,
            properties varchar,
            is_identified boolean
        )""",
    "person_distinct_id": """
        create table if not exists {s}.{t} (
            person_id varchar,
            distinct_id varchar
        )""",
    "accounts": """
        create table if not exists {s}.{t} (
            account_id varchar,
            name varchar,
            domain varchar,
            arr double,
            segment varchar,
            owner_email varchar,
            properties varchar
        )""",
    STATE_TABLE: """
        create table if not exists {s}.{t} (
            source varchar,
            stream varchar,
            window_start timestamp,
            cursor_ts timestamp,
            cursor_uuid varchar,
            complete boolean,
            updated_at timestamp,
            cursor_column varchar,
            account_group_index integer
        )""",
}
# Columns added after a state table was first created (older files gain them on open).
_STATE_MIGRATIONS = (
    "alter table {s}.{t} add column if not exists cursor_column varchar",
    "alter table {s}.{t} add column if not exists account_group_index integer",
)

# How a staged page becomes rows of the target table (timestamps to naive UTC).
_SELECT_FROM_PAGE = {
    "events": """
        select
            uuid,
            event,
            distinct_id,
            cast(cast(timestamp as timestamptz) as timestamp) as timestamp,
            properties,
            person_id
        from _beton_page""",
    "persons": """
        select
            id,
            cast(cast(created_at as timestamptz) as timestamp) as created_at,
            properties,
            cast(is_identified as boolean) as is_identified
        from _beton_page""",
    "person_distinct_id": "select person_id, distinct_id from _beton_page",
    "accounts": """
        select
            account_id,
            name,
            domain,
            try_cast(arr as double) as arr,
            segment,
            owner_email,
            properties
        from _beton_page""",
}

_PAGE_COLUMNS = {
    # (created_at, the page's 7th column, is only the cursor: the zip in _frame leaves it out)
    "events": ("uuid", "event", "distinct_id", "timestamp", "properties", "person_id"),
    "persons": ("id", "created_at", "properties", "is_identified"),
    # the exporter reads person_distinct_ids as (distinct_id, person_id)
    "person_distinct_id": ("distinct_id", "person_id"),
    "accounts": TABLE_COLUMNS["accounts"],
}


def _sql(con: DuckDBConnection, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    """Run one statement and return its (drained) rows."""
    return con.rows(sql, list(params or []))


def _frame(table: str, rows: Sequence[Sequence[Any]]):
    """A page as a pandas DataFrame of object columns, for DuckDB to scan.

    PostHog sends one type per column, so only the first row decides whether a column needs
    converting (properties as objects instead of JSON text, non-string ids, 0/1 booleans)."""
    import pandas as pd

    columns = _PAGE_COLUMNS[table]
    data = {}
    for name, values in zip(columns, zip(*rows)):
        sample = next((v for v in values if v is not None), None)
        if name == "is_identified":
            values = [None if v is None else bool(v) for v in values]
        elif sample is not None and not isinstance(sample, str):
            if name == "properties":
                values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
            else:
                values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _stored_filter(rows: Sequence[Sequence[Any]]) -> tuple[str, list[datetime]]:
    """``(sql, params)``: the stored events at the page's own timestamps (see
    :func:`beton_runner.posthog.stream.time_spans`)."""
    spans = time_spans([parse_timestamp(r[3]) for r in rows])
    sql = " or ".join("timestamp between ? and ?" for _ in spans)
    return f"({sql})", [t for span in spans for t in span]


class DuckDBDestination:
    """The input data model in a DuckDB file, schema ``beton_raw``."""

    name = "duckdb"

    def __init__(self, path: str | Path, schema: str | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT):
        self.path = Path(path)
        self.schema = schema or raw_schema(shipped("duckdb").schema)
        self.memory_limit = memory_limit
        self._con: DuckDBConnection | None = None
        self._source: str | None = None

    def describe(self) -> str:
        return f"DuckDB {self.path} (schema {self.schema})"

    @property
    def con(self) -> DuckDBConnection:
        if self._con is None:
            raise WarehouseError("the DuckDB destination is not open")
        return self._con

    def open(self, source_key: str) -> None:
        if self.path.parent and not self.path.parent.exists():
            raise ConfigError(
                f"The folder for the DuckDB file {self.path} does not exist; create it or set "
                "--duckdb / BETON_DUCKDB_PATH to another path."
            )
        self._con = DuckDBConnection(
            self.path,
            write=True,
            create=True,
            settings={
                "TimeZone": "UTC",
                "enable_progress_bar": "false",  # the ingest shows its own progress
                "memory_limit": self.memory_limit,
            },
        )
        con = self._con
        _sql(con, f"create schema if not exists {self.schema}")
        for table, ddl in _DDL.items():
            _sql(con, ddl.format(s=self.schema, t=table))
        for migration in _STATE_MIGRATIONS:
            _sql(con, migration.format(s=self.schema, t=STATE_TABLE))
        others = _sql(
            con,
            f"select distinct source from {self.schema}.{STATE_TABLE} where source <> ?",
            [source_key],
        )
        if others:
            raise ConfigError(
                f"{self.path} already holds data from another PostHog project ({others[0][0]}); "
                f"this ingest is for {source_key}. Use a separate DuckDB file per project "
                "(--duckdb PATH or BETON_DUCKDB_PATH)."
            )
        self._source = source_key

    # -- state ---------------------------------------------------------------------------------

    def get_state(self, stream: str) -> StreamState | None:
        rows = _sql(
            self.con,
            f"select window_start, cursor_ts, cursor_uuid, complete, cursor_column, account_group_index "
            f"from {self.schema}.{STATE_TABLE} where source = ? and stream = ?",
            [self._source, stream],
        )
        if not rows:
            return None
        row = rows[0]
        return StreamState(stream, row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def _save_state(self, con, state: StreamState) -> None:
        _sql(
            con,
            f"delete from {self.schema}.{STATE_TABLE} where source = ? and stream = ?",
            [self._source, state.stream],
        )
        _sql(
            con,
            f"insert into {self.schema}.{STATE_TABLE} (source, stream, window_start, cursor_ts, "
            "cursor_uuid, complete, updated_at, cursor_column, account_group_index) "
            "values (?, ?, ?, ?, ?, ?, now()::timestamp, ?, ?)",
            [
                self._source,
                state.stream,
                state.window_start,
                state.cursor_ts,
                state.cursor_uuid,
                state.complete,
                state.cursor_column,
                state.account_group_index,
            ],
        )

    def save_state(self, state: StreamState) -> None:
        con = self.con
        _sql(con, "begin transaction")
        try:
            self._save_state(con, state)
            _sql(con, "commit")
        except BaseException:
            _sql(con, "rollback")
            raise

    # -- events --------------------------------------------------------------------------------

    def write_events(self, rows: Sequence[Sequence[Any]], state: StreamState) -> int:
        con = self.con
        frame = _frame("events", rows) if rows else None
        _sql(con, "begin transaction")
        try:
            inserted = 0
            if frame is not None:
                with con.registered("_beton_page", frame):
                    # PostHog itself treats a uuid at another timestamp as another event, so a
                    # duplicate can only sit at the page's own timestamps: looking there only
                    # keeps each page's cost flat however large the table grows.
                    stored_at, bounds = _stored_filter(rows)
                    inserted = _sql(
                        con,
                        f"""
                        insert into {self.schema}.events
                        with page as ({_SELECT_FROM_PAGE["events"]}),
                        stored as (
                            select uuid
                            from {self.schema}.events
                            where {stored_at}
                                and uuid in (select uuid from _beton_page)
                        )
                        select page.*
                        from page
                        where page.uuid is not null
                            and page.uuid not in (select uuid from stored)
                        qualify row_number() over (partition by page.uuid order by page.timestamp) = 1
                        """,
                        bounds,
                    )[0][0]
            self._save_state(con, state)
            _sql(con, "commit")
        except BaseException:
            _sql(con, "rollback")
            raise
        return int(inserted)

    # -- snapshots -----------------------------------------------------------------------------

    def _staging(self, table: str) -> str:
        return f"{self.schema}._posthog_staging_{table}"

    def start_snapshot(self, table: str) -> None:
        _sql(
            self.con,
            f"create or replace table {self._staging(table)} as select * from {self.schema}.{table} limit 0",
        )

    def write_snapshot(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        con = self.con
        with con.registered("_beton_page", _frame(table, rows)):
            _sql(con, f"insert into {self._staging(table)} {_SELECT_FROM_PAGE[table]}")

    @staticmethod
    def _key(table: str) -> str:
        return "distinct_id" if table == "person_distinct_id" else TABLE_COLUMNS[table][0]

    def finish_snapshot(self, table: str) -> int:
        return self._swap_in(table, f"delete from {self.schema}.{table}", [])

    def merge_snapshot(self, table: str, remove: Sequence[str] = ()) -> int:
        key = self._key(table)
        clear = (
            f"delete from {self.schema}.{table} "
            f"where {key} in (select {key} from {self._staging(table)}) or list_contains(?::varchar[], {key})"
        )
        return self._swap_in(table, clear, [list(remove)], remove)

    def _swap_in(self, table: str, clear: str, params: list[Any], remove: Sequence[str] = ()) -> int:
        """In one transaction: ``clear`` the stored rows, add the staged ones (one per key, none
        keyed in ``remove``), drop the staging table."""
        con = self.con
        key = self._key(table)
        _sql(con, "begin transaction")
        try:
            _sql(con, clear, params)
            _sql(
                con,
                f"insert into {self.schema}.{table} select * from {self._staging(table)} "
                f"where not list_contains(?::varchar[], {key}) "
                f"qualify row_number() over (partition by {key}) = 1",
                [list(remove)],
            )
            _sql(con, f"drop table {self._staging(table)}")
            _sql(con, "commit")
        except BaseException:
            _sql(con, "rollback")
            raise
        return int(_sql(con, f"select count(*) from {self.schema}.{table}")[0][0])

    def discard_snapshot(self, table: str) -> None:
        _sql(self.con, f"drop table if exists {self._staging(table)}")

    def accounts_from_property(self, prop: str) -> int:
        """One account per distinct value of ``prop`` (trimmed, lowercased) on persons/events."""
        con = self.con
        path = "$." + json.dumps(prop) if not prop.isidentifier() else f"$.{prop}"
        _sql(con, "begin transaction")
        try:
            _sql(con, f"delete from {self.schema}.accounts")
            _sql(
                con,
                f"""
                insert into {self.schema}.accounts
                with values_seen as (
                    select case when json_valid(properties) then json_extract_string(properties, ?) end as value
                    from {self.schema}.persons
                    union all
                    select case when json_valid(properties) then json_extract_string(properties, ?) end as value
                    from {self.schema}.events
                ),
                cleaned as (
                    select distinct lower(trim(value)) as account_id
                    from values_seen
                    where nullif(trim(value), '') is not null
                )
                select
                    account_id,
                    account_id as name,
                    account_id as domain,
                    null as arr,
                    null as segment,
                    null as owner_email,
                    json_object('source', 'posthog_property', 'property', ?) as properties
                from cleaned
                order by account_id
                """,
                [path, path, prop],
            )
            _sql(con, "commit")
        except BaseException:
            _sql(con, "rollback")
            raise
        return int(_sql(con, f"select count(*) from {self.schema}.accounts")[0][0])

    # -- misc ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {
            table: int(_sql(self.con, f"select count(*) from {self.schema}.{table}")[0][0]) for table in TABLE_COLUMNS
        }

    def close(self) -> None:
        if self._con is not None:
            self._con.checkpoint()  # best effort; the WAL replays on the next open
            self._con.close()
            self._con = None
