"""The exploratory views and the report on the real ClickHouse engine (chdb behind the test
HTTP server), through the project's own `clickhouse` profile: the views build with their dbt
tests and equal the independent pandas computation on the mock data, and `beton report
--target clickhouse` shows ClickHouse's numbers and the ClickHouse SQL each punch list ran."""

from __future__ import annotations

import dataclasses
import html
import re

import clickhouse_connect
import pandas as pd
import pytest
from test_explore import EXPLORE_MODELS, assert_matches, explore

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from beton_runner.report import build_report
from conftest import MOCK_AS_OF, REPO
from oracle import load_mock

pytestmark = [
    pytest.mark.clickhouse,
    pytest.mark.skipif(
        "clickhouse:" not in (REPO / "profiles.yml").read_text()
        or "env" not in {f.name for f in dataclasses.fields(Project)},
        reason="the project has no clickhouse profile yet",
    ),
]
DATABASE = "beton_report_ch"


@pytest.fixture(scope="module")
def ch_build(clickhouse_server, tmp_path_factory):
    env = {
        "CLICKHOUSE_HOST": clickhouse_server.host,
        "CLICKHOUSE_PORT": str(clickhouse_server.port),
        "CLICKHOUSE_DATABASE": DATABASE,
    }
    project = Project(
        dir=REPO, target="clickhouse", schema=DATABASE, target_path=tmp_path_factory.mktemp("ch_target"), env=env
    )
    result = run_dbt(
        project,
        ["build"],
        vars={"beton_input": "mock"},
        select=[
            "+path:models/explore",
            "+path:models/inspections",
            "+beton_dim_accounts",
            "+beton_dim_users",
            "+beton_mart_rule_trends",
        ],
    )
    return project, result


# what profiles.yml sets for dbt's own sessions (views are evaluated with the reader's settings)
PROFILE_SETTINGS = {"join_use_nulls": 1}


def ch_query(server, sql: str, settings: dict | None = PROFILE_SETTINGS) -> pd.DataFrame:
    client = clickhouse_connect.get_client(host=server.host, port=server.port, compress=False)
    try:
        frame = client.query_df(sql, settings=settings)
    finally:
        client.close()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def test_explore_views_build_on_clickhouse_and_equal_the_oracle(ch_build, clickhouse_server):
    _, result = ch_build
    explore_tests = [
        r
        for r in result.node_results
        if r.unique_id.startswith(("test.beton.", "unit_test.beton.")) and "explore" in r.unique_id
    ]
    # every explore table is tested (one test per model where it was one per column) and all pass
    assert {r.status for r in explore_tests} == {"pass"}
    untested = [m for m in EXPLORE_MODELS if not any(f"_{m}_" in r.unique_id for r in explore_tests)]
    assert not untested, untested
    expected = explore(load_mock(REPO / "seeds"), MOCK_AS_OF, days=30)
    for model in EXPLORE_MODELS:
        assert_matches(
            ch_query(clickhouse_server, f"select * from `{DATABASE}_explore`.`{model}`"), expected[model], model
        )
    engines = ch_query(
        clickhouse_server, f"select name, engine from system.tables where database = '{DATABASE}_explore'"
    )
    # tables (computed once per build), not views that re-read every event at each read
    assert set(engines["name"]) == set(EXPLORE_MODELS) and set(engines["engine"]) == {"MergeTree"}


def test_explore_views_read_the_same_without_the_profiles_settings(ch_build, clickhouse_server):
    """A BI tool reads the explore tables with its own session settings (join_use_nulls=0 by
    default): what it reads must not depend on them."""
    for model in EXPLORE_MODELS:
        sql = f"select * from `{DATABASE}_explore`.`{model}`"
        as_dbt, plain = ch_query(clickhouse_server, sql), ch_query(clickhouse_server, sql, settings={})
        if len(as_dbt):
            key = list(as_dbt.columns[:2])
            pd.testing.assert_frame_equal(
                plain.sort_values(key).reset_index(drop=True),
                as_dbt.sort_values(key).reset_index(drop=True),
                check_dtype=False,
                obj=model,
            )
        else:
            assert len(plain) == 0, model


def test_report_on_clickhouse_shows_clickhouse_numbers_and_sql(ch_build, clickhouse_server, tmp_path):
    project, _ = ch_build
    result = build_report(project, tmp_path / "report.html", plays_dir=tmp_path / "no-plays")
    page = result.path.read_text()
    assert result.data.notes == []
    health = ch_query(clickhouse_server, f"select * from `{DATABASE}_explore`.explore_data_health").iloc[0]
    for fact in ("events", "events_in_window", "persons", "accounts"):
        assert f'data-fact="{fact}" data-v="{int(health[fact])}"' in page
    assert f'data-fact="share_linked_to_account" data-v="{float(health["share_linked_to_account"])!r}"' in page
    for punch_list in result.data.punch_lists:
        table = ch_query(clickhouse_server, f"select * from `{DATABASE}_inspections`.`{punch_list.rule.model_name}`")
        article = re.search(
            rf'<article class="punch-list" id="pl-{punch_list.rule.key}".*?</article>', page, re.S
        ).group(0)
        assert f'data-metric="findings"><b>{len(table):,}</b> findings' in article
        if len(table):
            assert f"max <b>{table['score'].max():.2f}</b>" in article
            # the sparklines' daily events, read on ClickHouse: a point a day, adding up to event_count
            counts = punch_list.activity.counts
            entity = "user_id" if punch_list.rule.level == "user" else "account_id"
            for entity_id, event_count in zip(table[entity].astype(str), table["event_count"]):
                assert len(counts[entity_id]) == punch_list.rule.window_days
                assert sum(counts[entity_id]) == int(event_count), (punch_list.rule.key, entity_id)
        sql = html.unescape(re.search(rf'<code id="sql-{punch_list.rule.key}">(.*?)</code>', article, re.S).group(1))
        assert "toDateTime64(" in sql and f"`{DATABASE}_intermediate`" in sql  # what ClickHouse ran, not DuckDB's SQL
    assert "beton_marts" not in page and f"{DATABASE}_marts.dim_accounts</span>" in page
    # the history holds this one run: trends come with the next, nothing is new yet
    assert '<section id="trends" data-runs="1">' in page and 'data-metric="changes"' not in page
