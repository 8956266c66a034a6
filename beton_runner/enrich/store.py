"""The one place enrichment, plays and exports read and write the warehouse.

A :class:`Store` holds one connection (a DuckDB file, or a ClickHouse client built from
``beton_runner.warehouse.clickhouse_settings()``) for the length of a ``with`` block. Close it
before dbt runs: a DuckDB file takes one writer.

SQL is written once, portably, with two kinds of placeholders the store fills in per engine:

- ``{marts.dim_users}``: a table of a project layer -> ``"beton_marts"."dim_users"``
  (DuckDB) or ```beton_marts`.`dim_users``` (ClickHouse);
- ``:name``: a parameter -> ``$name`` (DuckDB) or ``{name:Type}`` (ClickHouse server-side binding).

Writes replace whole tables (the enrichment is small, one row per account or person): DuckDB in
one transaction; ClickHouse through a staging table swapped in with ``EXCHANGE TABLES`` (or a
drop-and-rename where the database engine has no EXCHANGE).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any, Iterable, Mapping

import pandas as pd

from ..errors import ConfigError, WarehouseError
from ..project import Project
from .model import TableSpec

_TABLE = re.compile(r"\{([a-z_]+)\.([A-Za-z0-9_]+)\}")
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)\b")

_DUCKDB_TYPES = {"text": "varchar", "int": "bigint", "float": "double", "date": "date",
                 "timestamp": "timestamp", "bool": "boolean"}
_CLICKHOUSE_TYPES = {"text": "String", "int": "Int64", "float": "Float64", "date": "Date32",
                     "timestamp": "DateTime64(6, 'UTC')", "bool": "Bool"}


def _clickhouse_param_type(value: Any) -> str:
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
    return "String"


def _plain(value: Any) -> Any:
    """A Python value a driver accepts (pandas NA/NaT/NaN -> None, numpy scalars -> Python)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Store:
    """One warehouse connection: reads of project tables, writes of enrichment tables."""

    def __init__(self, project: Project, *, write: bool = False):
        self.project = project
        self.write = write
        self.engine = project.target
        self._con = None

    # --- connection -------------------------------------------------------------------------

    def __enter__(self) -> "Store":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        if self._con is not None:
            return
        if self.engine == "duckdb":
            import duckdb

            path = self.project.duckdb_path
            if not path.exists():
                raise WarehouseError(f"no warehouse at {path}: run `beton demo` or `beton run` first")
            try:
                self._con = duckdb.connect(str(path), read_only=not self.write)
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot open {path}: {exc}") from None
            return
        try:
            import clickhouse_connect
        except ImportError:  # pragma: no cover - depends on the install
            raise ConfigError("the clickhouse target needs `pip install 'beton-inspector[clickhouse]'`") from None
        from ..warehouse import clickhouse_settings

        overrides = getattr(self.project, "env", None)
        settings = clickhouse_settings(overrides) if overrides else clickhouse_settings()
        try:
            self._con = clickhouse_connect.get_client(**settings, compress=False)
        except Exception as exc:  # the driver raises many kinds; none may carry the password
            raise WarehouseError(
                f"cannot connect to ClickHouse at {settings['host']}:{settings['port']} "
                f"(secure={settings['secure']}): {type(exc).__name__}; check CLICKHOUSE_HOST/PORT/USER/PASSWORD"
            ) from None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self):
        if self._con is None:
            self.open()
        return self._con

    # --- names and SQL ----------------------------------------------------------------------

    def schema(self, layer: str) -> str:
        return self.project.relation(layer, "")[0]

    def name(self, layer: str, table: str) -> str:
        schema, name = self.project.relation(layer, table)
        if self.engine == "duckdb":
            return '"{}"."{}"'.format(schema.replace('"', '""'), name.replace('"', '""'))
        return "`{}`.`{}`".format(schema.replace("`", "\\`"), name.replace("`", "\\`"))

    def render(self, sql: str, params: Mapping[str, Any] | None = None) -> str:
        """The SQL with tables qualified and parameters in the engine's syntax."""
        params = dict(params or {})
        sql = _TABLE.sub(lambda m: self.name(m.group(1), m.group(2)), sql)

        def param(match: re.Match) -> str:
            key = match.group(1)
            if key not in params:
                raise KeyError(f"SQL parameter :{key} has no value")
            if self.engine == "duckdb":
                return f"${key}"
            return "{%s:%s}" % (key, _clickhouse_param_type(params[key]))

        return _PARAM.sub(param, sql)

    def exists(self, layer: str, table: str) -> bool:
        schema, name = self.project.relation(layer, table)
        if self.engine == "duckdb":
            row = self.con.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, name]).fetchone()
            return bool(row and row[0])
        return bool(self.con.command("exists table {db:Identifier}.{t:Identifier}", parameters={"db": schema, "t": name}))

    def require(self, layer: str, table: str, hint: str = "run `beton run` (or `beton demo`) first") -> None:
        if not self.exists(layer, table):
            schema, name = self.project.relation(layer, table)
            raise WarehouseError(f"table {schema}.{name} does not exist in the {self.engine} warehouse: {hint}")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows as a DataFrame; see the module doc for the placeholders."""
        params = {k: _plain(v) for k, v in (params or {}).items()}
        text = self.render(sql, params)
        used = {k: v for k, v in params.items() if re.search(rf"(?<![:\w]):{k}\b", sql)}
        try:
            if self.engine == "duckdb":
                return self.con.execute(text, used).df()
            result = self.con.query(text, parameters=used)
            columns = list(result.column_names)
            if not columns and not result.result_rows:
                # an empty Native result may carry no header: ask for the names, so an empty
                # result still has its columns (as DuckDB's does)
                described = self.con.query(f"describe table ({text})", parameters=used)
                columns = [row[0] for row in described.result_rows]
            return pd.DataFrame(result.result_rows, columns=columns).infer_objects()
        except Exception as exc:  # driver errors carry SQL, never credentials
            raise WarehouseError(f"query failed on {self.engine}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None

    def columns(self, layer: str, table: str) -> list[str]:
        """The column names of a table or view."""
        return list(self.query(f"select * from {{{layer}.{table}}} limit 0").columns)

    def read(self, layer: str, table: str, *, where: str = "", params: Mapping[str, Any] | None = None,
             order_by: str = "") -> pd.DataFrame:
        self.require(layer, table)
        sql = f"select * from {{{layer}.{table}}}" + (f" where {where}" if where else "") + (
            f" order by {order_by}" if order_by else "")
        return self.query(sql, params)

    # --- writes -----------------------------------------------------------------------------

    def replace_tables(self, layer: str, tables: Mapping[TableSpec, Iterable[Mapping[str, Any]]]) -> None:
        """Replace each table with these rows (columns as in the spec, in its order)."""
        if not self.write:
            raise WarehouseError("this warehouse connection is read-only")
        if self.engine == "duckdb":
            self._duckdb_replace(layer, tables)
        else:
            self._clickhouse_replace(layer, tables)

    def append(self, layer: str, spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert rows, creating the table if needed."""
        rows = [[_plain(r.get(c)) for c in spec.column_names] for r in rows]
        schema = self.schema(layer)
        target = self.name(layer, spec.name)
        if self.engine == "duckdb":
            self.con.execute(f'create schema if not exists "{schema}"')
            self.con.execute(f"create table if not exists {target} ({self._duckdb_columns(spec)})")
            self._duckdb_insert(target, spec, rows)
            return
        self.con.command(f"create database if not exists `{schema}`")
        self.con.command(self._clickhouse_create(target, spec))
        if rows:
            self.con.insert(spec.name, rows, column_names=spec.column_names, database=schema)

    @staticmethod
    def _duckdb_columns(spec: TableSpec) -> str:
        return ", ".join(f'"{c.name}" {_DUCKDB_TYPES[c.type]}' + (" not null" if c.name in spec.key else "")
                         for c in spec.columns)

    def _duckdb_insert(self, target: str, spec: TableSpec, values: list[list[Any]]) -> None:
        """Bulk insert through a registered DataFrame (one scan, not one statement per row)."""
        if not values:
            return
        frame = pd.DataFrame(values, columns=spec.column_names, dtype=object)
        casts = ", ".join(f'cast("{c.name}" as {_DUCKDB_TYPES[c.type]})' for c in spec.columns)
        self.con.register("_beton_incoming", frame)
        try:
            self.con.execute(f"insert into {target} select {casts} from _beton_incoming")
        finally:
            self.con.unregister("_beton_incoming")

    def _duckdb_replace(self, layer: str, tables) -> None:
        con = self.con
        schema = self.schema(layer)
        con.execute("begin transaction")
        try:
            con.execute(f'create schema if not exists "{schema}"')
            for spec, rows in tables.items():
                target = self.name(layer, spec.name)
                con.execute(f"create or replace table {target} ({self._duckdb_columns(spec)}, "
                            f"primary key ({', '.join(spec.key)}))")
                self._duckdb_insert(target, spec, [[_plain(r.get(c)) for c in spec.column_names] for r in rows])
            con.execute("commit")
        except Exception as exc:
            con.execute("rollback")
            raise WarehouseError(f"writing {schema} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None

    @staticmethod
    def _clickhouse_create(target: str, spec: TableSpec) -> str:
        columns = ", ".join(
            f"`{c.name}` {_CLICKHOUSE_TYPES[c.type]}" if c.name in spec.key
            else f"`{c.name}` Nullable({_CLICKHOUSE_TYPES[c.type]})" for c in spec.columns)
        # key columns are not Nullable: ClickHouse refuses nullable sorting keys by default
        return f"create table if not exists {target} ({columns}) engine = MergeTree order by ({', '.join(spec.key)})"

    def _clickhouse_replace(self, layer: str, tables) -> None:
        client = self.con
        schema = self.schema(layer)
        try:
            client.command(f"create database if not exists `{schema}`")
            staged = []
            for spec, rows in tables.items():
                stage = f"{spec.name}__staging"
                client.command(f"drop table if exists `{schema}`.`{stage}`")
                client.command(self._clickhouse_create(f"`{schema}`.`{stage}`", spec))
                values = [[_plain(r.get(c)) for c in spec.column_names] for r in rows]
                if values:
                    client.insert(stage, values, column_names=spec.column_names, database=schema)
                staged.append((spec, stage))
            for spec, stage in staged:
                target, staging = f"`{schema}`.`{spec.name}`", f"`{schema}`.`{stage}`"
                if client.command(f"exists table {target}"):
                    try:
                        client.command(f"exchange tables {staging} and {target}")
                        client.command(f"drop table {staging}")
                        continue
                    except Exception:  # Ordinary databases have no EXCHANGE
                        client.command(f"drop table {target}")
                client.command(f"rename table {staging} to {target}")
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"writing ClickHouse database {schema} failed: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
