"""The warehouse interface, the same assertions on both engines: a DuckDB file under tmp_path
and the real ClickHouse engine (the chserver fixture). Expected values are written out by hand
or computed with pandas from the frames the test itself wrote."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime

import pandas as pd
import pytest

from beton_runner.errors import WarehouseError
from beton_runner.warehouse import Column, TableSpec
from beton_runner.warehouse.clickhouse import ClickHouseConnection
from beton_runner.warehouse.duckdb import DuckDBConnection

PEOPLE = TableSpec(
    "people",
    (
        Column("id", "text"),
        Column("name", "text"),
        Column("score", "float"),
        Column("visits", "int"),
        Column("seen_at", "timestamp"),
    ),
    key=("id",),
)

FRAME = pd.DataFrame(
    {
        "id": ["a", "b", "c", "d"],
        "name": ["Ann", 'O\'Brien "Bob"', None, "Dee"],
        "score": [3.5, 1.0, None, 7.25],
        "visits": [2, 5, 1, 9],
        "seen_at": [
            datetime(2026, 1, 2, 3, 4, 5),
            datetime(2026, 2, 1),
            datetime(2026, 3, 1, 12),
            datetime(2026, 1, 1),
        ],
    }
)


@pytest.fixture(params=["duckdb", pytest.param("clickhouse", marks=pytest.mark.clickhouse)])
def conn(request, tmp_path):
    """A writable connection and a fresh schema (ClickHouse: database) on each engine."""
    if request.param == "duckdb":
        connection = DuckDBConnection(tmp_path / "w.duckdb", write=True, create=True)
        schema = "test_schema"
    else:
        server = request.getfixturevalue("clickhouse_server")
        connection = ClickHouseConnection({"host": server.host, "port": server.port}, write=True)
        schema = f"wh_{uuid.uuid4().hex[:10]}"
    connection.ensure_schema(schema)
    connection.create_table(schema, PEOPLE)
    connection.insert_frame(schema, "people", FRAME)
    try:
        yield connection, schema
    finally:
        if request.param == "clickhouse":
            connection.execute(f"drop database if exists `{schema}`")
        connection.close()


def test_query_binds_parameters_including_quotes(conn):
    connection, schema = conn
    table = connection.table(schema, "people")
    got = connection.query(f"select id, visits from {table} where name = :name", {"name": 'O\'Brien "Bob"'})
    assert got.to_dict("records") == [{"id": "b", "visits": 5}]
    # a value that looks like SQL stays a value
    assert connection.query(f"select id from {table} where name = :name", {"name": "x' or '1'='1"}).empty
    counted = connection.rows(
        f"select count(*) from {table} where visits >= :low and id <> :skip", {"low": 2, "skip": "d"}
    )
    assert int(counted[0][0]) == 2  # a (2) and b (5)
    # names that prefix one another, and a value the SQL does not use
    both = connection.query(
        f"select id from {table} where id = :id or visits > :id_min", {"id": "a", "id_min": 6, "x": 1}
    )
    assert sorted(both["id"]) == ["a", "d"]


def test_empty_result_keeps_its_columns(conn):
    connection, schema = conn
    got = connection.query(f"select id, score from {connection.table(schema, 'people')} where id = :id", {"id": "zz"})
    assert list(got.columns) == ["id", "score"] and got.empty


def test_read_table_orders_and_limits(conn):
    connection, schema = conn
    top = connection.read_table(schema, "people", order_by="score", descending=True, limit=2)
    expected = FRAME.sort_values("score", ascending=False, na_position="last").head(2)
    assert top["id"].tolist() == expected["id"].tolist() == ["d", "a"]
    everything = connection.read_table(schema, "people", order_by="visits")
    assert everything["id"].tolist() == FRAME.sort_values("visits")["id"].tolist()
    assert everything["seen_at"].tolist() == FRAME.sort_values("visits")["seen_at"].tolist()
    assert connection.count(schema, "people") == len(FRAME)
    with pytest.raises(WarehouseError, match=f"{schema}.missing does not exist"):
        connection.read_table(schema, "missing")


def test_exists_and_columns(conn):
    connection, schema = conn
    assert connection.exists(schema, "people")
    assert not connection.exists(schema, "nobody")
    assert not connection.exists("no_such_schema_here", "people")
    assert [name for name, _ in connection.columns(schema, "people")] == PEOPLE.column_names
    assert connection.columns(schema, "nobody") == []
    assert connection.columns_of([schema]) == {(schema, "people"): PEOPLE.column_names}


def test_insert_frame_appends_by_column_name(conn):
    connection, schema = conn
    more = pd.DataFrame({"visits": [4], "id": ["e"], "name": ["Eve"]})  # other order, fewer columns
    assert connection.insert_frame(schema, "people", more) == 1
    got = connection.query(
        f"select id, name, visits, score from {connection.table(schema, 'people')} where id = :id", {"id": "e"}
    )
    assert got.iloc[0]["name"] == "Eve" and int(got.iloc[0]["visits"]) == 4 and pd.isna(got.iloc[0]["score"])
    assert connection.count(schema, "people") == len(FRAME) + 1


def test_replace_tables_swaps_in_new_rows(conn):
    connection, schema = conn
    fresh = FRAME.iloc[[1, 3]].assign(visits=[50, 90])
    counts = connection.replace_tables(schema, {PEOPLE: fresh})
    assert counts == {"people": 2}
    got = connection.read_table(schema, "people", order_by="id")
    assert got["id"].tolist() == ["b", "d"] and got["visits"].tolist() == [50, 90]
    assert not connection.exists(schema, "people__new")


def test_a_failing_replacement_leaves_the_old_tables(conn):
    connection, schema = conn
    other = TableSpec("other", (Column("k", "text"), Column("n", "int")), key=("k",))
    connection.replace_tables(schema, {other: pd.DataFrame({"k": ["x"], "n": [1]})})
    bad = pd.DataFrame({"k": ["y"], "n": ["not a number"]})
    with pytest.raises(WarehouseError, match="previous tables are unchanged"):
        # people is written first, then other fails: neither may change
        connection.replace_tables(schema, {PEOPLE: FRAME.head(1), other: bad})
    assert connection.read_table(schema, "people", order_by="id")["id"].tolist() == ["a", "b", "c", "d"]
    assert connection.read_table(schema, "other")["k"].tolist() == ["x"]
    assert not connection.exists(schema, "people__new") and not connection.exists(schema, "other__new")


def test_read_only_connection_refuses_writes(tmp_path):
    path = tmp_path / "r.duckdb"
    with DuckDBConnection(path, write=True, create=True) as writer:
        writer.ensure_schema("s")
        writer.create_table("s", PEOPLE)
    with DuckDBConnection(path) as reader:
        assert reader.exists("s", "people")
        with pytest.raises(WarehouseError, match="read-only"):
            reader.insert_frame("s", "people", FRAME)


def test_missing_duckdb_file_says_what_to_run(tmp_path):
    for write in (False, True):
        with pytest.raises(WarehouseError, match="run `beton demo` or `beton run` first"):
            DuckDBConnection(tmp_path / "nothing.duckdb", write=write)
    assert not (tmp_path / "nothing.duckdb").exists()  # a read never creates the file


def test_duckdb_lock_held_by_another_process_names_the_file(tmp_path):
    path = tmp_path / "locked.duckdb"
    DuckDBConnection(path, write=True, create=True).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError) as error:
            DuckDBConnection(path, write=True)
        message = str(error.value)
        assert str(path) in message and "another `beton` or dbt process" in message
    finally:
        holder.kill()
        holder.wait()


def test_duckdb_transaction_rolls_back(tmp_path):
    with DuckDBConnection(tmp_path / "t.duckdb", write=True, create=True) as connection:
        connection.ensure_schema("s")
        connection.create_table("s", PEOPLE)
        with pytest.raises(WarehouseError), connection.transaction():
            connection.insert_frame("s", "people", FRAME)
            connection.execute("insert into s.people (id) values (:id)", {"id": None})
            connection.execute("select * from no_such_table")
        assert connection.count("s", "people") == 0


@pytest.mark.clickhouse
def test_clickhouse_connection_error_never_shows_the_password():
    with pytest.raises(WarehouseError) as error:
        ClickHouseConnection({"host": "127.0.0.1", "port": 1, "password": "pw-SECRET-42"})
    assert "cannot connect to ClickHouse at 127.0.0.1:1" in str(error.value)
    assert "pw-SECRET-42" not in str(error.value)
