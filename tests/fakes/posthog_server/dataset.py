"""A generated PostHog project held in an in-memory DuckDB: events, persons, distinct ids, groups.

Everything is generated in SQL so a million events take a couple of seconds. UUIDs come from
md5 of a seed, so a dataset is reproducible; each table carries a ``*_ck`` column with the
ClickHouse sort key of its UUIDs (see :func:`tests.posthog_server.hogql.ck_uuid_key`).

Events have PostHog's two times: ``timestamp`` (``ts``: when it happened) and ``created_at``
(when PostHog received it): a few seconds later for most events, days later for the
``late_events`` of a spec and for :meth:`Dataset.add_events` with ``received``. PostHog only
shows an event once it has received it: with :attr:`Dataset.visible_until` set, the server
answers as PostHog would at that moment (events received later are not there yet).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import duckdb

# distinct ids that need escaping in a HogQL string literal
AWKWARD_DISTINCT_IDS = (
    "o'brien@example.com",
    "back\\slash",
    "quote'and\\both",
    "tab\tand\nnewline",
    "ünïcødé-用户",
    "   leading-spaces",
)

EVENT_NAMES = (
    "$pageview",
    "$autocapture",
    "dashboard_viewed",
    "report_exported",
    "api_call",
    "invite_sent",
    "pricing_page_viewed",
    "feature_used",
)


def _uuid_sql(expr: str) -> str:
    h = f"md5({expr})"
    return (
        f"substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-' || substr({h}, 13, 4) || '-' || "
        f"substr({h}, 17, 4) || '-' || substr({h}, 21, 12)"
    )


def _ck_sql(expr: str) -> str:
    h = f"md5({expr})"
    return f"substr({h}, 17, 16) || substr({h}, 1, 16)"


@dataclass
class DatasetSpec:
    events: int = 2_000
    persons: int = 150
    companies: int = 12
    days: float = 10.0  # events spread over this many days before `end`
    end: datetime | None = None  # naive UTC; default: a minute ago
    same_timestamp: int = 0  # this many events share one timestamp (mid-window)
    group_analytics: bool = True
    seed: str = "beton"
    awkward_distinct_ids: bool = True
    # For end-to-end rule runs (all off by default, which keeps the plain dataset):
    event_names: tuple[str, ...] = EVENT_NAMES
    skew: float = 1.0  # > 1: a few persons are far more active than the rest
    usage_properties: bool = False  # add sdk_version and request_count to every event
    quiet_companies: int = 0  # the last N companies only have events in the window's first third
    # Events PostHog receives days after they happened (mobile apps sending batches late):
    # this many more events, stamped in the window's start .. end - late_days, each received
    # late_days after its timestamp.
    late_events: int = 0
    late_days: float = 3.0
    # Group keys as opaque ids (org_0001 ..) instead of domains: events carry the company in
    # $groups only (PostHog derives the $group_1 column from it), persons numbered p % 7 == 0
    # (the anonymous ones) in no group; company_domain only on the events of persons
    # p % 5 == 1; one $groupidentify event per company sets its properties (name, domain, arr,
    # segment, owner_email, industry), which the groups table then holds.
    opaque_group_keys: bool = False


@dataclass
class Dataset:
    spec: DatasetSpec
    con: duckdb.DuckDBPyConnection
    end: datetime
    lock: threading.Lock = field(default_factory=threading.Lock)
    _batches: int = 0
    # PostHog's "now": events received (created_at) after it are not visible yet. None: all.
    visible_until: datetime | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self.lock:
            cur = self.con.cursor()
        cur.execute("set enable_progress_bar = false")
        return cur

    # -- oracles for tests ----------------------------------------------------------------------
    def event_uuids(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        received_by: datetime | None = None,
    ) -> set[str]:
        """Uuids of the events PostHog shows now (see ``visible_until``), with a timestamp in
        ``[start, end)`` and received (``created_at``) by ``received_by``."""
        sql, params = "select uuid from srv_events where 1 = 1", []
        if start is not None:
            sql += " and ts >= ?"
            params.append(start)
        if end is not None:
            sql += " and ts < ?"
            params.append(end)
        for bound in (received_by, self.visible_until):
            if bound is not None:
                sql += " and created_at <= ?"
                params.append(bound)
        return {r[0] for r in self.cursor().execute(sql, params).fetchall()}

    def received_at(self, uuids: set[str] | list[str]) -> dict[str, datetime]:
        """When PostHog received each of these events (its ``created_at``)."""
        cur = self.cursor()
        cur.execute("create or replace temp table wanted (uuid varchar)")
        cur.executemany("insert into wanted values (?)", [[u] for u in uuids])
        rows = cur.execute("select uuid, created_at from srv_events where uuid in (select uuid from wanted)").fetchall()
        return dict(rows)

    def count(self, table: str) -> int:
        return int(self.cursor().execute(f"select count(*) from {table}").fetchone()[0])

    def add_events(
        self,
        n: int,
        start: datetime,
        end: datetime,
        tag: str | None = None,
        received: datetime | None = None,
    ) -> set[str]:
        """Append ``n`` events stamped over ``[start, end)`` (e.g. new or late-arriving ones).

        PostHog receives them a few seconds after their timestamp, or with ``received`` all
        at that moment (within a second): e.g. days after they happened, or before a run's
        mark but made visible only after that run (PostHog's ingestion lag)."""
        self._batches += 1
        tag = tag or f"batch{self._batches}"
        _insert_events(self.cursor(), self.spec, n, start, end, f"{self.spec.seed}-{tag}", received=received)
        rows = (
            self.cursor()
            .execute("select uuid from srv_events where seed_tag = ?", [f"{self.spec.seed}-{tag}"])
            .fetchall()
        )
        return {r[0] for r in rows}


def group_key_sql(spec: DatasetSpec, company: str) -> str:
    """SQL for the company group's key of company number ``company`` (an SQL expression)."""
    if spec.opaque_group_keys:
        return f"'org_' || lpad(({company})::varchar, 4, '0')"
    return f"'company' || ({company}) || '.com'"


def _group_properties_sql(company: str) -> str:
    """The company group's properties (its $group_set), company number ``company``."""
    return f"""json_object(
                    'name', 'Company ' || {company},
                    'domain', 'company' || {company} || '.com',
                    'arr', ({company} * 12000)::double,
                    'segment', case when {company} % 3 = 0 then 'enterprise' when {company} % 3 = 1 then 'smb' else 'mid-market' end,
                    'owner_email', 'owner' || ({company} % 3) || '@seller.example',
                    'industry', 'Software'
                )"""


def _insert_events(
    con,
    spec: DatasetSpec,
    n: int,
    start: datetime,
    end: datetime,
    tag: str,
    same_ts: int = 0,
    received: datetime | None = None,
    late_by: timedelta | None = None,
) -> None:
    """Insert ``n`` generated events. ``created_at``: ``received`` (+ up to a second), else
    the timestamp + ``late_by`` (if given) + up to 3 seconds of PostHog's own delay."""
    span_us = max(1, int((end - start).total_seconds() * 1_000_000) - 1)
    names = "[" + ", ".join(f"'{e}'" for e in spec.event_names) + "]"
    mid = n // 2
    company_key = group_key_sql(spec, f"p % {spec.companies}")
    if not spec.group_analytics:
        groups = ""
    elif spec.opaque_group_keys:  # in $groups only, and not for anonymous persons
        groups = f"'$groups', case when p % 7 = 0 then null else json_object('company', {company_key}) end, "
    else:
        groups = f"'$groups', json_object('company', {company_key}), '$group_1', {company_key}, "
    domain_on = "p % 5 = 1" if spec.opaque_group_keys else "p % 5 <> 0"
    if spec.skew == 1.0:
        person = f"(hash('{tag}-p' || i) % {spec.persons})::bigint as p"
    else:  # u^skew for u uniform in [0, 1): low person numbers get most events
        person = (
            f"least({spec.persons - 1}, floor({spec.persons} * "
            f"pow((hash('{tag}-p' || i) % 1000003) / 1000003.0, {spec.skew})))::bigint as p"
        )
    usage = (
        "'sdk_version', ((h // 7) % 4 + 1) || '.' || ((h // 11) % 10) || '.0', "
        "'request_count', ((h // 13) % 40)::integer, "
        if spec.usage_properties
        else ""
    )
    con.execute(
        f"""
        insert into srv_events
        with base as (
            select
                i,
                hash('{tag}' || i) as h,
                {person}
            from range({n}) as t(i)
        ),
        spread as (
            select
                *,
                case
                    when i >= {mid} and i < {mid} + {same_ts}
                        then to_microseconds(({mid} * {span_us} // {max(n, 1)})::bigint)
                    else to_microseconds((i * {span_us} // {max(n, 1)} + h % 997)::bigint % {span_us + 1})
                end as offset_us,
                -- events sharing a timestamp came in one batch: they share created_at too
                (i >= {mid} and i < {mid} + {same_ts}) as shared
            from base
        ),
        stamped as (
        select
            {_uuid_sql(f"'{tag}-e' || i")} as uuid,
            {_ck_sql(f"'{tag}-e' || i")} as uuid_ck,
            {names}[(h % {len(spec.event_names)})::bigint + 1] as event,
            case when p % 7 = 0 then 'anon-' || p else 'user-' || p end as distinct_id,
            case
                when p % {spec.companies} >= {spec.companies - spec.quiet_companies}
                    then ?::timestamp + to_microseconds(epoch_us(offset_us) // 3)
                else ?::timestamp + offset_us
            end as ts,
            json_object(
                '$browser', case when h % 3 = 0 then 'Chrome' when h % 3 = 1 then 'Firefox' else 'Safari' end,
                '$current_url', 'https://app.example.com/page/' || (h % 50),
                {groups}
                'plan', case when p % 4 = 0 then 'enterprise' when p % 4 = 1 then 'free' else 'pro' end,
                {usage}
                'company_domain', case when {domain_on} then 'company' || (p % {spec.companies}) || '.com' end
            )::varchar as properties,
            {_uuid_sql(f"'{spec.seed}-person' || p")} as person_id,
            {_ck_sql(f"'{spec.seed}-person' || p")} as person_id_ck,
            '{tag}' as seed_tag,
            h,
            shared
        from spread
        )
        select
            uuid, uuid_ck, event, distinct_id, ts, properties, person_id, person_id_ck, seed_tag,
            case
                when ?::timestamp is not null
                    then ?::timestamp + to_microseconds((h % 1000000)::bigint)
                when shared then ts + to_microseconds(?::bigint)
                else ts + to_microseconds(?::bigint + (h % 3000000)::bigint)
            end as created_at
        from stamped
        """,
        [
            start,
            start,
            received,
            received,
            int(late_by.total_seconds() * 1_000_000) if late_by else 0,
            int(late_by.total_seconds() * 1_000_000) if late_by else 0,
        ],
    )


def _insert_group_identify(con, spec: DatasetSpec, start: datetime) -> None:
    """One ``$groupidentify`` event per company, sent by its first person an hour after
    ``start``: ``$group_type``, ``$group_key`` and ``$group_set`` (the group's properties)."""
    key = group_key_sql(spec, "i")
    con.execute(
        f"""
        insert into srv_events
        select
            {_uuid_sql(f"'{spec.seed}-groupidentify' || i")},
            {_ck_sql(f"'{spec.seed}-groupidentify' || i")},
            '$groupidentify',
            case when i % 7 = 0 then 'anon-' || i else 'user-' || i end,
            ?::timestamp + to_seconds((3600 + i)::bigint),
            json_object(
                '$group_type', 'company',
                '$group_key', {key},
                '$group_set', {_group_properties_sql("i")},
                '$groups', json_object('company', {key})
            )::varchar,
            {_uuid_sql(f"'{spec.seed}-person' || i")},
            {_ck_sql(f"'{spec.seed}-person' || i")},
            '{spec.seed}-groupidentify',
            ?::timestamp + to_seconds((3601 + i)::bigint)
        from range({min(spec.companies, spec.persons)}) as t(i)
        """,
        [start, start],
    )


def build_dataset(spec: DatasetSpec) -> Dataset:
    end = spec.end or (datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1))
    start = end - timedelta(days=spec.days)
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    con.execute(
        """
        create table srv_events (
            uuid varchar, uuid_ck varchar, event varchar, distinct_id varchar, ts timestamp,
            properties varchar, person_id varchar, person_id_ck varchar, seed_tag varchar,
            created_at timestamp
        )"""
    )
    _insert_events(con, spec, spec.events, start, end, spec.seed, same_ts=spec.same_timestamp)
    if spec.late_events:
        late_by = timedelta(days=spec.late_days)
        if late_by >= end - start:
            raise ValueError("late_days must be shorter than the dataset's days")
        _insert_events(con, spec, spec.late_events, start, end - late_by, f"{spec.seed}-late", late_by=late_by)
    if spec.group_analytics and spec.opaque_group_keys:
        _insert_group_identify(con, spec, start)
    # stored in cursor order, like PostHog's sort key, so keyset pages skip earlier row groups
    con.execute("create or replace table srv_events as select * from srv_events order by ts, uuid_ck")

    persons_span_s = int(spec.days * 86400) + 86400 * 30
    con.execute(
        f"""
        create table srv_persons as
        select
            {_uuid_sql(f"'{spec.seed}-person' || i")} as id,
            {_ck_sql(f"'{spec.seed}-person' || i")} as id_ck,
            ?::timestamp - to_seconds((hash('{spec.seed}-c' || i) % {persons_span_s})::bigint) as created_at,
            json_object(
                'email', 'user' || i || '@company' || (i % {spec.companies}) || '.com',
                'name', 'User ' || i,
                'job_title', case when i % 3 = 0 then 'Engineer' when i % 3 = 1 then 'VP Sales' else 'Analyst' end,
                'company_domain', case when i % 5 = 0 then null else 'company' || (i % {spec.companies}) || '.com' end
            )::varchar as properties,
            (i % 7 <> 0) as is_identified
        from range({spec.persons}) as t(i)
        """,
        [end],
    )
    con.execute(
        f"""
        create table srv_pdi as
        select
            case when i % 7 = 0 then 'anon-' || i else 'user-' || i end as distinct_id,
            {_uuid_sql(f"'{spec.seed}-person' || i")} as person_id,
            {_ck_sql(f"'{spec.seed}-person' || i")} as person_id_ck
        from range({spec.persons}) as t(i)
        union all
        select
            'device-' || md5('{spec.seed}-d' || i) as distinct_id,
            {_uuid_sql(f"'{spec.seed}-person' || i")},
            {_ck_sql(f"'{spec.seed}-person' || i")}
        from range({spec.persons}) as t(i)
        where i % 2 = 0
        """
    )
    if spec.awkward_distinct_ids and spec.persons:
        for j, did in enumerate(AWKWARD_DISTINCT_IDS):
            con.execute(
                f"insert into srv_pdi select did, {_uuid_sql('s')}, {_ck_sql('s')} from (select ? as did, ? as s)",
                [did, f"{spec.seed}-person{j}"],
            )

    con.execute(
        """
        create table srv_groups (
            group_index integer, group_key varchar, created_at timestamp, properties varchar
        )"""
    )
    if spec.group_analytics:
        con.execute(
            f"""
            insert into srv_groups
            select
                1,
                {group_key_sql(spec, "i")},
                ?::timestamp - to_seconds((i * 86400)::bigint),
                {_group_properties_sql("i")}::varchar
            from range({spec.companies}) as t(i)
            union all
            select 0, 'project-' || i, ?::timestamp, json_object('name', 'Project ' || i)::varchar
            from range(5) as t(i)
            """,
            [end, end],
        )
    return Dataset(spec=spec, con=con, end=end)


def group_types(spec: DatasetSpec) -> list[dict]:
    if not spec.group_analytics:
        return []
    return [
        {
            "group_type": "project",
            "group_type_index": 0,
            "name_singular": None,
            "name_plural": None,
        },
        {
            "group_type": "company",
            "group_type_index": 1,
            "name_singular": "Company",
            "name_plural": "Companies",
        },
    ]
