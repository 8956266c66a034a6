"""Incremental state never lies (issue #12, items 1 and 2): the rollups record what input built
them, so switching input (mock <-> source, another source table, another schema mapping or
account link) rebuilds them instead of mixing the two; and the incremental cutoff is bounded by
as_of, so one event stamped in the future does not stop later runs from reading new days.

Expected values come from fresh builds into new DuckDB files and from the pandas oracle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from conftest import MOCK_AS_OF, REPO, read_table, rule_documents, write_duckdb_inputs
from oracle import load_mock, punch_list

RULES = rule_documents()
BETON = Path(sys.executable).parent / "beton"
ROLLUP_KEY = ["activity_date", "distinct_id", "account_key", "event_name"]
ROLLUPS = ["int_daily_activity"] + [
    f"int_filtered_activity__{key}"
    for key, doc in RULES.items()
    if (doc.get("conditions") or {}).get("event_property_filters")
]
AS_OF = "2026-10-01 12:00:00"


def beton(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BETON), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=900, cwd=REPO
    )


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def source_run(db: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    """`BETON_INPUT=source beton run --duckdb DB --as-of AS_OF [ARGS]`, dbt's target dir at ``target``."""
    env = {"BETON_INPUT": "source", "BETON_TARGET_PATH": str(target)}
    return beton("run", "--duckdb", str(db), "--as-of", AS_OF, *args, env=env)


def raw_frames(db: Path) -> dict[str, pd.DataFrame]:
    return {t: read_table(db, "beton_raw", t) for t in ("events", "persons", "person_distinct_id", "accounts")}


def assert_same_rollups(db: Path, fresh: Path, label: str) -> None:
    for table in ROLLUPS:
        a = read_table(db, "beton_intermediate", table).sort_values(ROLLUP_KEY).reset_index(drop=True)
        b = read_table(fresh, "beton_intermediate", table).sort_values(ROLLUP_KEY).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=f"{table} ({label})")


def assert_punch_lists_equal(db: Path, fresh: Path, label: str) -> None:
    for key in RULES:
        assert_same_punch_list(
            read_table(db, "beton_inspections", f"insp_{key}"),
            read_table(fresh, "beton_inspections", f"insp_{key}"),
            f"{key} ({label})",
        )


def assert_punch_lists_are_the_oracles(db: Path, frames: dict[str, pd.DataFrame], as_of, label: str) -> int:
    findings = 0
    for key, doc in RULES.items():
        expected = punch_list(
            doc, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], as_of
        )
        assert_same_punch_list(read_table(db, "beton_inspections", f"insp_{key}"), expected, f"{key} ({label})")
        findings += len(expected)
    return findings


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """A DuckDB file holding only `beton generate` data (beton_raw), and a fresh source build on it."""
    tmp = tmp_path_factory.mktemp("synthetic")
    db = tmp / "fresh.duckdb"
    assert_ok(beton("generate", "--events", "20000", "--duckdb", str(db)))
    assert_ok(source_run(db, tmp / "target"))
    return db


def test_demo_then_source_run_then_demo_never_mix(synthetic, mock_build, tmp_path):
    """The issue's scenario, as a user types it, in one beton.duckdb: `beton demo`, then
    `beton generate` and `BETON_INPUT=source beton run` give the synthetic punch lists (a fresh
    build's and the oracle's), and `beton demo` afterwards the mock ones again."""
    db = tmp_path / "beton.duckdb"
    env = {"BETON_DUCKDB_PATH": str(db), "BETON_TARGET_PATH": str(tmp_path / "target")}
    assert_ok(beton("demo", "--out", str(tmp_path / "out1"), env=env))
    assert_ok(beton("generate", "--events", "20000", env=env))
    assert_ok(beton("run", "--as-of", AS_OF, env={**env, "BETON_INPUT": "source"}))

    assert_same_rollups(db, synthetic, "source after demo")
    assert_punch_lists_equal(db, synthetic, "source after demo")
    findings = assert_punch_lists_are_the_oracles(db, raw_frames(db), pd.Timestamp(AS_OF), "source after demo")
    assert findings > 20
    power_users = read_table(db, "beton_inspections", "insp_pql_power_users")
    assert set(power_users["user_id"]) == set(
        read_table(synthetic, "beton_inspections", "insp_pql_power_users")["user_id"]
    )

    assert_ok(beton("demo", "--out", str(tmp_path / "out2"), env=env))
    assert_same_rollups(db, mock_build.duckdb_path, "demo after source")
    assert_punch_lists_equal(db, mock_build.duckdb_path, "demo after source")
    assert_punch_lists_are_the_oracles(db, load_mock(REPO / "seeds"), MOCK_AS_OF, "demo after source")


