"""The tables BI tools and reverse-ETL read have enforced contracts and `access: public`: the
declared column types are the built ones, and a change of type fails the build with dbt's
contract error instead of silently changing the table."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from beton_runner.dbt import run_dbt
from beton_runner.errors import DbtCommandError
from beton_runner.project import Project
from conftest import copy_project, rule_documents

PUBLIC_MODELS = {
    "insp_findings",
    "insp_finding_changes",
    "dim_accounts",
    "dim_users",
    "dim_accounts_enriched",
    "dim_users_enriched",
    *(f"insp_{key}" for key in rule_documents()),
}
LAYER = {"insp": "inspections", "dim": "marts"}


def manifest(project: Project) -> dict:
    return json.loads((project.dbt_target_path / "manifest.json").read_text())


def test_output_tables_have_enforced_public_contracts_with_the_built_types(mock_build):
    # keyed by the table each model builds (beton_dim_accounts builds dim_accounts)
    nodes = {n["alias"]: n for n in manifest(mock_build)["nodes"].values() if n["resource_type"] == "model"}
    contracted = {name for name, n in nodes.items() if n["config"]["contract"]["enforced"]}
    assert contracted == PUBLIC_MODELS
    con = duckdb.connect(str(mock_build.duckdb_path), read_only=True)
    try:
        for name in sorted(PUBLIC_MODELS):
            node = nodes[name]
            assert node["access"] == "public", name
            schema = f"beton_{LAYER[name.split('_', 1)[0]]}"
            built = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            declared = [(c["name"], c["data_type"].upper()) for c in node["columns"].values()]
            assert built == declared, name  # every column, in order, of the declared (DuckDB) type
    finally:
        con.close()


def test_a_changed_column_type_fails_the_build_and_keeps_the_table(mock_build, tmp_path):
    project_dir = copy_project(tmp_path / "project")
    properties = project_dir / "models" / "marts" / "_marts__models.yml"
    text = properties.read_text()
    # dim_accounts.events_30d declared as text: the model's SQL still gives a bigint
    changed = re.sub(
        r"(- name: events_30d\n\s+data_type: '\{\{ \"Int64\" if target.type == \"clickhouse\" else )\"bigint\"",
        r'\1"varchar"',
        text,
        count=1,
    )
    assert changed != text
    properties.write_text(changed)
    db = tmp_path / "w.duckdb"
    shutil.copy(mock_build.duckdb_path, db)
    project = Project(dir=project_dir, target="duckdb", duckdb_path=db, target_path=tmp_path / "target")

    with pytest.raises(DbtCommandError) as failed:
        run_dbt(project, ["run"], vars={"beton_input": "mock"}, select=["beton_dim_accounts"])
    message = " ".join(str(failed.value).split())
    assert "model.beton.beton_dim_accounts" in message
    assert "contract" in message.lower() and "events_30d" in message

    con = duckdb.connect(str(db), read_only=True)
    try:
        kept = con.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'beton_marts' and table_name = 'dim_accounts' and column_name = 'events_30d'"
        ).fetchone()[0]
    finally:
        con.close()
    assert kept == "BIGINT"
