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
    library = set(pd.read_csv(REPO / "seeds" / "reference" / "standard_events.csv")["event_name"])
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
        got = client.query_df("select uuid, event, distinct_id, timestamp, properties from synthetic_raw.events order by uuid")
    finally:
        client.close()
    expected = rows(tmp_path / "w.duckdb", "events").sort_values("uuid").reset_index(drop=True)
    assert got["uuid"].tolist() == expected["uuid"].tolist()
    assert got["properties"].tolist() == expected["properties"].tolist()
    got_ts = pd.to_datetime(got["timestamp"]).dt.tz_localize(None) if got["timestamp"].dt.tz is not None else got["timestamp"]
    assert (got_ts.values == expected["timestamp"].values).all()


def test_generate_command_writes_the_input_tables(tmp_path):
    env = {**os.environ, "BETON_DUCKDB_PATH": str(tmp_path / "g.duckdb")}
    done = subprocess.run([sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), "generate", "--events", "5000"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "events: 5,000" in done.stdout
    assert len(rows(tmp_path / "g.duckdb", "events")) == 5000
