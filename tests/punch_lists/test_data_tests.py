"""The dbt tests a build runs on each punch list still catch what they are for, now that one
test node checks a punch list's key, its entity id and its must-be-set columns
(`beton.primary_key` with `unique` and `not_null`; docs/performance.md, point 10)."""

from __future__ import annotations

import dataclasses
import shutil

import duckdb
import pytest

from beton_runner.dbt import run_dbt
from beton_runner.errors import DbtCommandError

TABLE = "beton_inspections.insp_pql_power_users"


def _test_punch_list(mock_build, tmp_path, *statements: str) -> DbtCommandError | None:
    """`dbt test` of insp_pql_power_users on a copy of the mock build after ``statements``."""
    path = tmp_path / "w.duckdb"
    shutil.copy(mock_build.duckdb_path, path)
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    project = dataclasses.replace(mock_build, duckdb_path=path, target_path=tmp_path / "target")
    try:
        run_dbt(project, ["test"], vars={"beton_input": "mock"}, select=["insp_pql_power_users"])
    except DbtCommandError as exc:
        return exc
    return None


def test_the_built_punch_list_passes(mock_build, tmp_path):
    assert _test_punch_list(mock_build, tmp_path) is None


@pytest.mark.parametrize(
    ("damage", "failing_rows"),
    [
        # two findings about one user: the entity id repeats (rank stays unique)
        (f"update {TABLE} set user_id = (select user_id from {TABLE} where rank = 1) where rank = 2", 1),
        # a finding without its last event
        (f"update {TABLE} set last_seen = null where rank = 1", 1),
        # a repeated rank and a finding without a user
        (f"update {TABLE} set rank = 1, user_id = null where rank = 2", 1),
        # both at once: a repeated user and, elsewhere, a null score
        (
            f"update {TABLE} set user_id = (select user_id from {TABLE} where rank = 1) where rank = 2; "
            f"update {TABLE} set score = null where rank = 3",
            2,
        ),
    ],
    ids=["repeated-user", "null-last-seen", "repeated-rank-null-user", "repeated-user-and-null-score"],
)
def test_one_test_node_catches_a_repeated_entity_and_a_missing_value(mock_build, tmp_path, damage, failing_rows):
    with duckdb.connect(str(mock_build.duckdb_path), read_only=True) as con:
        assert con.execute(f"select count(*) from {TABLE}").fetchone()[0] >= 3  # the mock data has enough rows
    error = _test_punch_list(mock_build, tmp_path, damage)
    assert error is not None, "the damaged punch list passed its tests"
    failed = [r for r in error.node_results if r.status == "fail"]
    assert len(failed) == 1, [r.unique_id for r in failed]
    assert failed[0].unique_id.split(".")[2].startswith("beton_primary_key_insp_pql_power_users_rank")
    assert f"Got {failing_rows} result" in (failed[0].message or "")
