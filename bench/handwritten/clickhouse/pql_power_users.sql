-- PQL: Power Users (rules/pql_power_users.yml), written by hand for ClickHouse from docs/rules.md.
-- Users (distinct ids resolved through person_distinct_id) with, over the last 30 days up to
-- as_of: >= 150 events, >= 8 distinct events, >= 18 active days, last event <= 2 days ago.
with

identities as (
    select distinct_id, min(person_id) as person_id
    from {raw}.person_distinct_id
    group by distinct_id
),

window_events as (
    select
        coalesce(identities.person_id, events.distinct_id) as user_id,
        events.event,
        events.timestamp
    from {raw}.events as events
    left join identities on identities.distinct_id = events.distinct_id
    where events.timestamp <= {as_of}
        and toDate(events.timestamp) > toDate({as_of}) - 30
),

per_user as (
    select
        user_id,
        count() as event_count,
        uniqExact(event) as distinct_events,
        uniqExact(toDate(timestamp)) as active_days,
        max(timestamp) as last_seen,
        dateDiff('day', toDate(max(timestamp)), toDate({as_of})) as days_since_last_event
    from window_events
    group by user_id
)

select
    row_number() over (order by score desc, user_id) as rank,
    user_id as entity_id,
    1.0 * log(1 + event_count) + 1.0 * active_days - 1.0 * days_since_last_event as score,
    event_count, distinct_events, active_days, days_since_last_event, last_seen
from per_user
where event_count >= 150 and distinct_events >= 8 and active_days >= 18 and days_since_last_event <= 2
settings join_use_nulls = 1
