"""The whole project on the real ClickHouse engine (chdb behind the test HTTP server), through
unmodified dbt-clickhouse: every punch list and the unified findings table equal DuckDB's
(same rows, values equal to 1e-9) on the mock data and on random datasets and rules; PostHog's
own versioned tables map onto the same punch lists as the plain input model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import clickhouse_connect
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_rules_random import AS_OF, EXAMPLES, datasets, frames_from, rules
from test_rules_readable import dbt_compiled_rule

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from beton_runner.rules import load_rules
from beton_runner.rules.compile import BETON, rendered_rule_sql
from conftest import MOCK_AS_OF, REPO, copy_project, read_table, rule_documents, write_duckdb_inputs, write_rules
from oracle import punch_list

pytestmark = pytest.mark.clickhouse
RULES = rule_documents()
CH_TYPES = {
    "events": {
        "uuid": "String",
        "event": "String",
        "distinct_id": "String",
        "timestamp": "DateTime64(6, 'UTC')",
        "properties": "String",
        "person_id": "Nullable(String)",
    },
    "persons": {"id": "String", "created_at": "DateTime64(6, 'UTC')", "properties": "String", "is_identified": "Bool"},
    "person_distinct_id": {"person_id": "String", "distinct_id": "String"},
    "accounts": {
        "account_id": "String",
        "name": "Nullable(String)",
        "domain": "Nullable(String)",
        "arr": "Nullable(Float64)",
        "segment": "Nullable(String)",
        "owner_email": "Nullable(String)",
        "properties": "String",
    },
}


def ch_env(server, database: str) -> dict[str, str]:
    return {"CLICKHOUSE_HOST": server.host, "CLICKHOUSE_PORT": str(server.port), "CLICKHOUSE_DATABASE": database}


def ch_client(server):
    return clickhouse_connect.get_client(host=server.host, port=server.port, compress=False)


def ch_project(project_dir: Path, server, database: str, target_path: Path) -> Project:
    return Project(
        dir=project_dir, target="clickhouse", schema=database, target_path=target_path, env=ch_env(server, database)
    )


def ch_table(server, database: str, table: str) -> pd.DataFrame:
    """A ClickHouse table as a DataFrame of Python values (timestamps as naive UTC)."""
    client = ch_client(server)
    try:
        result = client.query(f"select * from `{database}`.`{table}`")
        columns = list(result.column_names) or [
            row[0] for row in client.query(f"describe table `{database}`.`{table}`").result_rows
        ]
    finally:
        client.close()

    def plain(value):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    return pd.DataFrame([[plain(v) for v in row] for row in result.result_rows], columns=columns, dtype=object)


def write_clickhouse_inputs(server, database: str, frames: dict[str, pd.DataFrame]) -> None:
    client = ch_client(server)
    try:
        client.command(f"create database if not exists `{database}`")
        for table, types in CH_TYPES.items():
            columns = ", ".join(f"`{c}` {t}" for c, t in types.items())
            client.command(
                f"create or replace table `{database}`.`{table}` ({columns}) engine = MergeTree order by tuple()"
            )
            frame = frames[table][list(types)]
            rows = [
                [None if (v is None or (isinstance(v, float) and pd.isna(v))) else v for v in row]
                for row in frame.itertuples(index=False, name=None)
            ]
            if rows:
                client.insert(f"`{database}`.`{table}`", rows, column_names=list(types))
    finally:
        client.close()


def _is_null(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def assert_same_table(duck: pd.DataFrame, click: pd.DataFrame, label: str, key: list[str]) -> int:
    """Same columns, same rows (by key), every value equal (floats to 1e-9). Returns rows compared."""
    assert list(duck.columns) == list(click.columns), f"{label}: columns differ"
    duck = duck.sort_values(key).reset_index(drop=True)
    click = click.sort_values(key).reset_index(drop=True)
    assert len(duck) == len(click), f"{label}: {len(duck)} rows on DuckDB, {len(click)} on ClickHouse"
    for column in duck.columns:
        for i, (d, c) in enumerate(zip(duck[column].tolist(), click[column].tolist())):
            where = f"{label}: row {i + 1}, column {column}"
            if _is_null(d):
                assert _is_null(c), f"{where}: DuckDB null, ClickHouse {c!r}"
            elif _is_null(c):
                raise AssertionError(f"{where}: DuckDB {d!r}, ClickHouse null")
            elif isinstance(d, float):
                assert float(c) == pytest.approx(d, rel=1e-9, abs=1e-9), f"{where}: {d!r} != {c!r}"
            elif isinstance(d, (pd.Timestamp, datetime)):
                assert pd.Timestamp(c) == pd.Timestamp(d), f"{where}: {d!r} != {c!r}"
            elif isinstance(d, bool) or isinstance(c, bool):
                assert bool(d) == bool(c), f"{where}: {d!r} != {c!r}"
            else:
                assert (int(c) if isinstance(d, int) else c) == d, f"{where}: {d!r} != {c!r}"
    return len(duck)


def compare_all(duck_db: Path, server, database: str, rule_keys: dict[str, str]) -> int:
    compared = 0
    for key in rule_keys:
        table = f"insp_{key}"
        compared += assert_same_table(
            read_table(duck_db, "beton_inspections", table),
            ch_table(server, f"{database}_inspections", table),
            table,
            ["rank"],
        )
    findings_duck = read_table(duck_db, "beton_inspections", "insp_findings").drop(columns=["computed_at"])
    findings_ch = ch_table(server, f"{database}_inspections", "insp_findings").drop(columns=["computed_at"])
    compared += assert_same_table(findings_duck, findings_ch, "insp_findings", ["finding_id"])
    return compared


def test_mock_data_builds_on_clickhouse_with_every_dbt_test_and_matches_duckdb(mock_build, clickhouse_server, tmp_path):
    project = ch_project(REPO, clickhouse_server, "beton_parity", tmp_path / "target")
    result = run_dbt(project, ["build"], vars={"beton_input": "mock"})
    # every node built or passed (exposures are nodes too, and dbt has nothing to do for them)
    statuses = {r.status for r in result.node_results if not r.unique_id.startswith("exposure.")}
    assert statuses <= {"success", "pass"}, statuses
    assert sum(r.unique_id.startswith("test.") for r in result.node_results) > 50
    compared = compare_all(
        mock_build.duckdb_path, clickhouse_server, "beton_parity", {k: r["level"] for k, r in RULES.items()}
    )
    assert compared > 0
    # `beton rules show --sql` renders each rule in-process to the SQL dbt-clickhouse compiled it to
    for rule in load_rules(REPO / "rules"):
        rendered = rendered_rule_sql(project, rule, BETON, {"beton_input": "mock"})
        assert rendered == dbt_compiled_rule(tmp_path / "target", rule.key), rule.key
    for table in ("dim_accounts", "dim_users"):
        assert_same_table(
            read_table(mock_build.duckdb_path, "beton_marts", table),
            ch_table(clickhouse_server, "beton_parity_marts", table),
            table,
            ["account_id" if table == "dim_accounts" else "user_id"],
        )


def test_beton_reads_punch_lists_from_clickhouse(clickhouse_server, tmp_path):
    """`beton punch-list --target clickhouse` reads what `dbt build --target clickhouse` wrote."""
    env = {
        **os.environ,
        **ch_env(clickhouse_server, "beton_cli"),
        "CLICKHOUSE_PASSWORD": "",
        "BETON_TARGET_PATH": str(tmp_path / "target"),
    }
    beton = [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO)]
    run = subprocess.run(
        [*beton, "run", "--target", "clickhouse"], capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr
    shown = subprocess.run(
        [*beton, "punch-list", "pql_power_users", "--target", "clickhouse"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert shown.returncode == 0, shown.stderr
    power = ch_table(clickhouse_server, "beton_cli_inspections", "insp_pql_power_users")
    for user_id in power["user_id"]:
        assert user_id in shown.stdout
    assert f"findings: {len(power)}" in shown.stdout


@settings(
    max_examples=max(2, EXAMPLES // 2),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)  # no shrinking: each example is two dbt builds
@given(frames=datasets(), rule_docs=st.lists(rules(), min_size=1, max_size=8))
def test_random_rules_on_random_data_agree_across_engines(clickhouse_server, frames, rule_docs):
    docs = {f"r{i}": {**doc, "name": f"Random rule {i}"} for i, doc in enumerate(rule_docs)}
    database = "beton_random_" + uuidlib.uuid4().hex[:8]
    vars = {"beton_input": "source", "beton_as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        project_dir = copy_project(tmp / "project")
        write_rules(project_dir, docs)
        duck = Project(dir=project_dir, target="duckdb", duckdb_path=tmp / "w.duckdb", target_path=tmp / "t1")
        write_duckdb_inputs(duck.duckdb_path, frames)
        run_dbt(duck, ["build"], vars=vars)
        write_clickhouse_inputs(clickhouse_server, "beton_raw_" + database, frames)
        click = ch_project(project_dir, clickhouse_server, database, tmp / "t2")
        run_dbt(click, ["build"], vars={**vars, "beton_source_schema": "beton_raw_" + database})
        compare_all(duck.duckdb_path, clickhouse_server, database, {k: d["level"] for k, d in docs.items()})
        for key, doc in docs.items():  # and both equal the oracle
            expected = punch_list(
                doc, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], AS_OF
            )
            assert ch_table(clickhouse_server, f"{database}_inspections", f"insp_{key}")["rank"].size == len(expected)


# Every part of rule format 2 in one rule per level (a random draw may not combine them)
FORMAT_2_RULES = {
    "v2_user": {
        "name": "Every v2 part, user level",
        "level": "user",
        "time_window_days": 30,
        "conditions": {"min_active_days": 2},
        "decay": {"half_life_days": 14},
        "signals": {
            "pricing": {"event_names": ["viewed_pricing_page"], "weight": 3, "half_life_days": 7},
            "limits": {"event_names": ["hit_usage_limit"], "event_property_filters": {"plan": "team"}, "weight": 4},
        },
        "match": {"any": ["pricing", {"all": ["limits", {"max_days_since_last_event": 7}]}, {"min_active_days": 20}]},
        "fit": [
            {"when": {"account.segment": {"in": ["Mid-Market", "Enterprise"]}}, "points": 4},
            {"when": {"job_title": {"is_set": True}}, "points": 1},
        ],
        "tiers": {"by": "percentile", "hot": 25, "else": "rest"},
        "grade": {"fit": [4], "behaviour": [20, 10]},
    },
    "v2_account": {
        "name": "Every v2 part, account level",
        "level": "account",
        "time_window_days": 30,
        "conditions": {"min_active_users": 2},
        "signals": {"team": {"event_names": ["invited_teammate", "added_seat"], "weight": 5, "max_points": 10}},
        "match": {"not": {"min_days_since_last_event": 10}},
        "fit": [{"when": {"employees": {"gte": 200}}, "points": 5}, {"when": {"arr": {"gte": 100000}}, "points": 5}],
        "tiers": {"hot": 40, "warm": 25},
    },
}


def test_every_format_2_part_together_agrees_across_engines_and_equals_the_oracle(clickhouse_server, tmp_path):
    """Signals (one with its own filtered rollup), match, decay, fit, tiers and grade in one rule
    per level, on the mock data: ClickHouse gives DuckDB's punch lists, and both the oracle's."""
    from test_punch_lists_mock import assert_same_punch_list

    from oracle import load_mock

    frames = load_mock(REPO / "seeds")
    database = "beton_v2_" + uuidlib.uuid4().hex[:8]
    project_dir = copy_project(tmp_path / "project")
    write_rules(project_dir, FORMAT_2_RULES)
    select = ["path:models/staging", "path:models/intermediate", "path:models/inspections"]
    vars = {"beton_input": "source", "beton_as_of": str(MOCK_AS_OF)}
    duck = Project(dir=project_dir, target="duckdb", duckdb_path=tmp_path / "w.duckdb", target_path=tmp_path / "t1")
    write_duckdb_inputs(duck.duckdb_path, frames)
    run_dbt(duck, ["build"], vars=vars, select=select)
    write_clickhouse_inputs(clickhouse_server, "beton_raw_" + database, frames)
    click = ch_project(project_dir, clickhouse_server, database, tmp_path / "t2")
    run_dbt(click, ["build"], vars={**vars, "beton_source_schema": "beton_raw_" + database}, select=select)
    levels = {key: doc["level"] for key, doc in FORMAT_2_RULES.items()}
    assert compare_all(duck.duckdb_path, clickhouse_server, database, levels) > 0
    for key, doc in FORMAT_2_RULES.items():
        expected = punch_list(
            doc, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], MOCK_AS_OF
        )
        assert len(expected) > 0, key
        got = read_table(duck.duckdb_path, "beton_inspections", f"insp_{key}")
        assert_same_punch_list(got, expected, key)


def test_incremental_runs_agree_across_engines_and_equal_the_oracle(clickhouse_server, tmp_path):
    """A second, incremental run on ClickHouse (dbt-clickhouse delete+insert, lightweight deletes)
    after new days, late events, identity merges, an account's domain change and a change to one
    rule's property filter gives DuckDB's punch lists, which equal the oracle's."""
    from test_incremental import FIRST_AS_OF, first_and_final_data
    from test_punch_lists_mock import assert_same_punch_list

    key = "pql_heavy_api_users_on_paid_plan"
    before = {**RULES[key], "conditions": {**RULES[key]["conditions"], "event_property_filters": {"plan": "free"}}}
    first, final = first_and_final_data()
    database = "beton_inc_" + uuidlib.uuid4().hex[:8]
    project_dir = copy_project(tmp_path / "project")
    duck = Project(dir=project_dir, target="duckdb", duckdb_path=tmp_path / "w.duckdb", target_path=tmp_path / "t1")
    click = ch_project(project_dir, clickhouse_server, database, tmp_path / "t2")
    select = ["path:models/staging", "path:models/intermediate", "path:models/inspections"]
    for frames, as_of, documents in ((first, FIRST_AS_OF, {**RULES, key: before}), (final, MOCK_AS_OF, RULES)):
        write_rules(project_dir, documents)
        vars = {"beton_input": "source", "beton_as_of": str(as_of)}
        write_duckdb_inputs(duck.duckdb_path, frames)
        run_dbt(duck, ["build"], vars=vars, select=select)
        write_clickhouse_inputs(clickhouse_server, "beton_raw_" + database, frames)
        run_dbt(click, ["build"], vars={**vars, "beton_source_schema": "beton_raw_" + database}, select=select)
    assert compare_all(duck.duckdb_path, clickhouse_server, database, {k: d["level"] for k, d in RULES.items()}) > 10
    for rule_key, doc in RULES.items():
        expected = punch_list(
            doc, final["events"], final["persons"], final["person_distinct_id"], final["accounts"], MOCK_AS_OF
        )
        assert_same_punch_list(
            read_table(duck.duckdb_path, "beton_inspections", f"insp_{rule_key}"), expected, rule_key
        )


