"""The `beton` command as a user runs it: a real process, a real DuckDB file, real dbt."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import MOCK_AS_OF, REPO, copy_project, read_table, rule_documents
from oracle import load_mock, punch_list

RULES = rule_documents()


def beton(
    *args: str, project: Path = REPO, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=900,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    env = {"BETON_DUCKDB_PATH": str(tmp / "demo.duckdb")}
    result = beton("demo", "--out", str(tmp / "out"), "--limit", "50", env=env)
    assert result.returncode == 0, result.stderr
    return tmp, env, result


def test_demo_prints_every_punch_list_with_summary_and_writes_csvs(demo):
    tmp, _env, result = demo
    frames = load_mock(REPO / "seeds")
    for key, rule in RULES.items():
        expected = punch_list(
            rule, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], MOCK_AS_OF
        )
        assert rule["name"] in result.stdout
        scores = expected["score"]
        summary = (
            f"findings: {len(expected)}   score min {scores.min():.2f} / median {scores.median():.2f} / "
            f"max {scores.max():.2f}"
        )
        assert summary in result.stdout, f"{key}: summary line missing"
        entity = "account_id" if rule["level"] == "account" else "user_id"
        for entity_id in expected[entity]:
            assert entity_id in result.stdout
        written = pd.read_csv(tmp / "out" / "punch_lists" / f"{key}.csv")
        assert written[entity].tolist() == expected[entity].tolist()
        assert written["score"].tolist() == pytest.approx(expected["score"].tolist(), rel=1e-9)
        assert written["event_count"].tolist() == expected["event_count"].tolist()


def test_punch_list_sort_where_limit_csv(demo, tmp_path):
    _tmp, env, _ = demo
    out = tmp_path / "sorted.csv"
    result = beton(
        "punch-list",
        "pql_power_users",
        "--sort",
        "event_count",
        "--asc",
        "--where",
        "active_days>=20",
        "--limit",
        "2",
        "--csv",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    frames = load_mock(REPO / "seeds")
    expected = punch_list(
        RULES["pql_power_users"],
        frames["events"],
        frames["persons"],
        frames["person_distinct_id"],
        frames["accounts"],
        MOCK_AS_OF,
    )
    expected = expected[expected["active_days"] >= 20].sort_values("event_count", kind="stable").head(2)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["user_id"] for r in rows] == expected["user_id"].tolist()
    assert [int(r["event_count"]) for r in rows] == expected["event_count"].tolist()


def test_punch_list_by_rule_name_and_contains_filter(demo):
    _tmp, env, _ = demo
    result = beton("punch-list", "PQA: Active Accounts with Multiple Users", "--where", "domain~acme", env=env)
    assert result.returncode == 0, result.stderr
    assert "acme.io" in result.stdout
    assert "northwindlogistics.com" not in result.stdout
    # the rule declares tiers and a grade (Acme: warm, B1; docs/rules.md, tests/datagen/test_mock_data.py)
    header, row = [line for line in result.stdout.splitlines() if "┃" in line or "acme.io" in line][:2]
    assert [c.strip() for c in header.split("┃")[1:5]] == ["rank", "score", "tier", "grade"]
    assert [c.strip() for c in row.split("│")[3:5]] == ["warm", "B1"]
    plain = beton("punch-list", "pql_power_users", env=env)  # no tiers: no tier column
    assert "tier" not in plain.stdout and "grade" not in plain.stdout


def test_bad_where_and_unknown_rule_give_one_clean_message(demo):
    _tmp, env, _ = demo
    result = beton("punch-list", "pql_power_users", "--where", "colour=red", env=env)
    assert result.returncode == 1
    assert "no column 'colour'" in result.stderr and "Traceback" not in result.stderr
    result = beton("punch-list", "pql_powr_users", env=env)
    assert result.returncode == 1
    assert "no rule called 'pql_powr_users'; did you mean 'pql_power_users'?" in result.stderr


def test_punch_list_explain_prints_each_findings_terms_and_why(demo):
    """`--explain`: every finding's score terms (the oracle's, to the cent) and each threshold and
    signal of its why, with the finding's values."""
    _tmp, env, _ = demo
    rule = RULES["pql_buying_signals"]
    frames = load_mock(REPO / "seeds")
    expected = punch_list(
        rule, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], MOCK_AS_OF
    )
    result = beton("punch-list", "pql_buying_signals", "--explain", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert len(expected) > 0 and "score breakdown" in out
    for name in rule["signals"]:
        assert name in out
    for record in expected.to_dict("records"):
        row = next(line for line in out.splitlines() if f"│ {record['user_id']} " in line and "+" in line)
        for term in ("score_event_count", "score_active_days", "score_signal_viewed_pricing"):
            assert f"{record[term] + 0.0:+.2f}" in row
        assert f"#{record['rank']} {record['user_id']}" in out
        for condition in json.loads(record["why"])["conditions"]:
            assert f"{condition['condition']}: {condition['value']} " in out
    refused = beton("punch-list", "pql_buying_signals", "--explain", "--format", "json", env=env)
    assert refused.returncode == 1 and "--explain shows tables" in refused.stderr


def test_rules_show_sql_prints_the_compiled_query(tmp_path):
    result = beton(
        "rules",
        "show",
        "pql_heavy_api_users_on_paid_plan",
        "--sql",
        env={"BETON_DUCKDB_PATH": str(tmp_path / "x.duckdb")},
    )
    assert result.returncode == 0, result.stderr
    sql = result.stdout
    assert "event_name in ('used_api')" in sql
    # the property's text, by the one grammar of docs/rules.md (whole JSON numbers without ".0"), matched by the regex
    assert "json_extract_string(properties, '$.\"sdk_version\"')" in sql and "end, '^[2-9]\\.')" in sql
    assert "cast('2026-10-01 12:00:00' as timestamp)" in sql
    assert "{{" not in sql


def test_missing_warehouse_is_a_clear_error(tmp_path):
    result = beton("punch-list", "pql_power_users", env={"BETON_DUCKDB_PATH": str(tmp_path / "none.duckdb")})
    assert result.returncode == 1
    assert f"no warehouse at {tmp_path / 'none.duckdb'}: run `beton demo` or `beton run` first" in result.stderr


def test_new_rule_file_is_materialised_by_beton_run_and_plain_dbt_build(tmp_path):
    project = copy_project(tmp_path / "p")
    (project / "rules" / "pql_api_beginners.yml").write_text(
        "name: API beginners\nlevel: user\ntime_window_days: 30\n"
        "conditions:\n  event_names: [used_api]\n  min_event_count: 1\n"
    )
    env = {"BETON_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    result = beton("run", "--select", "+insp_pql_api_beginners", project=project, env=env)
    assert result.returncode == 0, result.stderr
    frames = load_mock(REPO / "seeds")
    expected = punch_list(
        {"level": "user", "time_window_days": 30, "conditions": {"event_names": ["used_api"], "min_event_count": 1}},
        frames["events"],
        frames["persons"],
        frames["person_distinct_id"],
        frames["accounts"],
        MOCK_AS_OF,
    )
    actual = read_table(tmp_path / "w.duckdb", "beton_inspections", "insp_pql_api_beginners").sort_values("rank")
    assert actual["user_id"].tolist() == expected["user_id"].tolist()
    # plain dbt, no runner: the generated model file was written by `beton run` and builds as is
    dbt = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dbt.cli.main import cli; cli()",
            "build",
            "--select",
            "insp_pql_api_beginners",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp_path / "t2"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )
    assert dbt.returncode == 0, dbt.stdout[-2000:]
