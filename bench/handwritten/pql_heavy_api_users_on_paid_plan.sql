-- PQL: Heavy API Users on a Paid Plan (rules/pql_heavy_api_users_on_paid_plan.yml), written by hand from docs/rules.md.
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
    where events.uuid is not null and events.event is not null and events.distinct_id is not null
        and events.timestamp <= {as_of}
        and cast(events.timestamp as date) > cast({as_of} as date) - 30
        and events.event = 'used_api'
        -- plan: {neq: free} holds when not set or different; request_count: {gte: 10} needs a JSON number
        and coalesce(json_extract_string(events.properties, '$.plan') <> 'free', true)
        and regexp_matches(json_extract_string(events.properties, '$.sdk_version'), '^[2-9]\.')
        and regexp_full_match(json_extract_string(events.properties, '$.request_count'), '-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?')
        and cast(json_extract_string(events.properties, '$.request_count') as double) >= 10
),

per_user as (
    select
        user_id,
        count(*) as event_count,
        count(distinct event) as distinct_events,
        count(distinct cast(timestamp as date)) as active_days,
        max(timestamp) as last_seen,
        date_diff('day', cast(max(timestamp) as date), cast({as_of} as date)) as days_since_last_event
    from window_events
    group by user_id
)

select
    row_number() over (order by 1.0 * ln(1 + event_count) + 0.5 * active_days - 0.5 * days_since_last_event desc, user_id) as rank,
    user_id as entity_id,
    1.0 * ln(1 + event_count) + 0.5 * active_days - 0.5 * days_since_last_event as score,
    event_count, distinct_events, active_days, days_since_last_event, last_seen
from per_user
where event_count >= 20 and active_days >= 5
