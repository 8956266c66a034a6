"""Every statement the project sends to a ClickHouse cluster, rendered and checked here (no
cluster can run on this machine).

Python side: the real code runs against the one-node test server (tests/fakes/chserver) through
a recording client: it records each statement as the code sends it (with ``ON CLUSTER`` and
Replicated engines) and hands the server the single-node equivalent, so every step (exists
checks, counts, swaps) really runs. dbt side: ``dbt compile`` with ``cluster`` in the profile
renders the delete pre-hooks' SQL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import beton_runner.warehouse.clickhouse as ch
from beton_runner.posthog.clickhouse_destination import ClickHouseDestination
from beton_runner.posthog.stream import StreamState
from beton_runner.project import Project
from beton_runner.warehouse import Column, TableSpec
from beton_runner.warehouse.clickhouse import ClickHouseConnection, ClusterDDL

pytestmark = pytest.mark.clickhouse

REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
CLUSTER = "beton_cluster"
ON = f"on cluster '{CLUSTER}'"
REPLICA_ARGS = "'/clickhouse/tables/{uuid}/{shard}', '{replica}'"
REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('/clickhouse/tables/\{uuid\}/\{shard\}', '\{replica\}'(?:, )?")
DDL = re.compile(r"^\s*(create|drop|alter|rename|exchange|delete)\b", re.IGNORECASE)

PEOPLE = TableSpec(
    "people",
    (Column("id", "text"), Column("name", "text"), Column("score", "float")),
    key=("id",),
)
PLACES = TableSpec("places", (Column("id", "text"), Column("city", "text")), key=("id",))


def single_node(sql: str) -> str:
    """What the one-node test server runs for a statement rendered for the cluster."""
    return REPLICATED.sub(r"\1(", sql.replace(f" {ON}", ""))


class Recorder:
    """A clickhouse-connect client that records every statement, then runs it on one node."""

    def __init__(self, client, log: list[str]):
        self._client, self.log = client, log

    def command(self, sql, parameters=None, **kw):
        self.log.append(sql)
        return self._client.command(single_node(sql), parameters=parameters, **kw)

    def query(self, sql, parameters=None, **kw):
        self.log.append(sql)
        return self._client.query(single_node(sql), parameters=parameters, **kw)

    def query_df(self, sql, parameters=None, **kw):
        self.log.append(sql)
        return self._client.query_df(single_node(sql), parameters=parameters, **kw)

    def insert(self, table, data, **kw):
        self.log.append(f"insert into {kw.get('database')}.{table}")
        return self._client.insert(table, data, **kw)

    def insert_arrow(self, table, batch, **kw):
        self.log.append(f"insert into {table}")
        return self._client.insert_arrow(table, batch, **kw)

    def close(self):
        self._client.close()


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every statement any ClickHouseConnection sends while the test runs."""
    log: list[str] = []
    real = ch.load_driver()
    driver = SimpleNamespace(get_client=lambda **kw: Recorder(real.get_client(**kw), log))
    monkeypatch.setattr(ch, "load_driver", lambda: driver)
    return log


@pytest.fixture
def database(clickhouse_server):
    name = f"cl_{uuid.uuid4().hex[:10]}"
    yield name
    conn = ClickHouseConnection(
        {"host": clickhouse_server.host, "port": clickhouse_server.port}, write=True, cluster=""
    )
    try:
        for (db,) in conn.rows("select name from system.databases where startsWith(name, :p)", {"p": name}):
            conn.execute(f"drop database if exists `{db}`")
    finally:
        conn.close()


def ddl(log: list[str]) -> list[str]:
    return [s for s in log if DDL.match(s)]


def assert_clustered(log: list[str]) -> None:
    """ON CLUSTER on every DDL statement and DELETE, nowhere else; Replicated engines on every
    table created (a copy of a table names its own engine: a copied one would share the
    original's Keeper path)."""
    assert ddl(log), log
    for sql in log:
        if DDL.match(sql):
            assert sql.count(ON) == 1, sql
        else:
            assert "on cluster" not in sql.lower(), sql
        if re.match(r"\s*create table", sql):
            assert re.search(r"engine = Replicated\w*MergeTree\(" + re.escape(REPLICA_ARGS), sql), sql
            assert sql.count("MergeTree") == 1, sql


