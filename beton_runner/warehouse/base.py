"""The one connection interface every warehouse engine implements.

Callers (punch lists, report, plays facts, enrichment, export, synthetic data, the PostHog
destinations) see a :class:`Connection`; only the engine modules beside this one
(``duckdb.py``, ``clickhouse.py``) touch a driver. Adding an engine is one new module.

Parameters are always bound by the driver, never formatted into SQL. With a mapping, SQL names
them portably as ``:name``; each engine rewrites that to its own syntax (DuckDB ``$name``,
ClickHouse ``{name:Type}``). Identifiers (schemas, tables, columns) are quoted by one helper
per engine, :meth:`Connection.quote`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import pandas as pd

from ..errors import WarehouseError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

# ``:name`` not preceded by ``:`` or a word character (so ``x::timestamp`` casts and ``12:30``
# are left alone).
PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)\b")

# What a write accepts: a DataFrame (small tables), or a stream of Arrow record batches (large
# generated tables, never all in memory at once).
Rows = Union[pd.DataFrame, "pyarrow.RecordBatchReader"]

PORTABLE_TYPES = ("text", "int", "float", "date", "timestamp", "bool")


@dataclass(frozen=True)
class Column:
    """A column of a table the product writes, in a portable type (see ``PORTABLE_TYPES``)."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    """A table the product writes: its columns and its key.

    ``key`` is the ClickHouse sorting key and, with ``enforce_key``, a DuckDB primary key
    (enrichment tables: one row per account or person). Large append-only tables (events) leave
    ``enforce_key`` off: a primary-key index would slow every insert.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    enforce_key: bool = False

    def __post_init__(self) -> None:
        unknown = [c.type for c in self.columns if c.type not in PORTABLE_TYPES]
        if unknown:
            raise ValueError(f"table {self.name}: unknown column type(s) {unknown}; use one of {PORTABLE_TYPES}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def plain(value: Any) -> Any:
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


class EngineError(WarehouseError):
    """A statement the engine refused. ``detail`` is the driver's own first line (e.g. the
    ClickHouse error code), already free of credentials, for callers that add their context."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


def param_names(sql: str) -> set[str]:
    return set(PARAM.findall(sql))


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``: enough to act on, without the SQL dump."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class Connection(ABC):
    """One open connection to one warehouse. Use it as a context manager; close it before dbt
    runs (a DuckDB file takes one writer)."""

    engine: str = ""

    def __init__(self, *, write: bool = False):
        self.write = write

    # --- lifetime ----------------------------------------------------------------------------

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    def describe(self) -> str:
        """Where this connection points, for messages (never with a password)."""
        return self.engine

    # --- names --------------------------------------------------------------------------------

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """One identifier, quoted for this engine."""

    def table(self, schema: str, table: str) -> str:
        """``schema.table`` quoted for this engine (ClickHouse: database.table)."""
        return f"{self.quote(schema)}.{self.quote(table)}"

    # --- reads --------------------------------------------------------------------------------

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> pd.DataFrame:
        """Rows as a DataFrame, columns named even when there are no rows."""

    @abstractmethod
    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        """Rows as tuples (no pandas round trip; for small bookkeeping reads)."""

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> None:
        """Run one statement (DDL, insert ... select, delete)."""

    @abstractmethod
    def exists(self, schema: str, table: str) -> bool:
        """Whether a table or view exists."""

    @abstractmethod
    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """``(name, engine type)`` of each column, in table order; empty when there is no table."""

    @abstractmethod
    def columns_of(self, schemas: Sequence[str]) -> dict[tuple[str, str], list[str]]:
        """Column names of every table in these schemas, in one round trip (the report reads
        dozens of tables; on ClickHouse each lookup is a network call)."""

    def read_table(
        self,
        schema: str,
        table: str,
        *,
        order_by: str | Sequence[str] | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """A table (or its first ``limit`` rows by ``order_by``, nulls last) as a DataFrame.

        Raises ``WarehouseError`` naming the table when it does not exist."""
        if not self.exists(schema, table):
            raise self.missing_table(schema, table)
        return self.query(self.select_table_sql(schema, table, order_by=order_by, descending=descending, limit=limit))

    def missing_table(self, schema: str, table: str) -> WarehouseError:
        return WarehouseError(f"table {schema}.{table} does not exist in the {self.describe()} warehouse")

    def select_table_sql(
        self,
        schema: str,
        table: str,
        *,
        order_by: str | Sequence[str] | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> str:
        """The query behind :meth:`read_table`: every column, ``order_by`` keys nulls last, ``limit``."""
        sql = f"select * from {self.table(schema, table)}"
        if order_by:
            keys = [order_by] if isinstance(order_by, str) else list(order_by)
            direction = "desc" if descending else "asc"
            sql += " order by " + ", ".join(f"{self.quote(k)} {direction} nulls last" for k in keys)
        if limit is not None:
            sql += f" limit {int(limit)}"
        return sql

    def count(self, schema: str, table: str) -> int:
        (value,) = self.rows(f"select count(*) from {self.table(schema, table)}")[0]
        return int(value)

    # --- writes -------------------------------------------------------------------------------

    def _writable(self) -> None:
        if not self.write:
            raise WarehouseError(f"this connection to {self.describe()} is read-only; open it with write=True")

    @abstractmethod
    def ensure_schema(self, schema: str) -> None:
        """Create the schema (ClickHouse: database) if it does not exist."""

    @abstractmethod
    def create_table(self, schema: str, spec: TableSpec, *, name: str | None = None, replace: bool = False) -> None:
        """Create ``spec`` as ``schema.(name or spec.name)``; if it exists: keep it, or with
        ``replace`` drop it first."""

    @abstractmethod
    def insert_frame(self, schema: str, table: str, rows: Rows) -> int:
        """Append rows to an existing table, matching columns by name; returns rows written."""

    @abstractmethod
    def replace_tables(self, schema: str, tables: Mapping[TableSpec, Rows]) -> dict[str, int]:
        """Replace each table by these rows, all or nothing as far as the engine allows: every
        new table is written before any old one is touched, so a failure while writing leaves
        the old tables whole. Returns the row count of each table."""

    @abstractmethod
    def append_rows(self, schema: str, table: str, rows: Rows) -> int:
        """Append rows to an existing table all or nothing: a failure while writing (a full
        disk, a refused row, a broken stream) leaves the table exactly as it was, where
        :meth:`insert_frame` may leave the batches written before the failure. Returns rows
        written."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together or not at all, where the engine has transactions.

        Engines without them (ClickHouse) run the statements one by one: callers there rely on
        idempotent writes instead (see ``beton_runner.posthog.clickhouse_destination``)."""
        yield


__all__ = [
    "Column",
    "Connection",
    "EngineError",
    "PORTABLE_TYPES",
    "Rows",
    "TableSpec",
    "first_line",
    "param_names",
    "plain",
]
