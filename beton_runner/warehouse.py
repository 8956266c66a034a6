"""Reading (and, for loaders, writing) the warehouse: the DuckDB file or a ClickHouse server.

Connections are opened per use and closed before dbt runs (a DuckDB file takes one writer).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import pandas as pd

from .errors import ConfigError, WarehouseError
from .project import Project


def clickhouse_settings(environ: dict | None = None) -> dict:
    """Connection settings for the clickhouse target, from the same environment variables as profiles.yml."""
    env = {**os.environ, **(environ or {})}
    secure = env.get("CLICKHOUSE_SECURE", "false").strip().lower() in ("1", "true", "yes")
    port = env.get("CLICKHOUSE_PORT", "8443" if secure else "8123")
    if not port.isdigit():
        raise ConfigError(f"CLICKHOUSE_PORT must be a port number, not '{port}'")
    return {
        "host": env.get("CLICKHOUSE_HOST", "localhost"),
        "port": int(port),
        "username": env.get("CLICKHOUSE_USER", "default"),
        "password": env.get("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", env.get("CLICKHOUSE_PASSWORD", "")),
        "secure": secure,
        "verify": env.get("CLICKHOUSE_VERIFY", "true").strip().lower() in ("1", "true", "yes"),
    }


class Warehouse:
    """Read access to the tables the project builds."""

    def __init__(self, project: Project):
        self.project = project

    @contextmanager
    def _duckdb(self) -> Iterator["object"]:
        import duckdb

        path = self.project.duckdb_path
        if not path.exists():
            raise WarehouseError(f"no warehouse at {path}: run `beton demo` or `beton run` first")
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open {path}: {exc}") from exc
        try:
            yield con
        finally:
            con.close()

    def _clickhouse(self):
        try:
            import clickhouse_connect
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("the clickhouse target needs `pip install 'beton-inspector[clickhouse]'`") from exc
        settings = clickhouse_settings(self.project.env)
        try:
            return clickhouse_connect.get_client(**settings, compress=False)
        except Exception as exc:  # the driver raises many kinds; none may carry the password
            raise WarehouseError(
                f"cannot connect to ClickHouse at {settings['host']}:{settings['port']} "
                f"(secure={settings['secure']}): {type(exc).__name__}; check CLICKHOUSE_HOST/PORT/USER/PASSWORD"
            ) from None

    def table_exists(self, layer: str, table: str) -> bool:
        schema, name = self.project.relation(layer, table)
        if self.project.target == "duckdb":
            with self._duckdb() as con:
                rows = con.execute(
                    "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchone()
                return bool(rows and rows[0])
        client = self._clickhouse()
        try:
            return bool(client.command("exists table {db:Identifier}.{t:Identifier}", parameters={"db": schema, "t": name}))
        finally:
            client.close()

    def read_table(self, layer: str, table: str) -> pd.DataFrame:
        """A whole table (punch lists and marts are small) as a DataFrame."""
        schema, name = self.project.relation(layer, table)
        if not self.table_exists(layer, table):
            raise WarehouseError(f"table {schema}.{name} does not exist in the {self.project.target} warehouse: run `beton run` first")
        if self.project.target == "duckdb":
            with self._duckdb() as con:
                return con.execute(f'select * from "{schema}"."{name}"').df()
        client = self._clickhouse()
        try:
            return client.query_df("select * from {db:Identifier}.{t:Identifier}", parameters={"db": schema, "t": name})
        finally:
            client.close()
