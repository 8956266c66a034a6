-- PQL: Buying Signals (rules/pql_buying_signals.yml), written by hand from docs/rules.md.
-- Users active on >= 2 of the last 30 days, scored by their (decayed) activity and five weighted,
-- decayed buying signals, who asked for a demo, or viewed pricing twice in 14 days along with
-- another signal, or hit a usage limit on a self-serve plan and were seen in the last week.
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
        events.timestamp,
        date_diff('day', cast(events.timestamp as date), cast({as_of} as date)) as days_ago,
        json_extract_string(events.properties, '$.plan') as plan
    from {raw}.events as events
    left join identities on identities.distinct_id = events.distinct_id
    where events.uuid is not null and events.event is not null and events.distinct_id is not null
        and events.timestamp <= {as_of}
        and cast(events.timestamp as date) > cast({as_of} as date) - 30
),

per_user as (
    select
        user_id,
        count(*) as event_count,
        count(distinct event) as distinct_events,
        count(distinct cast(timestamp as date)) as active_days,
        max(timestamp) as last_seen,
        min(days_ago) as days_since_last_event,
        sum(pow(0.5, days_ago / 14.0)) as decayed_events,
        -- signals: raw count (for min_count) and decayed count (for points)
        count(*) filter (where event in ('viewed_pricing_page', 'viewed_enterprise_features') and days_ago < 14) as n_pricing,
        sum(pow(0.5, days_ago / 7.0)) filter (where event in ('viewed_pricing_page', 'viewed_enterprise_features') and days_ago < 14) as d_pricing,
        count(*) filter (where event in ('requested_demo', 'contacted_sales')) as n_demo,
        sum(pow(0.5, days_ago / 14.0)) filter (where event in ('requested_demo', 'contacted_sales')) as d_demo,
        count(*) filter (where event = 'hit_usage_limit' and plan in ('free', 'team', 'trial')) as n_limit,
        sum(pow(0.5, days_ago / 14.0)) filter (where event = 'hit_usage_limit' and plan in ('free', 'team', 'trial')) as d_limit,
        count(*) filter (where event in ('invited_teammate', 'added_seat')) as n_team,
        sum(pow(0.5, days_ago / 14.0)) filter (where event in ('invited_teammate', 'added_seat')) as d_team,
        count(*) filter (where event = 'created_api_key') as n_key,
        sum(pow(0.5, days_ago / 14.0)) filter (where event = 'created_api_key') as d_key
    from window_events
    group by user_id
),

scored as (
    select
        *,
        0.5 * ln(1 + decayed_events) + 0.2 * active_days - 0.5 * days_since_last_event
        + (case when n_pricing >= 2 then least(15, 3 * d_pricing) else 0 end)
        + (case when n_demo >= 1 then 10 * d_demo else 0 end)
        + (case when n_limit >= 1 then least(12, 4 * d_limit) else 0 end)
        + (case when n_team >= 1 then 5 * d_team else 0 end)
        + (case when n_key >= 1 then 2 * d_key else 0 end) as score
    from per_user
    where active_days >= 2
        and (
            n_demo >= 1
            or (n_pricing >= 2 and (n_limit >= 1 or n_team >= 1 or n_key >= 1))
            or (n_limit >= 1 and days_since_last_event <= 7)
        )
)

select
    row_number() over (order by score desc, user_id) as rank,
    user_id as entity_id,
    score,
    event_count, distinct_events, active_days, days_since_last_event, last_seen
from scored
