"""`beton generate`: deterministic synthetic data, identical on DuckDB and ClickHouse, appendable."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import clickhouse_connect
import duckdb
import pandas as pd
import pytest

from beton_runner.datagen.synthetic import Shape, write_clickhouse, write_duckdb
from beton_runner.errors import WarehouseError
from beton_runner.warehouse.clickhouse import ClickHouseConnection
from conftest import REPO


def rows(db, table: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"select * from beton_raw.{table} order by all").df()
    finally:
        con.close()


def test_same_arguments_same_rows_and_realistic_shape(tmp_path):
    shape = Shape.for_events(30_000, seed=7)
    counts = write_duckdb(tmp_path / "a.duckdb", REPO, shape)
    write_duckdb(tmp_path / "b.duckdb", REPO, shape)
    assert counts["events"] == 30_000
    for table in ("events", "persons", "person_distinct_id", "accounts"):
        pd.testing.assert_frame_equal(rows(tmp_path / "a.duckdb", table), rows(tmp_path / "b.duckdb", table))
    events = rows(tmp_path / "a.duckdb", "events")
    assert events["uuid"].is_unique
    assert events["timestamp"].max() <= pd.Timestamp(shape.end)
    assert events["timestamp"].min() > pd.Timestamp(shape.end - timedelta(days=shape.days))
    per_user = events["distinct_id"].value_counts()
    assert per_user.iloc[0] > 20 * per_user.median()  # skewed: power users and a long tail
    assert events["properties"].str.contains('"company_domain":"acct').mean() > 0.95
    library = set(pd.read_csv(REPO / "seeds" / "reference" / "beton_standard_events.csv")["event_name"])
    assert set(events["event"]) <= library
    other = write_duckdb(tmp_path / "c.duckdb", REPO, Shape.for_events(30_000, seed=8))
    assert other["events"] == 30_000
    assert not rows(tmp_path / "c.duckdb", "events")["uuid"].isin(events["uuid"]).any()


def test_append_days_adds_new_events_after_the_existing_ones(tmp_path):
    shape = Shape.for_events(9_000, days=90)
    db = tmp_path / "w.duckdb"
    write_duckdb(db, REPO, shape)
    before = rows(db, "events")
    counts = write_duckdb(db, REPO, shape, append_days=1)
    after = rows(db, "events")
    new = after[~after["uuid"].isin(before["uuid"])]
    assert counts["events"] == 9_000 + 100 and len(new) == 100
    assert (new["timestamp"] > pd.Timestamp(shape.end)).all()
    assert (new["timestamp"] <= pd.Timestamp(shape.end + timedelta(days=1))).all()


@pytest.mark.clickhouse
def test_clickhouse_gets_the_same_rows(clickhouse_server, tmp_path):
    shape = Shape.for_events(20_000, seed=3)
    write_duckdb(tmp_path / "w.duckdb", REPO, shape)
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=False)
    try:
        with ClickHouseConnection({"host": clickhouse_server.host, "port": clickhouse_server.port}, write=True) as conn:
            counts = write_clickhouse(conn, REPO, shape, database="synthetic_raw")
        assert counts["events"] == 20_000
        got = client.query_df(
            "select uuid, event, distinct_id, timestamp, properties from synthetic_raw.events order by uuid"
        )
    finally:
        client.close()
    expected = rows(tmp_path / "w.duckdb", "events").sort_values("uuid").reset_index(drop=True)
    assert got["uuid"].tolist() == expected["uuid"].tolist()
    assert got["properties"].tolist() == expected["properties"].tolist()
    got_ts = (
        pd.to_datetime(got["timestamp"]).dt.tz_localize(None)
        if got["timestamp"].dt.tz is not None
        else got["timestamp"]
    )
    assert (got_ts.values == expected["timestamp"].values).all()


def test_generate_command_writes_the_input_tables(tmp_path):
    env = {**os.environ, "BETON_DUCKDB_PATH": str(tmp_path / "g.duckdb")}
    done = subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), "generate", "--events", "5000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "events: 5,000" in done.stdout
    assert len(rows(tmp_path / "g.duckdb", "events")) == 5000


# --- issue #12 item 12: a failed `beton generate` leaves the previous tables whole ---------------


def _one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 12 MB tmpfs: a real full disk part-way through a write (needs mount rights: root in a
    container that allows it; skipped elsewhere)."""
    where = tmp_path / "tiny"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.parametrize("mode", ["replace", "append-days"])
def test_a_full_disk_leaves_the_previous_duckdb_tables_and_says_so_in_one_line(tiny_disk, mode):
    db = tiny_disk / "g.duckdb"
    env = {**os.environ, "TZ": "UTC", "BETON_DUCKDB_PATH": str(db)}

    def generate(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), "generate", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    assert generate("--events", "5000", "--days", "1").returncode == 0
    before = {t: rows(db, t) for t in ("events", "persons", "person_distinct_id", "accounts")}
    # about 1M new events: far more than the 12 MB disk holds
    failed = (
        generate("--events", "1000000", "--days", "1")
        if mode == "replace"
        else generate("--events", "5000", "--days", "1", "--append-days", "200")
    )
    assert failed.returncode == 1
    line = _one_clean_line(failed.stderr)
    assert "No space left on device" in line and "unchanged" in line and str(db) in line
    for table, frame in before.items():
        pd.testing.assert_frame_equal(rows(db, table), frame)


@pytest.mark.clickhouse
@pytest.mark.parametrize("mode", ["replace", "append-days"])
def test_a_write_failing_part_way_leaves_the_previous_clickhouse_tables(clickhouse_server, monkeypatch, mode):
    """The generated rows stop part-way with ENOSPC (the documented test hook
    BETON_TEST_GENERATE_FAIL_AFTER_ROWS, after several batches were written): the error is one
    line, every table keeps exactly its previous rows, and no staging table is left."""
    shape = Shape.for_events(20_000, days=90, seed=5)
    database = f"fail_{mode.replace('-', '_')}_raw"
    settings = {"host": clickhouse_server.host, "port": clickhouse_server.port}
    with ClickHouseConnection(settings, write=True) as conn:
        write_clickhouse(conn, REPO, shape, database=database)
        tables = ("events", "persons", "person_distinct_id", "accounts")
        before = {t: conn.query(f"select * from {database}.{t} order by all") for t in tables}
        monkeypatch.setenv("BETON_TEST_GENERATE_FAIL_AFTER_ROWS", "150")
        other = Shape.for_events(20_000, days=90, seed=6)
        with pytest.raises(WarehouseError) as err:
            if mode == "replace":
                write_clickhouse(conn, REPO, other, database=database, batch_rows=40)
            else:
                write_clickhouse(conn, REPO, shape, database=database, append_days=1, batch_rows=40)
        message = str(err.value)
        assert "\n" not in message and "unchanged" in message and "No space left on device" in message
        for table in tables:
            pd.testing.assert_frame_equal(conn.query(f"select * from {database}.{table} order by all"), before[table])
        assert not [t for t in conn.columns_of([database]) if t[1].endswith("__new")]

        monkeypatch.delenv("BETON_TEST_GENERATE_FAIL_AFTER_ROWS")
        counts = write_clickhouse(conn, REPO, shape, database=database, append_days=1, batch_rows=40)
        assert counts["events"] == 20_000 + 20_000 // 90
        conn.execute(f"drop database {database}")