def assert_single_node(log: list[str]) -> None:
    assert ddl(log), log
    for sql in log:
        assert "on cluster" not in sql.lower(), sql
        assert "Replicated" not in sql, sql


# --- the rendering itself -----------------------------------------------------------------------


def test_cluster_ddl_renders_on_cluster_and_replicated_engines():
    d = ClusterDDL(CLUSTER)
    assert d.create_database("db") == f"create database if not exists `db` {ON}"
    assert d.engine("MergeTree") == f"ReplicatedMergeTree({REPLICA_ARGS})"
    assert d.engine("ReplacingMergeTree", "version") == f"ReplicatedReplacingMergeTree({REPLICA_ARGS}, version)"
    assert (
        d.create_table("t", "`a` String", "MergeTree")
        == f"create table if not exists t {ON} (`a` String) engine = MergeTree"
    )
    assert d.create_as("n", "t", "E") == f"create table n {ON} as t engine = E"
    assert d.drop_table("t") == f"drop table if exists t {ON}"
    assert d.rename("a", "b") == f"rename table a to b {ON}"
    assert d.exchange("a", "b") == f"exchange tables a and b {ON}"
    assert d.alter("t", "add column c String") == f"alter table t {ON} add column c String"
    assert d.delete("t", "a = 1") == f"delete from t {ON} where a = 1"
    assert ClusterDDL("it's").on == " on cluster 'it\\'s'"


def test_without_a_cluster_statements_are_unchanged():
    d = ClusterDDL("")
    assert d.create_database("db") == "create database if not exists `db`"
    assert d.engine("MergeTree") == "MergeTree"
    assert d.engine("ReplacingMergeTree", "version") == "ReplacingMergeTree(version)"
    assert d.create_as("n", "t", "E") == "create table n as t"
    assert d.exchange("a", "b") == "exchange tables a and b"
    assert d.delete("t", "a = 1") == "delete from t where a = 1"


def test_the_cluster_comes_from_clickhouse_cluster(clickhouse_server):
    settings = {"host": clickhouse_server.host, "port": clickhouse_server.port}
    conn = ClickHouseConnection(settings, environ={"CLICKHOUSE_CLUSTER": f" {CLUSTER} "})
    assert conn.cluster_ddl.cluster == CLUSTER
    conn.close()
    conn = ClickHouseConnection(settings, environ={"CLICKHOUSE_CLUSTER": CLUSTER}, cluster="")
    assert conn.cluster_ddl.cluster == ""
    conn.close()


# --- the warehouse connection: tables, appends, replacements --------------------------------------


def run_connection(server, database: str, cluster: str) -> ClickHouseConnection:
    conn = ClickHouseConnection({"host": server.host, "port": server.port}, write=True, cluster=cluster)
    people = pd.DataFrame({"id": ["a", "b"], "name": ["Ann", None], "score": [1.5, None]})
    conn.ensure_schema(database)
    conn.create_table(database, PEOPLE)
    conn.insert_frame(database, "people", people)
    assert conn.append_rows(database, "people", pd.DataFrame({"id": ["c"], "name": ["Cy"], "score": [2.0]})) == 1
    counts = conn.replace_tables(
        database,
        {PEOPLE: people, PLACES: pd.DataFrame({"id": ["x"], "city": ["Oslo"]})},  # exchanged; renamed in
    )
    assert counts == {"people": 2, "places": 1}
    return conn


