"""`beton ingest posthog` against the local PostHog API server: the warehouse ends up holding
exactly what PostHog holds, incrementally and without duplicates, on DuckDB and on ClickHouse
(tests marked ``BOTH_TARGETS`` run once per destination)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import duckdb
import pytest
import urllib3
from click.testing import CliRunner

from beton_runner.cli.posthog import ingest_posthog
from beton_runner.errors import BetonError, ConfigError
from beton_runner.posthog.destination import StreamState
from beton_runner.posthog.ingest import parse_timestamp
from conftest import REPO
from posthog_server.dataset import AWKWARD_DISTINCT_IDS, DatasetSpec
from posthog_server.fixture import (  # noqa: F401
    BOTH_TARGETS,
    posthog_server,
    posthog_server_factory,
    target,
)
from posthog_server.helpers import (
    ClickHouseTarget,
    assert_exact_events,
    ingest,
    stored_uuids,
    warehouse,
)


@pytest.fixture(autouse=True)
def _commands_raise(monkeypatch):
    """These tests assert on the exception a command raises: with BETON_DEBUG the CLI shell
    re-raises it instead of printing its one-line message (tested in tests/cli/test_cli_errors.py)."""
    monkeypatch.setenv("BETON_DEBUG", "1")


def server_rows(server, sql):
    return server.dataset.cursor().execute(sql).fetchall()


@BOTH_TARGETS
def test_full_export_matches_posthog(posthog_server_factory, target):
    # PostHog caps pages at 200 rows here while the client asks for 50,000: a short page must
    # not be taken for the last one.
    server = posthog_server_factory(DatasetSpec(events=2_500), max_rows=200)
    db = target
    result = ingest(server, db)

    assert_exact_events(db, server)
    assert result.complete and result.events_new == 2_500
    assert result.event_pages >= 13  # 2,500 / 200

    # every column, timestamps as naive UTC
    expected = sorted(server_rows(server, "select uuid, event, distinct_id, ts, properties, person_id from srv_events"))
    stored = sorted(
        warehouse(
            db,
            "select uuid, event, distinct_id, timestamp, properties, person_id from beton_raw.events",
        )
    )
    assert stored == expected

    persons = sorted(warehouse(db, "select id, created_at, properties, is_identified from beton_raw.persons"))
    assert persons == sorted(server_rows(server, "select id, created_at, properties, is_identified from srv_persons"))

    mapping = sorted(warehouse(db, "select person_id, distinct_id from beton_raw.person_distinct_id"))
    assert mapping == sorted(server_rows(server, "select person_id, distinct_id from srv_pdi"))
    assert set(AWKWARD_DISTINCT_IDS) <= {d for _, d in mapping}

    accounts = warehouse(
        db,
        "select account_id, name, domain, arr, segment, owner_email from beton_raw.accounts order by arr",
    )
    companies = [
        (
            f"company{i}.com",
            f"Company {i}",
            f"company{i}.com",
            float(i * 12000),
            ["enterprise", "smb", "mid-market"][i % 3],
            f"owner{i % 3}@seller.example",
        )
        for i in range(12)
    ]
    assert accounts == companies  # group type "company" (index 1), not "project" (index 0)
    assert "query:count" in server.stats.by_tag
    assert server.stats.gzip_responses > 0


@BOTH_TARGETS
def test_rerun_loads_only_new_and_late_events_without_duplicates(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=1_500), max_rows=300)
    db = target
    t1 = server.dataset.end + timedelta(minutes=1)
    first = ingest(server, db, now=t1)
    assert first.events_new == 1_500

    again = ingest(server, db, now=t1)
    assert again.events_new == 0
    assert_exact_events(db, server)

    late = server.dataset.add_events(40, t1 - timedelta(minutes=30), t1 - timedelta(minutes=1), tag="late")
    new = server.dataset.add_events(120, t1, t1 + timedelta(minutes=9), tag="new")
    queries_before = server.stats.by_tag.get("query:events", 0)
    second = ingest(server, db, now=t1 + timedelta(minutes=10))

    assert second.events_new == 160
    assert second.read_from == t1 - timedelta(hours=1)  # the overlap re-read, not the whole window
    assert second.events_fetched < 400
    assert server.stats.by_tag["query:events"] - queries_before <= 3
    assert late | new <= set(stored_uuids(db))
    assert_exact_events(db, server)


@BOTH_TARGETS
def test_events_that_reach_posthog_days_late_are_loaded_exactly_once(posthog_server_factory, target):
    """Issue #12 item 3. Mobile apps send events days after they happened: PostHog receives
    them (``created_at``) long after their ``timestamp``. Each run must load what PostHog
    received since the last run, whatever the timestamp, and nothing twice."""
    spec = DatasetSpec(events=1_500, days=10, late_events=300, late_days=3)
    server = posthog_server_factory(spec, max_rows=250)
    data = server.dataset
    hour = timedelta(hours=1)

    # Run 1: PostHog as it was four days before the dataset's end.
    t0 = data.end - timedelta(days=4)
    data.visible_until = t0
    seen_at_t0 = data.event_uuids()
    first = ingest(server, target, now=t0)
    assert first.events_new == len(seen_at_t0)
    assert_exact_events(target, server)

    # Three days later PostHog has received late events stamped well before run 1's mark
    # (more than the one-hour overlap): a cursor on timestamp would never read them.
    t1 = t0 + timedelta(days=3)
    data.visible_until = t1
    arrived_late = data.event_uuids(end=t0 - hour) - seen_at_t0
    assert len(arrived_late) > 50  # hand-worked: late events stamped in (t0-3d, t0-1h)
    second = ingest(server, target, now=t1)
    assert second.read_from == t0 - hour  # what PostHog received since the mark, minus overlap
    assert second.events_new == len(data.event_uuids()) - len(seen_at_t0)
    assert arrived_late <= set(stored_uuids(target))
    assert_exact_events(target, server)

    # PostHog's own ingestion lag: events it received 20 minutes before run 2's mark but made
    # queryable only after run 2 (the overlap re-reads them), and a phone's batch from six
    # days ago that arrives just before run 3.
    t2 = data.end + timedelta(minutes=1)
    data.visible_until = None
    before = set(stored_uuids(target))
    lagging = data.add_events(
        25, t1 - timedelta(days=2), t1 - timedelta(days=1), tag="lagging", received=t1 - timedelta(minutes=20)
    )
    phone = data.add_events(
        30, t2 - timedelta(days=6), t2 - timedelta(days=5), tag="phone", received=t2 - timedelta(minutes=2)
    )
    third = ingest(server, target, now=t2)
    assert third.events_new == len(data.event_uuids() - before)
    assert lagging | phone <= set(stored_uuids(target))
    assert_exact_events(target, server)

    again = ingest(server, target, now=t2 + timedelta(minutes=5))  # nothing new: nothing added
    assert again.events_new == 0 and again.read_from == t2 - hour
    assert_exact_events(target, server)


def test_a_mark_saved_on_event_timestamps_is_not_trusted(posthog_server_factory, target):
    """A sync state written before issue #12 holds a mark on event timestamps; reading on from
    it as a receive time could skip events. The next run re-reads the whole window once, which
    also recovers late events the old cursor had missed, without duplicates."""
    server = posthog_server_factory(DatasetSpec(events=800, days=10, late_events=100), max_rows=300)
    data = server.dataset
    t0 = data.end - timedelta(days=4)
    data.visible_until = t0
    ingest(server, target, now=t0)
    with duckdb.connect(str(target.path)) as con:  # what an older version saved
        con.execute("update beton_raw.posthog_sync_state set cursor_column = null")
    data.visible_until = None
    result = ingest(server, target, now=data.end + timedelta(minutes=1))
    assert result.read_from is None
    assert result.events_new == len(data.event_uuids()) - len(data.event_uuids(received_by=t0))
    assert_exact_events(target, server)


def test_events_sharing_one_timestamp_across_page_boundaries(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=1_000, same_timestamp=450), max_rows=100)
    (shared_ts_count,) = server_rows(server, "select max(c) from (select count(*) c from srv_events group by ts)")[0]
    assert shared_ts_count >= 450
    ingest(server, target)
    assert_exact_events(target, server)
    again = ingest(server, target)  # re-reads the shared timestamp in its overlap
    assert again.events_new == 0
    assert_exact_events(target, server)


def test_the_real_50000_row_cap(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=120_000, persons=500), max_rows=50_000)
    db = target
    result = ingest(server, db, page_size=100_000)  # asks for more than PostHog returns
    assert_exact_events(db, server)
    assert result.event_pages == 3  # 50,000 + 50,000 + 20,000, then an empty page ends it
    assert server.stats.by_tag["query:events"] == 4


def test_days_window_then_widening_backfills(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=2_000, days=10), max_rows=500)
    db = target
    now = server.dataset.end + timedelta(seconds=1)
    ingest(server, db, days=3, now=now)
    assert set(stored_uuids(db)) == server.dataset.event_uuids(start=now - timedelta(days=3))
    ingest(server, db, days=30, now=now + timedelta(minutes=5))
    assert_exact_events(db, server)


@BOTH_TARGETS
def test_max_events_stops_early_and_the_next_run_continues(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=1_200), max_rows=250)
    db = target
    first = ingest(server, db, max_events=600)
    assert first.stopped_at_max and not first.complete
    stored = stored_uuids(db)
    assert len(stored) == 600 and set(stored) <= server.dataset.event_uuids()
    ingest(server, db)
    assert_exact_events(db, server)


@BOTH_TARGETS
def test_accounts_from_company_domain_when_no_group_analytics(posthog_server_factory, target):
    server = posthog_server_factory(DatasetSpec(events=800, group_analytics=False))
    db = target
    result = ingest(server, db)
    assert result.account_source.kind == "property"
    domains = set()
    for (props,) in server_rows(
        server, "select properties from srv_persons union all select properties from srv_events"
    ):
        value = json.loads(props).get("company_domain")
        if value:
            domains.add(value.strip().lower())
    accounts = warehouse(db, "select account_id, domain from beton_raw.accounts")
    assert {a for a, _ in accounts} == domains and all(a == d for a, d in accounts)


@BOTH_TARGETS
def test_project_timezone_offsets_and_properties_as_objects(posthog_server_factory, target):
    server = posthog_server_factory(
        DatasetSpec(events=600),
        max_rows=150,
        timezone="America/Los_Angeles",
        properties_as_object=True,
    )
    db = target
    ingest(server, db)
    assert_exact_events(db, server)
    expected = {
        u: (ts, json.loads(p)) for u, ts, p in server_rows(server, "select uuid, ts, properties from srv_events")
    }
    stored = {
        u: (ts, json.loads(p)) for u, ts, p in warehouse(db, "select uuid, timestamp, properties from beton_raw.events")
    }
    assert stored == expected


def test_never_more_than_three_queries_at_once(posthog_server_factory, tmp_path):
    server = posthog_server_factory(DatasetSpec(events=900), max_rows=100)
    server.add_fault("timeout", match="query", delay=0.05, times=None)  # every query is slow
    db = tmp_path / "beton.duckdb"
    ingest(server, db)
    assert_exact_events(db, server)
    assert 2 <= server.stats.max_in_flight <= 3
    assert server.stats.concurrency_rejections == 0


def test_server_rejects_offset_and_iso_literals_like_posthog(posthog_server):
    http = urllib3.PoolManager()
    url = f"{posthog_server.url}/api/projects/{posthog_server.project_id}/query/"
    headers = {
        "Authorization": f"Bearer {posthog_server.api_key}",
        "Content-Type": "application/json",
    }

    def ask(q):
        r = http.request(
            "POST",
            url,
            body=json.dumps({"query": {"kind": "HogQLQuery", "query": q}}),
            headers=headers,
        )
        return r.status, json.loads(r.data)

    status, body = ask("select uuid from events order by timestamp limit 10 offset 10")
    assert (status, body["code"]) == (400, "hogql_query_error") and "OFFSET" in body["detail"]
    status, body = ask("select uuid from events where timestamp > '2024-01-01T00:00:00Z' limit 1")
    assert (status, body["code"]) == (400, "type_mismatch")
    status, body = ask("select uuid from events")
    assert status == 200 and len(body["results"]) == 100 and body["hasMore"] is True


def test_cli_ingest_writes_the_default_duckdb_file(posthog_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BETON_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("BETON_PROJECT_DIR", raising=False)
    # a project of its own with the shipped profiles.yml (as `beton init` writes it): the dbt
    # profile says where the warehouse is, here the default DuckDB file beton.duckdb
    (tmp_path / "dbt_project.yml").write_text("name: x\nprofile: beton\n")
    shutil.copy(REPO / "profiles.yml", tmp_path / "profiles.yml")
    env = {
        "POSTHOG_PERSONAL_API_KEY": posthog_server.api_key,
        "POSTHOG_PROJECT_ID": posthog_server.project_id,
        "POSTHOG_HOST": posthog_server.url,
    }
    result = CliRunner().invoke(ingest_posthog, ["--days", "30"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert_exact_events(tmp_path / "beton.duckdb", posthog_server)
    assert "+2,000 new" in result.output
    assert "group type 'company'" in result.output
    assert "Next: `BETON_INPUT=source beton run` builds the punch lists" in result.output

    again = CliRunner().invoke(ingest_posthog, [], env=env, catch_exceptions=False)
    assert again.exit_code == 0 and "+0 new" in again.output
    assert_exact_events(tmp_path / "beton.duckdb", posthog_server)

    bad = CliRunner().invoke(ingest_posthog, ["--days", "91"], env=env)
    assert bad.exit_code == 2 and "1<=x<=90" in bad.output


@pytest.mark.clickhouse
def test_cli_ingest_into_clickhouse(posthog_server, clickhouse_server, monkeypatch):
    target = ClickHouseTarget(clickhouse_server).prepare()
    try:
        monkeypatch.delenv("CLICKHOUSE_CLUSTER", raising=False)
        env = {
            "POSTHOG_PERSONAL_API_KEY": posthog_server.api_key,
            "POSTHOG_PROJECT_ID": posthog_server.project_id,
            "POSTHOG_HOST": posthog_server.url,
            **target.env(),
        }
        result = CliRunner().invoke(ingest_posthog, ["--target", "clickhouse"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"ClickHouse http://{clickhouse_server.host}:{clickhouse_server.port}" in result.output
        assert f"(database {target.raw})" in result.output
        assert "+2,000 new" in result.output
        # the raw database follows the profile's database (<database>_raw), so beton run finds it
        # without a var
        assert "Next: `BETON_INPUT=source beton run --target clickhouse` builds the punch lists" in result.output
        assert_exact_events(target, posthog_server)
        assert warehouse(target, "select count() from {raw}.accounts") == [(12,)]

        # BETON_TARGET picks the destination too; a re-run adds nothing
        again = CliRunner().invoke(ingest_posthog, [], env={**env, "BETON_TARGET": "clickhouse"})
        assert again.exit_code == 0 and "+0 new" in again.output, again.output
        assert_exact_events(target, posthog_server)

        mixed = CliRunner().invoke(ingest_posthog, ["--target", "clickhouse", "--duckdb", "x.db"], env=env)
        assert isinstance(mixed.exception, ConfigError) and "--duckdb is for a duckdb target" in str(mixed.exception)
        other = CliRunner().invoke(ingest_posthog, ["--target", "clickhouse", "--project-id", "777"], env=env)
        assert isinstance(other.exception, BetonError)  # the test server has no project 777
    finally:
        target.cleanup()


@BOTH_TARGETS
def test_writing_a_page_is_idempotent(posthog_server, target):
    """The same page twice, a page overlapping a stored one, and a page with a uuid twice:
    each event is stored once, and each call reports only what it added."""
    rows = (
        posthog_server.dataset.cursor()
        .execute(
            "select uuid, event, distinct_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), properties, "
            "person_id from srv_events order by ts, uuid_ck limit 300"
        )
        .fetchall()
    )
    rows = [list(r) for r in rows]
    dest = target.destination()
    dest.open("http://posthog.test/project/1")
    try:

        def state(upto):
            return StreamState(
                "events",
                parse_timestamp(rows[0][3]),
                parse_timestamp(rows[upto - 1][3]),
                rows[upto - 1][0],
            )

        assert dest.write_events(rows[:200], state(200)) == 200
        assert dest.write_events(rows[:200], state(200)) == 0
        assert dest.write_events(rows[100:300], state(300)) == 100
        assert dest.write_events(rows[250:] + rows[250:], state(300)) == 0
        assert dest.get_state("events").cursor_uuid == rows[299][0]
        assert dest.counts()["events"] == 300
    finally:
        dest.close()
    stored = stored_uuids(target)
    assert len(stored) == len(set(stored)) == 300
    assert set(stored) == {r[0] for r in rows}


@BOTH_TARGETS
def test_another_posthog_project_is_refused(posthog_server, target):
    ingest(posthog_server, target)
    dest = target.destination()
    with pytest.raises(ConfigError, match="already holds data from another PostHog project"):
        dest.open("https://eu.posthog.com/project/1")
    dest.close()
