"""Input rows as real operation delivers them, on both engines (issue #12, items 4, 6 and 9):

* as_of to the microsecond: ``--as-of 2026-11-20T13:37:42.250Z`` keeps the .250; an event at
  exactly as_of counts, one a microsecond later does not (rules, findings, marts, explore);
* repeated event uuids and rows with a null uuid / event / distinct_id / timestamp do not stop
  the build: one row per uuid is kept (the first by timestamp …), the rest are counted in
  data health and in `beton run`'s output;
* what ClickHouse's own DDL allows (a NULL account domain, ``properties Nullable(String)``,
  NULL distinct ids in person_distinct_id) builds, and property values read the same on both
  engines: one number grammar (JSON number syntax), one text for JSON numbers (5.0 reads 5).

Every expectation is hand-worked below and also computed by the oracle (tests/oracle.py);
DuckDB is built through the `beton` CLI, ClickHouse (the real engine) through dbt directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid as uuidlib
from datetime import datetime
from pathlib import Path

import clickhouse_connect
import pandas as pd
import pytest
from test_clickhouse import ch_project, ch_table
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.dbt import run_dbt
from beton_runner.errors import ConfigError
from conftest import copy_project, read_table, write_duckdb_inputs, write_rules
from oracle import property_text, punch_list, staged_events

BETON = Path(sys.executable).parent / "beton"
AS_OF_ARG = "2026-11-20T13:37:42.250Z"
AS_OF = datetime(2026, 11, 20, 13, 37, 42, 250000)
DAY = "2026-11-20"
EARLIER = "2026-11-10"

# seats values as sent, and whether they are a number (docs/rules.md, "Property values")
SEATS = {
    "u_space": ('" 9 "', False),
    "u_underscore": ('"1_000"', False),
    "u_nan": ('"nan"', False),
    "u_inf": ('"inf"', False),
    "u_plus": ('"+5"', False),
    "u_lead0": ('"007"', False),
    "u_text9": ('"9"', True),
    "u_float": ("5.0", True),
    "u_exp": ("1e2", True),
    "u_neg": ("-2.50", True),
}

RULES = {
    # every event of the as_of day up to as_of
    "as_of_day": {"name": "As-of day", "level": "user", "time_window_days": 1, "conditions": {"min_event_count": 1}},
    # seats is a number
    "seats_numeric": {
        "name": "Seats numeric",
        "level": "user",
        "time_window_days": 30,
        "conditions": {"event_property_filters": {"seats": {"gte": -1000}}},
    },
    # seats equals the number 9 / 100
    "seats_nine": {
        "name": "Seats nine",
        "level": "user",
        "time_window_days": 30,
        "conditions": {"event_property_filters": {"seats": {"in": [9, 100]}}},
    },
    # seats reads as the text 5, 100 or -2.5
    "seats_text": {
        "name": "Seats text",
        "level": "user",
        "time_window_days": 30,
        "conditions": {"event_property_filters": {"seats": {"in": ["5", "100", "-2.5"]}}},
    },
    "seats_regex": {
        "name": "Seats regex",
        "level": "user",
        "time_window_days": 30,
        "conditions": {"event_property_filters": {"seats": {"regex": "^(5|100)$"}}},
    },
    # accounts, one of them without a domain
    "accounts": {"name": "Accounts", "level": "account", "time_window_days": 30, "conditions": {"min_event_count": 1}},
}


def _event(uuid, event, distinct_id, timestamp, properties="{}", person_id=None) -> dict:
    return {
        "uuid": uuid,
        "event": event,
        "distinct_id": distinct_id,
        "timestamp": None if timestamp is None else pd.Timestamp(timestamp),
        "properties": properties,
        "person_id": person_id,
    }


def frames() -> dict[str, pd.DataFrame]:
    link = '{"company_domain": "a.io"}'
    events = [
        # as_of: exactly at it counts, a microsecond later does not
        _event("e-at", "logged_in", "d_at", f"{DAY} 13:37:42.250000", link),
        _event("e-after", "logged_in", "d_after", f"{DAY} 13:37:42.250001", link),
        # the same uuid twice, different rows: the earlier (10:00, created_project) is kept
        _event("e-dup", "logged_in", "d_dup", f"{DAY} 11:00:00", '{"k": 2}'),
        _event("e-dup", "created_project", "d_dup", f"{DAY} 10:00:00", '{"k": 1}'),
        # the same uuid twice, byte-identical (at-least-once delivery): counted once
        _event("e-twin", "logged_in", "d_twin", f"{DAY} 09:00:00"),
        _event("e-twin", "logged_in", "d_twin", f"{DAY} 09:00:00"),
        # same uuid and time: the first by event name wins (created_project < logged_in)
        _event("e-tie", "logged_in", "d_tie", f"{DAY} 08:00:00"),
        _event("e-tie", "created_project", "d_tie", f"{DAY} 08:00:00"),
        # null keys: dropped
        _event("e-null-event", None, "d_null_event", f"{DAY} 12:00:00"),
        _event("e-null-distinct", "logged_in", None, f"{DAY} 12:00:00"),
        _event(None, "logged_in", "d_null_uuid", f"{DAY} 12:00:00"),
        _event("e-null-ts", "logged_in", "d_null_ts", None),
        # a NULL properties value (ClickHouse: Nullable(String))
        _event("e-null-props", "logged_in", "d_null_props", f"{DAY} 07:00:00", None),
    ]
    for i, (distinct_id, (seats, _)) in enumerate(SEATS.items()):
        events.append(
            _event(
                f"e-seats-{i}",
                "added_seat",
                distinct_id,
                f"{EARLIER} 12:00:00",
                f'{{"seats": {seats}, "company_domain": "b.io"}}',
            )
        )
    persons = pd.DataFrame(
        [
            {
                "id": "p_at",
                "created_at": pd.Timestamp("2026-01-01"),
                "properties": '{"email": "at@a.io"}',
                "is_identified": True,
            },
            {"id": "p_dup", "created_at": pd.Timestamp("2026-01-01"), "properties": None, "is_identified": True},
        ]
    )
    person_distinct_id = pd.DataFrame(
        [
            {"person_id": "p_at", "distinct_id": "d_at"},
            {"person_id": "p_dup", "distinct_id": "d_dup"},
            {"person_id": "p_dup", "distinct_id": None},  # a NULL distinct id: ignored
            {"person_id": None, "distinct_id": "d_twin"},  # a NULL person: ignored
        ]
    )
    accounts = pd.DataFrame(
        [
            {
                "account_id": "acc_a",
                "name": "A",
                "domain": "a.io",
                "arr": 1.0,
                "segment": "SMB",
                "owner_email": None,
                "properties": '{"employees": " 9 "}',
            },
            {
                "account_id": "acc_b",
                "name": "B",
                "domain": "b.io",
                "arr": None,
                "segment": None,
                "owner_email": None,
                "properties": None,
            },
            {
                "account_id": "acc_nodomain",
                "name": "No domain",
                "domain": None,
                "arr": None,
                "segment": None,
                "owner_email": None,
                "properties": '{"employees": 12}',
            },
        ]
    )
    return {
        "events": pd.DataFrame(events, columns=list(_event(1, 1, 1, None))),
        "persons": persons,
        "person_distinct_id": person_distinct_id,
        "accounts": accounts,
    }


# hand-worked expectations (also checked against the oracle, which reads docs/rules.md)
EXPECTED_USERS = {
    "as_of_day": {"p_at", "p_dup", "d_twin", "d_tie", "d_null_props"},
    "seats_numeric": {d for d, (_, number) in SEATS.items() if number},
    "seats_nine": {"u_text9", "u_exp"},
    "seats_text": {"u_float", "u_exp", "u_neg"},
    "seats_regex": {"u_float", "u_exp"},
}


def _oracle(frames_: dict[str, pd.DataFrame], key: str) -> pd.DataFrame:
    return punch_list(
        RULES[key], frames_["events"], frames_["persons"], frames_["person_distinct_id"], frames_["accounts"], AS_OF
    )


def test_the_oracle_reads_the_hand_worked_expectations():
    data = frames()
    for key, users in EXPECTED_USERS.items():
        assert set(_oracle(data, key)["user_id"]) == users, key
    assert set(_oracle(data, "accounts")["account_id"]) == {"acc_a", "acc_b"}
    staged = staged_events(data["events"])
    assert len(staged) == len(data["events"]) - 4 - 3  # 4 null-key rows, 3 repeats
    dup = _oracle(data, "as_of_day").set_index("user_id").loc["p_dup"]
    assert (dup["event_count"], dup["last_seen"]) == (1, pd.Timestamp(f"{DAY} 10:00:00"))
    assert property_text('{"n": 1e2}', "n") == "100" and property_text('{"n": 5.0}', "n") == "5"


# --- DuckDB, through the CLI ------------------------------------------------------------------


@pytest.fixture(scope="module")
def duck_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rows_duck")
    project_dir = copy_project(tmp / "project")
    write_rules(project_dir, RULES)
    db = tmp / "w.duckdb"
    write_duckdb_inputs(db, frames())
    env = {**os.environ, "BETON_PROJECT_DIR": str(project_dir), "BETON_TARGET_PATH": str(tmp / "target")}
    result = subprocess.run(
        [str(BETON), "run", "--duckdb", str(db), "--as-of", AS_OF_ARG, "--vars", '{"beton_input": "source"}'],
        capture_output=True,
        text=True,
        env=env,
        cwd=project_dir,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return db, result


@pytest.mark.parametrize("key", sorted(RULES))
def test_duckdb_punch_lists_equal_the_oracle(duck_build, key):
    db, _ = duck_build
    actual = read_table(db, "beton_inspections", f"insp_{key}")
    assert_same_punch_list(actual, _oracle(frames(), key), key)
    if key in EXPECTED_USERS:
        assert set(actual["user_id"]) == EXPECTED_USERS[key]


def test_as_of_keeps_its_microseconds_in_findings_marts_and_explore(duck_build):
    db, _ = duck_build
    findings = read_table(db, "beton_inspections", "insp_findings")
    assert set(findings["as_of"]) == {pd.Timestamp(AS_OF)}
    for schema, table in [
        ("beton_marts", "dim_accounts"),
        ("beton_marts", "dim_users"),
        ("beton_explore", "explore_data_health"),
        ("beton_explore", "explore_top_users"),
    ]:
        assert set(read_table(db, schema, table)["as_of"]) == {pd.Timestamp(AS_OF)}, table
    daily = read_table(db, "beton_explore", "explore_daily_activity").set_index("event_date")
    # on the as_of day: e-at, e-dup, e-twin, e-tie, e-null-props; not e-after (1 µs late)
    assert int(daily.loc[pd.Timestamp(DAY), "events"]) == 5
    users = read_table(db, "beton_marts", "dim_users").set_index("user_id")
    assert pd.Timestamp(users.loc["p_at", "last_seen"]) == pd.Timestamp(AS_OF)


def test_dropped_rows_are_counted_in_data_health_and_in_the_run_output(duck_build):
    db, result = duck_build
    health = read_table(db, "beton_explore", "explore_data_health").iloc[0]
    assert (int(health["dropped_null_key_rows"]), int(health["dropped_duplicate_rows"])) == (4, 3)
    quality = read_table(db, "beton_staging", "stg_posthog__event_quality").iloc[0]
    assert {
        c: int(quality[c])
        for c in (
            "input_rows",
            "null_uuid_rows",
            "null_event_rows",
            "null_distinct_id_rows",
            "null_timestamp_rows",
            "staged_events",
        )
    } == {
        "input_rows": len(frames()["events"]),
        "null_uuid_rows": 1,
        "null_event_rows": 1,
        "null_distinct_id_rows": 1,
        "null_timestamp_rows": 1,
        "staged_events": len(frames()["events"]) - 7,
    }
    out = " ".join((result.stdout + result.stderr).split())
    assert f"left out 7 of {len(frames()['events'])} input event row(s)" in out
    assert "4 with a null key (1 without uuid, 1 without event, 1 without distinct id, 1 without timestamp)" in out
    assert "3 repeating an event uuid already kept" in out


def test_staged_events_keep_one_row_per_uuid_the_first_by_timestamp(duck_build):
    db, _ = duck_build
    staged = read_table(db, "beton_staging", "stg_posthog__events").set_index("event_uuid")
    assert staged.index.is_unique
    assert staged.loc["e-dup", "event_name"] == "created_project"
    assert staged.loc["e-tie", "event_name"] == "created_project"
    expected = staged_events(frames()["events"])
    assert sorted(staged.index) == sorted(expected["uuid"])


def test_numbers_and_number_text_on_accounts(duck_build):
    db, _ = duck_build
    accounts = read_table(db, "beton_staging", "stg_posthog__accounts").set_index("account_id")
    assert pd.isna(accounts.loc["acc_a", "employees"])  # ' 9 ' is text, not a number
    assert accounts.loc["acc_nodomain", "employees"] == 12
    assert pd.isna(accounts.loc["acc_nodomain", "account_key"])


# --- ClickHouse (the real engine) ------------------------------------------------------------

CH_NULLABLE = {
    "events": {
        "uuid": "Nullable(String)",
        "event": "Nullable(String)",
        "distinct_id": "Nullable(String)",
        "timestamp": "Nullable(DateTime64(6, 'UTC'))",
        "properties": "Nullable(String)",
        "person_id": "Nullable(String)",
    },
    "persons": {
        "id": "String",
        "created_at": "DateTime64(6, 'UTC')",
        "properties": "Nullable(String)",
        "is_identified": "Bool",
    },
    "person_distinct_id": {"person_id": "Nullable(String)", "distinct_id": "Nullable(String)"},
    "accounts": {
        "account_id": "String",
        "name": "Nullable(String)",
        "domain": "Nullable(String)",
        "arr": "Nullable(Float64)",
        "segment": "Nullable(String)",
        "owner_email": "Nullable(String)",
        "properties": "Nullable(String)",
    },
}


@pytest.mark.clickhouse
def test_clickhouse_takes_nullable_inputs_and_agrees_with_duckdb_and_the_oracle(
    clickhouse_server, duck_build, tmp_path
):
    database = "beton_rows_" + uuidlib.uuid4().hex[:8]
    raw = "beton_raw_" + database
    data = frames()
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=False)
    try:
        client.command(f"create database if not exists `{raw}`")
        for table, types in CH_NULLABLE.items():
            columns = ", ".join(f"`{c}` {t}" for c, t in types.items())
            client.command(f"create or replace table `{raw}`.`{table}` ({columns}) engine = MergeTree order by tuple()")
            frame = data[table][list(types)]
            rows = [
                [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in row]
                for row in frame.itertuples(index=False, name=None)
            ]
            client.insert(f"`{raw}`.`{table}`", rows, column_names=list(types))
    finally:
        client.close()
    project_dir = copy_project(tmp_path / "project")
    write_rules(project_dir, RULES)
    click = ch_project(project_dir, clickhouse_server, database, tmp_path / "target")
    run_dbt(click, ["build"], vars={"beton_input": "source", "beton_as_of": AS_OF_ARG, "beton_source_schema": raw})

    db, _ = duck_build
    for key in RULES:
        actual = ch_table(clickhouse_server, f"{database}_inspections", f"insp_{key}")
        assert_same_punch_list(actual, _oracle(data, key), f"clickhouse {key}")
        assert_same_punch_list(
            actual, read_table(db, "beton_inspections", f"insp_{key}"), f"clickhouse vs duckdb {key}"
        )
    findings = ch_table(clickhouse_server, f"{database}_inspections", "insp_findings")
    assert {pd.Timestamp(v) for v in findings["as_of"]} == {pd.Timestamp(AS_OF)}
    health = ch_table(clickhouse_server, f"{database}_explore", "explore_data_health").iloc[0]
    assert (int(health["dropped_null_key_rows"]), int(health["dropped_duplicate_rows"])) == (4, 3)
    assert pd.Timestamp(health["as_of"]) == pd.Timestamp(AS_OF)


# --- --as-of, as the CLI reads it -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-20T13:37:42.250Z", datetime(2026, 11, 20, 13, 37, 42, 250000)),
        ("2026-11-20 13:37:42", datetime(2026, 11, 20, 13, 37, 42)),
        ("2026-11-20T15:37:42.000001+02:00", datetime(2026, 11, 20, 13, 37, 42, 1)),
        ("2026-11-20T08:07:42.5-0530", datetime(2026, 11, 20, 13, 37, 42, 500000)),
        ("2026-11-21T00:30:00+01", datetime(2026, 11, 20, 23, 30)),
        ("2026-11-20", datetime(2026, 11, 20)),
        ("2026-11-20T13:37:42.250000000Z", datetime(2026, 11, 20, 13, 37, 42, 250000)),
    ],
)
def test_as_of_forms_are_kept_to_the_microsecond_in_utc(text, expected):
    from beton_runner.cli.options import parse_as_of

    assert parse_as_of(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("2026-11-20T13:37:42.2500001Z", "kept to the microsecond"),
        ("2026-02-30 00:00:00", "not a valid instant"),
        ("20 Nov 2026", "not an instant"),
    ],
)
def test_as_of_that_cannot_be_kept_is_refused(text, message):
    from beton_runner.cli.options import parse_as_of

    with pytest.raises(ConfigError, match=message):
        parse_as_of(text)
