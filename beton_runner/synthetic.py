"""Deterministic synthetic PostHog-style data at any size, for benchmarks and load tests.

Rows are computed by DuckDB from their index with ``hash(index, seed, k)`` as the k-th random
variate, so the same arguments give the same rows, and an insert streams straight into the
warehouse with bounded memory (no row lives in Python). For ClickHouse the same rows are
computed in an in-memory DuckDB and streamed over in Arrow batches.

Shape: users and events are Zipf-like skewed (a few power users, a long tail; a few very
common events); accounts have varied sizes; every event carries JSON properties with the
account link (``company_domain``) and a ``plan``, ``$browser``, and for ``used_api``
``sdk_version`` and ``request_count``; 2% of events come from unresolved anonymous ids and 1%
carry no account link.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .errors import ConfigError

REFERENCE_END = datetime(2026, 10, 1, 12, 0, 0)
PLANS = ["free", "trial", "team", "business", "enterprise"]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge"]
SDK_VERSIONS = ["1.9.3", "2.0.1", "2.4.0", "3.0.1"]


@dataclass(frozen=True)
class Shape:
    events: int
    users: int
    accounts: int
    days: int
    seed: int
    end: datetime

    @classmethod
    def for_events(cls, events: int, *, days: int = 90, seed: int = 42, end: datetime = REFERENCE_END,
                   users: int | None = None, accounts: int | None = None) -> "Shape":
        if events < 1:
            raise ConfigError("--events must be at least 1")
        if not 1 <= days <= 3650:
            raise ConfigError("--days must be between 1 and 3650")
        users = users or max(50, min(events // 2000, 500_000))
        accounts = accounts or max(10, users // 15)
        return cls(events, users, accounts, days, seed, end)


# Most frequent first (the Zipf rank); events of the library not listed follow in library order.
FREQUENCY_ORDER = ["logged_in", "viewed_dashboard", "ran_query", "created_report", "used_api", "shared_dashboard",
                   "commented", "exported_data", "created_dashboard", "viewed_pricing_page", "invited_teammate",
                   "created_alert", "teammate_joined", "enabled_integration", "created_project"]


def _library(project_dir: Path) -> list[str]:
    path = project_dir / "seeds" / "reference" / "standard_events.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        names = [row["event_name"] for row in csv.DictReader(handle)]
    return [n for n in FREQUENCY_ORDER if n in names] + [n for n in names if n not in FREQUENCY_ORDER]


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def events_sql(shape: Shape, events: list[str], *, first_index: int = 0) -> str:
    """SELECT producing events ``first_index .. first_index + shape.events - 1``."""
    seconds = shape.days * 86400
    end = shape.end.strftime("%Y-%m-%d %H:%M:%S")
    s = shape.seed
    return f"""
    with base as (
        select
            i,
            (hash(i, {s}, 1) % 1000000) / 1000000.0 as r_user,
            (hash(i, {s}, 2) % 1000000) / 1000000.0 as r_event,
            (hash(i, {s}, 3) % 1000000) / 1000000.0 as r_time,
            hash(i, {s}, 4) % 100 as r_kind,
            hash(i, {s}, 5) % 1000 as r_extra
        from range({first_index}, {first_index + shape.events}) as t(i)
    ),
    shaped as (
        select
            i, r_kind, r_extra,
            cast(floor({shape.users} * pow(r_user, 3)) as bigint) as u,
            {_sql_list(events)}[1 + cast(floor({len(events)} * pow(r_event, 3.5)) as bigint)] as event,
            -- in time order, as an event log is appended (the i-th of n events sits at (i + jitter) / n
            -- of the period), so day filters can skip the rest of the table as they can on real data
            cast('{end}' as timestamp)
                - to_microseconds(cast(({shape.events} - 1 - (i - {first_index}) + r_time) / {shape.events}
                                       * {seconds} * 1000000 as bigint)) as ts
        from base
    ),
    accounted as (
        select *, cast(floor({shape.accounts} * pow((hash(u, {s}, 6) % 1000000) / 1000000.0, 2)) as bigint) as a
        from shaped
    )
    select
        md5(cast(i as varchar) || ':{s}')[1:8] || '-' || md5(cast(i as varchar) || ':{s}')[9:12] || '-4'
            || md5(cast(i as varchar) || ':{s}')[14:16] || '-8' || md5(cast(i as varchar) || ':{s}')[18:20] || '-'
            || md5(cast(i as varchar) || ':{s}')[21:32] as uuid,
        event,
        case when r_kind < 2 then 'anon-' || cast(i % 100000 as varchar) else 'd' || cast(u as varchar) end as distinct_id,
        ts as timestamp,
        '{{' ||
            case when r_kind = 99 then '' else '"company_domain":"acct' || cast(a as varchar) || '.example.com",' end
            || '"plan":"' || {_sql_list(PLANS)}[1 + cast(hash(a, {s}, 7) % {len(PLANS)} as bigint)] || '",'
            || '"$browser":"' || {_sql_list(BROWSERS)}[1 + cast(r_extra % {len(BROWSERS)} as bigint)] || '"'
            || case when event = 'used_api' then
                   ',"sdk_version":"' || {_sql_list(SDK_VERSIONS)}[1 + cast(hash(u, {s}, 8) % {len(SDK_VERSIONS)} as bigint)]
                   || '","request_count":' || cast(r_extra % 50 as varchar)
               else '' end
            || '}}' as properties,
        case when r_kind < 2 then null else 'p' || cast(u as varchar) end as person_id
    from accounted
    """


def persons_sql(shape: Shape) -> str:
    s = shape.seed
    return f"""
    select
        'p' || cast(u as varchar) as id,
        cast('{shape.end:%Y-%m-%d %H:%M:%S}' as timestamp) - to_days(cast(hash(u, {s}, 9) % 400 as integer)) as created_at,
        '{{"email":"user' || cast(u as varchar) || '@acct' || cast(a as varchar) || '.example.com","name":"User '
            || cast(u as varchar) || '","job_title":"' || ['Engineer', 'Analyst', 'Product Manager', 'Head of Data', 'CTO'][1 + cast(hash(u, {s}, 10) % 5 as bigint)]
            || '","company_domain":"acct' || cast(a as varchar) || '.example.com"}}' as properties,
        true as is_identified
    from (
        select u, cast(floor({shape.accounts} * pow((hash(u, {s}, 6) % 1000000) / 1000000.0, 2)) as bigint) as a
        from range({shape.users}) as t(u)
    )
    """


def accounts_sql(shape: Shape) -> str:
    s = shape.seed
    return f"""
    select
        'acc' || cast(a as varchar) as account_id,
        'Account ' || cast(a as varchar) as name,
        'acct' || cast(a as varchar) || '.example.com' as domain,
        cast(1000 * (1 + hash(a, {s}, 11) % 500) as double) as arr,
        ['SMB', 'Mid-Market', 'Enterprise'][1 + cast(hash(a, {s}, 12) % 3 as bigint)] as segment,
        'rep' || cast(a % 7 as varchar) || '@beton.example' as owner_email,
        '{{"industry":"' || ['Software', 'Retail', 'Finance', 'Health', 'Logistics'][1 + cast(hash(a, {s}, 13) % 5 as bigint)]
            || '","employees":' || cast(10 + hash(a, {s}, 14) % 5000 as varchar) || ',"country":"'
            || ['US', 'DE', 'GB', 'FR', 'JP'][1 + cast(hash(a, {s}, 15) % 5 as bigint)] || '"}}' as properties
    from range({shape.accounts}) as t(a)
    """


_DDL = {
    "events": "uuid varchar, event varchar, distinct_id varchar, timestamp timestamp, properties varchar, person_id varchar",
    "persons": "id varchar, created_at timestamp, properties varchar, is_identified boolean",
    "person_distinct_id": "person_id varchar, distinct_id varchar",
    "accounts": "account_id varchar, name varchar, domain varchar, arr double, segment varchar, owner_email varchar, properties varchar",
}


def write_duckdb(path: Path, project_dir: Path, shape: Shape, *, schema: str = "beton_raw", append_days: int = 0) -> dict[str, int]:
    """Write (or, with append_days, extend by that many days after shape.end) the input tables."""
    import duckdb

    library = _library(project_dir)
    con = duckdb.connect(str(path))
    try:
        con.execute(f'create schema if not exists "{schema}"')
        if append_days:
            existing = con.execute(f'select count(*), max(timestamp) from "{schema}".events').fetchone()
            if not existing or not existing[0]:
                raise ConfigError(f"nothing to append to: {path} has no {schema}.events; generate first")
            per_day = max(1, shape.events // shape.days)
            extra = Shape(per_day * append_days, shape.users, shape.accounts, append_days, shape.seed,
                          shape.end + timedelta(days=append_days))
            con.execute(f'insert into "{schema}".events {events_sql(extra, library, first_index=shape.events + existing[0])}')
        else:
            for table, columns in _DDL.items():
                con.execute(f'create or replace table "{schema}"."{table}" ({columns})')
            con.execute(f'insert into "{schema}".events {events_sql(shape, library)}')
            con.execute(f'insert into "{schema}".persons {persons_sql(shape)}')
            con.execute(f"""insert into "{schema}".person_distinct_id
                select id, 'd' || substr(id, 2) from "{schema}".persons""")
            con.execute(f'insert into "{schema}".accounts {accounts_sql(shape)}')
        return {t: con.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0] for t in _DDL}
    finally:
        con.close()


_CLICKHOUSE_DDL = {
    "events": "uuid String, event String, distinct_id String, timestamp DateTime64(6, 'UTC'), properties String, "
              "person_id Nullable(String)",
    "persons": "id String, created_at DateTime64(6, 'UTC'), properties String, is_identified Bool",
    "person_distinct_id": "person_id String, distinct_id String",
    "accounts": "account_id String, name Nullable(String), domain Nullable(String), arr Nullable(Float64), "
                "segment Nullable(String), owner_email Nullable(String), properties String",
}
_CLICKHOUSE_ORDER = {"events": "(timestamp, uuid)", "persons": "id", "person_distinct_id": "distinct_id",
                     "accounts": "account_id"}


def write_clickhouse(client, project_dir: Path, shape: Shape, *, database: str = "beton_raw",
                     append_days: int = 0, batch_rows: int = 500_000) -> dict[str, int]:
    """The same rows as write_duckdb, computed in an in-memory DuckDB and streamed in Arrow batches."""
    import duckdb

    library = _library(project_dir)
    client.command(f"create database if not exists `{database}`")
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        if append_days:
            existing = client.query(f"select count(), max(timestamp) from `{database}`.events").result_rows[0]
            if not existing[0]:
                raise ConfigError(f"nothing to append to: {database}.events is empty; generate first")
            per_day = max(1, shape.events // shape.days)
            extra = Shape(per_day * append_days, shape.users, shape.accounts, append_days, shape.seed,
                          shape.end + timedelta(days=append_days))
            queries = {"events": events_sql(extra, library, first_index=shape.events + existing[0])}
        else:
            for table, columns in _CLICKHOUSE_DDL.items():
                client.command(f"create or replace table `{database}`.`{table}` ({columns}) "
                               f"engine = MergeTree order by {_CLICKHOUSE_ORDER[table]}")
            queries = {"events": events_sql(shape, library), "persons": persons_sql(shape), "accounts": accounts_sql(shape),
                       "person_distinct_id": f"select id as person_id, 'd' || substr(id, 2) as distinct_id from ({persons_sql(shape)})"}
        for table, sql in queries.items():
            reader = con.sql(sql).fetch_record_batch(batch_rows)
            for batch in reader:
                client.insert_arrow(f"`{database}`.`{table}`", batch)
        return {t: int(client.command(f"select count() from `{database}`.`{t}`")) for t in _CLICKHOUSE_DDL}
    finally:
        con.close()
