"""`beton backtest` on the real ClickHouse engine (chdb behind the test HTTP server): the same
compiled query, moved to past as_of dates, gives the rule oracle's punch lists, eligible
populations and conversions there, and the same metrics as on DuckDB; the result is kept in
the ClickHouse warehouse."""

from __future__ import annotations

from datetime import datetime

import pytest
from test_backtest import CONVERSIONS, WITHIN, assert_equals_the_oracle

from beton_runner.backtest import read_backtests, run_backtests, store
from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from beton_runner.rules import load_rules
from conftest import REPO

pytestmark = pytest.mark.clickhouse
DATABASE = "beton_backtest_ch"
# a user rule read from the shared rollup, an account rule with property filters (its own rollup)
KEYS = ("pql_power_users", "pqa_free_plan_enterprise_interest")
AS_OFS = [datetime(2026, 9, 12, 12), datetime(2026, 9, 20, 6, 15, 0, 500000)]


def test_backtest_on_clickhouse_equals_the_oracle(clickhouse_server, tmp_path):
    env = {
        "CLICKHOUSE_HOST": clickhouse_server.host,
        "CLICKHOUSE_PORT": str(clickhouse_server.port),
        "CLICKHOUSE_DATABASE": DATABASE,
    }
    project = Project(dir=REPO, target="clickhouse", schema=DATABASE, target_path=tmp_path / "target", env=env)
    # only what the three rules and the backtest read (models and seeds, no dbt tests)
    run_dbt(
        project,
        ["build", "--resource-type", "model", "--resource-type", "seed"],
        vars={"beton_input": "mock"},
        select=["+beton_int_events", *(f"+insp_{k}" for k in KEYS)],
    )
    rules = [r for r in load_rules(REPO / "rules") if r.key in KEYS]
    results = run_backtests(project, rules, AS_OFS, CONVERSIONS, WITHIN, 8, vars={"beton_input": "mock"})
    assert_equals_the_oracle(results, AS_OFS)
    assert sum(int(r.rows["flagged"].sum()) for r in results) > 0  # the comparison is not vacuous
    store(project, results)
    kept = read_backtests(project)
    assert sorted(set(kept["rule_key"])) == sorted(KEYS) and len(kept) == len(KEYS) * len(AS_OFS)
