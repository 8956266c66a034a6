"""The input data model in ClickHouse: database ``<CLICKHOUSE_DATABASE>_raw`` (``beton_raw``).

Implements :class:`beton_runner.posthog.destination.Destination` with the same guarantees as
the DuckDB destination, without multi-statement transactions, which ClickHouse does not have.

Events: idempotent pages, then the cursor
    ``write_events`` (1) reads the uuids already stored at the page's own timestamps (a few
    primary-key range reads: the table is ``ORDER BY (timestamp, uuid)``), (2) inserts the
    page's other events, and only then (3) saves the stream's cursor. Writing a page is
    idempotent, so the order makes every crash harmless: killed before (3), the saved cursor
    lags behind what is stored, the next run re-reads from that older cursor (minus the
    overlap) and step (1) skips what is already there. A page insert that dies half-way is the
    same case. Nothing is ever stored beyond a saved cursor without being re-read, and nothing
    is stored twice. Readers (dbt) see exact data at every moment, with no ``FINAL``.

    The table's engine is ``ReplacingMergeTree`` on that same key, only as a safety net: if two
    ingests into one database ever ran at once, both could pass step (1) for the same page;
    ClickHouse would then collapse their identical rows when it merges parts. It costs nothing
    when there are no duplicates. ``ReplacingMergeTree`` *alone* (with ``FINAL`` reads) was not
    chosen: rows are only de-duplicated when parts merge, so every reader -- the dbt staging
    models, BI tools, ad-hoc SQL -- would need ``FINAL`` on the largest table to be exact.

Sync state: one row per save (``ReplacingMergeTree(version)``, version increasing), read as
    the latest version, so saving it is a single atomic one-row insert.

Persons, distinct ids, accounts: snapshots
    Pages go to a staging table; ``finish_snapshot`` copies it, one row per key, into a fresh
    table and swaps that in with ``EXCHANGE TABLES`` (atomic; needs an Atomic, Replicated or
    Shared database engine, the default since ClickHouse 20.10). A killed run leaves the
    previous snapshot in place; leftover staging tables are dropped by the next run.

The connection is a :class:`beton_runner.warehouse.clickhouse.ClickHouseConnection` built from
the same ``CLICKHOUSE_*`` variables as ``profiles.yml``. The password never appears in a message.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from beton_runner.errors import BetonError, ConfigError, WarehouseError
from beton_runner.posthog.stream import (
    STATE_TABLE,
    TABLE_COLUMNS,
    StreamState,
    parse_timestamp,
    time_spans,
)
from beton_runner.profile import shipped
from beton_runner.project import raw_schema
from beton_runner.warehouse.base import EngineError
from beton_runner.warehouse.clickhouse import ClickHouseConnection, ClusterDDL, cluster_from_env, settings_from_env

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UTC = timezone.utc
_TS = "DateTime64(6, 'UTC')"

# Column types of each table, in TABLE_COLUMNS order (what dbt's staging models read).
COLUMN_TYPES: dict[str, tuple[str, ...]] = {
    "events": ("String", "String", "String", _TS, "String", "Nullable(String)"),
    "persons": ("String", f"Nullable({_TS})", "String", "Bool"),
    "person_distinct_id": ("String", "String"),
    "accounts": (
        "String",
        "Nullable(String)",
        "Nullable(String)",
        "Nullable(Float64)",
        "Nullable(String)",
        "Nullable(String)",
        "String",
    ),
}
_ENGINES = {
    # ReplacingMergeTree: a safety net against concurrent ingests (see the module docstring)
    "events": ("ReplacingMergeTree", "(timestamp, uuid)"),
    "persons": ("MergeTree", "id"),
    "person_distinct_id": ("MergeTree", "distinct_id"),
    "accounts": ("MergeTree", "account_id"),
}
SNAPSHOT_KEYS = {"persons": "id", "person_distinct_id": "distinct_id", "accounts": "account_id"}
_STATE_COLUMNS = (
    "source",
    "stream",
    "window_start",
    "cursor_ts",
    "cursor_uuid",
    "complete",
    "updated_at",
    "version",
    "cursor_column",
    "account_group_index",
)
_STATE_TYPES = (
    "String",
    "String",
    f"Nullable({_TS})",
    f"Nullable({_TS})",
    "Nullable(String)",
    "Bool",
    _TS,
    "UInt64",
    "Nullable(String)",
    "Nullable(Int32)",
)


def raw_database(environ: dict[str, str] | None = None) -> str:
    """``<schema>_raw`` of the shipped profile's clickhouse target (CLICKHOUSE_DATABASE): where
    dbt reads the input data model on ClickHouse (decided by
    :func:`beton_runner.project.raw_schema`; `beton ingest posthog` passes its project's)."""
    return raw_schema(shipped("clickhouse", environ).schema)


def _utc(value: Any) -> datetime | None:
    """A PostHog timestamp as an aware datetime (naive ones are UTC; clickhouse-connect would
    read a naive datetime as local time)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)
    return parse_timestamp(value).replace(tzinfo=_UTC)


def _ts_literal(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_stored(value: Any) -> datetime | None:
    """A timestamp read back with toString() (UTC text) as naive UTC."""
    if value is None or value == "":
        return None
    return datetime.fromisoformat(str(value))


# Page columns -> table columns. PostHog sends one type per column, so the common case (all
# strings) is a plain copy; anything else is converted value by value.
def _strings(values: Sequence[Any], null: str | None) -> list[Any]:
    if all(type(v) is str for v in values):
        return list(values)
    return [null if v is None else v if isinstance(v, str) else str(v) for v in values]


def _json_texts(values: Sequence[Any]) -> list[str]:
    if all(type(v) is str for v in values):
        return list(values)
    return ["{}" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]


def _timestamps(values: Sequence[Any]) -> list[datetime | None]:
    return [_utc(v) for v in values]


def _floats(values: Sequence[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        try:
            out.append(None if v is None or v == "" else float(v))
        except (TypeError, ValueError):
            out.append(None)
    return out


def _bools(values: Sequence[Any]) -> list[bool]:
    return [v.strip().lower() in ("1", "true", "t", "yes") if isinstance(v, str) else bool(v) for v in values]


def _nonnull(values: Sequence[Any]) -> list[str]:
    return _strings(values, "")


def _nullable(values: Sequence[Any]) -> list[str | None]:
    return _strings(values, None)


# For each table: (index of the page column, converter) per table column (TABLE_COLUMNS order).
_FROM_PAGE: dict[str, tuple[tuple[int, Callable[[Sequence[Any]], list[Any]]], ...]] = {
    # page: uuid, event, distinct_id, timestamp, properties, person_id
    "events": (
        (0, _nonnull),
        (1, _nonnull),
        (2, _nonnull),
        (3, _timestamps),
        (4, _json_texts),
        (5, _nullable),
    ),
    # page: id, created_at, properties, is_identified
    "persons": ((0, _nonnull), (1, _timestamps), (2, _json_texts), (3, _bools)),
    # page: distinct_id, person_id (as the exporter reads them)
    "person_distinct_id": ((1, _nonnull), (0, _nonnull)),
    # page: account_id, name, domain, arr, segment, owner_email, properties
    "accounts": (
        (0, _nonnull),
        (1, _nullable),
        (2, _nullable),
        (3, _floats),
        (4, _nullable),
        (5, _nullable),
        (6, _json_texts),
    ),
}


def _columns(table: str, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """A page of rows as the table's columns (column-oriented, as the driver inserts them)."""
    page = list(zip(*rows))
    return [convert(page[i]) for i, convert in _FROM_PAGE[table]]


def _take(columns: list[list[Any]], keep: list[int]) -> list[list[Any]]:
    return [[column[i] for i in keep] for column in columns]


class ClickHouseDestination:
    """The input data model in a ClickHouse database (default ``beton_raw``)."""

    name = "clickhouse"

    def __init__(
        self,
        database: str | None = None,
        environ: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
        cluster: str | None = None,
    ):
        self.database = database or raw_database(environ)
        if not _IDENTIFIER.match(self.database):
            raise ConfigError(
                f"'{self.database}' is not a usable ClickHouse database name: set "
                "CLICKHOUSE_DATABASE to letters, digits and underscores only."
            )
        self.cluster = cluster_from_env(environ) if cluster is None else cluster
        self.ddl = ClusterDDL(self.cluster)
        self._settings = settings or settings_from_env(environ)
        self._conn: ClickHouseConnection | None = None
        self._source: str | None = None
        self._version = 0

    # -- connection and errors -------------------------------------------------------------------

    def describe(self) -> str:
        s = self._settings
        scheme = "https" if s.get("secure") else "http"
        return f"ClickHouse {scheme}://{s['host']}:{s['port']} (database {self.database})"

    def _scrub(self, text: str) -> str:
        password = self._settings.get("password") or ""
        if password:
            text = text.replace(password, "***")
        return text

    def _fail(self, what: str, exc: BaseException) -> WarehouseError:
        if isinstance(exc, EngineError):
            detail = exc.detail
        else:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return WarehouseError(
            self._scrub(
                f"ClickHouse failed while {what} in database {self.database} "
                f"({self._settings['host']}:{self._settings['port']}): {detail[:500]}. What was "
                "stored before stays consistent; run the ingest again to continue."
            )
        )

    def _do(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except EngineError as exc:  # the connection's own error: add what the ingest was doing
            raise self._fail(what, exc) from None
        except BetonError:
            raise
        except Exception as exc:  # noqa: BLE001 - many kinds; none may carry the password
            raise self._fail(what, exc) from None

    @property
    def connection(self) -> ClickHouseConnection:
        if self._conn is None:
            raise WarehouseError("the ClickHouse destination is not open")
        return self._conn

    def _command(self, sql: str, parameters: dict[str, Any] | None = None, what: str = "") -> Any:
        return self._do(
            what or f"running `{' '.join(sql.split())[:60]}`",
            lambda: self.connection.execute(sql, parameters),
        )

    def _rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        return self._do("reading", lambda: self.connection.rows(sql, parameters))

    def _insert(self, table: str, data: list[list[Any]], columns, types, column_oriented: bool = False) -> None:
        self._do(
            f"writing {table}",
            lambda: self.connection.insert_rows(
                self.database, table, data, columns, types, column_oriented=column_oriented
            ),
        )

    def _engine(self, table: str) -> str:
        """The engine clause of an input table (Replicated on a cluster)."""
        name, order_by = _ENGINES[table]
        return f"{self.ddl.engine(name)} order by {order_by}"

    def _t(self, table: str) -> str:
        return f"`{self.database}`.`{table}`"

    def open(self, source_key: str) -> None:
        s = self._settings
        try:
            self._conn = ClickHouseConnection(
                s,
                write=True,
                options={
                    "compress": True,  # pages of JSON properties shrink several times on the wire
                    "autogenerate_session_id": False,  # no session state needed; no session locks
                    "connect_timeout": 10,
                    "send_receive_timeout": 300,
                },
                cluster=self.cluster,
            )
        except WarehouseError:  # its message names no password; say it in the ingest's terms
            raise WarehouseError(
                self._scrub(
                    f"Could not connect to ClickHouse at {s['host']}:{s['port']} "
                    f"(secure={s['secure']}). Check CLICKHOUSE_HOST, "
                    "CLICKHOUSE_PORT, CLICKHOUSE_USER and CLICKHOUSE_PASSWORD."
                )
            ) from None
        self._command(self.ddl.create_database(self.database), what="creating the database")
        for table, columns in TABLE_COLUMNS.items():
            cols = ", ".join(f"`{c}` {t}" for c, t in zip(columns, COLUMN_TYPES[table]))
            self._command(
                self.ddl.create_table(self._t(table), cols, self._engine(table)),
                what=f"creating table {table}",
            )
        cols = ", ".join(f"`{c}` {t}" for c, t in zip(_STATE_COLUMNS, _STATE_TYPES))
        self._command(
            self.ddl.create_table(
                self._t(STATE_TABLE),
                cols,
                f"{self.ddl.engine('ReplacingMergeTree', 'version')} order by (source, stream)",
            ),
            what=f"creating table {STATE_TABLE}",
        )
        # a state table made by an older version gains the columns added since
        for column in ("`cursor_column` Nullable(String)", "`account_group_index` Nullable(Int32)"):
            self._command(
                self.ddl.alter(self._t(STATE_TABLE), f"add column if not exists {column}"),
                what=f"updating table {STATE_TABLE}",
            )
        ((others, last),) = self._rows(
            "select arraySort(arrayFilter(x -> x != {s:String}, groupUniqArray(source))), "
            f"max(version) from {self._t(STATE_TABLE)}",
            {"s": source_key},
        )
        if others:
            raise ConfigError(
                f"ClickHouse database {self.database} already holds data from another PostHog "
                f"project ({others[0]}); this ingest is for {source_key}. Use one database "
                "prefix per project (CLICKHOUSE_DATABASE, which names <prefix>_raw)."
            )
        self._source = source_key
        self._version = int(last or 0)

    # -- state -----------------------------------------------------------------------------------

    def get_state(self, stream: str) -> StreamState | None:
        rows = self._rows(
            f"select toString(window_start), toString(cursor_ts), cursor_uuid, complete, "
            "cursor_column, account_group_index "
            f"from {self._t(STATE_TABLE)} where source = {{s:String}} and stream = {{st:String}} "
            "order by version desc limit 1",
            {"s": self._source, "st": stream},
        )
        if not rows:
            return None
        window_start, cursor_ts, cursor_uuid, complete, cursor_column, group_index = rows[0]
        return StreamState(
            stream,
            _parse_stored(window_start),
            _parse_stored(cursor_ts),
            cursor_uuid,
            bool(complete),
            cursor_column,
            None if group_index is None else int(group_index),
        )

    def _next_version(self) -> int:
        # strictly increasing within a run, and (by the clock) across runs
        self._version = max(self._version + 1, time.time_ns())
        return self._version

    def save_state(self, state: StreamState) -> None:
        row = [
            self._source,
            state.stream,
            _utc(state.window_start),
            _utc(state.cursor_ts),
            state.cursor_uuid,
            bool(state.complete),
            datetime.now(_UTC),
            self._next_version(),
            state.cursor_column,
            state.account_group_index,
        ]
        self._insert(STATE_TABLE, [row], _STATE_COLUMNS, _STATE_TYPES)

    # -- events ----------------------------------------------------------------------------------

    def write_events(self, rows: Sequence[Sequence[Any]], state: StreamState) -> int:
        added = 0
        if rows:
            columns = _columns("events", rows)
            uuids, stamps = columns[0], columns[3]
            present = [t for t in stamps if t is not None] or [datetime.now(_UTC)]
            # PostHog treats a uuid at another timestamp as another event, so a duplicate can
            # only sit at the page's own timestamps: a few primary-key range reads, flat in
            # cost however large the table grows (literals: formatted datetimes only).
            at = " or ".join(
                f"timestamp between toDateTime64('{_ts_literal(lo)}', 6, 'UTC') "
                f"and toDateTime64('{_ts_literal(hi)}', 6, 'UTC')"
                for lo, hi in time_spans(present)
            )
            stored = {u for (u,) in self._rows(f"select uuid from {self._t('events')} where {at}")}
            keep: list[int] = []
            for i, u in enumerate(uuids):
                if u and u not in stored and stamps[i] is not None:
                    stored.add(u)  # also drops a uuid repeated inside the page
                    keep.append(i)
            if keep:
                if len(keep) < len(uuids):
                    columns = _take(columns, keep)
                self._insert(
                    "events",
                    columns,
                    TABLE_COLUMNS["events"],
                    COLUMN_TYPES["events"],
                    column_oriented=True,
                )
            added = len(keep)
        # only after the events: a crash in between leaves an older cursor, and the re-read
        # from there skips what is already stored
        self.save_state(state)
        return added

    # -- snapshots -------------------------------------------------------------------------------

    @staticmethod
    def _staging(table: str) -> str:
        return f"_posthog_staging_{table}"

    @staticmethod
    def _swap(table: str) -> str:
        return f"_posthog_swap_{table}"

    def start_snapshot(self, table: str) -> None:
        self.discard_snapshot(table)
        self._command(
            self.ddl.create_as(self._t(self._staging(table)), self._t(table), self._engine(table)),
            what=f"creating the staging table of {table}",
        )

    def write_snapshot(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        self._insert(
            self._staging(table),
            _columns(table, rows),
            TABLE_COLUMNS[table],
            COLUMN_TYPES[table],
            column_oriented=True,
        )

    def _swap_in(self, table: str, fill: Callable[[str], None]) -> int:
        """Build a fresh copy of ``table`` with ``fill(name)`` and EXCHANGE it in atomically."""
        swap = self._t(self._swap(table))
        self._command(self.ddl.drop_table(swap), what=f"dropping {swap}")
        self._command(self.ddl.create_as(swap, self._t(table), self._engine(table)), what=f"creating {swap}")
        fill(swap)
        try:
            self.connection.execute(self.ddl.exchange(swap, self._t(table)))
        except WarehouseError as exc:  # explained below
            self._command(self.ddl.drop_table(swap), what=f"dropping {swap}")
            raise WarehouseError(
                self._scrub(
                    f"ClickHouse could not swap in the new {table} of database {self.database} "
                    f"with EXCHANGE TABLES ({getattr(exc, 'detail', str(exc))[:300]}). "
                    "The previous rows stay. The database needs the Atomic engine (ClickHouse's "
                    "default since 20.10): create it with `create database ... engine = Atomic`."
                )
            ) from None
        self._command(self.ddl.drop_table(swap), what=f"dropping {swap}")  # the old rows
        (count,) = self._rows(f"select count() from {self._t(table)}")[0]
        return int(count)

    def finish_snapshot(self, table: str) -> int:
        return self._from_staging(table, merge=False, remove=())

    def merge_snapshot(self, table: str, remove: Sequence[str] = ()) -> int:
        return self._from_staging(table, merge=True, remove=remove)

    def _from_staging(self, table: str, merge: bool, remove: Sequence[str]) -> int:
        """Swap in the staged rows (one per key, none keyed in ``remove``), plus with ``merge``
        the stored rows whose key is neither staged nor in ``remove``."""
        staging = self._t(self._staging(table))
        columns = ", ".join(f"`{c}`" for c in TABLE_COLUMNS[table])
        key = f"`{SNAPSHOT_KEYS[table]}`"
        params = {"remove": list(remove)}

        def fill(swap: str) -> None:
            self._command(
                f"insert into {swap} ({columns}) select {columns} from {staging} "
                f"where not has({{remove:Array(String)}}, {key}) limit 1 by {key}",
                params,
                what=f"building the new {table}",
            )
            if merge:
                self._command(
                    f"insert into {swap} ({columns}) select {columns} from {self._t(table)} "
                    f"where {key} not in (select {key} from {staging}) "
                    f"and not has({{remove:Array(String)}}, {key})",
                    params,
                    what=f"keeping the unchanged rows of {table}",
                )

        count = self._swap_in(table, fill)
        self._command(self.ddl.drop_table(staging), what=f"dropping {staging}")
        return count

    def discard_snapshot(self, table: str) -> None:
        for name in (self._staging(table), self._swap(table)):
            self._command(self.ddl.drop_table(self._t(name)), what=f"dropping {name}")

    def accounts_from_property(self, prop: str) -> int:
        """One account per distinct value of ``prop`` (trimmed, lowercased) on persons/events,
        read as text like DuckDB's ``json_extract_string`` (strings, numbers, booleans)."""
        value = (
            "multiIf("
            "not isValidJSON(properties), cast(null, 'Nullable(String)'), "
            "JSONType(properties, {p:String}) = 'String', "
            "toNullable(JSONExtractString(properties, {p:String})), "
            "JSONType(properties, {p:String}) in ('Null', 'Undefined'), "
            "cast(null, 'Nullable(String)'), "
            "toNullable(JSONExtractRaw(properties, {p:String})))"
        )
        origin = json.dumps({"source": "posthog_property", "property": prop}, separators=(",", ":"))

        def fill(swap: str) -> None:
            self._command(
                f"""
                insert into {swap}
                    (account_id, name, domain, arr, segment, owner_email, properties)
                with values_seen as (
                    select {value} as value from {self._t("persons")}
                    union all
                    select {value} as value from {self._t("events")}
                ),
                cleaned as (
                    select distinct lowerUTF8(trimBoth(assumeNotNull(value))) as account_id
                    from values_seen
                    where value is not null and trimBoth(assumeNotNull(value)) != ''
                )
                select
                    account_id,
                    account_id,
                    account_id,
                    null,
                    null,
                    null,
                    {{origin:String}}
                from cleaned
                order by account_id
                """,
                {"p": prop, "origin": origin},
                what="building accounts",
            )

        return self._swap_in("accounts", fill)

    # -- misc ------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {table: int(self._rows(f"select count() from {self._t(table)}")[0][0]) for table in TABLE_COLUMNS}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
