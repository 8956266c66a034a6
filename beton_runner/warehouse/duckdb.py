"""The DuckDB engine: one file (the project's warehouse), or an in-memory scratch database.

A DuckDB file takes one writer process: a connection opened only for reading is opened
read-only (several readers may share the file), and a lock held by another process (a `beton`
or dbt run) becomes a ``WarehouseError`` naming the file. Transactions are real: ``replace_tables``
and :meth:`transaction` commit all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from ..errors import ConfigError, WarehouseError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

from .base import PARAM, Connection, EngineError, Rows, TableSpec, first_line, plain

TYPES = {
    "text": "varchar",
    "int": "bigint",
    "float": "double",
    "date": "date",
    "timestamp": "timestamp",
    "bool": "boolean",
}
_INCOMING = "_beton_incoming"


def quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes (inner quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


class DuckDBConnection(Connection):
    """A connection to a DuckDB file (``path``) or, with ``path=None``, to a private in-memory
    database (scratch space for computing rows, e.g. the synthetic data generator).

    Read-only unless ``write``; a missing file is an error unless ``write`` and ``create``."""

    engine = "duckdb"

    def __init__(
        self,
        path: str | Path | None,
        *,
        write: bool = False,
        create: bool = False,
        settings: Mapping[str, str] | None = None,
    ):
        super().__init__(write=write or path is None)
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            if not self.path.exists() and not (write and create):
                raise WarehouseError(f"no warehouse at {self.path}: run `beton demo` or `beton run` first")
            if write and not self.path.parent.exists():
                raise ConfigError(
                    f"the folder for the DuckDB file {self.path} does not exist; create it or set "
                    "BETON_DUCKDB_PATH (or --duckdb) to another path"
                )
        try:
            self._con = duckdb.connect(
                str(self.path) if self.path is not None else ":memory:", read_only=self.path is not None and not write
            )
        except duckdb.Error as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise WarehouseError(
                    f"the DuckDB file {self.path} is in use: another `beton` or dbt process (or a notebook) "
                    f"holds its lock; let it finish or close it, then try again ({text.splitlines()[0]})"
                ) from None
            raise WarehouseError(f"cannot open the DuckDB file {self.path}: {first_line(exc)}") from None
        for name, value in (settings or {}).items():
            self._run(f"set {name} = '{str(value).replace(chr(39), chr(39) * 2)}'")

    @classmethod
    def memory(cls) -> DuckDBConnection:
        """A private in-memory database in UTC (nothing is shared with any file)."""
        return cls(None, settings={"TimeZone": "UTC"})

    def stream(self, sql: str, batch_rows: int = 500_000) -> pyarrow.RecordBatchReader:
        """The rows of ``sql`` as an Arrow stream of ``batch_rows``-row batches, computed as they
        are read. Each stream runs on its own cursor, so several can be open at once."""
        cursor = self._live.cursor()
        self._cursors.append(cursor)
        try:
            relation = cursor.sql(sql)
            # to_arrow_reader is DuckDB 1.4+'s name for fetch_record_batch
            reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
            return reader(batch_rows)
        except duckdb.Error as exc:
            detail = first_line(exc)
            raise EngineError(f"query failed on {self.describe()}: {detail}", detail) from None

    def describe(self) -> str:
        return f"DuckDB {self.path}" if self.path is not None else "DuckDB (in memory)"

    def close(self) -> None:
        for cursor in self._cursors:
            cursor.close()
        self._cursors = []
        if self._con is not None:
            self._con.close()
            self._con = None

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file (best effort: it replays on the next open)."""
        try:
            self._con.execute("checkpoint").fetchall()
        except duckdb.Error:
            pass

    @property
    def _live(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise WarehouseError(f"the connection to {self.describe()} is closed")
        return self._con

    # --- SQL ----------------------------------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return quote(identifier)

    @staticmethod
    def _bind(sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> tuple[str, Any]:
        """``:name`` -> ``$name`` with only the parameters the SQL uses; a sequence binds ``?``."""
        if params is None:
            return sql, None
        if not isinstance(params, Mapping):
            return sql, [plain(v) for v in params]
        values = {k: plain(v) for k, v in params.items()}
        used: dict[str, Any] = {}

        def name(match) -> str:
            key = match.group(1)
            if key not in values:
                raise KeyError(f"SQL parameter :{key} has no value")
            used[key] = values[key]
            return f"${key}"

        text = PARAM.sub(name, sql)
        return text, used  # only the names the SQL uses: DuckDB refuses extra ones

    def _run(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None):
        text, bound = self._bind(sql, params)
        try:
            return self._live.execute(text, bound) if bound is not None else self._live.execute(text)
        except duckdb.Error as exc:
            detail = first_line(exc)
            raise EngineError(f"query failed on {self.describe()}: {detail}", detail) from None

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> pd.DataFrame:
        return self._run(sql, params).df()

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        return self._run(sql, params).fetchall()

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> None:
        # drain the result: DuckDB refuses new work on a connection while one is pending
        self._run(sql, params).fetchall()

    def exists(self, schema: str, table: str) -> bool:
        return bool(
            self.rows(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, table],
            )[0][0]
        )

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return [
            (name, kind)
            for name, kind in self.rows(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            )
        ]

    def columns_of(self, schemas: Sequence[str]) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        if not schemas:
            return found
        marks = ", ".join("?" for _ in schemas)
        for schema, table, column in self.rows(
            "select table_schema, table_name, column_name from information_schema.columns "
            f"where table_schema in ({marks}) order by table_schema, table_name, ordinal_position",
            list(schemas),
        ):
            found.setdefault((schema, table), []).append(column)
        return found

    @contextmanager
    def registered(self, name: str, rows: Rows) -> Iterator[str]:
        """``rows`` visible to SQL as the view ``name`` for the block (DuckDB scans a DataFrame
        or an Arrow stream in place, without copying it first)."""
        self._live.register(name, rows)
        try:
            yield name
        finally:
            try:
                self._live.unregister(name)
            except duckdb.Error:  # an aborted transaction refuses it; a later register replaces it
                pass

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")

    # --- writes -------------------------------------------------------------------------------

    def ensure_schema(self, schema: str) -> None:
        self._writable()
        self.execute(f"create schema if not exists {quote(schema)}")

    @staticmethod
    def ddl(spec: TableSpec) -> str:
        """The column list of ``spec``: key columns are NOT NULL and the primary key only where
        the spec enforces its key."""
        columns = [
            f"{quote(c.name)} {TYPES[c.type]}" + (" not null" if spec.enforce_key and c.name in spec.key else "")
            for c in spec.columns
        ]
        if spec.enforce_key:
            columns.append(f"primary key ({', '.join(quote(k) for k in spec.key)})")
        return ", ".join(columns)

    def create_table(self, schema: str, spec: TableSpec, *, name: str | None = None, replace: bool = False) -> None:
        self._writable()
        verb = "create or replace table" if replace else "create table if not exists"
        self.execute(f"{verb} {self.table(schema, name or spec.name)} ({self.ddl(spec)})")

    def insert_frame(self, schema: str, table: str, rows: Rows) -> int:
        self._writable()
        types = dict(self.columns(schema, table))
        if not types:
            raise WarehouseError(f"cannot insert into {schema}.{table} in {self.describe()}: no such table")
        names = list(rows.columns) if isinstance(rows, pd.DataFrame) else list(rows.schema.names)
        unknown = [n for n in names if n not in types]
        if unknown:
            raise WarehouseError(f"cannot insert into {schema}.{table}: it has no column(s) {', '.join(unknown)}")
        if isinstance(rows, pd.DataFrame) and rows.empty:
            return 0
        casts = ", ".join(f"cast({quote(n)} as {types[n]})" for n in names)
        with self.registered(_INCOMING, rows):
            inserted = self.rows(
                f"insert into {self.table(schema, table)} ({', '.join(quote(n) for n in names)}) "
                f"select {casts} from {_INCOMING}"
            )
        return int(inserted[0][0]) if inserted else 0

    def append_rows(self, schema: str, table: str, rows: Rows) -> int:
        """One transaction: every row is appended, or (on any failure) none."""
        self._writable()
        try:
            with self.transaction():
                return self.insert_frame(schema, table, rows)
        except WarehouseError as exc:
            raise WarehouseError(
                f"appending to {schema}.{table} of {self.describe()} failed, the table is "
                f"unchanged: {getattr(exc, 'detail', exc)}"
            ) from None

    def replace_tables(self, schema: str, tables: Mapping[TableSpec, Rows]) -> dict[str, int]:
        """One transaction: the new tables appear together, or (on any failure) not at all."""
        self._writable()
        counts: dict[str, int] = {}
        try:
            with self.transaction():
                self.ensure_schema(schema)
                for spec, rows in tables.items():
                    self.create_table(schema, spec, replace=True)
                    self.insert_frame(schema, spec.name, rows)
                    counts[spec.name] = self.count(schema, spec.name)
        except WarehouseError as exc:
            raise WarehouseError(
                f"writing schema {schema} of {self.describe()} failed, the previous tables are "
                f"unchanged: {getattr(exc, 'detail', exc)}"
            ) from None
        return counts


__all__ = ["DuckDBConnection", "TYPES", "quote"]