# --- PostHog's own ClickHouse tables ---------------------------------------------------------------

POSTHOG_DDL = {
    "events": """create table `{db}`.events (
        uuid UUID, event String, properties String, timestamp DateTime64(6, 'UTC'), team_id Int64,
        distinct_id String, elements_chain String, created_at DateTime64(6, 'UTC'), person_id UUID
    ) engine = MergeTree order by (team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))""",
    "person": """create table `{db}`.person (
        id UUID, created_at DateTime64(3), team_id Int64, properties String, is_identified Int8,
        is_deleted Int8, version UInt64
    ) engine = ReplacingMergeTree(version) order by (team_id, id)""",
    "person_distinct_id2": """create table `{db}`.person_distinct_id2 (
        team_id Int64, distinct_id String, person_id UUID, is_deleted Int8, version Int64
    ) engine = ReplacingMergeTree(version) order by (team_id, distinct_id)""",
}


def test_posthog_versioned_tables_give_the_same_punch_lists(clickhouse_server, tmp_path):
    """Team filter, latest person version, deleted persons and re-pointed distinct ids."""
    team, other_team = 2, 7
    pid = {name: str(uuidlib.UUID(int=i + 1)) for i, name in enumerate(["ann", "bob", "cat", "dan"])}
    base = AS_OF - timedelta(days=1)
    # (distinct_id, person at the latest version or None when deleted/unmapped, versions to write)
    pdi_rows = [
        (team, "ann-anon", pid["bob"], 0, 1),
        (team, "ann-anon", pid["ann"], 0, 2),  # re-pointed to ann
        (team, "ann@x.io", pid["ann"], 0, 1),
        (team, "bob@x.io", pid["bob"], 0, 1),
        (team, "cat@x.io", pid["cat"], 0, 1),
        (team, "cat@x.io", pid["cat"], 1, 2),  # mapping deleted
        (team, "dan@x.io", pid["dan"], 0, 1),
        (other_team, "bob@x.io", pid["cat"], 0, 9),  # another project's row: ignored
    ]
    person_rows = [
        (pid["ann"], base, team, json.dumps({"email": "old@x.io", "name": "Ann"}), 1, 0, 1),
        (
            pid["ann"],
            base,
            team,
            json.dumps({"email": "ann@x.io", "name": "Ann", "company_domain": "acme.io"}),
            1,
            0,
            3,
        ),
        (pid["bob"], base, team, json.dumps({"email": "bob@x.io", "name": "Bob"}), 1, 0, 1),
        (pid["cat"], base, team, json.dumps({"email": "cat@x.io", "name": "Cat"}), 1, 0, 1),
        (pid["dan"], base, team, json.dumps({"email": "dan@x.io", "name": "Dan"}), 1, 0, 1),
        (pid["dan"], base, team, json.dumps({"email": "dan@x.io", "name": "Dan"}), 1, 1, 2),  # person deleted
        (pid["bob"], base, other_team, json.dumps({"email": "imposter@x.io"}), 1, 0, 5),
    ]
    events = []
    for i in range(120):
        distinct = ["ann-anon", "ann@x.io", "bob@x.io", "cat@x.io", "dan@x.io"][i % 5]
        event = ["used_api", "viewed_pricing_page", "signed_up"][i % 3]
        team_id = other_team if i % 11 == 0 else team
        events.append(
            (
                str(uuidlib.UUID(int=10_000 + i)),
                event,
                json.dumps({"company_domain": "acme.io", "plan": "pro"}),
                AS_OF - timedelta(hours=7 * i),
                team_id,
                distinct,
                "",
                AS_OF,
                pid["bob"],
            )
        )
    accounts = [["a1", "Acme", "acme.io", 1000.0, "SMB", "rep@x.io", "{}"]]

    client = ch_client(clickhouse_server)
    db = "posthog_mirror"
    client.command(f"create database if not exists `{db}`")
    for ddl in POSTHOG_DDL.values():
        client.command(ddl.format(db=db))
    client.insert(
        f"`{db}`.events",
        events,
        column_names=[
            "uuid",
            "event",
            "properties",
            "timestamp",
            "team_id",
            "distinct_id",
            "elements_chain",
            "created_at",
            "person_id",
        ],
    )
    client.insert(
        f"`{db}`.person",
        person_rows,
        column_names=["id", "created_at", "team_id", "properties", "is_identified", "is_deleted", "version"],
    )
    client.insert(
        f"`{db}`.person_distinct_id2",
        pdi_rows,
        column_names=["team_id", "distinct_id", "person_id", "is_deleted", "version"],
    )
    client.close()

    # The same data, resolved by hand, in the plain input model.
    latest_persons = [
        [pid[n], base, json.dumps(p), True]
        for n, p in [
            ("ann", {"email": "ann@x.io", "name": "Ann", "company_domain": "acme.io"}),
            ("bob", {"email": "bob@x.io", "name": "Bob"}),
            ("cat", {"email": "cat@x.io", "name": "Cat"}),
        ]
    ]
    mapping = [[pid["ann"], "ann-anon"], [pid["ann"], "ann@x.io"], [pid["bob"], "bob@x.io"], [pid["dan"], "dan@x.io"]]
    plain_events = [[e[0], e[1], e[5], e[3], e[2], e[8]] for e in events if e[4] == team]
    plain = frames_from(plain_events, latest_persons, mapping, accounts)

    docs = {
        "users_all": {"name": "All users", "level": "user", "time_window_days": 30, "conditions": {}},
        "accounts_api": {
            "name": "API accounts",
            "level": "account",
            "time_window_days": 20,
            "conditions": {"event_names": ["used_api"], "min_active_users": 2},
        },
        "users_pricing": {
            "name": "Pricing users",
            "level": "user",
            "time_window_days": 10,
            "conditions": {"event_names": ["viewed_pricing_page"], "min_event_count": 2},
        },
    }
    project_dir = copy_project(tmp_path / "project")
    write_rules(project_dir, docs)
    write_clickhouse_inputs(clickhouse_server, "plain_raw", {**plain, "accounts": plain["accounts"]})
    client = ch_client(clickhouse_server)
    client.command(f"create or replace table `{db}`.accounts as `plain_raw`.accounts")
    client.command(f"insert into `{db}`.accounts select * from `plain_raw`.accounts")
    client.close()

    as_of = {"beton_as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S")}
    run_dbt(
        ch_project(project_dir, clickhouse_server, "beton_plain", tmp_path / "t1"),
        ["build"],
        vars={"beton_input": "source", "beton_source_schema": "plain_raw", **as_of},
    )
    run_dbt(
        ch_project(project_dir, clickhouse_server, "beton_posthog", tmp_path / "t2"),
        ["build"],
        vars={
            "beton_input": "source",
            "beton_source_schema": db,
            "beton_persons_table": "person",
            "beton_person_distinct_id_table": "person_distinct_id2",
            "beton_team_id": team,
            "beton_versioned_persons": True,
            **as_of,
        },
    )
    for key, doc in docs.items():
        mapped = ch_table(clickhouse_server, "beton_posthog_inspections", f"insp_{key}")
        reference = ch_table(clickhouse_server, "beton_plain_inspections", f"insp_{key}")
        assert len(mapped) > 0, key
        assert_same_table(reference, mapped, key, ["rank"])
        expected = punch_list(
            doc, plain["events"], plain["persons"], plain["person_distinct_id"], plain["accounts"], AS_OF
        )
        entity = "account_id" if doc["level"] == "account" else "user_id"
        assert mapped.sort_values("rank")[entity].tolist() == expected[entity].tolist()
    users = ch_table(clickhouse_server, "beton_posthog_inspections", "insp_users_all").set_index("user_id")
    assert users.loc[pid["ann"], "email"] == "ann@x.io"  # latest person version
    assert "cat@x.io" in users.index and pid["cat"] not in users.index  # deleted mapping: stands alone
    assert users.loc[pid["dan"], "email"] is None or pd.isna(users.loc[pid["dan"], "email"])  # deleted person
