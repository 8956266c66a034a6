"""dbt vars that reach SQL are checked by the macros, through dbt itself (issue #12, item 8).

Schema-mapping vars become quoted identifiers, and adapter.quote does not escape a quote inside
a name: `event", 1 as "x` changed the staging SQL. beton_incremental_lookback_days went through
Jinja's int filter, which turns 'three' into 0 and 2.5 into 2: incremental models silently
re-read the wrong days. Each is now a compiler error naming the var.
"""

from __future__ import annotations

import pytest

from beton_runner.dbt import run_dbt
from beton_runner.errors import DbtCommandError
from beton_runner.project import Project
from conftest import REPO

IDENTIFIER_HINT = (
    "is not a plain identifier: use letters, digits, _, $, - and spaces inside (no quotes, backslashes, "
    "dots or control characters); see docs/schema-mapping.md"
)


def _project(tmp_path) -> Project:
    return Project(dir=REPO, target="duckdb", duckdb_path=tmp_path / "w.duckdb", target_path=tmp_path / "target")


@pytest.mark.parametrize(
    ("vars", "setting", "value"),
    [
        (
            {"beton_columns": {"events": {"event": 'event", 1 as "x'}}},
            "var beton_columns.events.event",
            'event", 1 as "x',
        ),
        ({"beton_events_table": 'events" --'}, "var beton_events_table", 'events" --'),
        ({"beton_source_schema": "raw`.`other"}, "var beton_source_schema", "raw`.`other"),
        ({"beton_source_database": 'w\\" x'}, "var beton_source_database", 'w\\" x'),
    ],
)
def test_schema_mapping_vars_with_unsafe_identifiers_are_compiler_errors(tmp_path, vars, setting, value):
    with pytest.raises(DbtCommandError) as info:
        run_dbt(
            _project(tmp_path),
            ["compile"],
            select=["beton_stg_posthog__events"],
            vars={"beton_input": "source", **vars},
        )
    assert f"{setting} = '{value}' {IDENTIFIER_HINT}" in str(info.value)


def test_plain_identifiers_with_spaces_and_dashes_still_compile(tmp_path):
    project = _project(tmp_path)
    run_dbt(
        project,
        ["compile"],
        select=["beton_stg_posthog__accounts"],
        vars={
            "beton_input": "source",
            "beton_accounts_table": "crm-accounts 2",
            "beton_columns": {"accounts": {"domain": "web site"}},
        },
    )
    sql = (
        project.dbt_target_path
        / "compiled"
        / "beton"
        / "models"
        / "staging"
        / "posthog"
        / "beton_stg_posthog__accounts.sql"
    ).read_text()
    assert '"web site"' in sql and '"crm-accounts 2"' in sql


@pytest.mark.parametrize("value", ["three", 2.5, True, "-1"])
def test_a_lookback_that_is_not_a_whole_number_of_days_is_a_compiler_error(tmp_path, value):
    project = _project(tmp_path)
    run_dbt(project, ["build"], select=["+beton_int_daily_activity"], vars={"beton_input": "mock"})
    with pytest.raises(DbtCommandError) as info:  # the incremental run is where the lookback is read
        run_dbt(
            project,
            ["run"],
            select=["beton_int_daily_activity"],
            vars={"beton_input": "mock", "beton_incremental_lookback_days": value},
        )
    assert (
        f"var beton_incremental_lookback_days = '{value}' is not a whole number of days (0 or more, at most 99999); "
        "e.g. --vars '{beton_incremental_lookback_days: 3}'"
    ) in str(info.value)
