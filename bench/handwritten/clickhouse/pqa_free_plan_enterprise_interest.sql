-- PQA: Free or Team Plan Eyeing Enterprise (rules/pqa_free_plan_enterprise_interest.yml), written by hand for ClickHouse from docs/rules.md.
-- Accounts on the free or team plan with >= 3 enterprise-interest events and >= 20 events in all, last 30 days.
-- Accounts by domain: the event property company_domain equals accounts.domain (both trimmed
-- and lowercased; an empty domain links nothing, as JSONExtractString reads a missing key as '');
-- account_events counts all of the account's events in the window.
with

identities as (
    select distinct_id, min(person_id) as person_id
    from {raw}.person_distinct_id
    group by distinct_id
),

accounts as (
    select account_id, lower(trim(domain)) as domain
    from {raw}.accounts
    where lower(trim(domain)) != ''
),

window_events as (
    select
        accounts.account_id,
        coalesce(identities.person_id, events.distinct_id) as user_id,
        events.event,
        events.timestamp,
        events.event in ('viewed_enterprise_features', 'viewed_pricing_page', 'hit_usage_limit')
            and JSONExtractString(events.properties, 'plan') in ('free', 'team') as is_match
    from {raw}.events as events
    inner join accounts on accounts.domain = lower(trim(JSONExtractString(events.properties, 'company_domain')))
    left join identities on identities.distinct_id = events.distinct_id
    where events.timestamp <= {as_of}
        and toDate(events.timestamp) > toDate({as_of}) - 30
),

per_account as (
    select
        account_id,
        countIf(is_match) as event_count,
        uniqExactIf(event, is_match) as distinct_events,
        uniqExactIf(toDate(timestamp), is_match) as active_days,
        uniqExactIf(user_id, is_match) as active_users,
        count() as account_events,
        maxIf(timestamp, is_match) as last_seen,
        dateDiff('day', toDate(maxIf(timestamp, is_match)), toDate({as_of})) as days_since_last_event
    from window_events
    group by account_id
)

select
    row_number() over (order by score desc, account_id) as rank,
    account_id as entity_id,
    2.0 * log(1 + event_count) + 1.0 * active_days - 0.25 * days_since_last_event as score,
    event_count, distinct_events, active_days, active_users, account_events, days_since_last_event, last_seen
from per_account
where event_count > 0 and event_count >= 3 and account_events >= 20
settings join_use_nulls = 1