def test_a_rollup_from_before_first_at_gets_the_column_and_is_rolled_up_again(synthetic, tmp_path):
    """A warehouse whose int_daily_activity predates first_at (and its rollup_layout fingerprint)
    and holds rows that are now wrong: the next run adds both columns, rolls the whole history up
    again and gives what a fresh build gives (rollups, punch lists, explore tables), and the input
    fingerprint the history keys on is the one the old rows had."""
    db = tmp_path / "old.duckdb"
    db.write_bytes(synthetic.read_bytes())
    con = duckdb.connect(str(db))
    old_fingerprints = {
        row[0]
        for row in con.execute(
            "select distinct input_fingerprint from beton_intermediate.int_daily_activity"
        ).fetchall()
    }
    con.execute("alter table beton_intermediate.int_daily_activity drop column first_at")
    con.execute("alter table beton_intermediate.int_daily_activity drop column rollup_layout")
    con.execute("update beton_intermediate.int_daily_activity set event_count = event_count + 1")
    con.close()

    assert_ok(source_run(db, tmp_path / "target"))
    assert_same_rollups(db, synthetic, "after the upgrade")
    assert set(read_table(db, "beton_intermediate", "int_daily_activity")["input_fingerprint"]) == old_fingerprints
    assert_punch_lists_equal(db, synthetic, "after the upgrade")
    for table in ("explore_top_users", "explore_daily_activity", "explore_data_health"):
        got, want = read_table(db, "beton_explore", table), read_table(synthetic, "beton_explore", table)
        key = list(want.columns[:2])
        pd.testing.assert_frame_equal(
            got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True), obj=table
        )