@pytest.mark.parametrize("cluster", [CLUSTER, ""], ids=["cluster", "single"])
def test_connection_statements(clickhouse_server, database, statements, cluster):
    conn = run_connection(clickhouse_server, database, cluster)
    conn.close()
    db = f"`{database}`"
    if not cluster:
        assert_single_node(statements)
        assert f"create table if not exists {db}.`people` (`id` String, " in "\n".join(statements)
        return
    assert_clustered(statements)
    rendered = ddl(statements)
    assert rendered[0] == f"create database if not exists {db} {ON}"
    assert rendered[1] == (
        f"create table if not exists {db}.`people` {ON} (`id` String, `name` Nullable(String), "
        f"`score` Nullable(Float64)) engine = ReplicatedMergeTree({REPLICA_ARGS}) order by (`id`)"
    )
    # append: a copy with its own replicated engine, then its parts attached on every node
    copy = (
        f"create table {db}.`people__new` {ON} as {db}.`people` engine = ReplicatedMergeTree({REPLICA_ARGS}) order by "
    )
    assert any(re.fullmatch(re.escape(copy) + r"\(+id\)+", s) for s in rendered), rendered  # its sorting key
    assert f"alter table {db}.`people` {ON} attach partition id 'all' from {db}.`people__new`" in rendered
    # replace: exchanged (an existing table) or renamed in (a new one), the old rows dropped
    assert f"exchange tables {db}.`people__new` and {db}.`people` {ON}" in rendered
    assert f"drop table {db}.`people__new` {ON}" in rendered
    assert f"rename table {db}.`places__new` to {db}.`places` {ON}" in rendered
    # inserts are not DDL: the Replicated engine copies them to the other replicas
    assert f"insert into {database}.people__new" in statements


def test_outbox_tables_on_a_cluster(clickhouse_server, database, statements):
    """The delivery outbox (beton_runner/deliver) writes through the warehouse connection: its
    tables and appends follow CLICKHOUSE_CLUSTER from the project's environment."""
    from beton_runner.deliver.outbox import Outbox

    env = {
        "CLICKHOUSE_HOST": clickhouse_server.host,
        "CLICKHOUSE_PORT": str(clickhouse_server.port),
        "CLICKHOUSE_DATABASE": database,
        "CLICKHOUSE_CLUSTER": CLUSTER,
    }
    project = Project(dir=REPO, target="clickhouse", schema=database, env=env)
    outbox = Outbox(project)
    outbox.ensure()
    cursor = datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert outbox.enqueue(SimpleNamespace(name="crm"), [], cursor) == 0
    assert_clustered(statements)
    created = [s for s in statements if s.startswith("create table if not exists")]
    assert len(created) == 3, created
    assert any(s.startswith(f"alter table `{outbox.schema}`.") and "attach partition" in s for s in statements)


# --- PostHog ingestion: input tables, state, snapshot swaps ----------------------------------------


def run_ingest(server, database: str, cluster: str) -> dict[str, int]:
    dest = ClickHouseDestination(
        database=database,
        environ={"CLICKHOUSE_CLUSTER": cluster},
        settings={"host": server.host, "port": server.port, "secure": False},
    )
    dest.open("posthog:test")
    t = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    events = [
        ("u1", "signup", "d1", t, '{"company": "Acme.com"}', "p1"),
        ("u2", "login", "d1", t, "{}", "p1"),
    ]
    assert dest.write_events(events, StreamState("events", t, t, "u2", False, "created_at")) == 2
    dest.start_snapshot("persons")
    dest.write_snapshot("persons", [("p1", t, '{"company": "acme.com"}', True)])
    assert dest.finish_snapshot("persons") == 1
    assert dest.accounts_from_property("company") == 1
    counts = dest.counts()
    dest.close()
    return counts


def test_posthog_ingest_on_a_cluster(clickhouse_server, database, statements):
    counts = run_ingest(clickhouse_server, database, CLUSTER)
    assert counts == {"events": 2, "persons": 1, "person_distinct_id": 0, "accounts": 1}
    assert_clustered(statements)
    db = f"`{database}`"
    rendered = ddl(statements)
    assert rendered[0] == f"create database if not exists {db} {ON}"
    assert any(
        s.startswith(f"create table if not exists {db}.`events` {ON} (")
        and s.endswith(f"engine = ReplicatedReplacingMergeTree({REPLICA_ARGS}) order by (timestamp, uuid)")
        for s in rendered
    ), rendered
    assert any(
        s.startswith(f"create table if not exists {db}.`posthog_sync_state` {ON} (")
        and s.endswith(f"engine = ReplicatedReplacingMergeTree({REPLICA_ARGS}, version) order by (source, stream)")
        for s in rendered
    ), rendered
    assert (
        f"alter table {db}.`posthog_sync_state` {ON} add column if not exists `cursor_column` Nullable(String)"
        in rendered
    )
    staging = f"create table {db}.`_posthog_staging_persons` {ON} as {db}.`persons` engine = ReplicatedMergeTree({REPLICA_ARGS}) order by id"
    assert staging in rendered
    assert f"exchange tables {db}.`_posthog_swap_persons` and {db}.`persons` {ON}" in rendered
    assert f"exchange tables {db}.`_posthog_swap_accounts` and {db}.`accounts` {ON}" in rendered
    assert f"drop table if exists {db}.`_posthog_staging_persons` {ON}" in rendered


