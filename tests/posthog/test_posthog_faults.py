"""Rate limits, server errors, broken connections, killed runs and crashes between a page and
its cursor: each ends with the warehouse holding exactly PostHog's events, or with a clear error
and nothing already stored damaged, on DuckDB and on ClickHouse."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from beton_runner.errors import WarehouseError
from beton_runner.posthog.clickhouse_destination import ClickHouseDestination
from beton_runner.posthog.client import PostHogUnavailableError
from posthog_server.dataset import DatasetSpec
from posthog_server.fixture import (  # noqa: F401
    BOTH_TARGETS,
    posthog_server_factory,
    target,
)
from posthog_server.helpers import (
    ClickHouseTarget,
    assert_exact_events,
    ingest,
    stored_uuids,
    warehouse,
    with_settings,
)

SPEC = DatasetSpec(events=1_200, persons=120)
PAGE = 150  # the server's row cap in these tests: 8 event pages


def assert_consistent_prefix(db, server) -> int:
    """What a failed run left: no duplicates, only real events, and a state that matches."""
    stored = stored_uuids(db)
    assert len(stored) == len(set(stored)), "duplicates after a failed run"
    assert set(stored) <= server.dataset.event_uuids()
    state = db.events_state()
    if stored:
        # the mark is when PostHog received the last stored event (issue #12: the cursor is
        # created_at, no longer the event's timestamp), and everything received before it
        # is stored: a prefix in order of arrival
        ((cursor_ts, complete),) = state
        received = server.dataset.received_at(stored)
        assert not complete and cursor_ts == max(received.values())
        before = {u for u, at in server.dataset.received_at(server.dataset.event_uuids()).items() if at < cursor_ts}
        assert before <= set(stored)
    return len(stored)


FAULTS = [
    pytest.param({"kind": "status", "status": 429, "retry_after": 1}, id="429-retry-after"),
    pytest.param({"kind": "status", "status": 429}, id="429-no-retry-after"),
    pytest.param({"kind": "status", "status": 500}, id="500"),
    pytest.param({"kind": "status", "status": 502}, id="502"),
    pytest.param({"kind": "status", "status": 503}, id="503"),
    pytest.param({"kind": "status", "status": 504}, id="504"),
    pytest.param({"kind": "timeout", "delay": 1.0}, id="timeout"),
    pytest.param({"kind": "drop"}, id="dropped-mid-body"),
    pytest.param({"kind": "malformed"}, id="malformed-json"),
]
# The fault kinds differ only in the client; on ClickHouse two suffice to show that retried
# pages land exactly once there too.
CLICKHOUSE_FAULTS = ("503", "dropped-mid-body")


@pytest.mark.parametrize(
    "target,fault",
    [pytest.param("duckdb", f.values[0], id=f"duckdb-{f.id}") for f in FAULTS]
    + [
        pytest.param("clickhouse", f.values[0], id=f"clickhouse-{f.id}", marks=pytest.mark.clickhouse)
        for f in FAULTS
        if f.id in CLICKHOUSE_FAULTS
    ],
    indirect=["target"],
)
def test_transient_faults_end_with_exactly_posthogs_events(posthog_server_factory, target, fault):
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    server.add_fault(match="query:events", after=2, times=2, **fault)  # mid-export, twice in a row
    server.add_fault(match="query:persons", after=0, times=1, **fault)
    db = target
    result = ingest(server, db, settings=with_settings(read_timeout=0.5))

    assert server.stats.faults_fired == 3
    assert result.retries >= 3
    assert_exact_events(db, server)
    persons = warehouse(db, "select count(*), count(distinct id) from beton_raw.persons")[0]
    assert persons == (120, 120)


def test_retry_after_is_waited_out(posthog_server_factory, tmp_path):
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    server.add_fault("status", status=429, retry_after=1, match="query:events", after=1, times=1)
    ingest(server, tmp_path / "beton.duckdb")
    events = [(t, s) for t, tag, s in server.stats.log if tag == "query:events"]
    i = next(i for i, (_, status) in enumerate(events) if status == 429)
    assert events[i + 1][0] - events[i][0] >= 0.95  # the next try came after Retry-After
    assert_exact_events(tmp_path / "beton.duckdb", server)


@BOTH_TARGETS
def test_retries_exhausted_give_a_clear_error_then_a_rerun_completes(posthog_server_factory, target):
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    server.add_fault("status", status=503, match="query:events", after=3, times=None)
    db = target
    with pytest.raises(PostHogUnavailableError) as err:
        ingest(server, db)
    message = str(err.value)
    assert err.value.kind == "server_error"
    assert "at capacity (HTTP 503)" in message and "4 retries" in message
    assert "Loaded before the failure and kept: 450 new events" in message
    assert "again to continue" in message
    assert assert_consistent_prefix(db, server) == 3 * PAGE

    server.clear_faults()
    result = ingest(server, db)
    assert result.events_new == 1_200 - 3 * PAGE
    assert_exact_events(db, server)


def test_a_long_retry_after_stops_with_advice_instead_of_waiting(posthog_server_factory, target):
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    server.add_fault("status", status=429, retry_after=3600, match="query:events", after=2, times=None)
    db = target
    started = time.monotonic()
    with pytest.raises(PostHogUnavailableError, match="wait 3600 seconds") as err:
        ingest(server, db, settings=with_settings(max_retry_after=30))
    assert time.monotonic() - started < 10
    assert err.value.kind == "rate_limited"
    assert assert_consistent_prefix(db, server) == 2 * PAGE


@BOTH_TARGETS
def test_a_failing_snapshot_leaves_the_previous_one_untouched(posthog_server_factory, target):
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    db = target
    ingest(server, db)
    before = sorted(warehouse(db, "select * from beton_raw.persons"))
    assert len(before) == 120

    server.add_fault("status", status=500, match="query:persons", after=0, times=None)
    with pytest.raises(PostHogUnavailableError, match="internal error"):
        ingest(server, db)
    assert sorted(warehouse(db, "select * from beton_raw.persons")) == before
    assert not any(t.startswith("_posthog_") for t in db.tables())  # no staging leftovers
    assert_exact_events(db, server)


@BOTH_TARGETS
def test_a_run_killed_mid_way_resumes_to_exactly_posthogs_events(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=3_000, persons=100), max_rows=300)
    # From the 4th events page on, the server holds the request open: the run is stuck mid-way.
    server.add_fault("hang", match="query:events", after=3, times=None, delay=60)
    db = target
    env = {
        **os.environ,
        "POSTHOG_PERSONAL_API_KEY": server.api_key,
        "POSTHOG_PROJECT_ID": server.project_id,
        "POSTHOG_HOST": server.url,
        **target.env(),
    }
    code = "import sys; from beton_runner.cli.posthog import ingest_posthog; ingest_posthog(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *target.cli_args()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while server.stats.faults_fired < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert server.stats.faults_fired >= 1, proc.communicate()[0].decode(errors="replace")
        time.sleep(0.3)  # let the writer commit what it has
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    kept = assert_consistent_prefix(db, server)
    assert kept in (300, 600, 900)  # whole pages only: each page commits with its cursor

    server.clear_faults()
    result = ingest(server, db)
    assert result.events_new == 3_000 - kept
    assert_exact_events(db, server)
    again = ingest(server, db)
    assert again.events_new == 0
    assert_exact_events(db, server)


@BOTH_TARGETS
def test_a_crash_between_a_page_and_its_cursor_loses_and_duplicates_nothing(posthog_server_factory, target):
    """The process dies right after a page's events are written and before its cursor is
    saved (DuckDB: inside the page's transaction; ClickHouse: between the two inserts)."""
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    dest = target.destination()
    hook = "_save_state" if target.kind == "duckdb" else "save_state"
    real = getattr(dest, hook)
    calls = []

    def dies_on_the_fourth_page(*args):
        if args[-1].stream != "events":  # the accounts' record is saved the same way
            return real(*args)
        calls.append(args)
        if len(calls) == 4:
            raise SystemExit("simulated crash")  # not an Exception: nothing may handle it
        return real(*args)

    setattr(dest, hook, dies_on_the_fourth_page)
    with pytest.raises(SystemExit):
        ingest(server, target, destination=dest)

    stored = stored_uuids(target)
    assert len(stored) == len(set(stored))
    ((cursor_ts, complete),) = target.events_state()
    # the mark is a receive time (created_at), see assert_consistent_prefix
    max_ts = max(server.dataset.received_at(stored).values())
    assert not complete
    if target.kind == "duckdb":  # the page and its cursor roll back together
        assert len(stored) == 3 * PAGE and cursor_ts == max_ts
    else:  # the page stays, its cursor does not: the next run re-reads it and skips it
        assert len(stored) == 4 * PAGE and cursor_ts < max_ts

    result = ingest(server, target)
    assert result.events_new == 1_200 - len(stored)
    assert_exact_events(target, server)
    assert target.events_state()[0][1] is True


@pytest.mark.clickhouse
def test_clickhouse_failures_are_clear_and_keep_the_password_out(posthog_server_factory, clickhouse_server, tmp_path):
    """A ClickHouse that cannot be reached, or refuses a write, ends the ingest with a message
    naming the server and database, never the password; a re-run completes."""
    password = "ch_SECRET_pw_7f3a9c"
    server = posthog_server_factory(SPEC, max_rows=PAGE)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    down = ClickHouseDestination(
        environ={
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(port),
            "CLICKHOUSE_PASSWORD": password,
        }
    )
    with pytest.raises(WarehouseError) as err:
        ingest(server, None, destination=down)
    assert f"Could not connect to ClickHouse at 127.0.0.1:{port}" in str(err.value)
    assert "CLICKHOUSE_PASSWORD" in str(err.value) and password not in str(err.value)

    target = ClickHouseTarget(clickhouse_server).prepare()
    try:
        dest = ClickHouseDestination(environ={**target.env(), "CLICKHOUSE_PASSWORD": password})
        real = dest._insert
        pages = []

        def refused(table, data, *args, **kwargs):
            if table == "events":
                pages.append(table)
                if len(pages) == 3:  # the server refuses the third page
                    return real("no_such_table", data, *args, **kwargs)
            return real(table, data, *args, **kwargs)

        dest._insert = refused
        with pytest.raises(WarehouseError) as err:
            ingest(server, target, destination=dest)
        message = str(err.value)
        assert f"database {target.raw}" in message and "UNKNOWN_TABLE" in message
        assert "run the ingest again" in message and password not in message
        assert assert_consistent_prefix(target, server) == 2 * PAGE

        assert ingest(server, target).events_new == 1_200 - 2 * PAGE
        assert_exact_events(target, server)
    finally:
        target.cleanup()
