"""The chDB-backed ClickHouse test server behaves like ClickHouse for our clients.

Proves the fixture the ClickHouse integration tests stand on: clickhouse-connect reads and
writes through it (Native inserts, errors with their ClickHouse codes), and unmodified
dbt-clickhouse runs seeds, table / view / incremental models and tests against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

clickhouse_connect = pytest.importorskip("clickhouse_connect")

from clickhouse_connect.driver.summary import QuerySummary  # noqa: E402

# Until tests/conftest.py re-exports the fixture, import it here (then drop this import).
from chserver.fixture import start_clickhouse_server  # noqa: E402

pytestmark = pytest.mark.clickhouse

DBT = Path(sys.executable).with_name("dbt")
SCHEMA = "beton_test"


@pytest.fixture(scope="module")
def client(clickhouse_server):
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port)
    yield client
    client.close()


# --- protocol ----------------------------------------------------------------------


def test_ping_answers_ok(clickhouse_server):
    for path in ("/ping", "/"):
        with urllib.request.urlopen(clickhouse_server.url + path, timeout=5) as response:
            assert response.read() == b"Ok.\n"


def test_native_insert_of_100k_rows_reads_back_exact_aggregates(client):
    client.command("create database if not exists chserver_insert")
    client.command("drop table if exists chserver_insert.events")
    client.command(
        """
        create table chserver_insert.events (
            id UInt64,
            user_id String,
            amount Nullable(Float64),
            kind LowCardinality(String),
            occurred_at DateTime('UTC')
        )
        engine = MergeTree
        order by id
        """
    )
    n = 100_000
    rows = [
        (i, f"user_{i % 97}", None if i % 10 == 0 else i / 4, ("signup", "login", "pay")[i % 3], 1_700_000_000 + i)
        for i in range(n)
    ]
    summary = client.insert(
        "events", rows, database="chserver_insert", column_names=["id", "user_id", "amount", "kind", "occurred_at"]
    )
    assert summary.written_rows == n

    # Oracle: plain Python over the rows we sent.
    expected_sum = sum(r[2] for r in rows if r[2] is not None)
    expected_nulls = sum(1 for r in rows if r[2] is None)
    expected_kinds = Counter(r[3] for r in rows)

    count, id_sum, amount_sum, nulls, users, last_at = client.query(
        """
        select count(), sum(id), sum(amount), countIf(amount is null), uniqExact(user_id), max(occurred_at)
        from chserver_insert.events
        """
    ).result_rows[0]
    assert (count, id_sum, nulls, users) == (n, n * (n - 1) // 2, expected_nulls, 97)
    assert amount_sum == pytest.approx(expected_sum)
    assert last_at.timestamp() == 1_700_000_000 + n - 1

    kinds = dict(client.query("select kind, count() from chserver_insert.events group by kind").result_rows)
    assert kinds == dict(expected_kinds)


@pytest.mark.parametrize("compress", [False, "gzip", "lz4", "zstd"])
def test_compressed_request_bodies_are_decoded(clickhouse_server, compress):
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=compress)
    try:
        table = f"compressed_{compress or 'none'}"
        client.command("create database if not exists chserver_insert")
        client.command(f"create or replace table chserver_insert.{table} (a UInt32, s String) engine = Memory")
        client.insert(f"chserver_insert.{table}", [(i, "x" * (i % 7)) for i in range(5000)], column_names=["a", "s"])
        assert client.query(f"select count(), sum(a), sum(length(s)) from chserver_insert.{table}").result_rows == [
            (5000, sum(range(5000)), sum(i % 7 for i in range(5000)))
        ]
    finally:
        client.close()


def test_chunked_deflate_body_with_query_in_url(clickhouse_server, client):
    # clickhouse-connect cannot send deflate; a plain HTTP client can, in chunks.
    client.command("create database if not exists chserver_insert")
    client.command("create or replace table chserver_insert.deflated (a UInt32) engine = Memory")
    payload = zlib.compress("".join(f"{i}\n" for i in range(1000)).encode())
    chunks = iter([payload[:10], payload[10:]])  # an iterable body goes out chunked
    request = urllib.request.Request(
        clickhouse_server.url
        + "/?"
        + urllib.parse.urlencode({"query": "insert into chserver_insert.deflated format TSV"}),
        data=chunks,
        headers={"Content-Encoding": "deflate"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.headers["X-ClickHouse-Summary"])["written_rows"] == "1000"
    assert client.query("select count(), sum(a) from chserver_insert.deflated").result_rows == [(1000, 499500)]


def test_query_parameters_and_settings_apply_per_request(client):
    assert client.query("select {n:UInt32} * 2, {s:String}", parameters={"n": 21, "s": "ok"}).result_rows == [
        (42, "ok")
    ]
    assert client.command("select getSetting('max_threads')", settings={"max_threads": 3}) == 3
    # A URL setting does not leak into the next request, as on a real server.
    assert client.command("select getSetting('max_threads')") != 3


def test_text_insert_and_command_results(client):
    client.command("create database if not exists chserver_insert")
    client.command("create or replace table chserver_insert.csv_rows (a Int32, b String) engine = Memory")
    client.command('insert into chserver_insert.csv_rows format CSV\n1,"one"\n2,"two, too"\n')
    assert client.query("select a, b from chserver_insert.csv_rows order by a").result_rows == [
        (1, "one"),
        (2, "two, too"),
    ]
    # A DDL answers without X-ClickHouse-Format, so command() returns a summary, not rows.
    result = client.command("drop table if exists chserver_insert.never_existed")
    assert isinstance(result, QuerySummary)
    # ... while a select answering nothing is still a (empty) result.
    assert client.command("select 1 where 0") == ""


def test_concurrent_clients_get_their_own_parameters_and_settings(clickhouse_server):
    def work(worker: int) -> list[tuple[int, int]]:
        client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port)
        try:
            return [
                client.query(
                    "select {n:UInt32}, toUInt32(getSetting('max_block_size'))",
                    parameters={"n": worker * 100 + i},
                    settings={"max_block_size": 1000 + worker},
                ).result_rows[0]
                for i in range(15)
            ]
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(6)))
    assert results == [[(w * 100 + i, 1000 + w) for i in range(15)] for w in range(6)]


@pytest.mark.parametrize(
    ("sql", "code", "status"),
    [
        ("select * from chserver_insert.no_such_table", 60, 404),
        ("select * from no_such_database.t", 81, 404),
        ("selec 1", 62, 400),
        ("select throwIf(1, 'boom')", 395, 500),
    ],
)
def test_errors_carry_clickhouse_codes(clickhouse_server, client, sql, code, status):
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError) as excinfo:
        client.query(sql)
    assert f"Code: {code}" in str(excinfo.value)

    request = urllib.request.Request(clickhouse_server.url + "/", data=sql.encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request, timeout=10)
    assert http_error.value.code == status
    assert http_error.value.headers["X-ClickHouse-Exception-Code"] == str(code)
    assert http_error.value.read().decode().startswith(f"Code: {code}.")


def test_a_second_server_on_the_same_data_is_reported_with_its_log(clickhouse_server):
    # chdb locks its data directory: a second process on it dies at start-up.
    from chserver.fixture import ClickHouseServerError

    with pytest.raises(ClickHouseServerError, match="exited with code") as excinfo:
        start_clickhouse_server(clickhouse_server.data_dir.parent, timeout_s=30)
    assert "Cannot lock file" in str(excinfo.value)  # the server's own log tail


# --- dbt-clickhouse ----------------------------------------------------------------

SEED_ROWS = [
    # id, user_id, event_name, amount, occurred_at
    (1, "u1", "Signup", 0.0, "2024-01-01 10:00:00"),
    (2, "u1", "Pay", 10.5, "2024-01-02 11:00:00"),
    (3, "u2", "Signup", 0.0, "2024-01-02 12:00:00"),
    (4, "u2", "Pay", 20.0, "2024-01-03 09:30:00"),
    (5, "u3", "Signup", 0.0, "2024-01-04 08:00:00"),
    (6, "u1", "Pay", 5.25, "2024-01-05 07:15:00"),
]
BATCH_SIZE = 3  # incremental models take ids <= batch * BATCH_SIZE

DBT_FILES = {
    "dbt_project.yml": """
        name: chserver_probe
        version: "1.0"
        config-version: 2
        profile: chserver_probe
        vars:
          batch: 1
        models:
          chserver_probe:
            +materialized: view
    """,
    "seeds/raw_events.csv": "id,user_id,event_name,amount,occurred_at\n"
    + "".join(f"{i},{u},{e},{a},{t}\n" for i, u, e, a, t in SEED_ROWS),
    "seeds/seeds.yml": """
        seeds:
          - name: raw_events
            config:
              column_types:
                occurred_at: DateTime('UTC')
    """,
    "models/stg_events.sql": """
        select
            id,
            user_id,
            lower(event_name) as event_name,
            amount,
            occurred_at
        from {{ ref('raw_events') }}
    """,
    "models/user_totals.sql": """
        {{ config(materialized='table', order_by='user_id') }}
        select
            user_id,
            count(*) as events,
            sum(amount) as total_amount
        from {{ ref('stg_events') }}
        group by user_id
    """,
    "models/events_append.sql": """
        {{ config(materialized='incremental', incremental_strategy='append', order_by='id') }}
        select
            id,
            user_id,
            {{ var('batch') }} as batch
        from {{ ref('stg_events') }}
        where id <= {{ var('batch') }} * 3
        {% if is_incremental() %}
            and id > (select max(id) from {{ this }})
        {% endif %}
    """,
    "models/user_running.sql": """
        {{ config(
            materialized='incremental',
            incremental_strategy='delete+insert',
            unique_key='user_id',
            order_by='user_id'
        ) }}
        select
            user_id,
            count(*) as events,
            {{ var('batch') }} as batch
        from {{ ref('stg_events') }}
        where id <= {{ var('batch') }} * 3
        group by user_id
    """,
    "models/models.yml": """
        models:
          - name: user_totals
            columns:
              - name: user_id
                data_tests: [unique, not_null]
          - name: events_append
            columns:
              - name: id
                data_tests: [unique, not_null]
          - name: user_running
            columns:
              - name: user_id
                data_tests: [unique, not_null]
          - name: stg_events
            columns:
              - name: event_name
                data_tests:
                  - accepted_values:
                      arguments:
                        values: [signup, pay]
    """,
}


@pytest.fixture(scope="module")
def dbt_project(clickhouse_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("dbt_chserver")
    for name, text in DBT_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (root / "profiles.yml").write_text(
        textwrap.dedent(
            f"""
            chserver_probe:
              target: ch
              outputs:
                ch:
                  type: clickhouse
                  driver: http
                  host: {clickhouse_server.host}
                  port: {clickhouse_server.port}
                  schema: {SCHEMA}
                  user: default
                  password: ""
                  threads: 2
            """
        ).lstrip()
    )
    return root


def run_dbt(project: Path, *args: str, batch: int = 1, expect_success: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_PATH": str(project / "logs"),
        "DBT_TARGET_PATH": str(project / "target"),
    }
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--vars",
        json.dumps({"batch": batch}),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    if not expect_success:
        return result
    assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    return result


def expected_state(batch: int, runs: list[int]) -> dict:
    """Oracle for the models, from SEED_ROWS and the batches the incremental models saw."""
    totals = defaultdict(lambda: [0, 0.0])
    for _, user, _, amount, _ in SEED_ROWS:
        totals[user][0] += 1
        totals[user][1] += amount
    appended = {}
    for run_batch in runs:  # append: only ids above the current max are added, tagged with the run's batch
        high = max(appended, default=0)
        for row in SEED_ROWS:
            if high < row[0] <= run_batch * BATCH_SIZE:
                appended[row[0]] = (row[1], run_batch)
    running = Counter(row[1] for row in SEED_ROWS if row[0] <= batch * BATCH_SIZE)
    return {
        "user_totals": sorted((u, c, a) for u, (c, a) in totals.items()),
        "events_append": sorted((i, u, b) for i, (u, b) in appended.items()),
        "user_running": sorted((u, c, batch) for u, c in running.items()),
    }


def read_models(client) -> dict:
    def rows(sql):
        return sorted(tuple(r) for r in client.query(sql).result_rows)

    return {
        "user_totals": rows(f"select user_id, events, total_amount from {SCHEMA}.user_totals"),
        "events_append": rows(f"select id, user_id, batch from {SCHEMA}.events_append"),
        "user_running": rows(f"select user_id, events, batch from {SCHEMA}.user_running"),
    }


def test_unmodified_dbt_clickhouse_builds_and_rebuilds(dbt_project, client):
    run_dbt(dbt_project, "seed")
    assert client.command(f"select count() from {SCHEMA}.raw_events") == len(SEED_ROWS)

    first = run_dbt(dbt_project, "build", batch=1)
    assert "PASS=" in first.stdout and "ERROR=0" in first.stdout
    assert read_models(client) == expected_state(batch=1, runs=[1])
    engines = dict(client.query(f"select name, engine from system.tables where database = '{SCHEMA}'").result_rows)
    assert engines["stg_events"] == "View"
    assert engines["user_totals"] == engines["events_append"] == "MergeTree"

    run_dbt(dbt_project, "build", batch=2)  # incremental: append adds ids 4-6, delete+insert replaces users
    assert read_models(client) == expected_state(batch=2, runs=[1, 2])

    run_dbt(dbt_project, "build", "--full-refresh", batch=1)
    assert read_models(client) == expected_state(batch=1, runs=[1])

    run_dbt(dbt_project, "docs", "generate")
    catalog = json.loads((dbt_project / "target" / "catalog.json").read_text())
    columns = catalog["nodes"]["model.chserver_probe.user_totals"]["columns"]
    assert set(columns) == {"user_id", "events", "total_amount"}


def test_dbt_reports_a_failing_data_test(dbt_project, client):
    if not client.command(f"exists table {SCHEMA}.raw_events"):
        run_dbt(dbt_project, "seed")
    # accepted_values fails once a third event name appears: dbt must see the failing row.
    client.command(f"insert into {SCHEMA}.raw_events format CSV\n7,u4,Churn,0,2024-01-06 00:00:00\n")
    try:
        result = run_dbt(dbt_project, "test", "--select", "stg_events", expect_success=False)
        assert result.returncode == 1, result.stdout[-3000:]
        assert "FAIL 1 accepted_values_stg_events_event_name" in result.stdout
    finally:
        client.command(f"delete from {SCHEMA}.raw_events where id = 7")