def test_posthog_ingest_without_a_cluster_is_unchanged(clickhouse_server, database, statements):
    counts = run_ingest(clickhouse_server, database, "")
    assert counts["events"] == 2 and counts["accounts"] == 1
    assert_single_node(statements)
    assert f"create table `{database}`.`_posthog_swap_persons` as `{database}`.`persons`" in statements


# --- dbt: the delete pre-hooks through dbt-clickhouse's on_cluster_clause ---------------------------


def test_dbt_delete_hooks_render_on_cluster(clickhouse_server, database, tmp_path):
    """``dbt compile`` of the hooks' macros with ``cluster`` in the profile (CLICKHOUSE_CLUSTER).
    The compiled node stands for an incremental model whose table exists (a test-only
    is_incremental; dbt-clickhouse's cluster introspection, clusterAllReplicas, cannot run on one
    node, so the adapter cache is not populated)."""
    from conftest import copy_project

    project = copy_project(tmp_path / "project")
    (project / "macros" / "test_only_incremental.sql").write_text(
        "{% macro is_incremental() %}{{ return(execute) }}{% endmacro %}\n"
    )
    conn = ClickHouseConnection(
        {"host": clickhouse_server.host, "port": clickhouse_server.port}, write=True, cluster=""
    )
    conn.ensure_schema(database)
    conn.execute(
        f"create table `{database}`.`inline_query` (as_of DateTime64(6, 'UTC'), input_fingerprint String) "
        "engine = MergeTree order by tuple()"
    )
    conn.close()
    inline = (
        "{{ beton.delete_this_as_of() }};\n"
        "{{ beton.delete_stale_rows({'input_fingerprint': 'abc'}) }};\n"
        "{{ beton.delete_rows(ref('insp_rule_runs'), '1 = 1') }}"
    )

    def compile_with(cluster: str) -> list[str]:
        env = {
            **os.environ,
            "BETON_TARGET": "clickhouse",
            "CLICKHOUSE_HOST": clickhouse_server.host,
            "CLICKHOUSE_PORT": str(clickhouse_server.port),
            "CLICKHOUSE_DATABASE": database,
            "CLICKHOUSE_CLUSTER": cluster,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        done = subprocess.run(
            [str(DBT), "compile", "--no-populate-cache", "--quiet", "--inline", inline]
            + ["--project-dir", str(project), "--profiles-dir", str(project)]
            + ["--target-path", str(tmp_path / f"target{cluster}"), "--log-path", str(tmp_path / "logs")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return [" ".join(s.split()) for s in done.stdout.strip().split(";")]

    on = f'ON CLUSTER "{CLUSTER}"'  # dbt-clickhouse's on_cluster_clause quotes the name so
    as_of, stale, rule_runs = compile_with(CLUSTER)
    assert as_of.startswith(f"delete from `{database}`.`inline_query` {on} where as_of = "), as_of
    assert stale == f"delete from `{database}`.`inline_query` {on} where coalesce(input_fingerprint, '') != 'abc'"
    assert rule_runs == f"delete from `{database}_inspections`.`insp_rule_runs` {on} where 1 = 1"

    as_of, stale, rule_runs = compile_with("")
    assert as_of.startswith(f"delete from `{database}`.`inline_query` where as_of = "), as_of
    assert stale == f"delete from `{database}`.`inline_query` where coalesce(input_fingerprint, '') != 'abc'"
    assert rule_runs == f"delete from `{database}_inspections`.`insp_rule_runs` where 1 = 1"


def test_every_delete_hook_goes_through_delete_rows():
    """The models' delete pre-hooks all render their statement with beton.delete_rows."""
    raw = [
        (path, line)
        for path in (REPO / "macros").rglob("*.sql")
        for line in path.read_text().splitlines()
        if re.search(r"\bdelete from\b", line, re.IGNORECASE) and not line.strip().startswith("{#")
    ]
    assert [str(p.relative_to(REPO)) for p, _ in raw] == ["macros/cross_db/functions.sql"] * 2, raw
