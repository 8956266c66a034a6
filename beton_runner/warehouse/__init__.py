"""The warehouse: the one way the product reads and writes a DuckDB file or a ClickHouse server.

``connect(project)`` picks the engine from ``project.engine`` (the dbt profile target's type) and returns a
:class:`~beton_runner.warehouse.base.Connection`; ``base.py`` documents the interface,
``duckdb.py`` and ``clickhouse.py`` implement it. No module outside this package touches a
driver. Connections are opened per use and closed before dbt runs (a DuckDB file takes one
writer).
"""

from __future__ import annotations

import pandas as pd

from ..errors import WarehouseError
from ..project import Project
from .base import Column, Connection, EngineError, TableSpec

BUILD_HINT = "run `beton run` (or `beton demo`) first"


def connect(project: Project, *, write: bool = False, create: bool = False) -> Connection:
    """A connection to the project's warehouse; read-only unless ``write`` (a read-only DuckDB
    file can be shared by several readers). A missing DuckDB file is an error telling what to
    run, unless ``create`` (loaders that fill a new warehouse)."""
    if project.engine == "duckdb":
        from .duckdb import DuckDBConnection

        # the target's settings (TimeZone, memory_limit …), as dbt-duckdb sets them; a Project
        # made directly (tests, programs) names its file itself and keeps DuckDB's defaults
        settings = project.resolved.duckdb_settings if project.resolved is not None else None
        return DuckDBConnection(project.duckdb_path, write=write, create=create, settings=settings)
    from .clickhouse import ClickHouseConnection

    return ClickHouseConnection(**clickhouse_arguments(project), write=write)


def clickhouse_arguments(project: Project) -> dict:
    """The ClickHouse connection of the project's dbt profile target: driver settings (with the
    target's custom_settings as session settings) and cluster."""
    profile = project.profile_settings
    settings = dict(profile.clickhouse)
    if profile.custom_settings:
        settings["settings"] = dict(profile.custom_settings)
    return {"settings": settings, "cluster": profile.cluster}


def require(conn: Connection, project: Project, layer: str, table: str, hint: str = BUILD_HINT) -> tuple[str, str]:
    """``(schema, table)`` of a table the project builds; a ``WarehouseError`` saying what to
    run when it is not there."""
    schema, name = project.relation(layer, table)
    if not conn.exists(schema, name):
        raise WarehouseError(f"table {schema}.{name} does not exist in the {project.engine} warehouse: {hint}")
    return schema, name


def read_built_table(project: Project, layer: str, table: str, *, order_by: str | None = None) -> pd.DataFrame:
    """A whole table the project builds (punch lists and marts are small), over a connection
    opened and closed for this read."""
    with connect(project) as conn:
        schema, name = require(conn, project, layer, table, "run `beton run` first")
        return conn.read_table(schema, name, order_by=order_by)


__all__ = [
    "BUILD_HINT",
    "Column",
    "Connection",
    "EngineError",
    "TableSpec",
    "clickhouse_arguments",
    "connect",
    "read_built_table",
    "require",
]
