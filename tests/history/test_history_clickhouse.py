"""The findings history on the real ClickHouse engine (chdb behind the test HTTP server, unmodified
dbt-clickhouse): two runs on the mock data give the same changes as on DuckDB, value for value
(the second run goes through the pre-hook that replaces a run at its as_of); the trends mart and the dims' new_rules
are DuckDB's too, and the report marks the oracle's new findings there."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from test_clickhouse import assert_same_table, ch_env, ch_project, ch_table
from test_history import oracle_changes

from beton_runner.changes import latest_run
from beton_runner.dbt import run_dbt
from beton_runner.report import build_report
from conftest import HISTORY_T1, MOCK_AS_OF, REPO, read_table
from webhook_receiver.fixture import webhook_receiver, webhook_receiver_session  # noqa: F401

pytestmark = pytest.mark.clickhouse


def test_changes_on_clickhouse_equal_duckdb(mock_two_runs, clickhouse_server, webhook_receiver, tmp_path):  # noqa: F811
    project = ch_project(REPO, clickhouse_server, "beton_history", tmp_path / "target")
    for instant in (HISTORY_T1, MOCK_AS_OF):
        result = run_dbt(project, ["build"], vars={"beton_input": "mock", "beton_as_of": instant.isoformat(sep=" ")})
        assert {r.status for r in result.node_results if not r.unique_id.startswith("exposure.")} <= {"success", "pass"}
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
    trends_duck = read_table(mock_two_runs, "beton_marts", "mart_rule_trends")
    trends_click = ch_table(clickhouse_server, "beton_history_marts", "mart_rule_trends")
    assert assert_same_table(trends_duck, trends_click, "mart_rule_trends", ["rule_key", "as_of"]) == len(runs)
    for table, key in (("dim_users", "user_id"), ("dim_accounts", "account_id")):
        new_duck = read_table(mock_two_runs, "beton_marts", table)[[key, "new_rules"]]
        new_click = ch_table(clickhouse_server, "beton_history_marts", table)[[key, "new_rules"]]
        assert assert_same_table(new_duck, new_click, f"{table}.new_rules", [key]) > 0
        assert new_click["new_rules"].notna().any(), table

    report = build_report(project, tmp_path / "report.html", plays_dir=tmp_path / "no-plays")
    assert report.data.trend_runs == 2
    expected = oracle_changes([HISTORY_T1, MOCK_AS_OF])
    at_latest = expected[expected["as_of"] == pd.Timestamp(MOCK_AS_OF)]

    # what `beton run` says after the build, counted in ClickHouse
    latest = latest_run(project)
    assert latest is not None and not latest.first
    as_of = latest.as_of.tz_convert("UTC").tz_localize(None) if latest.as_of.tzinfo else latest.as_of
    assert as_of == pd.Timestamp(MOCK_AS_OF)
    assert (latest.entered, latest.exited) == (
        int((at_latest["change"] == "entered").sum()),
        int((at_latest["change"] == "exited").sum()),
    )
    for punch_list in report.data.punch_lists:
        mine = at_latest[at_latest["rule_key"] == punch_list.rule.key]
        changes = punch_list.changes
        assert changes is not None and changes.previous_as_of == pd.Timestamp(HISTORY_T1)
        assert changes.entered == set(mine.loc[mine["change"] == "entered", "entity_id"])
        assert changes.exited == set(mine.loc[mine["change"] == "exited", "entity_id"])

    # and `beton deliver` keeps its outbox in ClickHouse: the latest run's changes, once
    deliver_changes_once_on_clickhouse(clickhouse_server, webhook_receiver, tmp_path, at_latest)


def deliver_changes_once_on_clickhouse(server, receiver, tmp_path, at_latest: pd.DataFrame) -> None:
    config = tmp_path / "destinations.yml"
    config.write_text("destinations:\n  hook:\n    kind: webhook\n    batch_size: 3\n", encoding="utf-8")
    env = {
        **os.environ,
        **ch_env(server, "beton_history"),
        "CLICKHOUSE_PASSWORD": "",
        "BETON_TARGET_PATH": str(tmp_path / "target"),
        "BETON_DESTINATIONS": str(config),
        "BETON_WEBHOOK_URL": receiver.url,
    }
    command = [
        sys.executable,
        "-m",
        "beton_runner.cli",
        "--project-dir",
        str(REPO),
        "deliver",
        "--target",
        "clickhouse",
    ]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    moving = at_latest[at_latest["change"] != "stayed"]
    got = [(c["rule_key"], c["entity_id"], c["change"]) for c in receiver.changes]
    assert sorted(got) == sorted(zip(moving["rule_key"], moving["entity_id"], moving["change"]))
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    assert len(receiver.changes) == len(got)  # nothing sent twice
    results = ch_table(server, "beton_history_delivery", "outbox_results")
    assert sorted(results["change_id"]) == sorted(c["change_id"] for c in receiver.changes)
