"""Incremental runs give the same punch lists as full rebuilds: new days, late events inside the
lookback, identity merges and account changes that arrive after the first build."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from beton_runner.rules import load_rules
from beton_runner.rules.compile import filter_fingerprint
from conftest import MOCK_AS_OF, REPO, copy_project, read_table, rule_documents, write_duckdb_inputs, write_rules
from oracle import load_mock, punch_list

RULES = rule_documents()
FIRST_AS_OF = pd.Timestamp("2026-09-29 12:00:00")


def first_and_final_data():
    final = load_mock(REPO / "seeds")
    events = final["events"]
    # late arrivals: every 7th event of the two days before the first build is held back
    recent = events[(events["timestamp"] >= "2026-09-27") & (events["timestamp"] < FIRST_AS_OF)]
    late = set(recent["uuid"].iloc[::7])
    first = {k: v.copy() for k, v in final.items()}
    first["events"] = events[(events["timestamp"] < FIRST_AS_OF) & ~events["uuid"].isin(late)]
    # identity merges arrive later: the anonymous ids are not mapped yet
    mapped = final["person_distinct_id"]
    first["person_distinct_id"] = mapped[~mapped["distinct_id"].str.startswith("anon")]
    # an account changes domain later (so its events link only after the change)
    first["accounts"].loc[first["accounts"]["account_id"] == "acc_007", "domain"] = "lumen-old.ai"
    assert len(late) > 5 and len(first["person_distinct_id"]) < len(mapped)
    return first, final


def project_for(tmp: Path, name: str) -> Project:
    return Project(dir=REPO, target="duckdb", duckdb_path=tmp / f"{name}.duckdb", target_path=tmp / f"target_{name}")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incremental")
    first, final = first_and_final_data()
    vars_first = {"beton_input": "source", "beton_as_of": str(FIRST_AS_OF)}
    vars_final = {"beton_input": "source", "beton_as_of": str(MOCK_AS_OF)}
    select = ["path:models/staging", "path:models/intermediate", "path:models/inspections", "path:models/marts"]

    incremental = project_for(tmp, "incremental")
    write_duckdb_inputs(incremental.duckdb_path, first)
    run_dbt(incremental, ["build"], vars=vars_first, select=select)
    write_duckdb_inputs(incremental.duckdb_path, final)
    run_dbt(incremental, ["build"], vars=vars_final, select=select)

    full = project_for(tmp, "full")
    write_duckdb_inputs(full.duckdb_path, final)
    run_dbt(full, ["build"], vars=vars_final, select=select, extra=["--full-refresh"])
    return incremental, full, final


@pytest.mark.parametrize("key", sorted(RULES))
def test_incremental_punch_list_equals_full_rebuild_and_oracle(builds, key):
    incremental, full, final = builds
    table = f"insp_{key}"
    got = read_table(incremental.duckdb_path, "beton_inspections", table)
    assert_same_punch_list(got, read_table(full.duckdb_path, "beton_inspections", table), f"{key} (vs full rebuild)")
    expected = punch_list(
        RULES[key], final["events"], final["persons"], final["person_distinct_id"], final["accounts"], MOCK_AS_OF
    )
    assert_same_punch_list(got, expected, f"{key} (vs oracle)")


def test_incremental_rollup_and_marts_equal_full_rebuild(builds):
    incremental, full, _ = builds
    rollup_key = ["activity_date", "distinct_id", "account_key", "event_name"]
    for schema, table, key in [
        ("beton_intermediate", "int_daily_activity", rollup_key),
        ("beton_intermediate", "int_filtered_activity__pql_heavy_api_users_on_paid_plan", rollup_key),
        ("beton_intermediate", "int_filtered_activity__pqa_free_plan_enterprise_interest", rollup_key),
        ("beton_marts", "dim_accounts", ["account_id"]),
        ("beton_marts", "dim_users", ["user_id"]),
    ]:
        # new_rules says what is new since the run before: the incremental warehouse has one, the full
        # rebuild does not (its history starts at this run), so it is the one column allowed to differ
        a = read_table(incremental.duckdb_path, schema, table).drop(columns=["new_rules"], errors="ignore")
        b = read_table(full.duckdb_path, schema, table).drop(columns=["new_rules"], errors="ignore")
        a, b = (frame.sort_values(key).reset_index(drop=True) for frame in (a, b))
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=table)


def test_changing_a_rules_property_filter_rebuilds_its_rollup(tmp_path):
    """The filtered rollup of a rule keeps what an earlier filter rolled up only until the filter
    changes: the next (incremental) run replaces every row, and the punch list is the new rule's."""
    project_dir = copy_project(tmp_path / "project")
    after = RULES["pql_heavy_api_users_on_paid_plan"]
    before = {**after, "conditions": {**after["conditions"], "event_property_filters": {"plan": "free"}}}
    project = Project(
        dir=project_dir, target="duckdb", duckdb_path=tmp_path / "db.duckdb", target_path=tmp_path / "target"
    )
    final = load_mock(REPO / "seeds")
    write_duckdb_inputs(project.duckdb_path, final)
    vars_ = {"beton_input": "source", "beton_as_of": str(MOCK_AS_OF)}
    select = ["path:models/staging", "path:models/intermediate", "path:models/inspections"]

    write_rules(project_dir, {"api_users": before})
    run_dbt(project, ["build"], vars=vars_, select=select)
    old = read_table(project.duckdb_path, "beton_intermediate", "int_filtered_activity__api_users")
    assert len(old) > 0

    write_rules(project_dir, {"api_users": after})
    run_dbt(project, ["build"], vars=vars_, select=select)  # incremental: no --full-refresh
    rollup = read_table(project.duckdb_path, "beton_intermediate", "int_filtered_activity__api_users")
    (rule,) = load_rules(project_dir / "rules")
    assert set(rollup["filter_fingerprint"]) == {filter_fingerprint(rule)}
    got = read_table(project.duckdb_path, "beton_inspections", "insp_api_users")
    expected = punch_list(
        after, final["events"], final["persons"], final["person_distinct_id"], final["accounts"], MOCK_AS_OF
    )
    assert len(expected) > 0
    assert_same_punch_list(got, expected, "api_users after its filter changed")
