"""The enrichment tables as a dbt source read through thin staging models: declared with the
columns `beton enrich` writes, empty but typed before the first `beton enrich`, and filled
(staging views and enriched marts alike) by the run that writes them."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from test_enrich_shared import REPO, fresh_copy, sql

from beton_runner.enrich import SimulationProvider, run_enrichment
from beton_runner.enrich.model import RUNS_TABLE, TABLES
from beton_runner.project import model_name

STAGING = {
    "stg_enrichment__accounts": "account_enrichment",
    "stg_enrichment__account_intent_signals": "account_intent_signals",
    "stg_enrichment__account_tech_stack": "account_tech_stack",
    "stg_enrichment__users": "user_enrichment",
}
# what the store creates on DuckDB for each column type of beton_runner/enrich/model.py
DUCKDB_TYPES = {"text": "VARCHAR", "int": "BIGINT", "float": "DOUBLE"}


def _columns(project, schema: str, table: str) -> list[tuple[str, str]]:
    return list(
        sql(
            project,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).itertuples(index=False, name=None)
    )


def test_the_source_declares_what_the_store_writes():
    """_enrichment__sources.yml lists every table `beton enrich` writes, with its columns in order."""
    document = yaml.safe_load((REPO / "models/staging/enrichment/_enrichment__sources.yml").read_text())
    (source,) = document["sources"]
    assert source["name"] == "beton_enrichment" and source["schema"] == "{{ target.schema }}_enrichment"
    declared = {t["name"]: [c["name"] for c in t["columns"]] for t in source["tables"]}
    written = {spec.name: spec.column_names for spec in (*TABLES.values(), RUNS_TABLE)}
    assert declared == written
    for table in source["tables"]:
        assert table["description"] and all(c["description"] for c in table["columns"]), table["name"]
    models = yaml.safe_load((REPO / "models/staging/enrichment/_enrichment__models.yml").read_text())
    assert sorted(m["name"] for m in models["models"]) == sorted(model_name(t) for t in STAGING)
    assert not any(
        p.name.startswith("_marts__") and "sources:" in p.read_text() for p in (REPO / "models/marts").glob("*.yml")
    ), "the source is declared in staging only"


@pytest.fixture(scope="module")
def fresh(mock_build, tmp_path_factory):
    """A copy of the mock build: dbt has built everything, `beton enrich` has never run."""
    return fresh_copy(mock_build, tmp_path_factory.mktemp("enrich-staging"), "fresh")


def test_before_enrich_the_staging_views_are_empty_and_typed(fresh):
    assert (
        sql(fresh, "select count(*) as n from information_schema.schemata where schema_name = 'beton_enrichment'")["n"][
            0
        ]
        == 0
    )
    for model, table in STAGING.items():
        expected = [(c.name, DUCKDB_TYPES[c.type]) for c in TABLES[table].columns]
        assert _columns(fresh, "beton_staging", model) == expected, model
        assert sql(fresh, f"select count(*) as n from beton_staging.{model}")["n"][0] == 0, model
    accounts = sql(fresh, "select * from beton_marts.dim_accounts_enriched")
    assert len(accounts) == 15 and not accounts["is_enriched"].any()
    assert accounts["employee_band"].isna().all() and (accounts["tech_stack_size"] == 0).all()


def test_enrich_fills_the_staging_views_and_the_enriched_marts(fresh, tmp_path):
    """The run that creates the tables rebuilds the views that were built empty; the marts
    then carry what the tables hold (checked against the tables themselves, with pandas)."""
    summary = run_enrichment(fresh, SimulationProvider(), refresh_marts=True, vars={"beton_input": "mock"})
    assert summary.marts_refreshed and summary.accounts == 15
    for model, table in STAGING.items():
        key = ", ".join(TABLES[table].key)
        staged = sql(fresh, f"select * from beton_staging.{model} order by {key}")
        written = sql(fresh, f"select * from beton_enrichment.{table} order by {key}")
        assert len(written) > 0, table
        pd.testing.assert_frame_equal(staged, written)
    intel = sql(fresh, "select * from beton_enrichment.account_enrichment").set_index("account_id")
    signals = sql(fresh, "select * from beton_enrichment.account_intent_signals")
    tech = sql(fresh, "select * from beton_enrichment.account_tech_stack")
    marts = sql(fresh, "select * from beton_marts.dim_accounts_enriched").set_index("account_id")
    assert len(marts) == 15 and marts["is_enriched"].all()
    assert (marts["employee_band"] == intel.loc[marts.index, "employee_band"]).all()
    assert (marts["funding_stage"] == intel.loc[marts.index, "funding_stage"]).all()
    counts = signals.groupby("account_id").size().reindex(marts.index, fill_value=0)
    assert (marts["intent_signals"] == counts).all()
    strongest = signals.sort_values("position").groupby("account_id")["topic"].first()
    assert all(marts.loc[a, "intent_topics"].split("; ")[0] == topic for a, topic in strongest.items())
    sizes = tech.groupby("account_id").size().reindex(marts.index, fill_value=0)
    assert (marts["tech_stack_size"] == sizes).all()
    people = sql(fresh, "select * from beton_enrichment.user_enrichment").set_index("user_id")
    users = sql(fresh, "select * from beton_marts.dim_users_enriched").set_index("user_id")
    enriched = users[users["is_enriched"]]
    assert sorted(enriched.index) == sorted(people.index)
    assert (enriched["seniority"] == people.loc[enriched.index, "seniority"]).all()
