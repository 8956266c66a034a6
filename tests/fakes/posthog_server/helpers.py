"""Helpers shared by the PostHog test modules: run an ingest against the test server and read
back what the warehouse holds, on either destination.

A *target* is where an ingest writes: :class:`DuckDBTarget` (a DuckDB file) or
:class:`ClickHouseTarget` (databases ``<prefix>_*`` on the chdb-backed ClickHouse test server).
Helpers also accept a plain DuckDB file path. SQL given to :func:`warehouse` names the raw
schema ``{raw}`` (``beton_raw`` on DuckDB, ``<prefix>_raw`` on ClickHouse); the literal
``beton_raw.`` works too.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from beton_runner.posthog.clickhouse_destination import ClickHouseDestination
from beton_runner.posthog.client import ClientSettings, PostHogClient
from beton_runner.posthog.config import resolve_config
from beton_runner.posthog.destination import DuckDBDestination
from beton_runner.posthog.ingest import IngestOptions, IngestResult, run_ingest
from beton_runner.posthog.progress import NullReporter

from .server import PostHogTestServer

# Quick retries so fault tests take well under a second each.
FAST = ClientSettings(
    connect_timeout=2.0,
    read_timeout=5.0,
    retries=4,
    connect_retries=2,
    backoff_factor=0.02,
    backoff_max=0.2,
    backoff_jitter=0.02,
)


class DuckDBTarget:
    kind = "duckdb"
    raw = "beton_raw"

    def __init__(self, path: Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"DuckDBTarget({self.path})"

    def destination(self) -> DuckDBDestination:
        return DuckDBDestination(self.path)

    def env(self) -> dict[str, str]:
        """Environment for `beton` commands that use this warehouse."""
        return {"BETON_DUCKDB_PATH": str(self.path)}

    def cli_args(self) -> list[str]:
        return ["--duckdb", str(self.path)]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def query_df(self, sql: str):
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()

    def tables(self) -> set[str]:
        return {
            t
            for (t,) in self.query(
                "select table_name from information_schema.tables where table_schema = ?",
                [self.raw],
            )
        }

    def events_state(self) -> list[tuple]:
        return self.query(f"select cursor_ts, complete from {self.raw}.posthog_sync_state where stream = 'events'")

    def cleanup(self) -> None:
        pass


class ClickHouseTarget:
    """Databases ``<prefix>_*`` on the ClickHouse test server (one prefix per test)."""

    kind = "clickhouse"

    def __init__(self, server: Any, prefix: str | None = None):
        self.server = server
        self.prefix = prefix or f"ph_{uuidlib.uuid4().hex[:10]}"
        self.raw = f"{self.prefix}_raw"
        self._client = None

    def __repr__(self) -> str:
        return f"ClickHouseTarget({self.raw})"

    def prepare(self) -> ClickHouseTarget:
        """Create the raw tables now and stop background merges of ``events``: its engine
        (ReplacingMergeTree) would otherwise collapse duplicates before a test could see them."""
        dest = self.destination()
        dest.open("test-setup")
        try:
            dest.connection.execute(f"system stop merges `{self.raw}`.`events`")
        finally:
            dest.close()
        return self

    def env(self) -> dict[str, str]:
        return {
            "CLICKHOUSE_HOST": self.server.host,
            "CLICKHOUSE_PORT": str(self.server.port),
            "CLICKHOUSE_DATABASE": self.prefix,
        }

    def destination(self) -> ClickHouseDestination:
        return ClickHouseDestination(environ=self.env())

    def cli_args(self) -> list[str]:
        return ["--target", "clickhouse"]

    def client(self):
        """One client per target (each new client costs the driver's start-up queries)."""
        if self._client is None:
            import clickhouse_connect

            self._client = clickhouse_connect.get_client(
                host=self.server.host,
                port=self.server.port,
                compress=False,
                autogenerate_session_id=False,
            )
        return self._client

    @staticmethod
    def _plain(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        """Rows as Python values; timestamps as naive UTC (like DuckDB's)."""
        rows = self.client().query(sql, parameters=params).result_rows
        return [tuple(self._plain(v) for v in row) for row in rows]

    def query_df(self, sql: str):
        """A result as a DataFrame of Python values (object columns; timestamps naive UTC)."""
        import pandas as pd

        result = self.client().query(sql)
        rows = [[self._plain(v) for v in row] for row in result.result_rows]
        return pd.DataFrame(rows, columns=list(result.column_names), dtype=object)

    def command(self, sql: str) -> Any:
        return self.client().command(sql)

    def tables(self) -> set[str]:
        return {
            t for (t,) in self.query("select name from system.tables where database = {db:String}", {"db": self.raw})
        }

    def events_state(self) -> list[tuple]:
        # one row per save; the latest version is the state
        return self.query(
            f"select cursor_ts, complete from {self.raw}.posthog_sync_state "
            "where stream = 'events' order by version desc limit 1"
        )

    def cleanup(self) -> None:
        try:
            for (db,) in self.query(
                "select name from system.databases where startsWith(name, {p:String})",
                {"p": self.prefix + "_"},
            ):
                self.command(f"drop database if exists `{db}`")
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None


Target = DuckDBTarget | ClickHouseTarget


def as_target(where: Target | Path | str) -> Target:
    if isinstance(where, (DuckDBTarget, ClickHouseTarget)):
        return where
    return DuckDBTarget(Path(where))


def config_for(
    server: PostHogTestServer,
    key: str | None = None,
    project_id: str | None = None,
    host: str | None = None,
):
    return resolve_config(
        host=host or server.url,
        project_id=project_id or server.project_id,
        environ={"POSTHOG_PERSONAL_API_KEY": key or server.api_key},
    )


def ingest(
    server: PostHogTestServer,
    where: Target | Path,
    settings: ClientSettings = FAST,
    reporter: NullReporter | None = None,
    destination: Any = None,
    **options: Any,
) -> IngestResult:
    options.setdefault("page_size", 50_000)
    dest = destination or as_target(where).destination()
    config = config_for(server)
    with PostHogClient(config, settings) as client:
        dest.open(config.source_key)
        try:
            return run_ingest(client, dest, IngestOptions(**options), reporter or NullReporter())
        finally:
            dest.close()


def warehouse(where: Target | Path, sql: str, params: Any = None) -> list[tuple]:
    target = as_target(where)
    return target.query(sql.replace("{raw}", target.raw).replace("beton_raw.", f"{target.raw}."), params)


def stored_uuids(where: Target | Path) -> list[str]:
    """Every stored event uuid, duplicates included (so a count and a set can be compared)."""
    return [r[0] for r in warehouse(where, "select uuid from {raw}.events")]


def assert_exact_events(where: Target | Path, server: PostHogTestServer) -> None:
    stored = stored_uuids(where)
    expected = server.dataset.event_uuids()
    assert len(stored) == len(set(stored)), "duplicate events in the warehouse"
    missing = expected - set(stored)
    extra = set(stored) - expected
    assert not missing and not extra, f"{len(missing)} missing, {len(extra)} unexpected events"
    assert len(stored) == len(expected)


def with_settings(**kw: Any) -> ClientSettings:
    return replace(FAST, **kw)
