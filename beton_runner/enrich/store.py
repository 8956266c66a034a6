"""Project tables by layer, over one warehouse connection: what enrichment, plays and exports
read and write.

A :class:`Store` holds one :class:`~beton_runner.warehouse.Connection` for the length of a
``with`` block. Close it before dbt runs: a DuckDB file takes one writer.

SQL is written once, portably, with two kinds of placeholders:

- ``{marts.dim_users}``: a table of a project layer -> ``"beton_marts"."dim_users"``
  (DuckDB) or ```beton_marts`.`dim_users``` (ClickHouse), filled in here;
- ``:name``: a parameter, bound by the driver (see ``beton_runner.warehouse.base``).

Writes replace whole tables (the enrichment is small, one row per account or person) through
the connection's ``replace_tables``: DuckDB in one transaction; ClickHouse through new tables
swapped in with ``EXCHANGE TABLES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..project import Project
from ..warehouse import BUILD_HINT, Column, Connection, connect, require
from ..warehouse import TableSpec as WarehouseTable
from .model import TableSpec

_TABLE = re.compile(r"\{([a-z_]+)\.([A-Za-z0-9_]+)\}")


def warehouse_table(spec: TableSpec) -> WarehouseTable:
    """An enrichment table as the warehouse writes it: one row per key (enforced), every other
    column nullable."""
    return WarehouseTable(
        spec.name,
        tuple(Column(c.name, c.type, nullable=c.name not in spec.key) for c in spec.columns),
        key=spec.key,
        enforce_key=True,
    )


def _frame(spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a frame with the spec's columns, in its order (missing values as None)."""
    return pd.DataFrame([[r.get(c) for c in spec.column_names] for r in rows], columns=spec.column_names, dtype=object)


class Store:
    """One warehouse connection: reads of project tables, writes of enrichment tables."""

    def __init__(self, project: Project, *, write: bool = False):
        self.project = project
        self.write = write
        self.engine = project.engine
        self._conn: Connection | None = None

    # --- connection -------------------------------------------------------------------------

    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        if self._conn is None:
            self._conn = connect(self.project, write=self.write)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    # --- names and SQL ----------------------------------------------------------------------

    def schema(self, layer: str) -> str:
        return self.project.relation(layer, "")[0]

    def name(self, layer: str, table: str) -> str:
        return self.conn.table(*self.project.relation(layer, table))

    def render(self, sql: str) -> str:
        """The SQL with ``{layer.table}`` replaced by qualified, quoted names."""
        return _TABLE.sub(lambda m: self.name(m.group(1), m.group(2)), sql)

    def exists(self, layer: str, table: str) -> bool:
        return self.conn.exists(*self.project.relation(layer, table))

    def require(self, layer: str, table: str, hint: str = BUILD_HINT) -> None:
        require(self.conn, self.project, layer, table, hint)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows as a DataFrame; see the module doc for the placeholders."""
        return self.conn.query(self.render(sql), dict(params or {}))

    def columns(self, layer: str, table: str) -> list[str]:
        """The column names of a table or view."""
        return [name for name, _ in self.conn.columns(*self.project.relation(layer, table))]

    def read(
        self, layer: str, table: str, *, where: str = "", params: Mapping[str, Any] | None = None, order_by: str = ""
    ) -> pd.DataFrame:
        self.require(layer, table)
        sql = (
            f"select * from {{{layer}.{table}}}"
            + (f" where {where}" if where else "")
            + (f" order by {order_by}" if order_by else "")
        )
        return self.query(sql, params)

    # --- writes -----------------------------------------------------------------------------

    def replace_tables(self, layer: str, tables: Mapping[TableSpec, Iterable[Mapping[str, Any]]]) -> None:
        """Replace each table with these rows (columns as in the spec, in its order)."""
        self.conn.replace_tables(
            self.schema(layer), {warehouse_table(spec): _frame(spec, rows) for spec, rows in tables.items()}
        )

    def append(self, layer: str, spec: TableSpec, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert rows, creating the table if needed."""
        schema = self.schema(layer)
        table = WarehouseTable(
            spec.name,
            tuple(Column(c.name, c.type, nullable=c.name not in spec.key) for c in spec.columns),
            key=spec.key,
        )
        self.conn.ensure_schema(schema)
        self.conn.create_table(schema, table)
        self.conn.insert_frame(schema, spec.name, _frame(spec, rows))
