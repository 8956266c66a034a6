"""`beton enrich --target clickhouse` on the real ClickHouse engine (chDB behind the test HTTP
server): reads the marts, writes the beton_enrichment database, identical to DuckDB's."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml
from test_enrich_shared import REPO, enriched_project, run_command, sql

from beton_runner.dbt import run_dbt
from beton_runner.enrich import SimulationProvider, run_enrichment
from beton_runner.enrich.run import ENRICHED_MARTS, ENRICHMENT_STAGING
from beton_runner.enrich.store import Store
from beton_runner.project import Project, model_name

clickhouse_connect = pytest.importorskip("clickhouse_connect")
pytestmark = pytest.mark.clickhouse

SCHEMA = "beton_enrich_ch"  # its own databases on the shared test server
KEYS = {
    "account_enrichment": "account_id",
    "account_intent_signals": "account_id, position",
    "account_tech_stack": "account_id, position",
    "user_enrichment": "user_id",
}


def contract_types(model: str) -> dict[str, str]:
    """The ClickHouse column types model's enforced contract declares (models/marts/
    _marts__models.yml), in table order: the stand-in marts are what a real build creates."""
    document = yaml.safe_load((REPO / "models/marts/_marts__models.yml").read_text())
    (spec,) = [m for m in document["models"] if m["name"] == model_name(model)]
    pattern = re.compile(r'"([^"]+)" if target\.type == "clickhouse"')
    return {c["name"]: pattern.search(c["data_type"]).group(1).replace("''", "'") for c in spec["columns"]}


TS = "DateTime64(6, 'UTC')"
CH_TYPES = {table: contract_types(table) for table in ("dim_accounts", "dim_users")}


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def marts_project(clickhouse_server, mock_build, schema: str, target_path) -> Project:
    """A ClickHouse project whose marts are dim_accounts and dim_users of the mock build."""
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=False)
    client.command(f"create database if not exists {schema}_marts")
    for table, types in CH_TYPES.items():
        frame = sql(mock_build, f"select {', '.join(types)} from beton_marts.{table}")
        columns = ", ".join(f"`{c}` {t}" for c, t in types.items())
        client.command(f"drop table if exists {schema}_marts.{table}")
        client.command(
            f"create table {schema}_marts.{table} ({columns}) engine = MergeTree order by {next(iter(types))}"
        )
        rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        client.insert(table, rows, column_names=list(types), database=f"{schema}_marts")
    client.close()
    return Project(
        dir=REPO,
        target="clickhouse",
        schema=schema,
        target_path=target_path,
        env={
            "CLICKHOUSE_HOST": clickhouse_server.host,
            "CLICKHOUSE_PORT": str(clickhouse_server.port),
            "CLICKHOUSE_DATABASE": schema,
        },
    )


@pytest.fixture(scope="module")
def ch_project(clickhouse_server, mock_build, tmp_path_factory):
    """dim_accounts and dim_users of the mock build, loaded into ClickHouse as the marts."""
    return marts_project(clickhouse_server, mock_build, SCHEMA, tmp_path_factory.mktemp("ch-target"))


@pytest.fixture
def ch_env(clickhouse_server):
    return {
        "CLICKHOUSE_HOST": clickhouse_server.host,
        "CLICKHOUSE_PORT": str(clickhouse_server.port),
        "CLICKHOUSE_DATABASE": SCHEMA,
    }


def read_ch(project: Project) -> dict[str, pd.DataFrame]:
    with Store(project) as store:
        return {t: store.query(f"select * from {{enrichment.{t}}} order by {k}") for t, k in KEYS.items()}


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None).reset_index(drop=True)


def test_enrich_on_clickhouse_matches_duckdb(ch_project, mock_build, tmp_path_factory):
    summary = run_enrichment(ch_project, SimulationProvider(), refresh_marts=False)
    assert (summary.accounts, summary.users) == (15, 15)
    first = read_ch(ch_project)
    run_enrichment(ch_project, SimulationProvider(), refresh_marts=False)  # replaces, never appends
    second = read_ch(ch_project)
    duck = enriched_project(mock_build, tmp_path_factory)
    for table, key in KEYS.items():
        expected = sql(duck, f"select * from beton_enrichment.{table} order by {key}")
        assert list(first[table].columns) == list(expected.columns)
        pd.testing.assert_frame_equal(normalise(first[table]), normalise(expected), check_dtype=False)
        pd.testing.assert_frame_equal(normalise(second[table]), normalise(expected), check_dtype=False)
    with Store(ch_project) as store:
        runs = store.query("select provider, accounts from {enrichment.enrichment_runs} order by run_at")
        types = store.query(
            "select name, type from system.columns where database = :db and table = :t",
            {"db": f"{SCHEMA}_enrichment", "t": "account_enrichment"},
        )
    assert runs.values.tolist()[-2:] == [["simulation", 15], ["simulation", 15]]
    types = dict(zip(types["name"], types["type"]))
    assert types["account_id"] == "String" and types["employee_band"] == "Nullable(String)"
    assert types["founded_year"] == "Nullable(Int64)"


def test_enrich_command_with_target_clickhouse(ch_project, ch_env):
    result = run_command(
        "beton_runner.cli.enrich",
        "enrich_command",
        ["--target", "clickhouse", "--no-refresh-marts"],
        project=ch_project,
        env=ch_env,
    )
    assert result.returncode == 0, result.stderr
    assert "Enrichment (simulation) on clickhouse" in result.stdout
    assert f"wrote {SCHEMA}_enrichment.account_enrichment" in result.stdout


def test_clickhouse_connection_errors_are_clean(monkeypatch):
    monkeypatch.setenv("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", "ch-secret-123456")
    from beton_runner.errors import WarehouseError

    project = Project(
        dir=REPO, target="clickhouse", schema=SCHEMA, env={"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": "1"}
    )
    with pytest.raises(WarehouseError) as error:
        run_enrichment(project, SimulationProvider(), refresh_marts=False)
    assert "cannot connect to ClickHouse at 127.0.0.1:1" in str(error.value)
    assert "ch-secret-123456" not in str(error.value)


def test_enriched_marts_build_on_clickhouse(ch_project, mock_build, tmp_path_factory):
    """The two dbt models on ClickHouse (listagg, typed nulls, joins, their data tests) give the
    same enriched rows as on DuckDB. (Before any enrich they build too: tests/punch_lists/test_clickhouse.py
    builds the whole project, these models included, on a fresh database.)"""
    run_enrichment(ch_project, SimulationProvider(), refresh_marts=True)
    duck = enriched_project(mock_build, tmp_path_factory)
    columns = [
        "account_id",
        "is_enriched",
        "enrichment_provider",
        "employee_band",
        "revenue_band",
        "hq_country",
        "funding_stage",
        "founded_year",
        "company_description",
        "intent_topics",
        "intent_signals",
        "top_intent_strength",
        "tech_stack",
        "tech_stack_size",
    ]
    with Store(ch_project) as store:
        after = store.query(f"select {', '.join(columns)} from {{marts.dim_accounts_enriched}} order by account_id")
        users_after = store.query(
            "select user_id, is_enriched, seniority, department, buying_role "
            "from {marts.dim_users_enriched} order by user_id"
        )
    expected = sql(duck, f"select {', '.join(columns)} from beton_marts.dim_accounts_enriched order by account_id")
    pd.testing.assert_frame_equal(normalise(after), normalise(expected), check_dtype=False)
    expected_users = sql(
        duck,
        "select user_id, is_enriched, seniority, department, buying_role "
        "from beton_marts.dim_users_enriched order by user_id",
    )
    pd.testing.assert_frame_equal(normalise(users_after), normalise(expected_users), check_dtype=False)


def test_enriched_marts_before_and_after_the_first_enrich_on_clickhouse(clickhouse_server, mock_build, tmp_path):
    """On a database where `beton enrich` never ran, the enrichment staging views build empty
    (typed, Nullable) and the enriched marts carry every account, unenriched; the first enrich
    rebuilds the views, and the marts then hold what the enrichment tables hold."""
    schema = "beton_enrich_fresh_ch"
    project = marts_project(clickhouse_server, mock_build, schema, tmp_path / "target")
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=False)
    try:
        client.command(f"drop database if exists {schema}_enrichment")
        result = run_dbt(project, ["build"], select=[model_name(t) for t in (*ENRICHMENT_STAGING, *ENRICHED_MARTS)])
        assert {r.status for r in result.node_results if not r.unique_id.startswith("exposure.")} <= {"success", "pass"}
        for model in ENRICHMENT_STAGING:
            assert client.command(f"select count() from {schema}_staging.{model}") == 0, model
        types = dict(
            client.query(
                "select name, type from system.columns where database = {db:String} "
                "and table = 'stg_enrichment__accounts'",
                parameters={"db": f"{schema}_staging"},
            ).result_rows
        )
        assert types["employee_band"] == "Nullable(String)" and types["founded_year"] == "Nullable(Int64)"
        before = client.query(
            f"select account_id, is_enriched, employee_band, intent_signals "
            f"from {schema}_marts.dim_accounts_enriched order by account_id"
        ).result_rows
        assert len(before) == 15 and all(row[1:] == (False, None, 0) for row in before)

        run_enrichment(project, SimulationProvider(), refresh_marts=True)
        intel = dict(
            client.query(f"select account_id, employee_band from {schema}_enrichment.account_enrichment").result_rows
        )
        signals = dict(
            client.query(
                f"select account_id, count() from {schema}_enrichment.account_intent_signals group by account_id"
            ).result_rows
        )
        after = client.query(
            f"select account_id, is_enriched, employee_band, intent_signals "
            f"from {schema}_marts.dim_accounts_enriched order by account_id"
        ).result_rows
    finally:
        client.close()
    assert len(intel) == 15
    assert after == [(account_id, True, intel[account_id], signals.get(account_id, 0)) for account_id, *_ in before]


DUCK_TO_CH = {
    "VARCHAR": "String",
    "BIGINT": "Int64",
    "INTEGER": "Int64",
    "HUGEINT": "Int64",
    "DOUBLE": "Float64",
    "TIMESTAMP": TS,
    "DATE": "Date32",
    "BOOLEAN": "Bool",
}


def copy_to_clickhouse(duck_project: Project, ch: Project, layer: str, table: str) -> None:
    """A table of the DuckDB build, same name and columns, in ClickHouse (every column Nullable)."""
    schema = f"{duck_project.schema}_{layer}"
    columns = sql(
        duck_project,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    )
    frame = sql(duck_project, f'select * from "{schema}"."{table}"')
    client = clickhouse_connect.get_client(
        host=ch.env["CLICKHOUSE_HOST"], port=int(ch.env["CLICKHOUSE_PORT"]), compress=False
    )
    database = f"{SCHEMA}_{layer}"
    client.command(f"create database if not exists {database}")
    client.command(f"drop table if exists {database}.{table}")
    spec = ", ".join(f"`{c}` Nullable({DUCK_TO_CH[t]})" for c, t in columns.itertuples(index=False))
    client.command(f"create table {database}.{table} ({spec}) engine = MergeTree order by tuple()")
    rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    client.insert(table, rows, column_names=list(frame.columns), database=database)
    client.close()


def test_plays_read_the_same_facts_from_clickhouse(ch_project, mock_build, tmp_path_factory):
    """Facts gathering (parameterised SQL over int_events, findings, marts, enrichment) gives the
    same facts, hence byte-identical plays, on ClickHouse as on DuckDB."""
    from beton_runner.plays import gather_facts, write_plays

    duck = enriched_project(mock_build, tmp_path_factory)
    run_enrichment(ch_project, SimulationProvider(), refresh_marts=False)
    for layer, table in (
        ("intermediate", "int_events"),
        ("inspections", "insp_findings"),
        ("reference", "standard_events"),
        ("staging", "stg_posthog__accounts"),
        ("staging", "stg_posthog__events"),
    ):
        copy_to_clickhouse(duck, ch_project, layer, table)
    # active, gone quiet, never seen, anonymous only, trial: every branch of the facts queries
    accounts = ["acme.io", "quantacloud.io", "harborviewhealth.org", "meridianbank.com", "pipewise.app"]
    on_clickhouse = gather_facts(ch_project, accounts)
    on_duckdb = gather_facts(duck, accounts)
    assert [f["account"]["account_id"] for f in on_clickhouse] == [f["account"]["account_id"] for f in on_duckdb]
    for click, duck_facts in zip(on_clickhouse, on_duckdb):
        assert click == duck_facts, click["account"]["account_id"]
    assert [d.markdown for d in write_plays(on_clickhouse)] == [d.markdown for d in write_plays(on_duckdb)]
