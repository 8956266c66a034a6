"""Deterministic synthetic PostHog-style data at any size, for benchmarks and load tests.

Rows are computed by DuckDB from their index with ``hash(index, seed, k)`` as the k-th random
variate, so the same arguments give the same rows. They are computed in a private in-memory
DuckDB and streamed into the warehouse (either engine, through ``beton_runner.warehouse``) in
Arrow batches, with bounded memory (no row lives in Python).

Shape: users and events are Zipf-like skewed (a few power users, a long tail; a few very
common events); accounts have varied sizes; every event carries JSON properties with the
account link (``company_domain``) and a ``plan``, ``$browser``, and for ``used_api``
``sdk_version`` and ``request_count``; 2% of events come from unresolved anonymous ids and 1%
carry no account link.
"""

from __future__ import annotations

import csv
import errno
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..errors import ConfigError
from ..warehouse import Column, Connection, TableSpec
from ..warehouse.duckdb import DuckDBConnection

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
    def for_events(
        cls,
        events: int,
        *,
        days: int = 90,
        seed: int = 42,
        end: datetime = REFERENCE_END,
        users: int | None = None,
        accounts: int | None = None,
    ) -> Shape:
        if events < 1:
            raise ConfigError("--events must be at least 1")
        if not 1 <= days <= 3650:
            raise ConfigError("--days must be between 1 and 3650")
        users = users or max(50, min(events // 2000, 500_000))
        accounts = accounts or max(10, users // 15)
        return cls(events, users, accounts, days, seed, end)


# Most frequent first (the Zipf rank); events of the library not listed follow in library order.
FREQUENCY_ORDER = [
    "logged_in",
    "viewed_dashboard",
    "ran_query",
    "created_report",
    "used_api",
    "shared_dashboard",
    "commented",
    "exported_data",
    "created_dashboard",
    "viewed_pricing_page",
    "invited_teammate",
    "created_alert",
    "teammate_joined",
    "enabled_integration",
    "created_project",
]


def _library(project_dir: Path) -> list[str]:
    path = project_dir / "seeds" / "reference" / "beton_standard_events.csv"
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


# Test hook (docs/performance.md): fail the write after this many generated rows, as a full
# disk would, to show that a failed `beton generate` leaves the previous tables whole.
FAIL_AFTER_ROWS_ENV = "BETON_TEST_GENERATE_FAIL_AFTER_ROWS"


class _FailAfter:
    """Wraps the generated streams of one write; with ``FAIL_AFTER_ROWS_ENV`` set, the rows
    after that many (counted over all tables, in write order) raise ENOSPC instead."""

    def __init__(self) -> None:
        value = os.environ.get(FAIL_AFTER_ROWS_ENV, "").strip()
        if value and not value.isdigit():
            raise ConfigError(f"{FAIL_AFTER_ROWS_ENV} must be a row count, not '{value}'")
        self.limit = int(value) if value else None
        self.seen = 0

    def __call__(self, stream):
        if self.limit is None:
            return stream
        import pyarrow as pa

        def batches():
            for batch in stream:
                room = self.limit - self.seen
                if batch.num_rows > room:
                    if room > 0:
                        self.seen += room
                        yield batch.slice(0, room)
                    raise OSError(errno.ENOSPC, f"No space left on device (simulated by {FAIL_AFTER_ROWS_ENV})")
                self.seen += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(stream.schema, batches())


def _table(name: str, key: tuple[str, ...], *columns: tuple[str, str, bool]) -> TableSpec:
    return TableSpec(name, tuple(Column(n, t, nullable) for n, t, nullable in columns), key=key)


# The input data model as `beton generate` writes it (what the dbt source reads): the same
# types on both engines; on ClickHouse only the marked columns are Nullable.
RAW_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        _table(
            "events",
            ("timestamp", "uuid"),
            ("uuid", "text", False),
            ("event", "text", False),
            ("distinct_id", "text", False),
            ("timestamp", "timestamp", False),
            ("properties", "text", False),
            ("person_id", "text", True),
        ),
        _table(
            "persons",
            ("id",),
            ("id", "text", False),
            ("created_at", "timestamp", False),
            ("properties", "text", False),
            ("is_identified", "bool", False),
        ),
        _table("person_distinct_id", ("distinct_id",), ("person_id", "text", False), ("distinct_id", "text", False)),
        _table(
            "accounts",
            ("account_id",),
            ("account_id", "text", False),
            ("name", "text", True),
            ("domain", "text", True),
            ("arr", "float", True),
            ("segment", "text", True),
            ("owner_email", "text", True),
            ("properties", "text", False),
        ),
    )
}


def write(
    conn: Connection,
    project_dir: Path,
    shape: Shape,
    *,
    schema: str = "beton_raw",
    append_days: int = 0,
    batch_rows: int = 500_000,
) -> dict[str, int]:
    """Replace the input tables in ``schema`` by the rows of ``shape`` (all four swapped in
    together: a failure leaves the previous tables), or with ``append_days`` add that many
    days of events after ``shape.end`` (all or nothing too). Returns the row count of each
    table.

    Rows are computed in a private in-memory DuckDB and streamed in Arrow batches of
    ``batch_rows``, so memory stays flat whatever the size."""
    library = _library(project_dir)
    hook = _FailAfter()
    with DuckDBConnection.memory() as scratch:
        if append_days:
            existing = conn.count(schema, "events") if conn.exists(schema, "events") else 0
            if not existing:
                raise ConfigError(
                    f"nothing to append to: {conn.describe()} has no rows in {schema}.events; generate first"
                )
            per_day = max(1, shape.events // shape.days)
            extra = Shape(
                per_day * append_days,
                shape.users,
                shape.accounts,
                append_days,
                shape.seed,
                shape.end + timedelta(days=append_days),
            )
            # all or nothing: a failure part-way leaves the events as they were
            conn.append_rows(
                schema,
                "events",
                hook(scratch.stream(events_sql(extra, library, first_index=shape.events + existing), batch_rows)),
            )
        else:
            persons = persons_sql(shape)
            queries = {
                "events": events_sql(shape, library),
                "persons": persons,
                "person_distinct_id": f"select id as person_id, 'd' || substr(id, 2) as distinct_id from ({persons})",
                "accounts": accounts_sql(shape),
            }
            conn.replace_tables(
                schema, {RAW_TABLES[t]: hook(scratch.stream(sql, batch_rows)) for t, sql in queries.items()}
            )
    return {t: conn.count(schema, t) for t in RAW_TABLES}


def write_duckdb(
    path: Path, project_dir: Path, shape: Shape, *, schema: str = "beton_raw", append_days: int = 0
) -> dict[str, int]:
    """:func:`write` into the DuckDB file at ``path`` (created if missing)."""
    with DuckDBConnection(path, write=True, create=True) as conn:
        return write(conn, project_dir, shape, schema=schema, append_days=append_days)


def write_clickhouse(
    conn: Connection,
    project_dir: Path,
    shape: Shape,
    *,
    database: str = "beton_raw",
    append_days: int = 0,
    batch_rows: int = 500_000,
) -> dict[str, int]:
    """:func:`write` into a ClickHouse database."""
    return write(conn, project_dir, shape, schema=database, append_days=append_days, batch_rows=batch_rows)
