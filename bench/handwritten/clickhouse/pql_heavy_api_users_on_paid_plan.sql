-- PQL: Heavy API Users on a Paid Plan (rules/pql_heavy_api_users_on_paid_plan.yml), written by hand for ClickHouse from docs/rules.md.
-- Users with >= 20 API calls on >= 5 days of the last 30, not on the free plan, SDK >= 2, request_count >= 10.
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
        and events.event = 'used_api'
        -- plan: {neq: free} holds when not set (JSONExtractString reads a missing key as '') or different
        and JSONExtractString(events.properties, 'plan') != 'free'
        and match(JSONExtractString(events.properties, 'sdk_version'), '^[2-9]\\.')
        -- request_count: {gte: 10} needs a JSON number or numeric text (JSONExtractString reads a
        -- number as its text), in JSON number syntax, not whatever toFloat64 accepts
        and match(JSONExtractString(events.properties, 'request_count'), '^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?$')
        and toFloat64OrZero(JSONExtractString(events.properties, 'request_count')) >= 10
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
    1.0 * log(1 + event_count) + 0.5 * active_days - 0.5 * days_since_last_event as score,
    event_count, distinct_events, active_days, days_since_last_event, last_seen
from per_user
where event_count >= 20 and active_days >= 5
settings join_use_nulls = 1
