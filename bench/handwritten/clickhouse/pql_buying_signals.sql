-- PQL: Buying Signals (rules/pql_buying_signals.yml), written by hand for ClickHouse from docs/rules.md.
-- Users active on >= 2 of the last 30 days, scored by their (decayed) activity and five weighted,
-- decayed buying signals, who asked for a demo, or viewed pricing twice in 14 days along with
-- another signal, or hit a usage limit on a self-serve plan and were seen in the last week.
-- Decay: an event d days old counts 0.5^(d / half-life); `/` is float division in ClickHouse.
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
        dateDiff('day', toDate(events.timestamp), toDate({as_of})) as days_ago,
        JSONExtractString(events.properties, 'plan') as plan
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
        min(days_ago) as days_since_last_event,
        sum(pow(0.5, days_ago / 14)) as decayed_events,
        -- signals: raw count (for min_count) and decayed count (for points)
        countIf(event in ('viewed_pricing_page', 'viewed_enterprise_features') and days_ago < 14) as n_pricing,
        sumIf(pow(0.5, days_ago / 7), event in ('viewed_pricing_page', 'viewed_enterprise_features') and days_ago < 14) as d_pricing,
        countIf(event in ('requested_demo', 'contacted_sales')) as n_demo,
        sumIf(pow(0.5, days_ago / 14), event in ('requested_demo', 'contacted_sales')) as d_demo,
        countIf(event = 'hit_usage_limit' and plan in ('free', 'team', 'trial')) as n_limit,
        sumIf(pow(0.5, days_ago / 14), event = 'hit_usage_limit' and plan in ('free', 'team', 'trial')) as d_limit,
        countIf(event in ('invited_teammate', 'added_seat')) as n_team,
        sumIf(pow(0.5, days_ago / 14), event in ('invited_teammate', 'added_seat')) as d_team,
        countIf(event = 'created_api_key') as n_key,
        sumIf(pow(0.5, days_ago / 14), event = 'created_api_key') as d_key
    from window_events
    group by user_id
),

scored as (
    select
        *,
        0.5 * log(1 + decayed_events) + 0.2 * active_days - 0.5 * days_since_last_event
        + if(n_pricing >= 2, least(15, 3 * d_pricing), 0)
        + if(n_demo >= 1, 10 * d_demo, 0)
        + if(n_limit >= 1, least(12, 4 * d_limit), 0)
        + if(n_team >= 1, 5 * d_team, 0)
        + if(n_key >= 1, 2 * d_key, 0) as score
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
settings join_use_nulls = 1