def _shifted(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Another dataset on the same days: every other event dropped, the rest by other ids."""
    events = frames["events"].iloc[::2].copy()
    events["distinct_id"] = events["distinct_id"] + "_b"
    return {**frames, "events": events}


def test_changing_source_table_mapping_or_account_link_rebuilds_the_rollups(tmp_path):
    """Each change of what the source input is (another events table with mapped column names,
    another account-link property) makes the next incremental run equal a fresh build of the
    same input: nothing the previous input rolled up survives."""
    mock = load_mock(REPO / "seeds")
    other = _shifted(mock)
    select = ["path:models/staging", "path:models/intermediate", "path:models/inspections"]
    base = {"beton_input": "source", "beton_as_of": AS_OF}
    steps = [
        ("default tables", base),
        (
            "another events table, mapped columns",
            {
                **base,
                "beton_events_table": "events_b",
                "beton_columns": {"events": {"timestamp": "ts", "event": "name"}},
            },
        ),
        ("another account link", {**base, "beton_account_link_property": "plan"}),
        ("back to the default", base),
    ]
    db = tmp_path / "w.duckdb"
    project = Project(dir=REPO, target="duckdb", duckdb_path=db, target_path=tmp_path / "t")

    def inputs(path: Path) -> None:
        write_duckdb_inputs(path, mock)
        write_duckdb_inputs(
            path, other, tables={"events": "events_b"}, rename={"events": {"timestamp": "ts", "event": "name"}}
        )

    inputs(db)
    for i, (label, vars_) in enumerate(steps):
        run_dbt(project, ["build"], vars=vars_, select=select)
        fresh = Project(
            dir=REPO, target="duckdb", duckdb_path=tmp_path / f"fresh{i}.duckdb", target_path=tmp_path / f"t{i}"
        )
        inputs(fresh.duckdb_path)
        run_dbt(fresh, ["build"], vars=vars_, select=select)
        assert_same_rollups(db, fresh.duckdb_path, label)
        assert_punch_lists_equal(db, fresh.duckdb_path, label)


def test_a_future_event_does_not_stop_later_runs_and_the_run_says_so(tmp_path):
    """One event stamped 2030 (a device with a wrong clock) in the first load: the next
    `beton run`, with two more days of events, still reads them (every punch list is the
    oracle's, the rollups a fresh build's), and its output counts the event it ignored."""
    final = load_mock(REPO / "seeds")
    future = final["events"].iloc[[0]].copy()
    future["uuid"] = "future-0001"
    future["timestamp"] = pd.Timestamp("2030-01-01 08:00:00")
    final = {**final, "events": pd.concat([final["events"], future], ignore_index=True)}
    first_as_of = pd.Timestamp("2026-09-29 12:00:00")
    first = {
        **final,
        "events": final["events"][
            (final["events"]["timestamp"] < first_as_of) | (final["events"]["uuid"] == "future-0001")
        ],
    }

    db = tmp_path / "w.duckdb"
    env = {"BETON_TARGET_PATH": str(tmp_path / "target"), "BETON_INPUT": "source"}
    write_duckdb_inputs(db, first)
    assert_ok(beton("run", "--duckdb", str(db), "--as-of", str(first_as_of), env=env))
    write_duckdb_inputs(db, final)
    second = beton("run", "--duckdb", str(db), "--as-of", AS_OF, env=env)
    assert_ok(second)

    assert assert_punch_lists_are_the_oracles(db, final, MOCK_AS_OF, "after a future event") > 10
    fresh = tmp_path / "fresh.duckdb"
    write_duckdb_inputs(fresh, final)
    assert_ok(
        beton("run", "--duckdb", str(fresh), "--as-of", AS_OF, env={**env, "BETON_TARGET_PATH": str(tmp_path / "t2")})
    )
    assert_same_rollups(db, fresh, "after a future event")
    health = read_table(db, "beton_explore", "explore_data_health")
    assert health["events_after_as_of"].tolist() == [1]
    assert "note: 1 event(s) after as_of 2026-10-01 12:00:00 UTC ignored" in " ".join(second.stderr.split())


def test_a_run_without_future_events_prints_no_note(synthetic, tmp_path):
    db = tmp_path / "w.duckdb"
    db.write_bytes(synthetic.read_bytes())
    result = source_run(db, tmp_path / "target", "-s", "pql_power_users+", "-s", "explore_data_health")
    assert_ok(result)
    assert "after as_of" not in result.stderr
    assert json.loads(
        json.dumps(read_table(db, "beton_explore", "explore_data_health")["events_after_as_of"].tolist())
    ) == [0]


@pytest.mark.clickhouse
def test_switching_input_on_clickhouse_rebuilds_the_rollups(clickhouse_server, tmp_path):
    """The same on the real ClickHouse engine (dbt-clickhouse delete+insert, lightweight deletes):
    a mock build, then a source build on other data in the same databases gives a fresh DuckDB
    build's punch lists and rollups; a mock build afterwards the mock punch lists again."""
    import uuid as uuidlib

    from test_clickhouse import assert_same_table, ch_project, ch_table, compare_all, write_clickhouse_inputs

    other = _shifted(load_mock(REPO / "seeds"))
    database = "beton_switch_" + uuidlib.uuid4().hex[:8]
    click = ch_project(REPO, clickhouse_server, database, tmp_path / "t_ch")
    source_vars = {"beton_input": "source", "beton_as_of": AS_OF, "beton_source_schema": "beton_raw_" + database}
    select = ["path:models/staging", "path:models/intermediate", "path:models/inspections"]
    write_clickhouse_inputs(clickhouse_server, "beton_raw_" + database, other)

    duck = Project(dir=REPO, target="duckdb", duckdb_path=tmp_path / "fresh.duckdb", target_path=tmp_path / "t_duck")
    write_duckdb_inputs(duck.duckdb_path, other)
    run_dbt(duck, ["build"], vars={"beton_input": "source", "beton_as_of": AS_OF}, select=select)

    run_dbt(click, ["build"], vars={"beton_input": "mock"})
    run_dbt(click, ["build"], vars=source_vars, select=select)
    assert compare_all(duck.duckdb_path, clickhouse_server, database, {k: d["level"] for k, d in RULES.items()}) > 10
    for table in ROLLUPS:  # the fingerprints differ: the engines' source schemas have different names
        assert_same_table(
            read_table(duck.duckdb_path, "beton_intermediate", table).drop(columns=["input_fingerprint"]),
            ch_table(clickhouse_server, f"{database}_intermediate", table).drop(columns=["input_fingerprint"]),
            table,
            ROLLUP_KEY,
        )

    run_dbt(click, ["build"], vars={"beton_input": "mock"}, select=select)
    mock = load_mock(REPO / "seeds")
    for key, doc in RULES.items():
        expected = punch_list(
            doc, mock["events"], mock["persons"], mock["person_distinct_id"], mock["accounts"], MOCK_AS_OF
        )
        got = ch_table(clickhouse_server, f"{database}_inspections", f"insp_{key}")
        assert_same_table(got, expected.astype(object), f"{key} (mock after source)", ["rank"])
