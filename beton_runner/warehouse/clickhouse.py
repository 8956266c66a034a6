"""The ClickHouse engine, through clickhouse-connect (HTTP).

Settings come from the dbt profile (:func:`beton_runner.warehouse.connect` reads the project's
resolved profile target; :func:`settings_from_env` renders the shipped profiles.yml).
No message ever carries the password: driver errors are reduced to their first line and
scrubbed. ClickHouse has no multi-statement transactions: :meth:`ClickHouseConnection.transaction`
runs statements one by one, ``replace_tables`` writes every new table before swapping any in
(``EXCHANGE TABLES``, atomic per table on Atomic databases, the default since 20.10).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..errors import BetonError, ConfigError, WarehouseError
from .base import PARAM, Connection, EngineError, Rows, TableSpec, first_line, plain

TYPES = {
    "text": "String",
    "int": "Int64",
    "float": "Float64",
    "date": "Date32",
    "timestamp": "DateTime64(6, 'UTC')",
    "bool": "Bool",
}
# Views are evaluated with the reader's settings: read them as dbt builds them (profiles.yml).
READ_SETTINGS = {"join_use_nulls": 1}
NEW_SUFFIX = "__new"
# Replicated tables' Keeper path and replica name: ClickHouse's own defaults (default_replica_path,
# default_replica_name). {uuid}, not {database}/{table}: ClickHouse fixes a {table} path at
# creation, and these tables are renamed and exchanged while their names (``__new``) are reused,
# so a {table} path would collide with the path the renamed table still holds.
REPLICA_PATH = "/clickhouse/tables/{uuid}/{shard}"
REPLICA_NAME = "{replica}"


def literal(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ClusterDDL:
    """Every DDL statement (and DELETE) the Python side sends to ClickHouse, rendered for one
    deployment: as before on a single server (or ClickHouse Cloud, whose Shared databases
    replicate by themselves), and with ``cluster`` (CLICKHOUSE_CLUSTER) ``ON CLUSTER '<name>'``
    on CREATE/DROP/ALTER/RENAME/EXCHANGE/DELETE and Replicated* MergeTree engines, so every
    node of the cluster gets the table and every replica its rows. Inserts need neither: the
    Replicated engine copies them to the shard's other replicas."""

    def __init__(self, cluster: str | None = ""):
        self.cluster = (cluster or "").strip()

    @property
    def on(self) -> str:
        return f" on cluster {literal(self.cluster)}" if self.cluster else ""

    def engine(self, name: str, *args: str) -> str:
        """``name(args)``; on a cluster ``Replicated<name>(path, replica, args)``."""
        if self.cluster and name.endswith("MergeTree") and not name.startswith("Replicated"):
            name, args = "Replicated" + name, (literal(REPLICA_PATH), literal(REPLICA_NAME), *args)
        return f"{name}({', '.join(args)})" if args else name

    def create_database(self, database: str) -> str:
        return f"create database if not exists {quote(database)}{self.on}"

    def create_table(self, target: str, columns: str, engine: str, *, if_not_exists: bool = True) -> str:
        """``engine`` is the engine clause after ``engine =`` (from :meth:`engine`, then
        ``order by ...``)."""
        exists = " if not exists" if if_not_exists else ""
        return f"create table{exists} {target}{self.on} ({columns}) engine = {engine}"

    def create_as(self, target: str, source: str, engine: str | None = None) -> str:
        """A table shaped as ``source``. On a cluster with its own ``engine`` clause: a copied
        Replicated engine would name the source's Keeper path."""
        clause = f" engine = {engine}" if engine and self.cluster else ""
        return f"create table {target}{self.on} as {source}{clause}"

    def drop_table(self, target: str, *, if_exists: bool = True) -> str:
        return f"drop table{' if exists' if if_exists else ''} {target}{self.on}"

    def rename(self, source: str, target: str) -> str:
        return f"rename table {source} to {target}{self.on}"

    def exchange(self, first: str, second: str) -> str:
        return f"exchange tables {first} and {second}{self.on}"

    def alter(self, target: str, action: str) -> str:
        return f"alter table {target}{self.on} {action}"

    def delete(self, target: str, where: str) -> str:
        return f"delete from {target}{self.on} where {where}"


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Driver settings of the shipped profiles.yml's clickhouse target rendered with ``environ``
    over the process environment: for a connection made without a project (``connect(project)``
    reads the project's own dbt profile)."""
    from ..profile import shipped

    return dict(shipped("clickhouse", environ).clickhouse)


def cluster_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The cluster of the shipped profile's clickhouse target (CLICKHOUSE_CLUSTER); empty for a
    single server or ClickHouse Cloud."""
    from ..profile import shipped

    return shipped("clickhouse", environ).cluster


def load_driver():
    """The clickhouse-connect module (an optional dependency: the clickhouse extra)."""
    try:
        import clickhouse_connect
    except ImportError:  # pragma: no cover - depends on the install
        raise ConfigError("the clickhouse target needs `pip install 'beton-inspector[clickhouse]'`") from None
    return clickhouse_connect


def quote(identifier: str) -> str:
    """A ClickHouse identifier in backticks (backslash and backtick escaped)."""
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"


def param_type(value: Any) -> str:
    """The ClickHouse type a Python value is bound as (``{name:Type}``)."""
    from datetime import date, datetime

    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, datetime):
        return "DateTime64(6)"
    if isinstance(value, date):
        return "Date32"
    if isinstance(value, (list, tuple)):
        return "Array(String)"
    return "String"


class ClickHouseConnection(Connection):
    """A client for one ClickHouse server. ``options`` are passed to the driver (compression,
    timeouts); ``settings`` overrides :func:`settings_from_env`; ``cluster`` overrides
    CLICKHOUSE_CLUSTER (every DDL statement goes through :attr:`cluster_ddl`)."""

    engine = "clickhouse"

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        write: bool = False,
        options: Mapping[str, Any] | None = None,
        cluster: str | None = None,
    ):
        super().__init__(write=write)
        self.cluster_ddl = ClusterDDL(cluster_from_env(environ) if cluster is None else cluster)
        clickhouse_connect = load_driver()
        self.settings = dict(settings) if settings is not None else settings_from_env(environ)
        self.settings.setdefault("host", "localhost")
        self.settings.setdefault("port", 8123)
        self.settings.setdefault("secure", False)
        try:
            self._client = clickhouse_connect.get_client(**self.settings, **{"compress": False, **(options or {})})
        except Exception as exc:  # noqa: BLE001 - the driver raises many kinds; none may carry the password
            raise WarehouseError(
                f"cannot connect to ClickHouse at {self.settings['host']}:{self.settings['port']} "
                f"(secure={self.settings['secure']}): {type(exc).__name__}; "
                "check the host, port, user and password of the dbt profile target (CLICKHOUSE_HOST/PORT/USER/PASSWORD "
                "with the shipped profiles.yml)"
            ) from None

    def describe(self) -> str:
        scheme = "https" if self.settings.get("secure") else "http"
        return f"ClickHouse {scheme}://{self.settings['host']}:{self.settings['port']}"

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - closing a pool; nothing to keep
                pass
            self._client = None

    @property
    def _live(self):
        if self._client is None:
            raise WarehouseError(f"the connection to {self.describe()} is closed")
        return self._client

    # --- SQL ----------------------------------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return quote(identifier)

    def scrub(self, text: str) -> str:
        password = self.settings.get("password") or ""
        return text.replace(password, "***") if password else text

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except BetonError:
            raise
        except Exception as exc:  # noqa: BLE001 - many kinds; none may carry the password
            detail = self.scrub(first_line(exc))[:500]
            raise EngineError(f"ClickHouse failed while {what} ({self.describe()}): {detail}", detail) from None

    @staticmethod
    def _bind(sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> tuple[str, dict[str, Any] | None]:
        """``:name`` -> ``{name:Type}`` (server-side binding) with only the parameters used."""
        if params is None:
            return sql, None
        if not isinstance(params, Mapping):
            raise TypeError("ClickHouse binds parameters by name: pass a mapping and write :name in the SQL")
        values = {k: plain(v) for k, v in params.items()}

        def name(match) -> str:
            key = match.group(1)
            if key not in values:
                raise KeyError(f"SQL parameter :{key} has no value")
            return f"{{{key}:{param_type(values[key])}}}"

        text = PARAM.sub(name, sql)
        # the names the SQL binds, written as :name or natively as {name:Type}
        return text, {k: v for k, v in values.items() if f"{{{k}:" in text}

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> pd.DataFrame:
        text, bound = self._bind(sql, params)

        def run() -> pd.DataFrame:
            result = self._live.query(text, parameters=bound, settings=READ_SETTINGS)
            columns = list(result.column_names)
            if not columns and not result.result_rows:
                # an empty Native result may carry no header: ask for the names, so an empty
                # result still has its columns (as DuckDB's does)
                described = self._live.query(f"describe table ({text})", parameters=bound)
                columns = [row[0] for row in described.result_rows]
            return pd.DataFrame(result.result_rows, columns=columns).infer_objects()

        return self._call("reading", run)

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        text, bound = self._bind(sql, params)
        return self._call(
            "reading", lambda: self._live.query(text, parameters=bound, settings=READ_SETTINGS).result_rows
        )

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> Any:
        text, bound = self._bind(sql, params)
        return self._call(
            f"running `{' '.join(text.split())[:60]}`", lambda: self._live.command(text, parameters=bound)
        )

    def exists(self, schema: str, table: str) -> bool:
        return bool(
            self._call(
                "checking a table",
                lambda: self._live.command(
                    "exists table {db:Identifier}.{t:Identifier}", parameters={"db": schema, "t": table}
                ),
            )
        )

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return [
            (name, kind)
            for name, kind in self.rows(
                "select name, type from system.columns where database = :db and table = :t order by position",
                {"db": schema, "t": table},
            )
        ]

    def columns_of(self, schemas: Sequence[str]) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        rows = self._call(
            "listing tables",
            lambda: (
                self._live.query(
                    "select database, table, name from system.columns where database in {dbs:Array(String)} "
                    "order by database, table, position",
                    parameters={"dbs": list(schemas)},
                ).result_rows
            ),
        )
        for schema, table, column in rows:
            found.setdefault((schema, table), []).append(column)
        return found

    def read_table(
        self,
        schema: str,
        table: str,
        *,
        order_by: str | Sequence[str] | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """As :meth:`Connection.read_table`, through the driver's typed frames; timestamps as
        naive UTC wall time, as DuckDB gives them."""
        columns = [name for name, _ in self.columns(schema, table)]
        if not columns:
            raise self.missing_table(schema, table)
        sql = self.select_table_sql(schema, table, order_by=order_by, descending=descending, limit=limit)
        frame = self._call("reading", lambda: self._live.query_df(sql, settings=READ_SETTINGS))
        if frame.empty and not len(frame.columns):  # the driver gives an empty result no columns
            frame = pd.DataFrame(columns=columns)
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
        return frame

    def count(self, schema: str, table: str) -> int:
        return int(self.execute(f"select count() from {self.table(schema, table)}"))

    # --- writes -------------------------------------------------------------------------------

    def ensure_schema(self, schema: str) -> None:
        self._writable()
        self.execute(self.cluster_ddl.create_database(schema))

    def ddl(self, spec: TableSpec, target: str, *, if_not_exists: bool = False) -> str:
        """``create table`` for ``spec``: key columns never Nullable (ClickHouse refuses nullable
        sorting keys by default), the key as the MergeTree sorting key (Replicated on a cluster)."""
        columns = ", ".join(
            f"{quote(c.name)} {TYPES[c.type]}"
            if (c.name in spec.key or not c.nullable)
            else f"{quote(c.name)} Nullable({TYPES[c.type]})"
            for c in spec.columns
        )
        key = ", ".join(quote(k) for k in spec.key) if spec.key else "tuple()"
        engine = f"{self.cluster_ddl.engine('MergeTree')} order by ({key})"
        return self.cluster_ddl.create_table(target, columns, engine, if_not_exists=if_not_exists)

    def create_table(self, schema: str, spec: TableSpec, *, name: str | None = None, replace: bool = False) -> None:
        self._writable()
        target = self.table(schema, name or spec.name)
        if replace:
            self.execute(self.cluster_ddl.drop_table(target))
        self.execute(self.ddl(spec, target, if_not_exists=True))

    def insert_rows(
        self,
        schema: str,
        table: str,
        data: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        column_types: Sequence[str] | None = None,
        *,
        column_oriented: bool = False,
    ) -> None:
        """Insert plain Python rows (or, ``column_oriented``, columns) in the Native format;
        with ``column_types`` the driver skips asking the server for them."""
        self._writable()
        extra = {"column_type_names": list(column_types)} if column_types is not None else {}
        self._call(
            f"writing {table}",
            lambda: self._live.insert(
                table, data, column_names=list(column_names), database=schema, column_oriented=column_oriented, **extra
            ),
        )

    def insert_frame(self, schema: str, table: str, rows: Rows) -> int:
        self._writable()
        if isinstance(rows, pd.DataFrame):
            if rows.empty:
                return 0
            values = [[plain(v) for v in row] for row in rows.itertuples(index=False, name=None)]
            self.insert_rows(schema, table, values, list(rows.columns))
            return len(values)
        written = 0
        target = self.table(schema, table)
        for batch in rows:  # an Arrow stream: one insert per batch, never all in memory
            self._call(f"writing {table}", lambda batch=batch: self._live.insert_arrow(target, batch))
            written += batch.num_rows
        return written

    def append_rows(self, schema: str, table: str, rows: Rows) -> int:
        """Write the rows into ``<table>__new`` (a copy of the table's definition, constraints
        included), then move its parts into the table with ``ATTACH PARTITION ... FROM``, which
        adds all parts of a partition together. A failure while writing drops ``<table>__new``
        and leaves the table as it was. (A table with a partition key gets one ATTACH per
        partition written: atomic per partition; the raw tables have none.)"""
        self._writable()
        target, new = self.table(schema, table), self.table(schema, table + NEW_SUFFIX)

        def drop_new() -> None:  # cleanup only: a leftover is dropped by the next append
            with contextlib.suppress(WarehouseError):
                self.execute(self.cluster_ddl.drop_table(new))

        if not self.exists(schema, table):
            raise WarehouseError(f"cannot append to {schema}.{table} in {self.describe()}: no such table")
        try:
            self.execute(self.cluster_ddl.drop_table(new))
            self.execute(self.cluster_ddl.create_as(new, target, self._replicated_engine(schema, table)))
            written = self.insert_frame(schema, table + NEW_SUFFIX, rows)
            partitions = [
                pid
                for (pid,) in self.rows(
                    "select distinct partition_id from system.parts where database = :db and table = :t and active",
                    {"db": schema, "t": table + NEW_SUFFIX},
                )
            ]
        except BaseException as exc:
            drop_new()
            if isinstance(exc, Exception):
                raise WarehouseError(
                    f"appending to ClickHouse table {schema}.{table} failed, the table is "
                    f"unchanged: {getattr(exc, 'detail', exc)}"
                ) from None
            raise
        try:
            for pid in partitions:  # an id is hex digits, "all" or "<prefix>_<n>": no quoting needed
                if not pid.replace("_", "").replace("-", "").isalnum():
                    raise WarehouseError(f"unexpected partition id {pid!r} in {schema}.{table + NEW_SUFFIX}")
                self.execute(self.cluster_ddl.alter(target, f"attach partition id '{pid}' from {new}"))
        finally:
            drop_new()
        return written

    def _replicated_engine(self, schema: str, table: str) -> str | None:
        """On a cluster, the engine clause for a copy of ``schema.table`` (a table made by
        :meth:`create_table`: Replicated MergeTree, its sorting and partition keys) with a Keeper
        path of its own; None on a single server (the copy takes the table's engine)."""
        if not self.cluster_ddl.cluster:
            return None
        rows = self.rows(
            "select sorting_key, partition_key from system.tables where database = :db and name = :t",
            {"db": schema, "t": table},
        )
        sorting, partition = rows[0] if rows else ("", "")
        clause = self.cluster_ddl.engine("MergeTree")
        if partition:
            clause += f" partition by ({partition})"
        return f"{clause} order by ({sorting or 'tuple()'})"

    def replace_tables(self, schema: str, tables: Mapping[TableSpec, Rows]) -> dict[str, int]:
        """Write every ``<table>__new`` first (a failure drops them and leaves the old tables),
        then swap each in with EXCHANGE TABLES (drop-and-rename where the database engine has
        no EXCHANGE, e.g. Ordinary)."""
        self._writable()
        self.ensure_schema(schema)
        staged: list[TableSpec] = []
        try:
            for spec, rows in tables.items():
                self.create_table(schema, spec, name=spec.name + NEW_SUFFIX, replace=True)
                staged.append(spec)
                self.insert_frame(schema, spec.name + NEW_SUFFIX, rows)
        except BaseException as exc:
            for spec in staged:
                try:
                    self.execute(self.cluster_ddl.drop_table(self.table(schema, spec.name + NEW_SUFFIX)))
                except WarehouseError:
                    pass
            if isinstance(exc, Exception):
                raise WarehouseError(
                    f"writing ClickHouse database {schema} failed, the previous tables are "
                    f"unchanged: {getattr(exc, 'detail', exc)}"
                ) from None
            raise
        counts: dict[str, int] = {}
        for spec in staged:
            target, new = self.table(schema, spec.name), self.table(schema, spec.name + NEW_SUFFIX)
            if self.exists(schema, spec.name):
                try:
                    self._live.command(self.cluster_ddl.exchange(new, target))
                except Exception:  # noqa: BLE001 - Ordinary databases have no EXCHANGE
                    self.execute(self.cluster_ddl.drop_table(target, if_exists=False))
                    self.execute(self.cluster_ddl.rename(new, target))
                else:
                    self.execute(self.cluster_ddl.drop_table(new, if_exists=False))  # now holds the old rows
            else:
                self.execute(self.cluster_ddl.rename(new, target))
            counts[spec.name] = self.count(schema, spec.name)
        return counts


__all__ = [
    "ClickHouseConnection",
    "ClusterDDL",
    "READ_SETTINGS",
    "REPLICA_NAME",
    "REPLICA_PATH",
    "TYPES",
    "cluster_from_env",
    "literal",
    "load_driver",
    "param_type",
    "quote",
    "settings_from_env",
]
