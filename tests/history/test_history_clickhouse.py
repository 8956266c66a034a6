"""The findings history on the real ClickHouse engine (chdb behind the test HTTP server, unmodified
dbt-clickhouse): two runs on the mock data give the same changes as on DuckDB, value for value,
and a re-run at the same as_of adds nothing there either."""

from __future__ import annotations

import pytest
from test_clickhouse import assert_same_table, ch_project, ch_table

from beton_runner.dbt import run_dbt
from conftest import HISTORY_T1, MOCK_AS_OF, REPO, read_table

pytestmark = pytest.mark.clickhouse


def test_changes_on_clickhouse_equal_duckdb(mock_two_runs, clickhouse_server, tmp_path):
    project = ch_project(REPO, clickhouse_server, "beton_history", tmp_path / "target")
    for instant in (HISTORY_T1, MOCK_AS_OF, MOCK_AS_OF):
        result = run_dbt(project, ["build"], vars={"beton_input": "mock", "beton_as_of": instant.isoformat(sep=" ")})
        assert {r.status for r in result.node_results} <= {"success", "pass"}
    drop = ["computed_at", "input_fingerprint"]
    duck = read_table(mock_two_runs, "beton_inspections", "insp_finding_changes").drop(columns=["input_fingerprint"])
    click = ch_table(clickhouse_server, "beton_history_inspections", "insp_finding_changes").drop(
        columns=["input_fingerprint"]
    )
    assert assert_same_table(duck, click, "insp_finding_changes", ["change_id"]) > 10
    runs = ch_table(clickhouse_server, "beton_history_inspections", "insp_rule_runs")
    assert len(runs) == 2 * len(list((REPO / "rules").glob("*.yml")))
    history_duck = read_table(mock_two_runs, "beton_inspections", "insp_finding_history").drop(columns=drop)
    history_click = ch_table(clickhouse_server, "beton_history_inspections", "insp_finding_history").drop(columns=drop)
    assert_same_table(history_duck, history_click, "insp_finding_history", ["as_of", "rule_key", "entity_id"])
